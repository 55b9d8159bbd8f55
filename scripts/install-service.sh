#!/usr/bin/env bash
# Installs mailproof as a systemd service (README "Running as a service"):
# a system user without login, the data directory (mode 0700, its own), the
# configuration file (a starter one when there is none; never overwritten),
# and the unit from deploy/systemd/mailproof.service.in with this machine's
# paths. Enables and starts it when systemd runs this machine.
#
# A shell script rather than a `mailproof` subcommand: it runs as root,
# creates the account and calls systemctl, none of which the program itself
# should ever do or need; and it works before the service user could run
# anything.
#
# Run as root from a built checkout (bash scripts/build.sh). Idempotent.
# --root DIR writes every file under DIR instead of / (for packaging and the
# tests): the unit still names the real paths; the account is looked up, and
# created when missing, in this machine's user database, since files under
# DIR are owned by its numbers; nothing is enabled or started.
set -euo pipefail

usage() {
  cat <<'USAGE'
usage: scripts/install-service.sh [--root DIR] [--user NAME] [--data-dir DIR]
                                  [--config FILE] [--node PATH] [--app DIR] [--unit-dir DIR] [--no-start]
  --root DIR      install under DIR instead of / (nothing is enabled or started)
  --user NAME     the account the service runs as, and its group (default mailproof)
  --data-dir DIR  ledger, Maildirs, TLS key, web sessions (default /var/lib/mailproof)
  --config FILE   the configuration file (default /etc/mailproof/mailproof.yaml)
  --node PATH     the Node.js binary (default: node on PATH)
  --app DIR       the built mailproof checkout to run (default: this one)
  --unit-dir DIR  where the unit goes (default /etc/systemd/system)
  --no-start      install, but do not enable or start the service
USAGE
}

die() { echo "install-service: $*" >&2; exit 1; }

root=/
user=mailproof
data_dir=/var/lib/mailproof
config=/etc/mailproof/mailproof.yaml
node=
app=$(cd "$(dirname "$0")/.." && pwd -P)
start=yes
unit_dir=/etc/systemd/system

while (($#)); do
  case "$1" in
    --root) root=${2:?--root needs a directory}; shift 2 ;;
    --user) user=${2:?--user needs a name}; shift 2 ;;
    --data-dir) data_dir=${2:?--data-dir needs a directory}; shift 2 ;;
    --config) config=${2:?--config needs a file}; shift 2 ;;
    --node) node=${2:?--node needs a path}; shift 2 ;;
    --app) app=${2:?--app needs a directory}; shift 2 ;;
    --unit-dir) unit_dir=${2:?--unit-dir needs a directory}; shift 2 ;;
    --no-start) start=no; shift ;;
    -h|--help) usage; exit 0 ;;
    *) usage >&2; die "unknown option $1" ;;
  esac
done

[[ $(id -u) == 0 ]] || die "run as root: it creates a system user and chowns the data directory"
for tool in setpriv useradd getent; do
  command -v "$tool" >/dev/null || die "$tool is missing (Debian: apt-get install util-linux passwd libc-bin)"
done
[[ -n $node ]] || node=$(command -v node) || die "node is not on PATH; give its path with --node"
node=$(readlink -f "$node")
root=$(readlink -f "$root")
[[ -d $root ]] || die "--root $root: not a directory"
[[ $root == / ]] || start=no

