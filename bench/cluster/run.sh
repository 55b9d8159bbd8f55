#!/usr/bin/env bash
# The cluster store (PostgreSQL) beside the embedded one, alone: bash bench/cluster/run.sh.
# Compiles into a private temp tree (dist/ untouched), then, each with
# PostgreSQL servers of its own (scripts/postgres-local.sh: Debian's server,
# its defaults, fsync on, loopback; stopped by PID at the end and by the trap
# on failure):
#   research    research over a 10M-event PostgreSQL store beside the SQLite
#               store, query layer and web API (bench/research-pg/run.sh; the
#               store is loaded once and cached in /var/tmp/mailproof-bench)
#   sustained   one node at its full rate for BENCH_SUSTAINED_SECONDS (60),
#               embedded store then shipping into PostgreSQL: the store's lag
#   ingest      1M Postfix lines: pflogsumm, ingest into the embedded store,
#               ingest into PostgreSQL (BENCH_INGEST_LINES, BENCH_INGEST_RUNS)
#   throughput  durable acceptance at c=1/20/100, mailproof with each store
#               (BENCH_RUNS, BENCH_CONC, BENCH_SECONDS)
# then bench/cluster/report.ts writes the figures into bench/RESULTS.md
# ("Cluster store (PostgreSQL)"). BENCH_CLUSTER_STEPS=research,sustained,ingest,throughput
# picks steps. About 25-30 minutes with a cached store (the first load of the
# 10M-event store adds about 10). When run from bench/run.sh, BUILD and WORK
# come from there.
set -euo pipefail
cd "$(dirname "$0")/../.."
if [ -z "${BUILD:-}" ]; then
  # shellcheck source=bench/lib/common.sh
  source bench/lib/common.sh
  echo "== building (tsc into $BUILD; dist/ is left alone)"
  build_tree
fi
export MAILPROOF_ROOT=${MAILPROOF_ROOT:-$(pwd)}
OUT=bench/out
mkdir -p "$OUT"
STEPS=",${BENCH_CLUSTER_STEPS:-research,sustained,ingest,throughput},"
want() { [[ $STEPS == *",$1,"* ]]; }
status=0

if want research; then
  echo "== cluster: research over a PostgreSQL store of the research benchmark's traffic"
  BUILD=$BUILD WORK=$WORK bash bench/research-pg/run.sh || { echo "cluster: research step failed" >&2; status=1; }
fi

if want sustained; then
  for store in sqlite pg; do
    extra=()
    if [ "$store" = pg ]; then extra=(--store pg); fi
    echo "== cluster: sustained load, $store store, c=${BENCH_SUSTAINED_CONC:-20} for ${BENCH_SUSTAINED_SECONDS:-60} s"
    rm -f "$OUT/sustained-cluster-$store.json"
    node "$BUILD/bench/sustained.js" --build "$BUILD" --work "$WORK" --out "$OUT/sustained-cluster-$store.json" \
      --seconds "${BENCH_SUSTAINED_SECONDS:-60}" --conc "${BENCH_SUSTAINED_CONC:-20}" --workers "${BENCH_SUSTAINED_WORKERS:-auto}" \
      "${extra[@]}" || { echo "cluster: sustained ($store) failed" >&2; status=1; }
  done
fi

if want ingest; then
  echo "== cluster: ingest into PostgreSQL vs the embedded store vs pflogsumm"
  rm -f "$OUT/ingest-pg.json"
  node "$BUILD/bench/ingest/bench.js" --cli "$BUILD/src/cli/main.js" --work "$WORK/ingest" \
    --lines "${BENCH_INGEST_LINES:-1000000}" --runs "${BENCH_INGEST_RUNS:-3}" --stores sqlite,pg --phases 0 \
    --out "$OUT/ingest-pg.json" || { echo "cluster: ingest step failed" >&2; status=1; }
fi

if want throughput; then
  echo "== cluster: durable acceptance, embedded vs PostgreSQL store"
  rm -f "$OUT/throughput-pg.json"
  node "$BUILD/bench/throughput.js" --build "$BUILD" --work "$WORK" --out "$OUT/throughput-pg.json" \
    --runs "${BENCH_RUNS:-3}" --conc "${BENCH_CONC:-1,20,100}" --seconds "${BENCH_SECONDS:-5}" \
    --targets mailproof,mailproof-pg,mailproof-w1,mailproof-w1-pg || { echo "cluster: throughput step failed" >&2; status=1; }
fi

node "$BUILD/bench/cluster/report.js" --dir "$OUT" --results bench/RESULTS.md >/dev/null || status=1
exit "$status"
