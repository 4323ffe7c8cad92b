"""Transient (tertiary) studies end to end, as a user runs them: protocols, voltage limits, the
half cell's Li inventory, restart on another rank count, a failing step, Sand's time near a bud.

Each test runs ``run.py`` in a subprocess on a small 2D Li|Li cell (a few seconds each).
"""

import csv
import json
import shutil

import numpy as np
import pytest
import yaml

from tests.test_cli import cli

SMALL = {
    "name": "small",
    "geometry": {"builder": "li_bud", "dimension": "2d", "width": "20 um", "height": "40 um",
                 "bud": {"shape": "semi_ellipsoid", "height": "3 um", "base_radius": "2 um"}},
    "mesh": {"size_far": "8 um", "size_electrode": "1.5 um", "size_feature": "0.5 um", "grading_distance": "10 um"},
    "materials": {"electrolyte": {"type": "electrolyte", "preset": "lipf6_ec_emc", "regions": ["electrolyte"]}},
    "physics": {"model": "tertiary",
                "electrode": {"boundaries": ["bud", "flat"], "kinetics": {"exchange_current_density": "1 mA/cm^2"}},
                "counter": {"boundaries": ["counter"], "type": "electrode"}},
    "study": {"type": "transient",
              "protocol": ["Plate at 20 mA/cm^2 for 4 s", "Rest for 2 s", "Strip at 20 mA/cm^2 for 4 s"],
              "output_interval": "1 s", "checkpoint_keep": 0},
    "solver": {"degree": 1},
    "outputs": {"pictures": False},
}


def scenario(tmp_path, name="s.yaml", **changes):
    data = json.loads(json.dumps(SMALL))
    for dotted, value in changes.items():
        node = data
        *keys, last = dotted.split(".")
        for k in keys:
            node = node[k]
        node[last] = value
    path = tmp_path / name
    path.write_text(yaml.safe_dump(data))
    return path


def history(folder):
    with open(folder / "history.csv") as fh:
        rows = list(csv.DictReader(fh))
    return {k: np.array([float(r[k]) if r[k] else np.nan for r in rows]) for k in rows[0]}


def run_ok(*args, ranks=1):
    proc = cli("run", *args, ranks=ranks)
    assert proc.returncode == 0, proc.stderr + proc.stdout
    return proc


@pytest.fixture(scope="module")
def continuous(tmp_path_factory):
    """One uninterrupted run of the plate/rest/strip protocol (checkpoints at every second)."""
    tmp = tmp_path_factory.mktemp("continuous")
    out = tmp / "out"
    run_ok(scenario(tmp), "-o", out, "-q")
    return out


def test_protocol_run_writes_history_series_and_conserves_salt(continuous):
    from solver.transient import read_series

    m = json.loads((continuous / "metrics.json").read_text())
    assert m["status"] == "completed" and m["time_s"] == pytest.approx(10.0)
    h = history(continuous)
    steps = h["step"]
    assert set(steps[1:]) == {1.0, 2.0, 3.0}
    # the applied current of each step (galvanostatic control holds)
    np.testing.assert_allclose(h["current_density_A_m2"][steps == 1], 200.0, rtol=1e-8)
    np.testing.assert_allclose(h["current_density_A_m2"][steps == 2], 0.0, atol=1e-6)
    np.testing.assert_allclose(h["current_density_A_m2"][steps == 3], -200.0, rtol=1e-8)
    assert h["charge_C_m2"][-1] == pytest.approx(0.0, abs=1e-6)  # plated 4 s, stripped 4 s
    assert m["salt_drift_relative"] < 1e-10  # closed Li|Li cell
    # plating depletes the electrode surface, stripping enriches it
    assert h["surface_concentration_min_mol_m3"][steps == 1].min() < 1000 < h["surface_concentration_max_mol_m3"][-1]
    times, grids = read_series(continuous / "fields.vtkhdf")
    np.testing.assert_allclose(times, np.arange(11.0))  # every output interval, steps' ends included
    assert {"concentration", "electrolyte_potential", "plating_current_density"} <= set(grids[-1].point_data.keys())


