#!/usr/bin/env bash
# End-to-end test of the connector protocol with the real SpiffWorkflow 3.2.0 (issue 15).
#
# 1. A venv (target/connector-venv, or $CONNECTOR_VENV) made by scripts/spiff-venv.sh
#    (SpiffWorkflow 3.2.0 and lxml from PyPI), plus python/ installed editable with pip, pytest,
#    the OpenTelemetry SDK and its OTLP/gRPC exporter.
# 2. pytest python/tests: ServiceTaskScriptEngine against real `servicetask serve --connector`
#    processes (outputs in task data, a BPMN error caught by the boundary, failure class and
#    hint, spreading, a server killed, the token).
# 3. The ignored Rust test connector_spiff: two servers and a real OTLP receiver; SpiffWorkflow
#    runs 40 workflows on four threads while one server is killed with SIGKILL; every call is
#    answered, and the trace id of each run is the same on both sides.
#
# Usage: scripts/connector-e2e.sh            (all three steps)
#        scripts/connector-e2e.sh --venv     (only step 1; prints the venv's python)
# Fails (non-zero, a message on stderr) when a step fails or cannot be set up.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
export SPIFF_VENV="${CONNECTOR_VENV:-$root/target/connector-venv}"
py="$(bash "$root/scripts/spiff-venv.sh")"
if ! "$py" -m pip install --quiet --disable-pip-version-check -e "$root/python" pytest \
  opentelemetry-sdk opentelemetry-exporter-otlp-proto-grpc >&2; then
  echo "connector-e2e: pip could not install python/, pytest and the OpenTelemetry SDK into $SPIFF_VENV" >&2
  exit 1
fi
if [ "${1:-}" = "--venv" ]; then
  echo "$py"
  exit 0
fi
cd "$root"
target="${CARGO_TARGET_DIR:-$root/target}"
cargo build --locked -p servicetask-cli --quiet
SERVICETASK_BIN="$target/debug/servicetask" "$py" -m pytest -q -p no:cacheprovider "$root/python/tests"
SERVICETASK_CONNECTOR_PYTHON="$py" cargo test --locked --workspace --test connector_spiff -- --ignored  # --workspace: reuses the workspace test build (.ci/run)
