#!/usr/bin/env bash
# Runs the compiled test suite (or the given test files) under a pinned Node.js
# LTS release instead of the machine's node; scripts/test.sh calls it for 22.
#
#   bash scripts/test-on-node.sh 22                                  # every dist/**/*.test.js
#   bash scripts/test-on-node.sh 24 dist/src/config/load.test.js     # some files
#
# Needs a build (dist/, scripts/build.sh) and the npm packages (node_modules/).
# A native addon (better-sqlite3) is compiled for one Node ABI (20: 115,
# 22: 127, 24: 137) and fails to load under another, so the suite cannot run
# from this checkout: it runs in a copy of it (everything but .git and
# node_modules) whose node_modules is a copy of this one with the native
# addons rebuilt for that Node. The rebuilt copy is cached per Node version
# and installed package set next to the Node build (scripts/node-lts.sh);
# this checkout's node_modules is only read.
set -euo pipefail
# One function, read whole before it runs: the run takes long, and bash reads a
# script as it goes, so a checkout changing this file meanwhile must not change it.
main() {
  cd "$(dirname "$0")/.."
  repo=$PWD
  [ $# -ge 1 ] || { echo "usage: $0 22|24 [TEST_FILE.js...]" >&2; exit 64; }
  node=$(bash scripts/node-lts.sh "$1")
  shift
  bindir=$(dirname "$node")
  home=$(dirname "$bindir")            # has include/node: node-gyp builds against it, offline
  version=$("$node" --version)
  [ -d dist ] || { echo "test-on-node.sh: no dist/; run scripts/build.sh first" >&2; exit 1; }
  modules=$(realpath node_modules)     # a worktree may link to another checkout's

  # --- node_modules for this Node, cached by what is installed ---------------
  lock="$modules/.package-lock.json"
  [ -f "$lock" ] || lock=package-lock.json
  key=$(sha256sum "$lock" | cut -c1-16)
  cache="$(dirname "$home")/node_modules-$version-$key"
  works() { "$node" -e 'new (require(process.argv[1]))(":memory:").prepare("select 1").get()' "$cache/node_modules/better-sqlite3" 2>/dev/null; }
  if ! works; then
    exec 8>"$cache.lock"
    flock 8
    if ! works; then
      echo "test-on-node.sh: building node_modules for node $version in $cache" >&2
      tmp=$(mktemp -d "$cache.tmp.XXXXXX")
      trap 'rm -rf "$tmp"' EXIT
      # A real copy, not hard links: the rebuild replaces files in place.
      cp -a "$modules" "$tmp/node_modules"
      cp package.json package-lock.json "$tmp/"
      # Every package that compiles an addon (binding.gyp beside its package.json).
      mapfile -t native < <(cd "$tmp" && for g in node_modules/*/binding.gyp node_modules/@*/*/binding.gyp; do
        [ -f "$g" ] && node -p 'require(process.argv[1]).name' "$PWD/$(dirname "$g")/package.json"; done)
      # The new node first on PATH: npm, node-gyp and the install scripts run
      # under it. nodedir: the headers that came with it (node-gyp cannot
      # download any here). build_from_source (npm warns it does not know it;
      # prebuild-install reads it): else prebuild-install would try to download
      # a prebuilt binary from outside the registry. Without names, npm rebuild
      # would rebuild every package.
      [ ${#native[@]} -gt 0 ] && (cd "$tmp" && PATH="$bindir:$PATH" npm_config_nodedir="$home" npm_config_build_from_source=true \
        npm rebuild "${native[@]}" --foreground-scripts --no-audit --no-fund >&2)
      chmod -R a+rX "$tmp"
      rm -rf "$cache"
      mv "$tmp" "$cache"
      trap - EXIT
      works || { echo "test-on-node.sh: better-sqlite3 does not load under node $version after the rebuild" >&2; exit 1; }
      # Entries for an older package set, unused for two days, go.
      find "$(dirname "$cache")" -maxdepth 1 -name "node_modules-$version-*" ! -name '*.lock' ! -name '*.tmp.*' ! -path "$cache" -mtime +2 -exec rm -rf {} + 2>/dev/null || true
    fi
    exec 8>&-
  fi
  touch "$cache"

  # --- the copy of the checkout ----------------------------------------------
  # Under /var/tmp, readable by all: one test runs the program as nobody.
  tree=$(mktemp -d /var/tmp/mailproof-suite-"$version".XXXXXX)
  trap 'rm -rf "$tree"' EXIT
  chmod 755 "$tree"
  tar -C "$repo" --exclude=./.git --exclude=./node_modules --exclude=./data --exclude=./bench/out -cf - . | tar -C "$tree" -xf -
  ln -s "$cache/node_modules" "$tree/node_modules"

  cd "$tree"
  # Files named as paths in this checkout are run as the same paths in the copy.
  if [ $# -gt 0 ]; then files=("${@#"$repo"/}"); else mapfile -t files < <(find dist -name '*.test.js' | sort); fi
  echo "== suite on node $version (${#files[@]} files, in $tree)"
  # The new node first on PATH, so that a script or child that runs `node`
  # gets it too; the tests themselves start children with process.execPath.
  # MAILPROOF_ROOT: the test helpers' idea of the checkout is the copy.
  PATH="$bindir:$PATH" MAILPROOF_ROOT="$tree" \
    node --test --test-concurrency=1 --test-timeout=600000 "${files[@]}"
}
main "$@"
