#!/usr/bin/env bash
# System calls and CPU per accepted message of one mailproof build, for
# before/after comparisons of a change (not part of bench/run.sh):
#
#   bash bench/syscalls.sh BUILD_DIR LABEL [CONCURRENCY=20] [MESSAGES=400]
#
# BUILD_DIR is a compiled tree (dist/ of a checkout: BUILD_DIR/src/cli/main.js).
# Starts `mailproof serve` (smtp.workers=1) on a free loopback port with a
# throwaway data dir, warms it up, then runs smtp-source twice: once plain
# (msg/s and CPU per message from /proc/PID/task/*/schedstat) and once under
# `strace -f -c` (system calls per message; every call made at least 0.5 times
# per message is listed). Run two builds alternately, a few times: this
# machine's noise is large.
set -u
B=${1:?usage: syscalls.sh BUILD_DIR LABEL [C] [N]}; L=${2:?label}; C=${3:-20}; N=${4:-400}
command -v strace >/dev/null || { echo "syscalls.sh: strace is missing (bash bench/install.sh)" >&2; exit 1; }
W=$(mktemp -d /tmp/mailproof-syscalls.XXXXXX)
PORT=$(node -e 'const s=require("net").createServer().listen(0,"127.0.0.1",()=>{console.log(s.address().port);s.close()})')
node "$B/src/cli/main.js" serve --data-dir "$W/d" --smtp-listen "127.0.0.1:$PORT" -o smtp.workers=1 -o log.level=warn \
  -o smtp.max_connections_per_ip=1000 -o 'pop3.listen=[]' -o 'web.listen=[]' >"$W/log" 2>&1 &
PID=$!
trap 'kill $PID 2>/dev/null; wait $PID 2>/dev/null; rm -rf "$W"' EXIT
for _ in $(seq 300); do grep -q 'SMTP on' "$W/log" && break; sleep 0.2; done
grep -q 'SMTP on' "$W/log" || { cat "$W/log" >&2; exit 1; }
SRC() { /usr/sbin/smtp-source -s "$1" -m "$2" -l 4096 -f sender@example.org -t demo@demo.test "127.0.0.1:$PORT"; }
SRC 5 50 # warm-up
cpu() { local t=0 f; for f in /proc/$PID/task/*/schedstat; do t=$((t + $(cut -d' ' -f1 "$f"))); done; echo $t; }
a=$(cpu); t0=$(date +%s%N)
SRC "$C" "$N"
t1=$(date +%s%N); b=$(cpu)
echo "$L: $N msgs c=$C: $(( N * 1000000000 / (t1 - t0) )) msg/s, CPU $(( (b - a) / N / 1000 )) us/msg, load $(cut -d' ' -f1 /proc/loadavg)"
strace -f -c -o "$W/strace" -p $PID 2>/dev/null &
ST=$!
sleep 1
SRC "$C" "$N"
sleep 0.5
kill -INT $ST; wait $ST 2>/dev/null
awk -v n="$N" -v l="$L" '/^ *[0-9.]+ +[0-9.]+ +[0-9]+ +[0-9]+/ && $NF != "total" { calls=$4; tot+=calls; if (calls/n >= 0.5) s = s sprintf(" %s=%.1f", $NF, calls/n) }
  END { printf "%s: system calls per message %.1f:%s\n", l, tot/n, s }' "$W/strace"
