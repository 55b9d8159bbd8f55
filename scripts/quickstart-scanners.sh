# clamd and rspamd for scripts/quickstart.sh, which sources this file
# (functions only). It expects DATA (absolute), and sets CLAMD_ADDRESS,
# RSPAMD_URL and SIGNATURES (real | test).
#
# Two ways to run them:
# - system: where systemd runs services, the machine's own clamav-daemon and
#   rspamd services, started with systemctl; they keep running when the
#   quick start stops.
# - private: where it does not (a container), instances of our own under
#   $DATA/scanners: own configuration, a unix socket (clamd) or a loopback
#   port (rspamd), pid file and log. They run in the foreground as the
#   invoking user (no User option, as the test helpers run them), each in a
#   session of its own (setsid) so that a Ctrl-C in the terminal reaches
#   mailproof first, and are stopped by PID when mailproof has stopped. Each
#   one's pid file (quickstart.pid: PID and start time) lets a later start
#   stop what a killed one (kill -9) left running.
#
# Signatures: freshclam is tried (fails fast without a network); without a
# real database clamd gets the project's test signatures (test/fixtures/clamav,
# two made-up "viruses") and the quick start and mailproof say so loudly.

SCANNERS=$DATA/scanners
# Process groups of the private instances (each one leads its own).
PRIVATE_PIDS=()
CLAMD_ADDRESS=
RSPAMD_URL=
SIGNATURES=
# How to get real signatures, for the warning when there are none.
FRESHCLAM_HINT=

say() { printf 'quickstart: %s\n' "$*"; }
warn() { printf 'quickstart: %s\n' "$*" >&2; }

