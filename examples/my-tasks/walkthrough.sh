#!/usr/bin/env bash
# The README's "Your own tasks, your own CLI" commands, run as written in this crate's folder
# (.ci/run runs this; tests/readme.rs checks every command of the README is here). The history
# goes to a temporary file, so the walk-through leaves nothing in the repository.
set -euo pipefail
cd "$(dirname "$0")"
export SERVICETASK_HISTORY="$(mktemp -d)/history.db"
trap 'rm -rf "$(dirname "$SERVICETASK_HISTORY")"' EXIT
unset SERVICETASK_CONFIG

expect() { # expect TEXT -- COMMAND...: runs the command, fails unless its output holds TEXT
  local want=$1; shift 2
  local out; out=$("$@" 2>&1) || { echo "$out"; echo "failed: $*"; return 1; }
  grep -qF -- "$want" <<<"$out" || { echo "$out"; echo "'$want' not in the output of: $*"; return 1; }
  echo "ok: $*"
}

expect "attempts 5, timeout 30s, breaker on" -- cargo run -- tasks
expect "Path: start -> reserve -> ship -> shipped" -- cargo run -- run processes/order.bpmn --var sku=A-1 --var quantity=2
expect "Path: start -> no_stock -> apologise -> sorry" -- cargo run -- run processes/order.bpmn --var sku=A-1 --var quantity=2 --mock reserve_stock=bpmn-error:OUT_OF_STOCK
expect "3 passed, 0 failed" -- cargo run -- test tests/order.test.toml
expect "reserve_stock" -- cargo run -- report
expect "test result: ok" -- cargo test
