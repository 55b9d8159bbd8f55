#!/usr/bin/env bash
# The whole filter, one command: mailproof with every check on against the
# classic stack it would replace, Postfix + rspamd (proxy worker as milter) +
# ClamAV (rspamd's antivirus module), the same Knot, clamd and rspamd
# configuration on both sides, the same messages (4 KiB text; 100 KiB with a
# PDF and a .docx), concurrency 20 and 100, runs interleaved; then a V8 CPU
# profile of the gateway under the 100 KiB load; then the section "The whole
# filter" of bench/RESULTS.md. Loopback only.
#
#   bash bench/filter/run.sh          (about 12-15 minutes with the defaults on 2 busy cores)
#   BENCH_FILTER_RUNS=2 BENCH_FILTER_SECONDS=4 BENCH_FILTER_PROFILE=0 bash bench/filter/run.sh   (a quick one, under 10)
#
# Knobs (environment):
#   BENCH_FILTER_RUNS=3 BENCH_FILTER_SECONDS=5 (length of one run) BENCH_FILTER_CONC=20,100
#   BENCH_FILTER_MESSAGES=text4k,pdfdocx100k  BENCH_FILTER_TARGETS=mp-filter,mp-filter-w1,postfix-stack
#   BENCH_FILTER_PROFILE=1 (0: no CPU profile) BENCH_FILTER_PROFILE_SECONDS=8 (its load: 100 KiB at c=20, workers=1)
#   BENCH_FILTER_RSPAMD_WORKERS=<cores> (processes per rspamd worker type, both instances)
#   BENCH_DNS_HOST=127.0.0.153 (Knot's loopback address, port 53; another address lets two benchmarks run at once)
# Raw figures: bench/out/filter.json, bench/out/filter-profile.txt (and the .cpuprofile files beside it).
# bench/run.sh runs this too (BENCH_SKIP_FILTER=1 skips it), with its BUILD and WORK.
set -euo pipefail
cd "$(dirname "$0")/../.."
if [ -z "${BUILD:-}" ]; then
  bash bench/install.sh
  # shellcheck source=bench/lib/common.sh
  source bench/lib/common.sh
  echo "== building (tsc into $BUILD; dist/ is left alone)"
  build_tree
  write_machine_json "$OUT/machine-filter.json"
else
  # From bench/run.sh: its functions are not exported; run the steps directly.
  step() { "$@"; }
  OUT=${OUT:-$PWD/bench/out}
  cp "$OUT/machine.json" "$OUT/machine-filter.json" 2>/dev/null || true
fi
mkdir -p "$OUT"
status=0
rm -f "$OUT/filter.json"
echo "== whole filter: ${BENCH_FILTER_TARGETS:-mp-filter,mp-filter-w1,postfix-stack}, messages ${BENCH_FILTER_MESSAGES:-text4k,pdfdocx100k}, c=${BENCH_FILTER_CONC:-20,100}, ${BENCH_FILTER_RUNS:-3} runs of ${BENCH_FILTER_SECONDS:-5} s"
step node "$BUILD/bench/throughput.js" --build "$BUILD" --work "$WORK" --out "$OUT/filter.json" \
  --runs "${BENCH_FILTER_RUNS:-3}" --conc "${BENCH_FILTER_CONC:-20,100}" --seconds "${BENCH_FILTER_SECONDS:-5}" \
  --messages "${BENCH_FILTER_MESSAGES:-text4k,pdfdocx100k}" --sanity gtube,eicar \
  --targets "${BENCH_FILTER_TARGETS:-mp-filter,mp-filter-w1,postfix-stack}" \
  || { echo "filter: the throughput step failed" >&2; status=1; }

if [ "${BENCH_FILTER_PROFILE:-1}" = 1 ]; then
  P=$OUT/filter-profile
  rm -rf "$P" && mkdir -p "$P"
  echo "== whole filter: CPU profile of mailproof (workers=1, every check) under the 100 KiB load at c=20"
  BENCH_FILTER_PROFILE_DIR=$P step node "$BUILD/bench/throughput.js" --build "$BUILD" --work "$WORK" --out "$P/run.json" \
    --runs 1 --conc 20 --seconds "${BENCH_FILTER_PROFILE_SECONDS:-8}" --messages pdfdocx100k --targets mp-filter-prof \
    || { echo "filter: the profile step failed" >&2; status=1; }
  {
    echo "CPU profile of mailproof serve (smtp.workers=1, every check on), 100 KiB PDF+docx messages at c=20; $(date -u '+%Y-%m-%d %H:%M UTC'), load $(cut -d' ' -f1-3 /proc/loadavg)"
    for f in "$P"/*.cpuprofile; do
      [ -f "$f" ] || continue
      echo "-- $(basename "$f"): self time by source file"
      node "$BUILD/bench/cpuprofile-top.js" "$f" 14 --by-file
      echo "-- $(basename "$f"): top functions by self time"
      node "$BUILD/bench/cpuprofile-top.js" "$f" 15
    done
  } >"$OUT/filter-profile.txt" || status=1
  echo "   written: $OUT/filter-profile.txt"
fi

echo "== whole filter: report"
node "$BUILD/bench/filter/report.js" --dir "$OUT" --results bench/RESULTS.md --machine "$OUT/machine-filter.json" || status=1
exit "$status"