# The start time of process PID (proc(5) stat field 22, clock ticks since
# boot): with the PID it names one process, never a later one that got the
# same number.
qs_starttime() {
  local line
  read -r line 2>/dev/null <"/proc/$1/stat" || return 1
  # "pid (comm) state ppid ...": comm may hold spaces and parentheses.
  line=${line##*) }
  set -- $line
  echo "${20}"
}

# Records a private instance's process as "PID STARTTIME" in PIDFILE.
qs_write_pidfile() {
  echo "$2 $(qs_starttime "$2")" >"$1"
}

# The PID in PIDFILE when that very process still runs (else nothing).
qs_pidfile_alive() {
  local pid st
  read -r pid st 2>/dev/null <"$1" || return 0
  [[ $pid =~ ^[0-9]+$ ]] && [ -n "$st" ] && [ "$(qs_starttime "$pid")" = "$st" ] && echo "$pid"
  return 0
}

# True while a process of group PGID is alive (zombies do not count: an
# orphaned rspamd worker waits for PID 1 to reap it, which a container's
# PID 1 may never do).
qs_group_alive() {
  local pgid=$1 f line
  kill -0 -- "-$pgid" 2>/dev/null || return 1
  for f in /proc/[0-9]*/stat; do
    read -r line 2>/dev/null <"$f" || continue
    line=${line##*) }
    set -- $line
    [ "$1" != Z ] && [ "$3" = "$pgid" ] && return 0
  done
  return 1
}

# SIGTERM to the group NAME leads (rspamd's workers are in it), up to 15 s
# for it to end, then SIGKILL.
qs_stop_group() {
  local name=$1 pgid=$2 i
  kill -TERM -- "-$pgid" 2>/dev/null || true
  for ((i = 0; i < 150; i++)); do
    qs_group_alive "$pgid" || break
    sleep 0.1
  done
  if qs_group_alive "$pgid"; then
    warn "$name (pid $pgid) did not stop within 15 s; killing it"
    kill -KILL -- "-$pgid" 2>/dev/null || true
    for ((i = 0; i < 50; i++)); do qs_group_alive "$pgid" || break; sleep 0.1; done
  fi
  # Reap it when it is our child (not one a previous run left).
  wait "$pgid" 2>/dev/null || true
}

# A private instance a previous quick start left running (killed with -9):
# stopped before a new one takes its socket and log. Its pid file is ours:
# rspamd writes none in the foreground, and rewrites its command line and
# environment (process titles), so nothing else names it reliably.
qs_stop_leftover() {
  local name=$1 pidfile=$2 pid
  pid=$(qs_pidfile_alive "$pidfile")
  if [ -n "$pid" ]; then
    say "stopping the $name a previous quick start left running (pid $pid)"
    qs_stop_group "$name" "$pid"
  fi
  rm -f "$pidfile"
}

# Stops every private instance, newest first. Idempotent.
qs_stop_private() {
  local i
  for ((i = ${#PRIVATE_PIDS[@]} - 1; i >= 0; i--)); do
    local entry=${PRIVATE_PIDS[i]}
    say "stopping ${entry%%:*} (pid ${entry##*:})"
    qs_stop_group "${entry%%:*}" "${entry##*:}"
    rm -f "$SCANNERS/${entry%%:*}/quickstart.pid"
  done
  PRIVATE_PIDS=()
}

# PING over clamd's socket (ADDRESS: a unix socket path); true on PONG.
qs_clamd_ping() {
  node -e '
    const s = require("node:net").connect(process.argv[1]);
    let b = "";
    const done = () => process.exit(b.startsWith("PONG") ? 0 : 1);
    setTimeout(() => process.exit(1), 3000);
    s.on("connect", () => s.write("zPING\0"));
    s.on("data", (d) => { b += d; if (b.includes("\0")) done(); });
    s.on("error", () => process.exit(1));
    s.on("close", done);
  ' "$1"
}

# GET URL/ping; true when rspamd answers "pong".
qs_rspamd_ping() {
  node -e '
    const req = require("node:http").get(process.argv[1] + "/ping", { timeout: 3000 }, (res) => {
      let b = "";
      res.on("data", (d) => { b += d; });
      res.on("end", () => process.exit(res.statusCode === 200 && b.startsWith("pong") ? 0 : 1));
    });
    req.on("timeout", () => process.exit(1));
    req.on("error", () => process.exit(1));
  ' "$1"
}

# A free TCP port on 127.0.0.1 (bound and released).
qs_free_port() {
  node -e 'const s = require("node:net").createServer(); s.listen(0, "127.0.0.1", () => { console.log(s.address().port); s.close(); });'
}

# A UDP port on 127.0.0.1 nothing listens on: DNS queries sent there fail at once.
qs_closed_udp_port() {
  node -e 'const s = require("node:dgram").createSocket("udp4"); s.bind(0, "127.0.0.1", () => { console.log(s.address().port); s.close(); });'
}

# main and daily, as freshclam fetches them (.cvd) or updates them (.cld).
qs_has_real_db() {
  compgen -G "$1/main.c[vl]d" >/dev/null && compgen -G "$1/daily.c[vl]d" >/dev/null
}

# freshclam into $SCANNERS/clamav-db (kept between runs): true when a real
# database is there afterwards (fetched now or by an earlier run).
qs_freshclam_private() {
  local db=$SCANNERS/clamav-db t=${MAILPROOF_FRESHCLAM_TIMEOUT:-300} log=$SCANNERS/freshclam.log
  mkdir -p "$db"
  # One attempt and a short connect timeout: without a network it fails in
  # seconds; with one, the download (about 300 MB) gets up to $t seconds.
  cat >"$SCANNERS/freshclam.conf" <<EOF
# Written by scripts/quickstart.sh at every start.
DatabaseDirectory $db
DatabaseOwner $(id -un)
DatabaseMirror database.clamav.net
MaxAttempts 1
ConnectTimeout 15
EOF
  if [ "$t" != 0 ]; then
    say "freshclam: fetching the ClamAV signature database (at most $t s; log: $log)"
    if timeout "$t" freshclam --config-file="$SCANNERS/freshclam.conf" --stdout >"$log" 2>&1; then
      say "freshclam: the signature database is up to date"
    elif qs_has_real_db "$db"; then
      warn "freshclam failed (see $log); using the signatures an earlier run fetched"
    else
      warn "freshclam failed (no network?), see $log"
    fi
  fi
  qs_has_real_db "$db"
}

qs_wait_clamd() {
  local sock=$1 pid=${2:-} started=$SECONDS next=$((SECONDS + 20))
  until qs_clamd_ping "$sock"; do
    if [ -n "$pid" ] && ! kill -0 "$pid" 2>/dev/null; then
      warn "clamd exited during its start; the end of its log:"
      tail -n 20 "$SCANNERS/clamd/clamd.log" >&2 || true
      return 1
    fi
    if ((SECONDS - started > 600)); then warn "clamd did not answer PING within 600 s"; return 1; fi
    if ((SECONDS >= next)); then say "still waiting for clamd ($((SECONDS - started)) s)"; next=$((SECONDS + 20)); fi
    sleep 0.5
  done
}

# A private clamd with the real database when freshclam got one, else with
# the test signatures.
qs_private_clamd() {
  local dir=$SCANNERS/clamd db
  mkdir -p "$dir/tmp"
  qs_stop_leftover clamd "$dir/quickstart.pid"
  if qs_freshclam_private; then
    db=$SCANNERS/clamav-db
    SIGNATURES=real
  else
    # A copy of the signature files only: clamd loads anything in its
    # database directory that has a database extension.
    db=$dir/test-signatures
    FRESHCLAM_HINT="run this script again with network access (it runs freshclam), or
  freshclam --config-file=$SCANNERS/freshclam.conf
and start it again."
    rm -rf "$db" && mkdir -p "$db"
    cp test/fixtures/clamav/*.ndb test/fixtures/clamav/*.ldb "$db/"
    SIGNATURES=test
  fi
  cat >"$dir/clamd.conf" <<EOF
# Written by scripts/quickstart.sh at every start.
Foreground yes
LogFile $dir/clamd.log
LogTime yes
PidFile $dir/clamd.pid
TemporaryDirectory $dir/tmp
DatabaseDirectory $db
LocalSocket $dir/clamd.sock
LocalSocketMode 660
# As mailproof's scanners.clamd.max_stream_bytes and smtp.max_message_size.
StreamMaxLength 25M
MaxThreads 4
# Reloads a database freshclam updated.
SelfCheck 600
ScanMail yes
ScanArchive yes
ScanOLE2 yes
EOF
  # A socket left by a killed clamd makes a new one refuse to start.
  rm -f "$dir/clamd.sock"
  setsid clamd -c "$dir/clamd.conf" </dev/null >>"$dir/clamd.out" 2>&1 &
  CLAMD_PID=$!
  qs_write_pidfile "$dir/quickstart.pid" "$CLAMD_PID"
  PRIVATE_PIDS+=("clamd:$CLAMD_PID")
  CLAMD_ADDRESS=$dir/clamd.sock
  say "clamd: starting (pid $CLAMD_PID; $dir: clamd.conf, clamd.log; socket $CLAMD_ADDRESS)"
  [ "$SIGNATURES" = test ] || say "clamd: loading the ClamAV signature database (about a minute, 1-2 GB of memory)"
}

qs_private_rspamd() {
  local dir=$SCANNERS/rspamd cache=${MAILPROOF_RSPAMD_CACHE:-$SCANNERS/rspamd/hs-cache} port dns off='enabled = false;' f
  mkdir -p "$dir/local/local.d" "$dir/local/override.d" "$dir/db" "$dir/run" "$dir/log" "$dir/tmp" "$cache"
  qs_stop_leftover rspamd "$dir/quickstart.pid"
  port=$(qs_free_port)
  dns=$(qs_closed_udp_port)
  cat >"$dir/rspamd.conf" <<EOF
# Written by scripts/quickstart.sh at every start: the package's rules and
# module defaults (\$CONFDIR, /etc/rspamd, read only), our local.d, a normal
# worker on loopback and the controller on a unix socket.
.include "\$CONFDIR/common.conf"

options {
  pidfile = "\$RUNDIR/rspamd.pid";
  .include "\$CONFDIR/options.inc"
  .include(try=true; priority=1,duplicate=merge) "\$LOCAL_CONFDIR/local.d/options.inc"
}

logging {
  type = "file";
  filename = "\$LOGDIR/rspamd.log";
  .include "\$CONFDIR/logging.inc"
  .include(try=true; priority=1,duplicate=merge) "\$LOCAL_CONFDIR/local.d/logging.inc"
}

worker "normal" {
  bind_socket = "127.0.0.1:$port";
  .include "\$CONFDIR/worker-normal.inc"
  .include(try=true; priority=1,duplicate=merge) "\$LOCAL_CONFDIR/local.d/worker-normal.inc"
}

worker "controller" {
  bind_socket = "\$RUNDIR/controller.sock mode=0600";
  .include "\$CONFDIR/worker-controller.inc"
  .include(try=true; priority=1,duplicate=merge) "\$LOCAL_CONFDIR/local.d/worker-controller.inc"
}
EOF
  # Offline: mailproof does the DNS checks (block lists, SPF, DKIM, DMARC)
  # itself, so rspamd scores the content; nothing it does waits for the
  # network, and a forgotten lookup fails at once (DNS to a closed port).
  cat >"$dir/local/local.d/options.inc" <<EOF
dns {
  nameserver = ["127.0.0.1:$dns"];
  timeout = 0.5s;
  retransmits = 0;
}
# Compiled hyperscan databases: the first start builds them (minutes), later ones load them.
hs_cache_dir = "$cache/";
control_socket = "\$RUNDIR/rspamd.sock mode=0600";
tempdir = "$dir/tmp";
EOF
  echo 'level = "info";' >"$dir/local/local.d/logging.inc"
  echo 'count = 1;' >"$dir/local/local.d/worker-normal.inc"
  echo 'count = 1;' >"$dir/local/local.d/worker-controller.inc"
  # Network lookups and remote maps; Redis-backed modules (no Redis here).
  for f in rbl fuzzy_check asn spf dkim dmarc arc dkim_signing hfilter whitelist mx_check url_redirector \
           rspamd_update multimap greylist ratelimit neural reputation replies history_redis; do
    echo "$off" >"$dir/local/local.d/$f.conf"
  done
  printf 'phishtank_enabled = false;\nopenphish_enabled = false;\n' >"$dir/local/local.d/phishing.conf"
  local args=(-f -c "$dir/rspamd.conf" --var "LOCAL_CONFDIR=$dir/local" --var "DBDIR=$dir/db"
              --var "RUNDIR=$dir/run" --var "LOGDIR=$dir/log")
  # As root, rspamd drops to the package's _rspamd user unless told otherwise; its files here are root's.
  [ "$(id -u)" = 0 ] && args+=(-u root -g root)
  setsid rspamd "${args[@]}" </dev/null >>"$dir/log/rspamd.out" 2>&1 &
  RSPAMD_PID=$!
  qs_write_pidfile "$dir/quickstart.pid" "$RSPAMD_PID"
  PRIVATE_PIDS+=("rspamd:$RSPAMD_PID")
  RSPAMD_URL=http://127.0.0.1:$port
  say "rspamd: starting (pid $RSPAMD_PID; $dir: rspamd.conf, local/local.d, log/rspamd.log; $RSPAMD_URL)"
  RSPAMD_CACHE=$cache
}

qs_wait_rspamd() {
  local url=$1 pid=${2:-} started=$SECONDS next=$((SECONDS + 30)) told=0
  until qs_rspamd_ping "$url"; do
    if [ -n "$pid" ] && ! kill -0 "$pid" 2>/dev/null; then
      warn "rspamd exited during its start; the end of its log:"
      tail -n 20 "$SCANNERS/rspamd/log/rspamd.log" >&2 || true
      return 1
    fi
    if ((told == 0 && SECONDS - started >= 3)); then
      say "rspamd: compiling its hyperscan databases; the first start takes 1-3 minutes on a small machine (${RSPAMD_CACHE:+cached in $RSPAMD_CACHE, }later starts take seconds)"
      told=1
    fi
    if ((SECONDS - started > 900)); then warn "rspamd did not answer /ping within 900 s"; return 1; fi
    if ((SECONDS >= next)); then say "still waiting for rspamd ($((SECONDS - started)) s)"; next=$((SECONDS + 30)); fi
    sleep 1
  done
  say "rspamd: ready after $((SECONDS - started)) s"
}

# The machine's clamav-daemon, when its database is real: the package's
# freshclam service fetches it into /var/lib/clamav (and clamav-daemon does
# not start without it). False when there is none within the timeout.
qs_system_clamd() {
  local t=${MAILPROOF_FRESHCLAM_TIMEOUT:-300} started=$SECONDS sock flog=/var/log/clamav/freshclam.log seen
  if ! qs_has_real_db /var/lib/clamav; then
    # Its log (Debian's UpdateLogFile) from here on: a failed attempt ends the wait at once.
    seen=$(stat -c %s "$flog" 2>/dev/null || echo 0)
    systemctl start clamav-freshclam.service || true
    say "freshclam (clamav-freshclam.service): waiting up to $t s for the signature database in /var/lib/clamav"
    while ! qs_has_real_db /var/lib/clamav; do
      if ((SECONDS - started >= t)) || ! systemctl is-active --quiet clamav-freshclam.service ||
         tail -c "+$((seen + 1))" "$flog" 2>/dev/null | grep -q -e 'Update failed' -e 'update process failed'; then
        warn "no ClamAV signature database in /var/lib/clamav ($flog and journalctl -u clamav-freshclam say why)"
        return 1
      fi
      sleep 2
    done
  fi
  # (Called in an "if": set -e does not stop the script here.)
  systemctl start clamav-daemon.service || { warn "systemctl start clamav-daemon.service failed"; return 1; }
  sock=$(awk '$1 == "LocalSocket" { print $2 }' /etc/clamav/clamd.conf 2>/dev/null)
  CLAMD_ADDRESS=${sock:-/run/clamav/clamd.ctl}
  SIGNATURES=real
  say "clamd (clamav-daemon.service): loading the signature database (can take a minute); socket $CLAMD_ADDRESS"
}

qs_system_rspamd() {
  systemctl start rspamd.service
  # Debian's rspamd.conf: the normal worker on localhost:11333.
  RSPAMD_URL=http://127.0.0.1:11333
  RSPAMD_CACHE=
  say "rspamd (rspamd.service): starting; $RSPAMD_URL"
}

# True where systemd runs the services (PID 1 is systemd).
qs_systemd_runs() {
  [ "$(cat /proc/1/comm 2>/dev/null)" = systemd ] && [ -d /run/systemd/system ]
}

# Starts (or finds) clamd and rspamd and waits until both answer.
qs_start_scanners() {
  local mode=${MAILPROOF_QUICKSTART_SCANNERS:-auto}
  mkdir -p "$SCANNERS"
  case $mode in
    auto) if qs_systemd_runs; then mode=system; else mode=private; fi ;;
    system | private) ;;
    *) warn "MAILPROOF_QUICKSTART_SCANNERS=$mode: expected auto, system or private"; return 1 ;;
  esac
  CLAMD_PID=
  RSPAMD_PID=
  if [ "$mode" = system ]; then
    say "scanners: the machine's clamav-daemon and rspamd services (systemd)"
    qs_system_rspamd
    if ! qs_system_clamd; then
      say "clamd: a private one under $SCANNERS/clamd instead, with test signatures"
      # No freshclam of our own: the package's service owns that job here.
      MAILPROOF_FRESHCLAM_TIMEOUT=0 qs_private_clamd
      FRESHCLAM_HINT="let the clamav-freshclam service fetch it (journalctl -u
clamav-freshclam says why it did not) and start this script again."
    fi
  else
    say "scanners: private clamd and rspamd under $SCANNERS (systemd does not run services here)"
    qs_private_rspamd
    qs_private_clamd
  fi
  qs_wait_clamd "$CLAMD_ADDRESS" "$CLAMD_PID"
  say "clamd: ready"
  qs_wait_rspamd "$RSPAMD_URL" "$RSPAMD_PID"
}
