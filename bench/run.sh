#!/usr/bin/env bash
# The benchmark suite, one command: bash bench/run.sh (or npm run bench).
#
# 1. throughput: Postfix's smtp-source at concurrency 1, 20 and 100, three
#    runs each, against mailproof (smtp.workers=auto and =1), Postfix's own
#    smtpd (throwaway instance, local domain -> discard), smtp-sink, and a
#    bare smtp-server that writes + fsyncs one file per message (with and
#    without smtp-server's stock 100 ms greeting delay);
# 2. idle connections: up to 19,000 greeted, idle sessions held open against
#    mailproof (smtp.workers=1) and the bare smtp-server; RSS per connection;
# 3. sustained: smtp-source at c=20 against mailproof for 60 s, the store's
#    lag behind the journal sampled every second (bench/sustained.ts);
# 4. report: bench/RESULTS.md (generated part) and a summary table here.
#
# Loopback only. About 35-45 minutes on 2 cores the first time (the research
# step generates its 10M-event store once and caches it), 30-40 after. Knobs (environment):
#   BENCH_RUNS=3 BENCH_CONC=1,20,100 BENCH_SECONDS=5 (length of one run)
#   BENCH_TARGETS=mailproof,mailproof-w1,postfix,bare,bare-delay,smtp-sink
#   BENCH_IDLE=19000 (0 skips the idle test)   BENCH_SKIP_THROUGHPUT=1
#   BENCH_SUSTAINED_SECONDS=60 (0 skips the sustained run) BENCH_SUSTAINED_CONC=20 BENCH_SUSTAINED_WORKERS=auto
#   BENCH_SKIP_CHECKS=1  BENCH_CHECK_CONC=20,100
#   BENCH_CHECK_TARGETS=mp-nochecks,mp-dnschecks,mp-allchecks,postfix-checks
#   BENCH_SKIP_INGEST=1 BENCH_INGEST_LINES=1000000 BENCH_INGEST_RUNS=3 (ingest vs. pflogsumm)
#   BENCH_SKIP_RESEARCH=1 BENCH_RESEARCH_EVENTS=10000000 BENCH_RESEARCH_N=300 BENCH_RESEARCH_RUNS=2
#     (trace over a generated store vs. grep over the same traffic as mail.log; the store is
#     generated once, which takes long, and cached in /var/tmp/mailproof-bench)
#   BENCH_SKIP_CLUSTER=1 BENCH_CLUSTER_STEPS=research,sustained,ingest,throughput BENCH_RESEARCH_PG_EVENTS=10000000
#     (the cluster store, PostgreSQL servers of its own: research over a store of the research traffic,
#     loaded once and cached in /var/tmp/mailproof-bench; shipping under sustained load; ingest; durable
#     acceptance; each beside the embedded store: bench/cluster/run.sh, about 25-30 minutes)
#   BENCH_SKIP_MIME_MEMORY=1 BENCH_MIME_COUNT=100 (RSS with that many messages at the size limit at
#     once, attachment policy and clamd on: bench/mime-memory.ts, a few minutes)
#   BENCH_SKIP_FILTER=1 (the whole filter: mailproof with every check on vs. Postfix + rspamd milter +
#     ClamAV, 4 KiB and 100 KiB PDF+docx messages, c=20 and 100, and a CPU profile of the gateway:
#     bench/filter/run.sh, which also runs alone, one command; about 12-15 minutes) with its knobs
#     BENCH_FILTER_RUNS=3 BENCH_FILTER_SECONDS=5 BENCH_FILTER_CONC=20,100 BENCH_FILTER_MESSAGES=text4k,pdfdocx100k
#     BENCH_FILTER_TARGETS=mp-filter,mp-filter-w1,postfix-stack BENCH_FILTER_PROFILE=1 BENCH_FILTER_RSPAMD_WORKERS=<cores>
#   BENCH_DNS_HOST=127.0.0.153 (the loopback address of the checks' and the filter's Knot, port 53)
# Raw figures: bench/out/*.json (not committed).
set -euo pipefail
cd "$(dirname "$0")/.."
T0=$(date +%s)

bash bench/install.sh
# shellcheck source=bench/lib/common.sh
source bench/lib/common.sh
NOFILE=$(ulimit -n)

echo "== building (tsc into $BUILD; dist/ is left alone)"
build_tree

write_machine_json "$OUT/machine.json"

status=0
if [ "${BENCH_SKIP_THROUGHPUT:-0}" != 1 ]; then
  rm -f "$OUT/throughput.json"
  echo "== throughput (smtp-source; about 8-11 minutes with the defaults)"
  step node "$BUILD/bench/throughput.js" --build "$BUILD" --work "$WORK" --out "$OUT/throughput.json" \
    --runs "${BENCH_RUNS:-3}" --conc "${BENCH_CONC:-1,20,100}" --seconds "${BENCH_SECONDS:-5}" \
    ${BENCH_TARGETS:+--targets "$BENCH_TARGETS"} || { echo "run.sh: throughput step failed" >&2; status=1; }
