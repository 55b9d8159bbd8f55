#!/usr/bin/env bash
# Installs what the benchmark needs besides the npm packages (Debian
# packages only): Postfix (its smtpd is a peer; smtp-source, the load
# generator, and smtp-sink come with it), procps (pgrep), util-linux
# (setsid, unshare), strace (bench/profile.sh); for the checks targets the
# real services: knot (DNS), clamav-daemon, rspamd, and Postfix's SPF policy
# server postfix-policyd-spf-python; postgresql for its server binaries
# (the research-pg step runs a PostgreSQL of its own through
# scripts/postgres-local.sh; the package's own cluster is neither used nor
# configured). Idempotent; run as root.
set -euo pipefail
need=()
have() { dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q "install ok installed"; }
for p in postfix procps util-linux strace knot clamav-daemon rspamd postfix-policyd-spf-python postgresql; do have "$p" || need+=("$p"); done
if ((${#need[@]})); then
  echo "bench/install.sh: installing ${need[*]}"
  export DEBIAN_FRONTEND=noninteractive
  # Postfix runs only as throwaway instances in temp dirs; the machine's own
  # Postfix stays unconfigured and stopped.
  echo "postfix postfix/main_mailer_type select No configuration" | debconf-set-selections
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
  # Only their programs are used, in throwaway instances; the packaged daemons stay off.
  for svc in knot clamav-daemon clamav-freshclam rspamd; do
    systemctl disable --now "$svc" >/dev/null 2>&1 || service "$svc" stop >/dev/null 2>&1 || true
  done
fi
for tool in /usr/sbin/smtp-source /usr/sbin/smtp-sink /usr/sbin/postfix; do
  [ -x "$tool" ] || { echo "bench/install.sh: $tool is missing after installing postfix" >&2; exit 1; }
done
command -v node >/dev/null || { echo "bench/install.sh: Node.js 20 is required" >&2; exit 1; }
