#!/usr/bin/env bash
# Python client tests (client/python): unit, fake-server and real-gateway integration tests.
#
#   bash scripts/py-test.sh [pytest args...]
#
# Creates the virtualenv .cache/venv on first use (scripts/py-venv.sh), (re)installs `-e client/python[test]` only when
# client/python/pyproject.toml changed since the last install (its sha256 is kept in the venv),
# then runs pytest with the venv's python and exits with pytest's code. The integration tests
# run the built gateway (dist/gateway/src/main.js): `npm test` builds it first; alone, run
# `npm run build` before this script. PYTHON selects the interpreter that creates the venv.
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
venv="$root/.cache/venv"
pyproject="$root/client/python/pyproject.toml"
stamp="$venv/.tickwire-pyproject.sha256"
# The venv is shared with lint (ruff): scripts/py-venv.sh creates it and prints its python.
py="$(bash "$root/scripts/py-venv.sh")"

want="$(sha256sum "$pyproject" | cut -d' ' -f1)"
have="$(cat "$stamp" 2>/dev/null || true)"
if [ "$want" != "$have" ] || ! "$py" -c 'import tickwire, websockets, msgpack, pytest, pytest_asyncio' >/dev/null 2>&1; then
  echo "py-test: installing client/python[test] into $venv" >&2
  "$py" -m pip install --quiet --disable-pip-version-check -e "$root/client/python[test]"
  echo "$want" > "$stamp"
fi

cd "$root"
set +e
"$py" -m pytest client/python -q "$@"
code=$?
set -e
exit "$code"