# The unit names these paths as they are: systemd splits ExecStart= at
# spaces and expands % and $, so a path must not hold them.
for p in "$data_dir" "$config" "$node" "$app" "$unit_dir"; do
  [[ $p == /* ]] || die "$p: give an absolute path"
  [[ $p =~ ^[A-Za-z0-9_./+@:-]+$ ]] || die "$p: use a path of letters, digits and _./+@:- only (the unit cannot quote others)"
done
[[ $user =~ ^[a-z_][a-z0-9_-]{0,31}$ ]] || die "--user $user: expected a system account name such as mailproof"
case "${data_dir%/}" in
  ''|/etc|/usr|/var|/var/lib|/home|/root|/tmp|/opt|/srv) die "--data-dir $data_dir: give a directory of mailproof's own, e.g. /var/lib/mailproof (it is chowned to $user)" ;;
esac
# ProtectHome=yes hides these from the service: a program there could not start.
for p in "$app" "$node" "$data_dir" "$config"; do
  case "$p/" in
    /home/*|/root/*|/run/user/*) die "$p is under /home, /root or /run/user, which the unit hides from the service (ProtectHome=yes); install mailproof elsewhere, e.g. /opt/mailproof (and Node.js from the Debian package or /usr/local)" ;;
  esac
done
[[ -x $node ]] || die "--node $node: not an executable"
[[ -f $app/bin/mailproof.js && -f $app/dist/src/cli/main.js && -d $app/node_modules ]] \
  || die "$app is not a built mailproof checkout (bin/mailproof.js, dist/, node_modules/); build it first: bash scripts/build.sh"
template=$app/deploy/systemd/mailproof.service.in
[[ -f $template ]] || die "$template is missing"

# Where a path of the installed system is written now.
under_root() { if [[ $root == / ]]; then echo "$1"; else echo "$root$1"; fi; }

# --- the account: no login, its home the data directory (never created by useradd)
if getent passwd "$user" >/dev/null; then
  [[ $(id -u "$user") != 0 ]] || die "--user $user is root; the point is a user without privileges"
  echo "user $user exists (uid $(id -u "$user")); using it"
else
  nologin=$(command -v nologin || echo /usr/sbin/nologin)
  useradd --system --user-group --no-create-home --home-dir "$data_dir" --shell "$nologin" --comment "mailproof mail gateway" "$user"
  echo "created system user $user (uid $(id -u "$user")), group $(id -gn "$user"), no login shell"
fi
group=$(id -gn "$user")

# --- can the account read the program? (the installation may sit in a directory only root can enter)
as_user() { setpriv --reuid="$user" --regid="$group" --init-groups -- "$@"; }
unreadable=$(as_user find -L "$node" "$app/bin" "$app/dist" "$app/node_modules" "$app/package.json" \
  \( ! -readable -o \( -type d ! -executable \) \) -print -quit 2>&1 || true)
if [[ -n $unreadable ]]; then
  die "the user $user cannot read the program: ${unreadable%%$'\n'*}
  the service runs it as $user; make the installation readable by other users (e.g. chmod -R o+rX on it and o+x on its parent directories) or install it where it is (e.g. /opt/mailproof)"
fi

# --- the data directory: the account's own, nobody else may look in
dd=$(under_root "$data_dir")
if [[ -e $dd ]]; then
  [[ -d $dd && ! -L $dd ]] || die "$dd exists and is not a directory"
  # A data directory made by a root `serve` (quickstart) holds root's files the service could not write.
  chown -R "$user:$group" "$dd"
  chmod 0700 "$dd"
  echo "data directory $dd: now owned by $user:$group (all of it), mode 0700"
else
  install -d -m 0755 "$(dirname "$dd")"
  install -d -m 0700 -o "$user" -g "$group" "$dd"
  echo "data directory $dd: created, owned by $user:$group, mode 0700"
fi

# --- the configuration: root's, readable by the group; a starter file when none is there
cf=$(under_root "$config")
cdir=$(dirname "$cf")
if [[ ! -d $cdir ]]; then
  install -d -m 0750 -o root -g "$group" "$cdir"
  echo "configuration directory $cdir: created, root:$group, mode 0750"
fi
if [[ -e $cf ]]; then
  chgrp "$group" "$cf"
  chmod 0640 "$cf"
  echo "configuration $cf: kept as it is; root:$group, mode 0640"
else
  tmp=$(mktemp "$cdir/.mailproof.yaml.XXXXXX")
  cat >"$tmp" <<YAML
# mailproof configuration (README "Configuration"; every key: mailproof config --reference).
# Written by scripts/install-service.sh; it does not overwrite this file.
# The service runs: mailproof serve --config $config --data-dir $data_dir
# After a change: systemctl reload mailproof (the unit checks the file before every start).
data_dir: $data_dir
smtp:
  # Port 25 on every IPv4 address; add "[::]:25" for IPv6.
  listen: ["0.0.0.0:25"]
web:
  listen: ["127.0.0.1:8080"]
# Mail is accepted for these domains only, e.g.:
# domains:
#   example.com:
#     mailboxes: [info]
domains: {}
YAML
  chown "root:$group" "$tmp"
  chmod 0640 "$tmp"
  mv "$tmp" "$cf"
  echo "configuration $cf: written (a starter: SMTP on 0.0.0.0:25, no domains yet), root:$group, mode 0640"
fi

# --- the unit
ud=$(under_root "$unit_dir")
install -d -m 0755 "$ud"
unit=$ud/mailproof.service
sed -e "s|@NODE@|$node|g" -e "s|@APP@|$app|g" -e "s|@CONFIG@|$config|g" -e "s|@DATA_DIR@|$data_dir|g" \
    -e "s|@USER@|$user|g" -e "s|@GROUP@|$group|g" "$template" >"$unit.tmp"
chmod 0644 "$unit.tmp"
mv "$unit.tmp" "$unit"
echo "unit $unit: installed (User=$user, ExecStart=$node $app/bin/mailproof.js serve --config $config --data-dir $data_dir)"

# --- the configuration as the service will read it, as the service's user
if ! out=$(as_user "$node" "$app/bin/mailproof.js" config --check --config "$cf" --data-dir "$dd" 2>&1); then
  die "the configuration does not pass as $user: $out"
fi

cli="runuser -u $user -- $node $app/bin/mailproof.js"
if [[ $start == yes ]]; then
  if [[ -d /run/systemd/system ]]; then
    systemctl daemon-reload
    systemctl enable mailproof.service
    # A running service gets the new unit and program.
    systemctl restart mailproof.service
    echo "mailproof.service is enabled and started: systemctl status mailproof; journalctl -u mailproof"
  else
    echo "systemd is not running here (PID 1 is $(ps -o comm= -p 1 2>/dev/null || echo unknown)): installed the user, directories, configuration and unit above, nothing started."
    echo "On a machine booted with systemd: systemctl daemon-reload && systemctl enable --now mailproof"
  fi
elif [[ $root != / ]]; then
  echo "installed under $root; nothing enabled or started"
else
  echo "not started (--no-start): systemctl daemon-reload && systemctl enable --now mailproof"
fi
echo "commands on this instance run as $user, so the files they write stay the service's, e.g.:"
echo "  $cli user add admin --role staff --config $config --data-dir $data_dir"