@pytest.mark.parametrize("ranks", [1, 2], ids=["same_ranks", "other_ranks"])
def test_restart_gives_the_same_history(continuous, tmp_path, ranks):
    """Cut the run after t = 5 s (drop the later checkpoints, frames and history), restart it,
    possibly on 2 ranks: the histories agree with the continuous run to solver tolerance."""
    cut = tmp_path / "cut"
    shutil.copytree(continuous, cut)
    for f in (cut / "checkpoints").glob("checkpoint_*.npz"):
        if int(f.stem.split("_")[1]) > 6:  # output 6 is t = 5 s (output 1 is t = 0)
            f.unlink()
    (cut / "fields.vtkhdf").unlink()
    (cut / "metrics.json").unlink()
    run_ok("--restart", cut, "-q", ranks=ranks)
    a, b = history(continuous), history(cut)
    assert a["time_s"].size == b["time_s"].size
    np.testing.assert_allclose(b["time_s"], a["time_s"], rtol=1e-12)
    for key in ("cell_voltage_V", "surface_concentration_min_mol_m3", "tip_over_far"):
        diff = np.nanmax(np.abs(b[key] - a[key]) / np.nanmax(np.abs(a[key])))
        print(f"restart on {ranks} rank(s): max relative difference of {key}: {diff:.2e}")
        assert diff < 1e-8, key  # measured 0 at the 10 digits history.csv holds
    assert json.loads((cut / "metrics.json").read_text())["status"] == "completed"


def test_restart_needs_a_checkpoint_and_the_same_scenario(continuous, tmp_path):
    empty = tmp_path / "empty"
    shutil.copytree(continuous, empty)
    shutil.rmtree(empty / "checkpoints")
    (empty / "checkpoints").mkdir()
    proc = cli("run", "--restart", empty)
    assert proc.returncode == 2 and "no checkpoint to restart from" in proc.stderr
    assert "Traceback" not in proc.stderr
    other = tmp_path / "other"
    shutil.copytree(continuous, other)
    changed = scenario(tmp_path, "changed.yaml", **{"study.output_interval": "2 s"})
    proc = cli("run", changed, "--restart", other)
    assert proc.returncode == 2 and "scenario differs" in proc.stderr


def test_half_cell_stripping_ends_when_the_plated_li_is_used_up(tmp_path):
    # Li|Cu: plate 2 s on Cu, then strip "for 10 s": the Li is used up after 2 s of stripping
    path = scenario(tmp_path, **{
        "physics.cell": {"type": "half"},
        "study.protocol": ["Plate at 20 mA/cm^2 for 2 s", "Strip at 20 mA/cm^2 for 10 s", "Rest for 1 s"]})
    out = tmp_path / "out"
    run_ok(path, "-o", out, "-q")
    h = history(out)
    strip = h["step"] == 2
    t_end_strip = h["time_s"][strip][-1]
    left = h["lithium_on_working_C_m2"][strip][-1]
    print(f"half cell: Li used up at t = {t_end_strip:.5f} s (expected 4 s); Li left {left:.3e} C/m^2")
    assert t_end_strip == pytest.approx(4.0, abs=2e-3)
    assert abs(left) <= 200.0 * 1e-3  # the event tolerance: a millisecond of the current
    assert h["time_s"][-1] == pytest.approx(t_end_strip + 1.0)  # the next step runs


def test_voltage_limit_is_hit(tmp_path):
    path = scenario(tmp_path, **{"study.protocol": ["Plate at 20 mA/cm^2 for 10 s or until -316 mV"]})
    out = tmp_path / "out"
    run_ok(path, "-o", out, "-q")
    h = history(out)
    v = h["cell_voltage_V"][1:]
    print(f"voltage limit: the step ends at {h['time_s'][-1]:.4f} s with V = {v[-1] * 1e3:.4f} mV")
    assert h["time_s"][-1] < 5.0  # stopped by the limit well before its 10 s
    assert v[-1] == pytest.approx(-0.316, abs=1e-4)
    assert np.all(v[:-1] > -0.316 - 1e-4)


def test_nonconverging_step_ends_cleanly_with_outputs(tmp_path):
    from solver.transient import read_series

    path = scenario(tmp_path, **{
        "study.protocol": ["Plate at 20 mA/cm^2 for 2 s", "Plate at 1000 A/cm^2 for 1 s"],
        "study.stop_at_sand": False,
        "study.time_stepping": {"min_step": "1 ms"}})
    out = tmp_path / "out"
    proc = cli("run", path, "-o", out, "-q")
    assert proc.returncode == 3, proc.stderr
    assert "Traceback" not in proc.stderr
    assert "did not converge" in proc.stderr and "outputs up to then" in proc.stderr
    m = json.loads((out / "metrics.json").read_text())
    assert m["status"] == "failed" and m["time_s"] >= 2.0
    h = history(out)
    assert h["time_s"][-1] == pytest.approx(m["time_s"])
    times, grids = read_series(out / "fields.vtkhdf")
    assert times[-1] >= 2.0 and grids[-1].n_points > 0


