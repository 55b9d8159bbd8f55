# Shared by bench/run.sh and bench/profile.sh (sourced, not run).
# Sets ROOT, OUT, BUILD, WORK, BENCH_PIDFILE; defines step, build_tree and
# the EXIT trap that stops everything still running that was started.

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
# The test helpers the benchmark borrows (Knot, clamd, rspamd) find the
# project's files (clamd's test signatures) here, not next to the build.
export MAILPROOF_ROOT=$ROOT
OUT=$ROOT/bench/out
mkdir -p "$OUT"

# Many sockets in the idle test: as many descriptors as we may have.
ulimit -n 65536 2>/dev/null || ulimit -n "$(ulimit -Hn)" 2>/dev/null || true

# Everything started is listed here ("pgid N", "postfix DIR", "dir DIR", "postgres DIR",
# and "done X" once stopped); the trap stops what is still running, even if
# a Node orchestrator crashed.
export BENCH_PIDFILE=${BENCH_PIDFILE:-$OUT/started.$$.txt}
: >"$BENCH_PIDFILE"
BUILD=$(mktemp -d /tmp/mailproof-bench-build.XXXXXX)
WORK=$(mktemp -d /tmp/mailproof-bench-work.XXXXXX)
chmod 755 "$WORK" # Postfix's daemons (user postfix) must reach their queue inside

# Node steps run in the background and are waited for, so a signal to the
# script is handled at once (bash runs traps only between commands).
CHILD=
step() {
  "$@" &
  CHILD=$!
  local rc=0
  wait "$CHILD" || rc=$?
  CHILD=
  return "$rc"
}

bench_cleanup() {
  local rc=$?
  trap - EXIT INT TERM
  if [ -n "$CHILD" ] && kill -0 "$CHILD" 2>/dev/null; then
    # The orchestrators stop their own servers on SIGTERM.
    kill -TERM "$CHILD" 2>/dev/null || true
    for _ in $(seq 100); do kill -0 "$CHILD" 2>/dev/null || break; sleep 0.2; done
    kill -KILL "$CHILD" 2>/dev/null || true
  fi
  if [ -s "$BENCH_PIDFILE" ]; then
    local kind arg
    while read -r kind arg; do
      grep -qxF "done $arg" "$BENCH_PIDFILE" && continue
      case $kind in
        pgid)
          # Only groups that still exist.
          if pgrep -g "$arg" >/dev/null 2>&1; then
            echo "bench: stopping leftover process group $arg" >&2
            kill -TERM -- "-$arg" 2>/dev/null || true
            sleep 1
            kill -KILL -- "-$arg" 2>/dev/null || true
          fi ;;
        postfix)
          [ -f "$arg/main.cf" ] && { /usr/sbin/postfix -c "$arg" abort >/dev/null 2>&1 || true; } ;;
        dir)
          case $arg in /dev/shm/mailproof-bench-*) rm -rf "$arg" ;; esac ;;
        postgres)
          # A PostgreSQL of scripts/postgres-local.sh: stopped by its postmaster's PID.
          bash "$ROOT/scripts/postgres-local.sh" stop "$arg" >&2 || true ;;
      esac
    done <"$BENCH_PIDFILE"
  fi
  rm -f "$BENCH_PIDFILE"
  rm -rf "$WORK" "$BUILD"
  exit "$rc"
}
trap bench_cleanup EXIT
trap 'exit 130' INT TERM

# Compiles src/ and bench/ into $BUILD (a private tree: dist/ is left alone,
# so a concurrent `npm run build` elsewhere cannot pull files from under us).
build_tree() {
  ln -s "$ROOT/node_modules" "$BUILD/node_modules"
  cp "$ROOT/package.json" "$BUILD/"
  if ! (cd "$ROOT" && npx tsc -p . --outDir "$BUILD"); then
    echo "bench: tsc reported errors (see above); going on with what it emitted" >&2
  fi
  local f
  for f in src/cli/main.js src/ledger/indexer-worker.js bench/throughput.js bench/sustained.js bench/idle-connections.js bench/bare-smtp-server.js bench/report.js bench/cpuprofile-top.js bench/latency.js bench/research/bench.js bench/research-pg/bench.js bench/cluster/report.js bench/mime-memory.js bench/filter/report.js; do
    [ -f "$BUILD/$f" ] || { echo "bench: $BUILD/$f was not built" >&2; return 1; }
  done
}

# The machine, for the reports: write_machine_json FILE (bench/run.sh, bench/filter/run.sh).
write_machine_json() {
  local GIT_REV GIT_DIRTY
  GIT_REV=$(git rev-parse --short HEAD 2>/dev/null || echo '?')
  GIT_DIRTY=$(git status --porcelain -- src package.json package-lock.json 2>/dev/null | wc -l)
  export M_DATE M_NPROC M_MEM M_KERNEL M_NODE M_CPU M_POSTFIX M_GIT M_NOFILE M_DISK M_LOAD M_SCANNERS
  M_DATE=$(date -u '+%Y-%m-%d %H:%M UTC')
  M_NPROC=$(nproc)
  M_MEM=$(free -h | awk '/^Mem:/ {print $2 " total, " $7 " available"}')
  M_KERNEL=$(uname -sr)
  M_NODE=$(node --version)
  M_CPU=$(awk -F: '/model name/ {print $2; exit}' /proc/cpuinfo | sed 's/^ *//')
  M_POSTFIX=$(dpkg-query -W -f='${Version}' postfix 2>/dev/null || echo '?')
  M_GIT="$GIT_REV$([ "$GIT_DIRTY" -gt 0 ] && echo " + uncommitted changes in $GIT_DIRTY file(s) of src/ and package files" || true)"
  M_NOFILE=$(ulimit -n)
  M_DISK=$(df -hT "$WORK" | awk 'NR==2 {print $2 " on " $1 " (" $7 ")"}')
  M_LOAD=$(cut -d' ' -f1-3 /proc/loadavg)
  M_SCANNERS="rspamd $(dpkg-query -W -f='${Version}' rspamd 2>/dev/null || echo '?'), clamd $(dpkg-query -W -f='${Version}' clamav-daemon 2>/dev/null || echo '?'), knot $(dpkg-query -W -f='${Version}' knot 2>/dev/null || echo '?')"
  node -e '
  const e = process.env;
  const m = { date: e.M_DATE, nproc: e.M_NPROC, memory: e.M_MEM, kernel: e.M_KERNEL, cpu: e.M_CPU, node: e.M_NODE,
    postfix: e.M_POSTFIX, "mailproof commit": e.M_GIT, "open files (ulimit -n)": e.M_NOFILE, "data on": e.M_DISK,
    "load average at start": e.M_LOAD, "scanners and DNS (Debian packages)": e.M_SCANNERS };
  require("fs").writeFileSync(process.argv[1], JSON.stringify(m, null, 2));
  ' "$1"
  echo "   $M_NPROC cores, $M_MEM, $M_KERNEL, node $M_NODE, load $M_LOAD, ulimit -n $M_NOFILE"
}
