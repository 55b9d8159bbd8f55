#!/usr/bin/env bash
# Ingest benchmark alone: bash bench/ingest/run.sh. Compiles into a private
# temp tree (dist/ untouched), generates a 1M-line Postfix log (BENCH_INGEST_LINES),
# times pflogsumm and mailproof ingest on it (BENCH_INGEST_RUNS, default 3) and
# writes the figures into bench/RESULTS.md. When run from bench/run.sh, BUILD
# and WORK come from there.
set -euo pipefail
cd "$(dirname "$0")/../.."
if [ -z "${BUILD:-}" ]; then
  # shellcheck source=bench/lib/common.sh
  source bench/lib/common.sh
  echo "== building (tsc into $BUILD; dist/ is left alone)"
  build_tree
fi
mkdir -p bench/out
node "$BUILD/bench/ingest/bench.js" --cli "$BUILD/src/cli/main.js" --work "$WORK/ingest" \
  --lines "${BENCH_INGEST_LINES:-1000000}" --runs "${BENCH_INGEST_RUNS:-3}" \
  --out bench/out/ingest.json --results bench/RESULTS.md