def test_tip_over_far_grows_toward_sand(tmp_path):
    """The shipped bud_sand scenario's physics on a coarse mesh: the run stops at Sand's time
    and tip_over_far rises as the surface depletes."""
    raw = yaml.safe_load(open("scenarios/bud_sand.yaml"))
    raw["variants"] = {"bare": raw["variants"]["bare"]}
    raw["mesh"] = {"size_far": "40 um", "size_electrode": "1 um", "size_feature": "0.3 um", "grading_distance": "20 um"}
    raw["outputs"] = {"pictures": False}
    raw["study"]["output_interval"] = "20 s"
    path = tmp_path / "sand.yaml"
    path.write_text(yaml.safe_dump(raw))
    out = tmp_path / "out"
    run_ok(path, "-o", out, "-q")
    m = json.loads((out / "metrics.json").read_text())  # one variant: the case's own metrics
    assert m["status"] == "sand"
    assert 0.5 * m["analytic_sand_time_constant_D_s"] < m["sand_time_s"] < 4 * m["analytic_sand_time_constant_D_s"]
    h = history(out)
    tof = h["tip_over_far"][1:]
    assert np.all(np.diff(tof) > -1e-9)  # grows monotonically
    assert tof[-1] > 1.5 * tof[0]


def test_electrolyte_presets_and_overrides():
    """Nyman 2008's LiPF6 EC:EMC laws at 1 M (0.9487 S/m, 1.7694e-10 m^2/s), a constant override
    replacing one law only, and the model/study pairing checked before any mesh."""
    from solver.errors import UserError
    from solver.scenario import cases_from_dict
    from solver.transient import electrolyte_of

    case = cases_from_dict(json.loads(json.dumps(SMALL)))[0]
    e, c_bulk, _ = electrolyte_of(case)
    assert c_bulk == 1000.0 and e.transference_number == pytest.approx(0.2594)
    assert e.conductivity(np.float64(1000.0), np) == pytest.approx(0.1297 - 2.51 + 3.329, rel=1e-12)
    assert e.diffusivity(np.float64(1000.0), np) == pytest.approx(8.794e-11 - 3.972e-10 + 4.862e-10, rel=1e-12)
    assert e.conductivity(np.float64(500.0), np) != pytest.approx(e.conductivity(np.float64(1000.0), np))
    data = json.loads(json.dumps(SMALL))
    data["materials"]["electrolyte"]["conductivity"] = "5 mS/cm"
    e2, _, _ = electrolyte_of(cases_from_dict(data)[0])
    assert e2.conductivity(np.float64(300.0), np) == pytest.approx(0.5)
    assert e2.diffusivity(np.float64(300.0), np) == pytest.approx(e.diffusivity(np.float64(300.0), np))
    bad = json.loads(json.dumps(SMALL))
    bad["study"]["type"] = "stationary"
    with pytest.raises(UserError, match="physics.model: 'tertiary' goes with a transient study"):
        cases_from_dict(bad)
    bad = json.loads(json.dumps(SMALL))
    bad["study"]["protocol"] = ["Plate at 1 mA for 1 h"]
    with pytest.raises(UserError, match="current density"):
        cases_from_dict(bad)


def test_single_ion_solid_coating_runs_from_a_scenario(tmp_path):
    """A dense Li6PS5Cl coating on the Li (material type solid_electrolyte): the liquid depletes
    at the coating's surface; the coating holds no salt."""
    from solver.transient import read_series

    path = scenario(tmp_path, **{
        "geometry.coating": {"thickness": "2 um", "mode": "conformal"},
        "materials.lpscl": {"type": "solid_electrolyte", "preset": "li6ps5cl", "regions": ["coating"]},
        "study.protocol": ["Plate at 20 mA/cm^2 for 3 s"]})
    out = tmp_path / "out"
    run_ok(path, "-o", out, "-q")
    h = history(out)
    assert h["surface_concentration_min_mol_m3"][-1] < 950  # the coating's surface depletes
    assert h["current_density_A_m2"][-1] == pytest.approx(200.0, rel=1e-8)
    times, grids = read_series(out / "fields.vtkhdf")
    g = grids[-1]
    coating_tag = 2  # li_bud regions: electrolyte 1, coating 2
    cells = np.flatnonzero(np.asarray(g.cell_data["region"]) == coating_tag)
    inner = g.extract_cells(cells)
    names = np.asarray(g.field_data["region_names"]) if "region_names" in g.field_data else None
    assert inner.n_points > 0, names
    c_in = np.asarray(inner.point_data["concentration"])
    assert np.isclose(c_in, 1000.0).mean() > 0.5  # pinned inside (the interface nodes belong to the liquid)
