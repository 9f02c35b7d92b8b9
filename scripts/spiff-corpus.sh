#!/usr/bin/env bash
# Regenerates the SpiffWorkflow corpus expectations (crates/engine/tests/spiff_corpus/expected.json)
# by running SpiffWorkflow 3.2.0 on every file of ../shared/conformance/spiff-corpus with the inputs
# of crates/engine/tests/spiff_corpus/inputs.json. With --check, writes nothing and fails when the
# committed expectations differ from what SpiffWorkflow does now.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
corpus="${SPIFF_CORPUS:-$root/../shared/conformance/spiff-corpus}"
[ -d "$corpus" ] || { echo "spiff-corpus: $corpus is missing" >&2; exit 1; }
python="$("$root/scripts/spiff-venv.sh")"
data="$root/crates/engine/tests/spiff_corpus"
exec "$python" "$root/scripts/spiff_corpus.py" "$corpus" "$data/inputs.json" "$data/expected.json" "$@"
