"""The command line as a user meets it: bad input, check, info, and serial vs MPI metrics."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent


def cli(*args, cwd=ROOT, ranks=1):
    cmd = [sys.executable, str(ROOT / "run.py"), *map(str, args)]
    if ranks > 1:
        cmd = [str(BIN / "mpirun"), "-n", str(ranks), *cmd]
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PMI_", "MPI", "HYDRA", "OMPI"))}
    return subprocess.run(cmd, cwd=cwd, capture_output=True, text=True, timeout=600, env=env)


GOOD = (ROOT / "scenarios" / "default.yaml").read_text()
BAD = {
    "unknown key": (GOOD.replace("    base_radius: 2 um", "    base_radus: 2 um"), "did you mean 'base_radius'"),
    "wrong unit": (GOOD.replace("current_density: 1 mA/cm^2", "current_density: 1 mA"), "expected a current density"),
    "negative thickness": (GOOD.replace("thickness: 8 um", "thickness: -8 um"), "geometry.coating.thickness"),
    "missing region": (GOOD.replace("regions: [coating]", "regions: [coatin]"), "no region named 'coatin'"),
    "malformed yaml": (GOOD.replace("  height: 40 um", "  height: [40 um"), "malformed YAML"),
}


@pytest.mark.parametrize("kind", list(BAD))
def test_bad_input_one_message_no_traceback_no_output(kind, tmp_path):
    text, expected = BAD[kind]
    scenario = tmp_path / "bad.yaml"
    scenario.write_text(text)
    out = tmp_path / "out"
    proc = cli("run", scenario, "-o", out)
    assert proc.returncode == 2, proc.stderr
    assert "Traceback" not in proc.stderr + proc.stdout
    assert proc.stderr.startswith("error: ") and str(scenario) in proc.stderr
    assert expected in proc.stderr
    assert proc.stderr.count("error:") == 1
    assert not out.exists() and not (tmp_path / "out.partial").exists()


def test_missing_file_and_bad_set():
    proc = cli("check", "scenarios/nope.yaml")
    assert proc.returncode == 2 and "cannot read" in proc.stderr and "Traceback" not in proc.stderr
    proc = cli("check", "scenarios/default.yaml", "--set", "geometry.bud.height")
    assert proc.returncode == 2 and "KEY=VALUE" in proc.stderr


def test_check_and_info():
    proc = cli("check", "scenarios/default.yaml", "--set", "geometry.bud.height=2 um", "--print")
    assert proc.returncode == 0, proc.stderr
    assert "OK (2 cases: bare, bto)" in proc.stdout and "2.0e-06" in proc.stdout
    proc = cli("info")
    assert proc.returncode == 0 and "dolfinx" in proc.stdout and "0.11" in proc.stdout
    assert cli("--help").returncode == 0


def _metrics(folder):
    return json.loads((folder / "metrics.json").read_text())["cases"]


def _flatten(d, prefix=""):
    for k, v in d.items():
        if isinstance(v, dict):
            yield from _flatten(v, f"{prefix}{k}.")
        elif isinstance(v, float) and not k.startswith("timings"):
            yield f"{prefix}{k}", v


def test_mpi_metrics_equal_serial(tmp_path):
    """`mpirun -n 2 python run.py run` gives the serial metrics to solver tolerance."""
    coarse = ["--set", "mesh.size_feature=0.2 um", "--no-pictures", "-q"]
    serial = cli("run", "scenarios/default.yaml", "-o", tmp_path / "serial", *coarse)
    assert serial.returncode == 0, serial.stderr
    parallel = cli("run", "scenarios/default.yaml", "-o", tmp_path / "mpi", *coarse, ranks=2)
    assert parallel.returncode == 0, parallel.stderr
    ms, mp = _metrics(tmp_path / "serial"), _metrics(tmp_path / "mpi")
    for case in ms:
        a, b = dict(_flatten(ms[case])), dict(_flatten(mp[case]))
        for key, value in a.items():
            if "timings" in key or key.endswith(("charge_balance_error", "linear_iterations")):
                continue
            assert b[key] == pytest.approx(value, rel=1e-8, abs=1e-14), (case, key)
    prov = json.loads((tmp_path / "mpi" / "provenance.json").read_text())
    assert prov["mpi_ranks"] == 2
    import pyvista

    grid = pyvista.read(tmp_path / "mpi" / "bto" / "fields.vtkhdf")
    assert grid.n_points == ms["bto"]["dofs"]


def test_nonconvergence_clear_message_no_output(tmp_path):
    """A solve that cannot converge ends with one message, exit code 3, and no results folder."""
    out = tmp_path / "out"
    proc = cli("run", "scenarios/default.yaml", "-o", out, "-q", "--set", "solver.max_iterations=1",
               "--set", "study.current_density=1000 A/cm^2",
               "--set", "physics.electrode.kinetics.exchange_current_density=0.001 mA/cm^2")
    assert proc.returncode == 3, proc.stderr
    assert "did not converge" in proc.stderr and "Traceback" not in proc.stderr
    assert not out.exists() and not (tmp_path / "out.partial").exists()
