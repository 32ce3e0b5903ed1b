#!/usr/bin/env bash
# Prints command throughput beside each store's raw insert rate. Usage: scripts/bench.sh [-duration 10s] [-concurrency 16]
set -euo pipefail
cd "$(dirname "$0")/.."
export LEDGER_TEST_DATABASE_URL="${LEDGER_TEST_DATABASE_URL:-postgres://postgres@127.0.0.1:5432/test?sslmode=disable}"
go run ./scripts/bench "$@"
