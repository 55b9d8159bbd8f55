#!/usr/bin/env bash
# A PostgreSQL of its own in one directory, on 127.0.0.1 only: enough to try
# a mailproof cluster on one machine. Debian's server binaries
# (/usr/lib/postgresql/<version>/bin, package postgresql); the machine's own
# PostgreSQL service and its clusters are neither used nor touched.
#
#   scripts/postgres-local.sh start DIR [PORT]   create (first time) and start, PORT default 55432
#   scripts/postgres-local.sh stop DIR           fast shutdown by the PID in DIR/data/postmaster.pid
#
# In DIR:
#   data/          the cluster; settings of this script in data/mailproof-local.conf
#   run/           its unix socket: the superuser postgres without a password,
#                  for setup only (only postgres and root can enter run/)
#   password       the password of the role mailproof (mode 0600): mailproof
#                  reads it from this file, never from the command line
#   postgres.log   the server's log
#
# The role mailproof logs in over TCP with that password (SCRAM) and owns the
# database mailproof. The server keeps fsync on: unlike the tests'
# throwaway instances, what is tried here may be worth keeping.
#
# initdb and the server refuse to run as root: as root, they run as the
# postgres system user that Debian's package creates.
set -euo pipefail

ROLE=mailproof
DB=mailproof
SUPERUSER=postgres

usage() { echo "usage: $0 start DIR [PORT] | stop DIR" >&2; exit 2; }
die() { echo "postgres-local: $*" >&2; exit 1; }

# The newest server installed the Debian way (not on PATH there).
bindir() {
  local v
  v=$(ls /usr/lib/postgresql 2>/dev/null | grep -E '^[0-9]+(\.[0-9]+)?$' | sort -V | tail -n 1 || true)
  [ -n "$v" ] && [ -x "/usr/lib/postgresql/$v/bin/initdb" ] && [ -x "/usr/lib/postgresql/$v/bin/pg_ctl" ] ||
    die "no PostgreSQL server in /usr/lib/postgresql (apt-get install postgresql)"
  echo "/usr/lib/postgresql/$v/bin"
}

as_root() { [ "$(id -u)" = 0 ]; }

# Runs a command as the server's user.
as_server() {
  if as_root; then runuser -u "$SUPERUSER" -- "$@"; else "$@"; fi
}

