#!/usr/bin/env bash
# Installs the real components the test suite talks to (Debian packages).
# Idempotent; run as root on Debian 12.
set -euo pipefail
need=()
have() { dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q "install ok installed"; }
for p in openssl swaks libnet-ssleay-perl libio-socket-ssl-perl postfix iproute2 util-linux rspamd spamassassin spamd knot clamav-daemon zip \
         dovecot-core dovecot-lmtpd dovecot-pop3d dovecot-imapd pflogsumm python3 curl \
         chromium poppler-utils fonts-dejavu-core fonts-wqy-microhei \
         fail2ban postgrey postfix-policyd-spf-python strace postgresql systemd; do have "$p" || need+=("$p"); done
if ((${#need[@]})); then
  echo "installing: ${need[*]}"
  export DEBIAN_FRONTEND=noninteractive
  # fail2ban: only for its test logs of real Postfix and Dovecot installations
  # (src/ingest/debian-logs.test.ts); its service is not started.
  # Postfix runs as throwaway instances in temp dirs in the tests; the
  # machine's own Postfix stays unconfigured. postgrey and policyd-spf too:
  # the tests start their own (test/helpers/postgrey.ts, policyd-spf.ts).
  # strace: the crash-window test holds the journal's writes with it.
  # systemd: for systemd-analyze verify of the shipped unit only
  # (test/e2e/08-service/); nothing is started by it. util-linux has setpriv,
  # which the service tests start mailproof with as an unprivileged user.
  # postgresql: for its server binaries only (/usr/lib/postgresql/<version>/bin).
  # The tests run their own throwaway instances (initdb in a temp dir, own
  # port on 127.0.0.1, test/helpers/postgres.ts); the cluster the package
  # itself may set up is neither used nor configured here.
  echo "postfix postfix/main_mailer_type select No configuration" | debconf-set-selections
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi
