#!/usr/bin/env bash
# Re-resolve requirements.in into requirements.lock in a throw-away venv (maintainers only).
set -euo pipefail
cd "$(dirname "$0")/.."
tmp=$(mktemp -d)
PY=${LIANODE_PYTHON:-$(command -v python3.12 || echo "$(pyenv root)/versions/3.12.1/bin/python3")}
"$PY" -m venv "$tmp/venv"
"$tmp/venv/bin/pip" install --quiet -r requirements.in
{ echo "# Exact versions installed by tools/setup.sh (Python 3.12/3.13). Regenerate with tools/lock.sh."
  "$tmp/venv/bin/pip" freeze; } > requirements.lock
rm -rf "$tmp"
echo "wrote requirements.lock"