# A process that exists and is not a zombie (a stopped daemon waits for init to reap it).
alive() {
  local s
  s=$(cat "/proc/$1/stat" 2>/dev/null) || return 1
  s=${s##*) }
  [ "${s%% *}" != Z ]
}

# The running postmaster of DIR's cluster, or nothing. A stale postmaster.pid
# may name a PID reused by another process: that one works elsewhere.
postmaster_pid() {
  local pid
  pid=$(head -n 1 "$DIR/data/postmaster.pid" 2>/dev/null || true)
  [[ $pid =~ ^[0-9]+$ ]] && alive "$pid" && [ "$(readlink "/proc/$pid/cwd" 2>/dev/null)" = "$DIR/data" ] && echo "$pid" || true
}

# SQL-quoted string (single quotes doubled).
sql_str() { printf "'%s'" "${1//\'/\'\'}"; }

cmd_start() {
  local port=${1:-55432} bin log pid new_password=
  [[ $port =~ ^[0-9]+$ ]] && ((port > 0 && port < 65536)) || die "not a port: $port"
  bin=$(bindir)
  if as_root; then id -u "$SUPERUSER" >/dev/null 2>&1 || die "no $SUPERUSER system user to run the server as (apt-get install postgresql creates it)"; fi
  mkdir -p "$DIR"
  DIR=$(cd "$DIR" && pwd -P)
  log=$DIR/postgres.log
  if [ ! -f "$DIR/data/PG_VERSION" ]; then
    if [ -d "$DIR/data" ] && [ -n "$(ls -A "$DIR/data")" ]; then die "$DIR/data is not empty and holds no cluster"; fi
    mkdir -p -m 700 "$DIR/data" "$DIR/run"
    if as_root; then chown "$SUPERUSER:" "$DIR/data" "$DIR/run"; fi
    as_server test -w "$DIR/data" || die "the $SUPERUSER user cannot enter $DIR (below /root?); choose a directory it can reach"
    echo "creating a cluster in $DIR/data"
    (cd / && as_server "$bin/initdb" -D "$DIR/data" -U "$SUPERUSER" --no-locale -E UTF8 \
       --auth-local=trust --auth-host=scram-sha-256) >>"$log" 2>&1 || { tail -n 20 "$log" >&2; die "initdb failed (log: $log)"; }
    echo "include_if_exists = 'mailproof-local.conf'" >>"$DIR/data/postgresql.conf"
    # Written from scratch: no password only for the superuser on the socket
    # in run/; every TCP login needs its SCRAM password.
    printf '%s\n' '# scripts/postgres-local.sh' "local all $SUPERUSER trust" 'host all all 127.0.0.1/32 scram-sha-256' \
      >"$DIR/data/pg_hba.conf"
  fi
  # Every start: the port may differ from the last one.
  cat >"$DIR/data/mailproof-local.conf" <<EOF
# written by scripts/postgres-local.sh on every start
listen_addresses = '127.0.0.1'
port = $port
unix_socket_directories = $(sql_str "$DIR/run")
password_encryption = 'scram-sha-256'
EOF
  # The server (pg_ctl -l) appends to the log.
  touch "$log"
  if as_root; then chown "$SUPERUSER:" "$DIR/data/mailproof-local.conf" "$log"; fi

  pid=$(postmaster_pid)
  if [ -n "$pid" ]; then
    echo "already running (PID $pid)"
    [ "$(sed -n 4p "$DIR/data/postmaster.pid")" = "$port" ] || echo "port $port takes effect after stop and start"
  else
    (cd / && as_server "$bin/pg_ctl" -D "$DIR/data" -l "$log" -w -t 60 start) >/dev/null ||
      { tail -n 20 "$log" >&2; die "PostgreSQL did not start (log: $log)"; }
  fi
  # The port it listens on (line 4 of postmaster.pid), which an already running one may not have from this start.
  port=$(sed -n 4p "$DIR/data/postmaster.pid")

  sql() { (cd / && as_server "$bin/psql" -X -q -v ON_ERROR_STOP=1 -h "$DIR/run" -p "$port" -U "$SUPERUSER" -d postgres "$@"); }
  if [ ! -s "$DIR/password" ]; then
    (umask 077 && od -An -tx1 -N24 /dev/urandom | tr -d ' \n' >"$DIR/password")
    new_password=1
  fi
  chmod 600 "$DIR/password"
  # Through stdin (printf is a builtin): the password never shows in a process list.
  if [ "$(sql -tA -c "SELECT 1 FROM pg_roles WHERE rolname = '$ROLE'")" != 1 ]; then
    printf 'CREATE ROLE %s LOGIN PASSWORD %s;\n' "$ROLE" "$(sql_str "$(cat "$DIR/password")")" | sql
  elif [ -n "$new_password" ]; then
    printf 'ALTER ROLE %s PASSWORD %s;\n' "$ROLE" "$(sql_str "$(cat "$DIR/password")")" | sql
  fi
  if [ "$(sql -tA -c "SELECT 1 FROM pg_database WHERE datname = '$DB'")" != 1 ]; then
    sql -c "CREATE DATABASE $DB OWNER $ROLE"
  fi
  echo "PostgreSQL on 127.0.0.1:$port (PID $(postmaster_pid), log $log)"
  echo "connection:    postgres://$ROLE@127.0.0.1:$port/$DB"
  echo "password file: $DIR/password"
}

cmd_stop() {
  local pid i
  [ -d "$DIR" ] || die "no directory $DIR"
  DIR=$(cd "$DIR" && pwd -P)
  pid=$(postmaster_pid)
  if [ -z "$pid" ]; then echo "not running"; return; fi
  kill -INT "$pid" # fast shutdown: rolls back open transactions, disconnects clients
  for ((i = 0; i < 600; i++)); do
    alive "$pid" || { echo "stopped (PID $pid)"; return; }
    sleep 0.1
  done
  die "PID $pid did not stop within 60 s (log: $DIR/postgres.log)"
}

[ $# -ge 2 ] || usage
DIR=$2
case $1 in
  start) [ $# -le 3 ] || usage; cmd_start "${3:-}" ;;
  stop) [ $# -eq 2 ] || usage; cmd_stop ;;
  *) usage ;;
esac
