#!/usr/bin/env bash
# Where does mailproof's time go? Not part of bench/run.sh; about 6 minutes.
#  0. ablation: throughput at c=20 of mailproof with its ledger and/or its
#     Maildir on tmpfs (fsync costs nothing there, the CPU work stays), with
#     the checks off, and of the bare smtp-server on disk and on tmpfs
#     (bench/out/ablation.json; bench/run.sh's report shows it);
#  1. system calls per accepted message (strace -f -c) of mailproof
#     (smtp.workers=1) and of the bare smtp-server, and ledger events per
#     message;
#     and the latency of each SMTP step, one session at a time, for
#     mailproof (also with its Maildir or its ledger on tmpfs) and the bare
#     smtp-server (bench/latency.ts);
#  2. a V8 CPU profile of mailproof (main thread and ledger thread).
#
#   bash bench/profile.sh
#   PROFILE_C=20 PROFILE_N=400 PROFILE_ABLATION=0 bash bench/profile.sh
#
# Counts are load-independent; the CPU profile is not: V8's profiler samples
# by wall clock, so on a busy machine a thread that waits for a CPU has its
# samples charged to whatever it was running. Read it for shares of work
# only on a quiet machine. Output: bench/out/profile/ (summary.txt and the
# .cpuprofile files, which Chrome DevTools opens).
set -euo pipefail
cd "$(dirname "$0")/.."
C=${PROFILE_C:-20}
N=${PROFILE_N:-400}
bash bench/install.sh
# shellcheck source=bench/lib/common.sh
source bench/lib/common.sh
P=$OUT/profile
mkdir -p "$P"
rm -f "$P"/*.cpuprofile "$P"/strace-* "$P"/summary.txt
SRC=/usr/sbin/smtp-source
echo "== building (tsc into $BUILD)"
build_tree

# --- 0. ablation: the same load with parts of mailproof taken away --------
if [ "${PROFILE_ABLATION:-1}" = 1 ]; then
  echo "== ablation at c=$C (about 3 minutes)"
  rm -f "$OUT/ablation.json"
  step node "$BUILD/bench/throughput.js" --build "$BUILD" --work "$WORK" --out "$OUT/ablation.json" \
    --runs "${BENCH_RUNS:-3}" --conc "$C" --seconds "${BENCH_SECONDS:-5}" \
    --targets mailproof-w1,w1-ledger-tmpfs,w1-maildir-tmpfs,w1-all-tmpfs,w1-checks-off,mailproof,auto-ledger-tmpfs,bare,bare-tmpfs
fi

free_port() { node -e "const s=require('net').createServer().listen(0,'127.0.0.1',()=>{console.log(s.address().port);s.close()})"; }
start() { # log-file command... : in its own process group, registered for the trap
  local log=$1; shift
  setsid "$@" >"$log" 2>&1 &
  echo "pgid $!" >>"$BENCH_PIDFILE"
  LAST=$!
}
alive() { [ -e "/proc/$1" ] && [ "$(awk '{print $3}' "/proc/$1/stat" 2>/dev/null)" != Z ]; }
stop_group() {
  kill -TERM -- "-$1" 2>/dev/null || true
  for _ in $(seq 100); do alive "$1" || break; sleep 0.2; done
  kill -KILL -- "-$1" 2>/dev/null || true
  wait "$1" 2>/dev/null || true
  echo "done $1" >>"$BENCH_PIDFILE"
}
wait_for() { for _ in $(seq 300); do grep -q "$2" "$1" 2>/dev/null && return 0; sleep 0.2; done; echo "timeout waiting for $2 in $1" >&2; cat "$1" >&2; return 1; }
cpu_ns() { local t=0 f; for f in /proc/"$1"/task/*/schedstat; do t=$((t + $(cut -d' ' -f1 "$f"))); done; echo "$t"; }

say() { echo "$*" | tee -a "$P/summary.txt"; }

