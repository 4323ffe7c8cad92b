#!/usr/bin/env bash
# Create the bench-only NGSolve environment bench/.venv-ngsolve (git-ignored; never a project
# dependency). Finds a Python >= 3.12 like tools/setup.sh: $LIANODE_PYTHON, python3.12/3.13 on
# PATH, then pyenv's versions. Installs NGSolve (with Netgen) from PyPI; pass a version as the
# first argument to pin it (e.g. bench/setup_ngsolve.sh 6.2.2505). Prints the python path.
set -euo pipefail
cd "$(dirname "$0")"
VENV=${NGSOLVE_VENV:-.venv-ngsolve}
. ../tools/find_python.sh
if [ ! -x "$VENV/bin/python" ]; then
    PY=$(find_python) || { echo "setup_ngsolve: no Python >= 3.12 found" >&2; exit 1; }
    echo "setup_ngsolve: creating bench/$VENV with $PY" >&2
    "$PY" -m venv "$VENV"
fi
spec=ngsolve${1:+==$1}
"$VENV/bin/python" -m pip install --quiet --disable-pip-version-check --upgrade pip >&2
"$VENV/bin/python" -m pip install --quiet --disable-pip-version-check "$spec" >&2
"$VENV/bin/python" -c 'import ngsolve, netgen; print("ngsolve", ngsolve.__version__)' >&2
echo "$(pwd)/$VENV/bin/python"
