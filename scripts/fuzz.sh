#!/usr/bin/env bash
# Runs each native Go fuzz target for a while (default 2m each):
#   scripts/fuzz.sh [DURATION [TARGET]]
# The targets send fuzzed requests to the API over a SQLite file, and over
# PostgreSQL too when LEDGER_TEST_DATABASE_URL is set. A failing input is
# written to the package's testdata/fuzz/<target>/ (commit it: `go test`
# then runs it as a regression test). New interesting inputs stay in the Go
# build cache; `scripts/fuzz.sh` prints how many each run added.
set -euo pipefail
cd "$(dirname "$0")/.."
time=${1:-2m}
only=${2:-}
targets=(
  "./domain FuzzDecodeEvent"
  "./adapters/httpapi FuzzCommands"
  "./adapters/httpapi FuzzQueries"
)
for t in "${targets[@]}"; do
  read -r pkg name <<<"$t"
  [ -z "$only" ] || [ "$only" = "$name" ] || continue
  echo "== $name ($pkg) for $time"
  start=$(date +%s)
  set +e
  go test "$pkg" -run "^$name\$" -fuzz "^$name\$" -fuzztime "$time" -fuzzminimizetime 20x -parallel 2 2>&1 | tail -n 4
  rc=${PIPESTATUS[0]}
  set -e
  echo "   took $(( $(date +%s) - start ))s, exit $rc"
  [ "$rc" -eq 0 ] || failed=1
done
exit "${failed:-0}"
