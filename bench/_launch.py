"""What the bench scripts share: run one measurement in a child process (under the venv's mpirun
for more than one rank) and read back its ``RESULT {json}`` line; write the final JSON document."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def run_child(cmd: list[str], ranks: int, what: str) -> dict:
    """``cmd`` (a python command line) on ``ranks`` ranks in a clean MPI environment; its result row.
    A run without a result prints the child's output tails and exits naming ``what``."""
    if ranks > 1:
        cmd = [str(Path(sys.executable).parent / "mpirun"), "-n", str(ranks), *cmd]
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PMI_", "MPI", "HYDRA", "OMPI"))}
    out = subprocess.run(cmd, capture_output=True, text=True, env=env, cwd=ROOT)
    line = next((ln for ln in out.stdout.splitlines() if ln.startswith("RESULT ")), None)
    if line is None:
        print(out.stdout[-3000:], out.stderr[-3000:], file=sys.stderr)
        raise SystemExit(f"{what} failed")
    row = json.loads(line[7:])
    print(json.dumps(row), flush=True)
    return row


def emit(doc: dict, path: str | None) -> None:
    """The run's JSON document: to ``path``, or printed."""
    if path:
        Path(path).write_text(json.dumps(doc, indent=1))
    else:
        print(json.dumps(doc))
