#!/usr/bin/env bash
# The connector benchmark of BENCHMARKS.md in one run: builds the release servicetask binary
# and the connector_bench example, makes the venv of scripts/connector-e2e.sh, then
# python/benchmarks/connector_bench.py measures quality_check in process (Rust), over HTTP
# (from Rust, 1 and 8 clients), and from SpiffWorkflow 3.2.0 with its own in-process service
# call and with ServiceTaskScriptEngine over HTTP. Arguments go to the Python script
# (--calls N, --workflows N).
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root"
py="$(bash scripts/connector-e2e.sh --venv)"
target="${CARGO_TARGET_DIR:-$root/target}"
cargo build --release --locked --quiet -p servicetask-cli --bin servicetask --example connector_bench
"$py" python/benchmarks/connector_bench.py \
  --server-bin "$target/release/servicetask" \
  --rust-bench "$target/release/examples/connector_bench" "$@"
