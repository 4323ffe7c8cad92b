#!/usr/bin/env bash
# Create (or refresh) the project's virtual environment in .venv from requirements.lock.
#
# Finds a Python >= 3.12 by itself: $LIANODE_PYTHON if set, then python3.13 / python3.12 /
# python3 on PATH, then the versions pyenv holds. Re-installs only when requirements.lock or
# pyproject.toml changed since the last run. Prints the venv's python path on the last line.
set -euo pipefail
cd "$(dirname "$0")/.."
VENV=${LIANODE_VENV:-.venv}

. tools/find_python.sh

stamp="$VENV/.lianode-stamp"
want=$(cat requirements.lock pyproject.toml | sha256sum | cut -d' ' -f1)
if [ -x "$VENV/bin/python" ] && [ "$(cat "$stamp" 2>/dev/null)" = "$want" ]; then
    echo "$VENV/bin/python"; exit 0
fi

if [ ! -x "$VENV/bin/python" ]; then
    PY=$(find_python) || {
        echo "setup: no Python >= 3.12 found (tried \$LIANODE_PYTHON, python3.12, python3.13, python3, pyenv)." >&2
        echo "setup: install one (e.g. 'pyenv install 3.12') or point LIANODE_PYTHON at it." >&2
        exit 1
    }
    echo "setup: creating $VENV with $PY ($("$PY" --version 2>&1))" >&2
    "$PY" -m venv "$VENV"
fi
echo "setup: installing pinned dependencies (requirements.lock) into $VENV ..." >&2
"$VENV/bin/python" -m pip install --quiet --disable-pip-version-check --upgrade pip >&2
"$VENV/bin/python" -m pip install --quiet --disable-pip-version-check -r requirements.lock >&2
"$VENV/bin/python" -m pip install --quiet --disable-pip-version-check --no-deps --no-build-isolation -e . >&2
echo "$want" > "$stamp"
echo "$VENV/bin/python"
