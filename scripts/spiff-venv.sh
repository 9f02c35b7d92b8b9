#!/usr/bin/env bash
# Creates (or reuses) the SpiffWorkflow venv the differential tests use as their oracle:
# target/spiff-venv with SpiffWorkflow 3.2.0 and lxml from PyPI. Idempotent: a venv that
# already imports both at the pinned version is left alone. Prints the venv's python path.
# Fails loudly (non-zero, message on stderr) when python3 -m venv or pip cannot install.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
venv="${SPIFF_VENV:-$root/target/spiff-venv}"
want="3.2.0"
ok() {
  "$venv/bin/python" - "$want" <<'PY' >/dev/null 2>&1
import sys
from importlib.metadata import version
import lxml, SpiffWorkflow  # noqa: F401
sys.exit(0 if version("SpiffWorkflow") == sys.argv[1] else 1)
PY
}
if [ -x "$venv/bin/python" ] && ok; then
  echo "$venv/bin/python"
  exit 0
fi
if ! python3 -m venv --help >/dev/null 2>&1 || ! python3 -c 'import ensurepip' >/dev/null 2>&1; then
  echo "spiff-venv: python3 cannot create a venv (install the Debian package python3-venv)" >&2
  exit 1
fi
rm -rf "$venv"
python3 -m venv "$venv" || { echo "spiff-venv: python3 -m venv $venv failed" >&2; exit 1; }
if ! "$venv/bin/pip" install --quiet --disable-pip-version-check "SpiffWorkflow==$want" lxml >&2; then
  echo "spiff-venv: pip could not install SpiffWorkflow==$want and lxml from PyPI" >&2
  exit 1
fi
ok || { echo "spiff-venv: the venv at $venv does not import SpiffWorkflow $want" >&2; exit 1; }
echo "$venv/bin/python"
