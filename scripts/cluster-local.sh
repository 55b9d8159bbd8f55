#!/usr/bin/env bash
# A mailproof cluster on one machine, to try it: one PostgreSQL
# (scripts/postgres-local.sh) and two gateway nodes that share it.
#
#   scripts/cluster-local.sh start DIR   PostgreSQL on 127.0.0.1:55432, node mx1 SMTP on
#                                        127.0.0.21:2525 (web UI on 127.0.0.21:8080),
#                                        node mx2 SMTP on 127.0.0.22:2525 (POP3 on 127.0.0.22:1110)
#   scripts/cluster-local.sh stop DIR    stops both nodes (SIGTERM, by PID) and PostgreSQL
#
# In DIR: pg/ (the database, its password file and log), mx1.yaml and
# mx2.yaml (each node's configuration: only node, data_dir and listeners
# differ), mx1/ and mx2/ (data directories), maildir/ (the Maildirs both
# nodes deliver to, as a shared mailbox store would be), mx1.log, mx2.log.
# Override the ports with PGPORT, SMTP_PORT, WEB_PORT, POP3_PORT.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)

usage() { echo "usage: $0 start DIR | stop DIR" >&2; exit 2; }
[ $# -eq 2 ] || usage
DIR=$(realpath -m "$2")
PGPORT=${PGPORT:-55432}
SMTP_PORT=${SMTP_PORT:-2525}
WEB_PORT=${WEB_PORT:-8080}
POP3_PORT=${POP3_PORT:-1110}

node_config() { # NAME IP WEB POP3
  cat >"$DIR/$1.yaml" <<YAML
node: $1
hostname: $1.cluster.test
data_dir: $DIR/$1
ledger:
  store: postgres://mailproof@127.0.0.1:$PGPORT/mailproof
  store_password_file: $DIR/pg/password
delivery:
  maildir_root: $DIR/maildir
smtp:
  listen: ["$2:$SMTP_PORT"]
web:
  listen: [$3]
pop3:
  listen: [$4]
YAML
}

alive() { [ -n "$1" ] && kill -0 "$1" 2>/dev/null; }

start_node() { # NAME
  local pid
  pid=$(cat "$DIR/$1.pid" 2>/dev/null || true)
  if alive "$pid"; then echo "$1 already running (PID $pid)"; return; fi
  node "$ROOT/bin/mailproof.js" serve --config "$DIR/$1.yaml" >"$DIR/$1.log" 2>&1 &
  echo $! >"$DIR/$1.pid"
  for _ in $(seq 1 150); do
    if grep -q 'mailproof: SMTP on' "$DIR/$1.log"; then
      echo "$1: $(grep -h '^mailproof: ' "$DIR/$1.log" | sed 's/^mailproof: //' | paste -sd';' -)"
      return
    fi
    alive "$(cat "$DIR/$1.pid")" || { echo "$1 did not start:" >&2; tail -20 "$DIR/$1.log" >&2; exit 1; }
    sleep 0.2
  done
  echo "$1 did not say it listens within 30 s; see $DIR/$1.log" >&2
  exit 1
}

stop_node() { # NAME
  local pid
  pid=$(cat "$DIR/$1.pid" 2>/dev/null || true)
  if ! alive "$pid"; then echo "$1 not running"; return; fi
  kill -TERM "$pid"
  for _ in $(seq 1 150); do alive "$pid" || { echo "$1 stopped"; rm -f "$DIR/$1.pid"; return; }; sleep 0.2; done
  echo "$1 (PID $pid) did not stop within 30 s" >&2
}

case "$1" in
  start)
    mkdir -p "$DIR"
    [ -f "$ROOT/dist/src/cli/main.js" ] || bash scripts/build.sh
    bash scripts/postgres-local.sh start "$DIR/pg" "$PGPORT"
    node_config mx1 127.0.0.21 "\"127.0.0.21:$WEB_PORT\"" ""
    node_config mx2 127.0.0.22 "" "\"127.0.0.22:$POP3_PORT\""
    start_node mx1
    start_node mx2
    cat <<TXT

Try it:
  swaks --server 127.0.0.21:$SMTP_PORT --to demo@demo.test     # to node mx1
  swaks --server 127.0.0.22:$SMTP_PORT --to demo@demo.test     # to node mx2
  node bin/mailproof.js trace --config $DIR/mx2.yaml --rcpt demo@demo.test   # both messages, each with its node
  node bin/mailproof.js status --config $DIR/mx1.yaml                       # the store and every node's backlog
  node bin/mailproof.js user add --config $DIR/mx1.yaml admin --role staff   # then http://127.0.0.21:$WEB_PORT/
Stop it: $0 stop $DIR
TXT
    ;;
  stop)
    stop_node mx1
    stop_node mx2
    bash scripts/postgres-local.sh stop "$DIR/pg"
    ;;
  *) usage ;;
esac
