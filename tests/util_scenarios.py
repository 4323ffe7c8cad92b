"""Helpers to run small studies from dicts inside tests."""

from __future__ import annotations

from solver import study
from solver._dolfinx import MPI
from solver.scenario import cases_from_dict


def bud_scenario(dimension, height, base_radius, width, domain_height, feature, electrode, far,
                 order=2, degree=2, grading=None, **sections) -> dict:
    raw = {
        "geometry": {
            "dimension": dimension, "width": width, "height": domain_height,
            "bud": {"height": height, "base_radius": base_radius},
        },
        "mesh": {"size_far": far, "size_electrode": electrode, "size_feature": feature,
                 "grading_distance": grading or 5 * height, "order": order},
        "solver": {"degree": degree},
    }
    for key, value in sections.items():
        raw.setdefault(key, {}).update(value)
    return raw


def solve(raw: dict, comm=MPI.COMM_WORLD) -> dict:
    """Mesh, solve and return the metrics of the first case of a scenario dict."""
    case = cases_from_dict(raw)[0]
    domain = study.build_domain(case, comm)
    return study.solve_case(case, domain)[3]


def run_on_ranks(args: list[str], tmp_path, ranks=(1, 2)) -> list[dict]:
    """``run.py`` with ``args`` (the output folder added) once per rank count, as a user would
    (``mpirun -n N python run.py ...`` in a clean environment): each run's metrics.json."""
    import json
    import os
    import subprocess
    import sys
    from pathlib import Path

    root = Path(__file__).resolve().parents[1]
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PMI_", "MPI", "HYDRA", "OMPI"))}
    results = []
    for n in ranks:
        out = tmp_path / f"n{n}"
        cmd = [sys.executable, str(root / "run.py"), *args, "-o", str(out)]
        if n > 1:
            cmd = [str(Path(sys.executable).parent / "mpirun"), "-n", str(n), *cmd]
        proc = subprocess.run(cmd, cwd=root, capture_output=True, text=True, timeout=300, env=env)
        assert proc.returncode == 0, proc.stderr
        results.append(json.loads((out / "metrics.json").read_text()))
    return results


def assert_metrics_equal(a, b, where: str = "", rel: float = 1e-8, abs_tol: float = 1e-14, skip=()) -> list[str]:
    """Every float in the metrics tree ``a`` equals ``b``'s (relative ``rel``, absolute ``abs_tol``),
    keys in ``skip`` left out; returns the paths compared."""
    import pytest

    compared = []
    if isinstance(a, dict):
        for key in a:
            if key not in skip:
                compared += assert_metrics_equal(a[key], b[key], f"{where}.{key}", rel, abs_tol, skip)
    elif isinstance(a, float):
        assert b == pytest.approx(a, rel=rel, abs=abs_tol), where
        compared.append(where)
    return compared