# --- 1. system calls per message (strace -f -c) ------------------------
syscalls() { # name port pid
  local name=$1 port=$2 pid=$3
  strace -f -c -o "$P/strace-$name.txt" -p "$pid" 2>/dev/null &
  local st=$!
  sleep 1
  "$SRC" -s "$C" -m "$N" -l 4096 -f sender@example.org -t demo@demo.test "127.0.0.1:$port"
  sleep 0.5
  kill -INT "$st"; wait "$st" 2>/dev/null || true
  say "== $name: system calls per message (c=$C, $N messages, under strace)"
  awk -v n="$N" '/^ *[0-9.]+ +[0-9.]+ +[0-9]+ +[0-9]+/ { calls=$4; sc=$NF; if (sc ~ /fsync|fdatasync|pwrite64|write|openat|rename|close|futex|epoll_pwait|read|writev|sendmsg/) printf "  %-12s %8.2f\n", sc, calls/n }' "$P/strace-$name.txt" | tee -a "$P/summary.txt"
}

P1=$(free_port)
start "$WORK/mp.log" node "$BUILD/src/cli/main.js" serve --data-dir "$WORK/mp" --smtp-listen "127.0.0.1:$P1" -o smtp.workers=1 -o log.level=warn -o smtp.max_connections_per_ip=1000 -o 'pop3.listen=[]' -o 'web.listen=[]'
MP=$LAST
wait_for "$WORK/mp.log" 'SMTP on'
P2=$(free_port)
start "$WORK/bare.log" node "$BUILD/bench/bare-smtp-server.js" --listen "127.0.0.1:$P2" --dir "$WORK/bare"
BARE=$LAST
wait_for "$WORK/bare.log" 'SMTP on'
"$SRC" -s 5 -m 50 -l 4096 -f sender@example.org -t demo@demo.test "127.0.0.1:$P1"   # warm-up
"$SRC" -s 5 -m 50 -l 4096 -f sender@example.org -t demo@demo.test "127.0.0.1:$P2"

say "profile of $(git rev-parse --short HEAD 2>/dev/null)$(git diff --quiet -- src 2>/dev/null || echo ' (src/ has uncommitted changes)') at $(date -u +%FT%TZ); load $(cut -d' ' -f1-3 /proc/loadavg)"
for name in mailproof bare; do
  if [ $name = mailproof ]; then port=$P1; pid=$MP; else port=$P2; pid=$BARE; fi
  a=$(cpu_ns "$pid"); t0=$(date +%s%N)
  "$SRC" -s "$C" -m "$N" -l 4096 -f sender@example.org -t demo@demo.test "127.0.0.1:$port"
  t1=$(date +%s%N); b=$(cpu_ns "$pid")
  say "== $name: $N messages at c=$C in $(( (t1 - t0) / 1000000 )) ms; server CPU $(( (b - a) / N / 1000 )) us per message (schedstat, all threads)"
done

