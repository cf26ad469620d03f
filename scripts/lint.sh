#!/usr/bin/env bash
# Lint and format checks (issue 14 point 8): ESLint (typescript-eslint, type-aware), Prettier, and Ruff for client/python.
#
#   bash scripts/lint.sh                 ESLint, Prettier --check, Ruff check and format --check (npm run lint)
#   bash scripts/lint.sh format:check    Prettier --check and Ruff format --check only (npm run format:check)
#   bash scripts/lint.sh format          rewrite with Prettier and Ruff format (npm run format)
#
# Every check runs even when an earlier one fails, so one run lists everything; the exit code is non-zero if any failed.
# Ruff is installed (pinned) into the Python tests' venv, .cache/venv, on first use.
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
RUFF_PIN="ruff==0.17.5"
bin="$root/node_modules/.bin"
failed=()

check() {
  local name="$1"
  shift
  echo "== $name" >&2
  "$@" || failed+=("$name")
}

ruff() {
  local py
  py="$(bash "$root/scripts/py-venv.sh" "$RUFF_PIN")"
  "$py" -m ruff "$@"
}

case "${1:-lint}" in
  lint)
    check eslint "$bin/eslint" --max-warnings 0 .
    check prettier "$bin/prettier" --check --log-level warn .
    check 'ruff check' ruff check client/python
    check 'ruff format' ruff format --check client/python
    ;;
  format:check)
    check prettier "$bin/prettier" --check --log-level warn .
    check 'ruff format' ruff format --check client/python
    ;;
  format)
    "$bin/prettier" --write --log-level warn .
    ruff format client/python
    exit 0
    ;;
  *)
    echo "usage: bash scripts/lint.sh [lint|format:check|format]" >&2
    exit 2
    ;;
esac

if [ "${#failed[@]}" -gt 0 ]; then
  echo "lint: failed: ${failed[*]}" >&2
  exit 1
fi
echo "lint: clean" >&2
