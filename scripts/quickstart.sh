#!/usr/bin/env bash
# Installs and starts mailproof on its embedded defaults (SMTP on
# 127.0.0.1:2525, SQLite ledger and Maildirs under the data directory, the
# demo domain demo.test with the mailbox demo@demo.test), filtering: viruses
# through clamd, spam through rspamd (scripts/quickstart-scanners.sh says how
# they run). Debian 12, as root. Ctrl-C or SIGTERM stops mailproof, then the
# scanners the script started itself; the exit code is mailproof's. SIGHUP
# is passed on to mailproof (a reload).
#
# mailproof's configuration is written to $DATA/quickstart.yaml at every start:
# the embedded defaults plus the scanners' addresses, checks.spam.scan_allowlisted
# (so mail sent from this machine, an allow-listed loopback client, is scanned
# for spam too) and the listen addresses below when they are set. Further
# arguments go to `mailproof serve` (e.g. -o smtp.max_recipients=50).
#
# Environment:
#   MAILPROOF_DATA_DIR=DIR            data directory (default /var/lib/mailproof); the
#                                     private scanners live in DIR/scanners
#   MAILPROOF_SMTP_LISTEN=HOST:PORT   smtp.listen (default 127.0.0.1:2525)
#   MAILPROOF_WEB_LISTEN=HOST:PORT    web.listen (default 127.0.0.1:8080)
#   MAILPROOF_POP3_LISTEN=HOST:PORT   pop3.listen (default 127.0.0.1:1110)
#   MAILPROOF_QUICKSTART_BUILD=0      do not build: run dist/ as it is (the test suite,
#                                     which runs from an already built dist/)
#   MAILPROOF_QUICKSTART_SCANNERS=auto|system|private
#                                     system: the machine's clamav-daemon and rspamd
#                                     services; private: instances of our own under the
#                                     data directory; auto (default): system where
#                                     systemd runs services, else private
#   MAILPROOF_FRESHCLAM_TIMEOUT=SECONDS  longest wait for the signature download
#                                     (default 300; 0: do not try)
#   MAILPROOF_RSPAMD_CACHE=DIR        private rspamd's compiled hyperscan databases
#                                     (default DIR/scanners/rspamd/hs-cache)
set -euo pipefail
cd "$(dirname "$0")/.."