# --- 1a. CPU per thread of mailproof: main thread, ledger thread, libuv pool
threads() { local f; for f in /proc/"$1"/task/*; do echo "$(basename "$f") $(tr ' ' _ <"$f/comm") $(cut -d' ' -f1 "$f/schedstat")"; done | LC_ALL=C sort; }
threads "$MP" >"$WORK/th0"
"$SRC" -s "$C" -m "$N" -l 4096 -f sender@example.org -t demo@demo.test "127.0.0.1:$P1"
threads "$MP" >"$WORK/th1"
say "== mailproof: CPU per message by thread (us; tid name), c=$C, $N messages"
LC_ALL=C join "$WORK/th0" "$WORK/th1" | awk -v n="$N" -v main="$MP" '{ d=($5-$3)/n/1000; if (d >= 1) printf "  %-8s %-16s %8.0f%s\n", $1, $2, d, ($1==main ? "  (main thread: SMTP, checks, gateway)" : "") }' | sort -k3 -nr | tee -a "$P/summary.txt"
say "  (Node 20 names no thread. Seen with /proc/TID/wchan under load: the highest tid is the ledger writer"
say "   (worker_thread: SQLite inserts, commits, fsync), the four libuv pool threads (fs calls, fsync) come"
say "   a few tids before it, and the lowest after the main thread are V8's platform threads (GC, compiler).)"
syscalls mailproof "$P1" "$MP"
syscalls bare "$P2" "$BARE"

# --- 1b. latency per SMTP step, one session at a time ---------------------
# Also with mailproof's Maildir, or its ledger, on tmpfs: which one's I/O
# makes the slow replies?
SHM=$(mktemp -d /dev/shm/mailproof-bench-profile.XXXXXX)
echo "dir $SHM" >>"$BENCH_PIDFILE"
P4=$(free_port); P5=$(free_port)
start "$WORK/mp-md.log" node "$BUILD/src/cli/main.js" serve --data-dir "$WORK/mp-md" --smtp-listen "127.0.0.1:$P4" -o smtp.workers=1 -o log.level=warn -o "delivery.maildir_root=$SHM/maildir" -o 'pop3.listen=[]' -o 'web.listen=[]'
MPMD=$LAST
start "$WORK/mp-lg.log" node "$BUILD/src/cli/main.js" serve --data-dir "$WORK/mp-lg" --smtp-listen "127.0.0.1:$P5" -o smtp.workers=1 -o log.level=warn -o "ledger.journal_dir=$SHM/journal" -o "ledger.store=$SHM/store.sqlite" -o 'pop3.listen=[]' -o 'web.listen=[]'
MPLG=$LAST
wait_for "$WORK/mp-md.log" 'SMTP on'
wait_for "$WORK/mp-lg.log" 'SMTP on'
for round in 1 2; do
  for v in "mailproof:$P1" "bare:$P2" "mailproof-maildir-on-tmpfs:$P4" "mailproof-ledger-on-tmpfs:$P5"; do
    [ "$round" = 1 ] && { node "$BUILD/bench/latency.js" --port "${v#*:}" --sessions 10 >/dev/null; continue; }
    node "$BUILD/bench/latency.js" --port "${v#*:}" --sessions "${PROFILE_SESSIONS:-60}" --label "${v%%:*}" | tee -a "$P/summary.txt"
  done
done
stop_group "$MPMD"; stop_group "$MPLG"
rm -rf "$SHM"; echo "done $SHM" >>"$BENCH_PIDFILE"

say "== mailproof ledger: events per accepted message (from the store)"
node --input-type=module -e "
const { SqliteStoreReader } = await import('$BUILD/src/ledger/store/sqlite/reader.js');
const r = new SqliteStoreReader('$WORK/mp/store.sqlite');
const by = new Map();
for (const e of r.all()) by.set(e.kind, (by.get(e.kind) ?? 0) + 1);
const n = by.get('message.delivered') || 1;
for (const [k, v] of [...by].sort((a, b) => b[1] - a[1])) console.log('  ' + k.padEnd(18) + (v / n).toFixed(2));
r.close();
" | tee -a "$P/summary.txt"

# --- 2. CPU profile ------------------------------------------------------
stop_group "$MP"; stop_group "$BARE"
P3=$(free_port)
start "$WORK/mp2.log" node --cpu-prof --cpu-prof-dir="$P" "$BUILD/src/cli/main.js" serve --data-dir "$WORK/mp2" --smtp-listen "127.0.0.1:$P3" -o smtp.workers=1 -o log.level=warn -o smtp.max_connections_per_ip=1000 -o 'pop3.listen=[]' -o 'web.listen=[]'
MP2=$LAST
wait_for "$WORK/mp2.log" 'SMTP on'
"$SRC" -s 5 -m 50 -l 4096 -f sender@example.org -t demo@demo.test "127.0.0.1:$P3"
"$SRC" -s "$C" -m "$N" -l 4096 -f sender@example.org -t demo@demo.test "127.0.0.1:$P3"
stop_group "$MP2"
say "== CPU profile (self time, top functions; wall-clock sampled, see the note at the top of this script)"
for f in "$P"/*.cpuprofile; do
  say "-- $(basename "$f")"
  node "$BUILD/bench/cpuprofile-top.js" "$f" 20 | tee -a "$P/summary.txt"
done
echo "written: $P/summary.txt${PROFILE_ABLATION:+}"
[ -f "$OUT/ablation.json" ] && echo "ablation figures: $OUT/ablation.json (bench/run.sh's report puts them into RESULTS.md)"
exit 0
