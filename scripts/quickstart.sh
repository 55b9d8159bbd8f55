#!/usr/bin/env bash
# Installs and starts mailproof on its embedded defaults: SMTP on
# 127.0.0.1:2525, SQLite ledger and Maildirs under the data directory, the
# demo domain demo.test with the mailbox demo@demo.test.
set -euo pipefail
cd "$(dirname "$0")/.."
# openssl for the self-signed STARTTLS certificate; DejaVu fonts so PDF
# reports render umlauts and any Unicode, WenQuanYi Micro Hei for Chinese,
# Japanese and Korean (src/report/pdf.ts).
need=()
command -v openssl >/dev/null || need+=(openssl)
[ -f /usr/share/fonts/truetype/dejavu/DejaVuSans.ttf ] || need+=(fonts-dejavu-core)
[ -f /usr/share/fonts/truetype/wqy/wqy-microhei.ttc ] || need+=(fonts-wqy-microhei)
if ((${#need[@]})); then
  DEBIAN_FRONTEND=noninteractive apt-get update -qq && apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi
bash scripts/build.sh
exec node bin/mailproof.js serve --data-dir "${MAILPROOF_DATA_DIR:-/var/lib/mailproof}" "$@"