fi

SUSTAINED=${BENCH_SUSTAINED_SECONDS:-60}
if [ "$SUSTAINED" -gt 0 ]; then
  rm -f "$OUT/sustained.json"
  echo "== sustained: mailproof at c=${BENCH_SUSTAINED_CONC:-20} for $SUSTAINED s, the store's lag sampled every second"
  step node "$BUILD/bench/sustained.js" --build "$BUILD" --work "$WORK" --out "$OUT/sustained.json" \
    --seconds "$SUSTAINED" --conc "${BENCH_SUSTAINED_CONC:-20}" --workers "${BENCH_SUSTAINED_WORKERS:-auto}" \
    || { echo "run.sh: sustained step failed" >&2; status=1; }
fi

if [ "${BENCH_SKIP_CHECKS:-0}" != 1 ]; then
  rm -f "$OUT/checks.json"
  echo "== checks (issue 3): Knot, clamd, rspamd, mailproof with and without checks, Postfix with restrictions"
  step node "$BUILD/bench/throughput.js" --build "$BUILD" --work "$WORK" --out "$OUT/checks.json" \
    --runs "${BENCH_RUNS:-3}" --conc "${BENCH_CHECK_CONC:-20,100}" --seconds "${BENCH_SECONDS:-5}" \
    --targets "${BENCH_CHECK_TARGETS:-mp-nochecks,mp-dnschecks,mp-allchecks,postfix-checks}" \
    || { echo "run.sh: checks step failed" >&2; status=1; }
fi

if [ "${BENCH_SKIP_FILTER:-0}" != 1 ]; then
  echo "== the whole filter: mailproof (every check) vs. Postfix + rspamd milter + ClamAV"
  BUILD=$BUILD WORK=$WORK OUT=$OUT step bash bench/filter/run.sh || { echo "run.sh: filter step failed" >&2; status=1; }
fi

if [ "${BENCH_SKIP_INGEST:-0}" != 1 ]; then
  echo "== ingest (issue 4): mailproof ingest vs. pflogsumm on a generated 1M-line Postfix log"
  BUILD=$BUILD WORK=$WORK step bash bench/ingest/run.sh || { echo "run.sh: ingest step failed" >&2; status=1; }
fi

if [ "${BENCH_SKIP_RESEARCH:-0}" != 1 ]; then
  echo "== research (issue 5): trace over a 10M-event ledger vs. grep over the same traffic"
  BUILD=$BUILD WORK=$WORK step bash bench/research/run.sh || { echo "run.sh: research step failed" >&2; status=1; }
fi

if [ "${BENCH_SKIP_CLUSTER:-0}" != 1 ]; then
  echo "== cluster store (PostgreSQL): research, shipping under load, ingest, durable acceptance, beside the embedded store"
  BUILD=$BUILD WORK=$WORK step bash bench/cluster/run.sh || { echo "run.sh: cluster step failed" >&2; status=1; }
fi

if [ "${BENCH_SKIP_MIME_MEMORY:-0}" != 1 ]; then
  rm -f "$OUT/mime-memory.json"
  echo "== memory under large messages (issue 16): ${BENCH_MIME_COUNT:-100} messages at the size limit at once, attachments + clamd"
  step node "$BUILD/bench/mime-memory.js" --work "$WORK" --count "${BENCH_MIME_COUNT:-100}" --out "$OUT/mime-memory.json" \
    || { echo "run.sh: mime-memory step failed" >&2; status=1; }
fi

IDLE=${BENCH_IDLE:-19000}
if [ "$IDLE" -gt 0 ]; then
  # Leave room for the process's other descriptors.
  if [ "$NOFILE" != unlimited ] && [ "$IDLE" -gt $((NOFILE - 500)) ]; then
    echo "run.sh: open-file limit $NOFILE: idle test with $((NOFILE - 500)) connections instead of $IDLE" >&2
    IDLE=$((NOFILE - 500))
  fi
  for target in mailproof bare; do
    rm -f "$OUT/idle-$target.json"
    echo "== idle connections: $target, $IDLE connections"
    step node "$BUILD/bench/idle-connections.js" measure --target "$target" --build "$BUILD" --work "$WORK" \
      --count "$IDLE" --out "$OUT/idle-$target.json" || { echo "run.sh: idle test ($target) failed" >&2; status=1; }
  done
fi

echo "== report"
node "$BUILD/bench/report.js" --dir "$OUT" --results "$ROOT/bench/RESULTS.md" --machine "$OUT/machine.json" || status=1
echo "bench/run.sh took $(( $(date +%s) - T0 )) s"
exit "$status"
