#!/usr/bin/env bash
# The Python virtualenv shared by the Python tests and lint: .cache/venv (the one scripts/py-test.sh uses).
#
#   bash scripts/py-venv.sh [requirement...]
#
# Creates the venv on first use (PYTHON selects the interpreter, 3.10 or newer), pip-installs each requirement the venv
# does not already satisfy, and prints the venv's python. scripts/lint.sh installs its pinned ruff this way.
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
venv="$root/.cache/venv"
py="$venv/bin/python"

if [ ! -x "$py" ]; then
  base="${PYTHON:-python3}"
  if ! "$base" -c 'import sys; sys.exit(sys.version_info < (3, 10))' 2>/dev/null; then
    echo "py-venv: $base is missing or older than Python 3.10" >&2
    exit 1
  fi
  echo "py-venv: creating $venv" >&2
  mkdir -p "$root/.cache"
  "$base" -m venv "$venv"
fi

missing=()
for req in "$@"; do
  # A pin (name==version) is satisfied only by that version; a bare name by any.
  if ! "$py" - "$req" >/dev/null 2>&1 <<'PY'; then
import sys
from importlib.metadata import version
name, _, want = sys.argv[1].partition("==")
sys.exit(0 if version(name) == want or not want else 1)
PY
    missing+=("$req")
  fi
done
if [ "${#missing[@]}" -gt 0 ]; then
  echo "py-venv: installing ${missing[*]} into $venv" >&2
  "$py" -m pip install --quiet --disable-pip-version-check "${missing[@]}" >&2
fi
echo "$py"
