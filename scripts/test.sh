#!/usr/bin/env bash
# The test command (README "Quick start"): installs what the tests need, then
# type check, lint and the whole suite against real components on loopback,
# on the machine's node and once more on Node.js 22 LTS (scripts/test-on-node.sh;
# MAILPROOF_TEST_NODE22=0 skips that second run for a quick local run, never in CI).
set -euo pipefail
# One function, read whole before it runs (bash reads a script as it goes; a
# checkout during the long run must not change what runs).
main() {
  cd "$(dirname "$0")/.."
  bash scripts/install-test-deps.sh
  bash scripts/build.sh
  npx eslint .
  # Files run one at a time: several suites start real servers (Postfix, the
  # gateway) and measure nothing, but 2 cores are easily oversubscribed.
  mapfile -t files < <(find dist -name '*.test.js' | sort)
  machine=$(node --version)
  echo "== suite on node $machine (${#files[@]} files)"
  # A hung test must not eat CI's time: 10 minutes per test at most.
  # Both runs go to the end; the command fails if either failed.
  rc_machine=0
  node --test --test-concurrency=1 --test-timeout=600000 "${files[@]}" || rc_machine=$?
  if [ "${MAILPROOF_TEST_NODE22:-1}" = 0 ] && [ "${CI:-}" != true ]; then
    echo "== suite on node 22 skipped (MAILPROOF_TEST_NODE22=0)"
    exit "$rc_machine"
  fi
  rc22=0
  bash scripts/test-on-node.sh 22 "${files[@]}" || rc22=$?
  # On success the runner's own summary stays the last lines of the output.
  if [ $rc_machine != 0 ] || [ $rc22 != 0 ]; then
    echo "== suite on node $machine: $([ $rc_machine = 0 ] && echo passed || echo "FAILED (exit $rc_machine)"); on node 22: $([ $rc22 = 0 ] && echo passed || echo "FAILED (exit $rc22)")"
    exit 1
  fi
}
main "$@"
