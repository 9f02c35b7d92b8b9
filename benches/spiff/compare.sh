#!/usr/bin/env bash
# Measures SpiffWorkflow and servicetask's engine on the same process, in one run, on this
# machine: start -> 10 no-op service tasks -> end (ten_tasks.bpmn).
# SpiffWorkflow is installed into a virtual environment under target/ (PyPI).
# Both run pinned to one core (`taskset -c 1`, when taskset exists), background threads included.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
venv="$root/target/spiff-venv"
if [ ! -x "$venv/bin/python" ]; then
  python3 -m venv "$venv"
  "$venv/bin/pip" install -q SpiffWorkflow
fi
pin=()
if command -v taskset >/dev/null 2>&1; then pin=(taskset -c "${BENCH_CORE:-1}"); fi
cd "$root"
cargo bench -q -p servicetask-cli --bench throughput --no-run
echo "== SpiffWorkflow"
"${pin[@]}" "$venv/bin/python" "$here/spiff_bench.py" "$here/ten_tasks.bpmn" "${BENCH_SECONDS:-3}"
echo "== servicetask"
"${pin[@]}" cargo bench -q -p servicetask-cli --bench throughput
