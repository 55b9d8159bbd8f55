#!/usr/bin/env bash
# Research benchmark alone: bash bench/research/run.sh. Compiles into a private
# temp tree (dist/ untouched), generates (once; cached in
# /var/tmp/mailproof-bench, BENCH_RESEARCH_DIR) a 10M-event store (the
# journal-first ledger's, written through SqliteStoreWriter) and the same
# traffic as a mail.log, reports the store's bytes per event (per table),
# times `trace` per recipient / domain / REF / IP over 7 days and grep over
# the log, and writes the figures into bench/RESULTS.md. Knobs:
# BENCH_RESEARCH_EVENTS=10000000 BENCH_RESEARCH_N=300 BENCH_RESEARCH_RUNS=2
# BENCH_RESEARCH_BATCH=50000 (events per store transaction while generating).
# When run from bench/run.sh, BUILD and WORK come from there.
set -euo pipefail
cd "$(dirname "$0")/../.."
if [ -z "${BUILD:-}" ]; then
  # shellcheck source=bench/lib/common.sh
  source bench/lib/common.sh
  echo "== building (tsc into $BUILD; dist/ is left alone)"
  build_tree
fi
mkdir -p bench/out
# A larger young generation: the generator allocates many short-lived objects.
node --max-semi-space-size=64 "$BUILD/bench/research/bench.js" --dir "${BENCH_RESEARCH_DIR:-/var/tmp/mailproof-bench}" \
  --events "${BENCH_RESEARCH_EVENTS:-10000000}" --n "${BENCH_RESEARCH_N:-300}" --runs "${BENCH_RESEARCH_RUNS:-2}" --batch "${BENCH_RESEARCH_BATCH:-50000}" \
  --out bench/out/research.json --results bench/RESULTS.md
