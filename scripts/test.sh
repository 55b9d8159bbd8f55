#!/usr/bin/env bash
# The test command (README "Quick start"): installs what the tests need, then
# type check, lint and the whole suite against real components on loopback.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-test-deps.sh
bash scripts/build.sh
npx eslint .
# Files run one at a time: several suites start real servers (Postfix, the
# gateway) and measure nothing, but 2 cores are easily oversubscribed.
mapfile -t files < <(find dist -name '*.test.js' | sort)
# A hung test must not eat CI's time: 10 minutes per test at most.
node --test --test-concurrency=1 --test-timeout=600000 "${files[@]}"
