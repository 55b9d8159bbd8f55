#!/usr/bin/env bash
# Research over a cluster's PostgreSQL store, alone: bash bench/research-pg/run.sh.
# Compiles into a private temp tree (dist/ untouched), starts a PostgreSQL of
# its own with its defaults (fsync on; scripts/postgres-local.sh) whose data
# directory is cached in BENCH_RESEARCH_DIR (/var/tmp/mailproof-bench) under
# the generator's parameters, loads the research benchmark's traffic into it
# the first time (bench/research-pg/load.ts: three nodes' writers, COPY),
# times search() over it beside the SQLite store of the same traffic
# (bench/research's cache; generated when missing, which takes long), writes
# the figures into bench/RESULTS.md, and stops the server by its PID.
# Knobs: BENCH_RESEARCH_PG_EVENTS=10000000 (100000000: the large variant,
# without a SQLite store beside it: its questions come from the PostgreSQL
# store; BENCH_RESEARCH_PG_SQLITE=1 makes and compares one anyway) BENCH_RESEARCH_N=300
# BENCH_RESEARCH_RUNS=2 BENCH_RESEARCH_PG_PORT (default: a free one)
# BENCH_RESEARCH_PG_MIN_FREE_GB=20 (space to leave free on the cache's disk).
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
CACHE=${BENCH_RESEARCH_DIR:-/var/tmp/mailproof-bench}
EVENTS=${BENCH_RESEARCH_PG_EVENTS:-10000000}
mkdir -p "$CACHE"
NAME=$(node --input-type=module -e "
import { pgCacheName } from '$BUILD/bench/research-pg/load.js';
import { DEFAULTS } from '$BUILD/bench/research/generate.js';
process.stdout.write(pgCacheName({ ...DEFAULTS, events: Number(process.argv[1]) }));" "$EVENTS")
PGDIR=$CACHE/pg-$NAME

# A store of N events takes about 400 bytes each while it is loaded (WAL included).
if [ ! -f "$PGDIR/data/PG_VERSION" ]; then
  need_gb=$(( EVENTS * 400 / 1000000000 + ${BENCH_RESEARCH_PG_MIN_FREE_GB:-20} ))
  free_gb=$(df -BG --output=avail "$CACHE" | tail -n 1 | tr -dc 0-9)
  if [ "$free_gb" -lt "$need_gb" ]; then
    echo "research-pg: $free_gb GB free in $CACHE, a new store of $EVENTS events needs $need_gb GB (with the space kept free): skipped" >&2
    exit 1
  fi
fi

PORT=${BENCH_RESEARCH_PG_PORT:-$(node -e "const s = require('net').createServer().listen(0, '127.0.0.1', () => { process.stdout.write(String(s.address().port)); s.close(); })")}
# Listed before it starts: bench/lib/common.sh's trap stops what is listed and not done.
echo "postgres $PGDIR" >>"$BENCH_PIDFILE"
bash scripts/postgres-local.sh start "$PGDIR" "$PORT"
PGPID=$(head -n 1 "$PGDIR/data/postmaster.pid")
PGVER=$(cat "$PGDIR/data/PG_VERSION")
printf '{"data_dir": "%s", "port": %s, "pid": %s, "major": "%s"}\n' "$PGDIR/data" "$PORT" "$PGPID" "$PGVER" >"$WORK/pg-info.json"

# The generator keeps 1/40 of the traffic in memory as its template: a few GB for 100M events.
HEAP=()
[ "$EVENTS" -le 20000000 ] || HEAP=(--max-old-space-size=12288)
rc=0
node --max-semi-space-size=64 "${HEAP[@]}" "$BUILD/bench/research-pg/bench.js" \
  --url "postgres://mailproof@127.0.0.1:$PORT/mailproof" --password-file "$PGDIR/password" --pg-info "$WORK/pg-info.json" \
  --dir "$CACHE" --events "$EVENTS" --n "${BENCH_RESEARCH_N:-300}" --runs "${BENCH_RESEARCH_RUNS:-2}" \
  ${BENCH_RESEARCH_PG_SQLITE:+--sqlite "$BENCH_RESEARCH_PG_SQLITE"} \
  --out "bench/out/research-pg$([ "$EVENTS" = 10000000 ] || echo "-e$EVENTS").json" --results bench/RESULTS.md || rc=$?

bash scripts/postgres-local.sh stop "$PGDIR"
echo "done $PGDIR" >>"$BENCH_PIDFILE"
exit "$rc"