# openssl for the self-signed STARTTLS certificate; DejaVu fonts so PDF
# reports render umlauts and any Unicode, WenQuanYi Micro Hei for Chinese,
# Japanese and Korean (src/report/pdf.ts); clamd (with freshclam) and rspamd
# to filter; swaks to try it (README, "Quick start").
need=()
command -v openssl >/dev/null || need+=(openssl)
[ -f /usr/share/fonts/truetype/dejavu/DejaVuSans.ttf ] || need+=(fonts-dejavu-core)
[ -f /usr/share/fonts/truetype/wqy/wqy-microhei.ttc ] || need+=(fonts-wqy-microhei)
[ -x /usr/sbin/clamd ] || need+=(clamav-daemon)
[ -x /usr/bin/freshclam ] || need+=(clamav-freshclam)
[ -x /usr/bin/rspamd ] || need+=(rspamd)
[ -x /usr/bin/swaks ] || need+=(swaks)
if ((${#need[@]})); then
  echo "quickstart: installing ${need[*]}"
  DEBIAN_FRONTEND=noninteractive apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi
if [ "${MAILPROOF_QUICKSTART_BUILD:-1}" = 0 ]; then
  [ -f dist/src/cli/main.js ] || { echo "quickstart: MAILPROOF_QUICKSTART_BUILD=0, but dist/ is not built (npx tsc -p .)" >&2; exit 1; }
else
  bash scripts/build.sh
fi

DATA=${MAILPROOF_DATA_DIR:-/var/lib/mailproof}
# Like serve's own: the ledger holds addresses (personal data).
[ -d "$DATA" ] || mkdir -p -m 700 "$DATA"
DATA=$(cd "$DATA" && pwd -P)
export MAILPROOF_DATA_DIR=$DATA
# shellcheck source=scripts/quickstart-scanners.sh
. scripts/quickstart-scanners.sh

MP_PID=
# The private scanners stop last, whatever ends the script (Ctrl-C during
# rspamd's first start, a failed step, mailproof's exit).
finish() {
  local rc=$?
  trap - EXIT INT TERM HUP
  if [ -n "$MP_PID" ] && kill -0 "$MP_PID" 2>/dev/null; then
    kill -TERM "$MP_PID" 2>/dev/null || true
    wait "$MP_PID" 2>/dev/null || true
  fi
  qs_stop_private
  exit "$rc"
}
trap finish EXIT
# A signal while mailproof runs stops it (it finishes running sessions); before, the start is abandoned.
on_signal() {
  if [ -n "$MP_PID" ]; then kill -TERM "$MP_PID" 2>/dev/null || true; else exit "$1"; fi
}
trap 'on_signal 130' INT
trap 'on_signal 143' TERM
# SIGHUP is mailproof's reload (it reads quickstart.yaml again): passed on, the script keeps waiting.
on_hup() {
  if [ -n "$MP_PID" ]; then kill -HUP "$MP_PID" 2>/dev/null || true; else exit 129; fi
}
trap on_hup HUP

# A double-quoted YAML string (YAML 1.2 section 7.3.1).
yq() {
  local s=${1//\\/\\\\}
  printf '"%s"' "${s//\"/\\\"}"
}

qs_start_scanners

conf=$DATA/quickstart.yaml
{
  echo "# Written by scripts/quickstart.sh at every start (edits here are lost):"
  echo "# mailproof's embedded defaults plus the scanners the quick start runs."
  echo "data_dir: $(yq "$DATA")"
  echo "scanners:"
  echo "  clamd:"
  echo "    address: $(yq "$CLAMD_ADDRESS")"
  echo "  spam:"
  echo "    backend: rspamd"
  echo "    address: $(yq "$RSPAMD_URL")"
  echo "checks:"
  echo "  spam:"
  echo "    # Mail from this machine (loopback, allow-listed) would skip the spam check."
  echo "    scan_allowlisted: true"
  [ -z "${MAILPROOF_SMTP_LISTEN:-}" ] || printf 'smtp:\n  listen: [%s]\n' "$(yq "$MAILPROOF_SMTP_LISTEN")"
  [ -z "${MAILPROOF_WEB_LISTEN:-}" ] || printf 'web:\n  listen: [%s]\n' "$(yq "$MAILPROOF_WEB_LISTEN")"
  [ -z "${MAILPROOF_POP3_LISTEN:-}" ] || printf 'pop3:\n  listen: [%s]\n' "$(yq "$MAILPROOF_POP3_LISTEN")"
} >"$conf"

if [ "$SIGNATURES" = test ]; then
  {
    echo
    echo '******************************************************************'
    echo "WARNING: clamd has the project's TEST SIGNATURES ONLY: two made-up"
    echo '"viruses" (EICAR and a test macro) and nothing else. It is NOT'
    echo 'PROTECTING ANYONE. For the real ClamAV database'
    echo "$FRESHCLAM_HINT"
    echo '******************************************************************'
    echo
  } | sed 's/^/quickstart: /' >&2
fi
say "mailproof: starting with --config $conf"
node bin/mailproof.js serve --config "$conf" "$@" &
MP_PID=$!
while :; do
  rc=0
  wait "$MP_PID" || rc=$?
  # Above 128: a signal interrupted the wait (on_signal ran); mailproof may still be stopping.
  if [ "$rc" -le 128 ] || ! kill -0 "$MP_PID" 2>/dev/null; then break; fi
done
# The exit status of a child reaped meanwhile (127: none known).
last=0
wait "$MP_PID" 2>/dev/null || last=$?
[ "$last" = 127 ] || rc=$last
MP_PID=
# 78: a configuration error, such as a listen address in use; this file's settings are the way to change it.
[ "$rc" != 78 ] || warn "quickstart.yaml is written anew at every start: set MAILPROOF_SMTP_LISTEN, MAILPROOF_WEB_LISTEN or MAILPROOF_POP3_LISTEN (HOST:PORT), or pass -o KEY=VALUE after the script's name"
exit "$rc"
