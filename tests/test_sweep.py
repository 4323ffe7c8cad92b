"""Parameter sweeps: expansion of the sweep block, summary table and plots, failed cases,
and the same table whether the cases run serially or over groups of MPI ranks."""

import csv
import json

import pytest
import yaml

from solver.errors import UserError
from solver.scenario import plan_from_dict
from tests.test_cli import ROOT, cli

BASE = {
    "name": "sweep_test",
    "geometry": {"builder": "li_bud", "dimension": "axisymmetric", "width": "30 um", "height": "40 um",
                 "bud": {"shape": "semi_ellipsoid", "height": "3 um", "base_radius": "2 um"},
                 "coating": {"thickness": "8 um", "mode": "conformal"}},
    "mesh": {"size_far": "6 um", "size_electrode": "1.5 um", "size_feature": "0.3 um"},
    "materials": {"electrolyte": {"type": "electrolyte", "regions": ["electrolyte"]},
                  "layer": {"type": "porous_layer", "electrolyte": "electrolyte", "regions": ["coating"]}},
    "physics": {"model": "primary", "piezo": {"region": "coating"}},
    "study": {"current_density": "1 mA/cm^2"},
    "variants": {"bare": {"geometry.coating": None, "materials.layer": None, "physics.piezo": None}, "bto": {}},
}


def plan(sweep, **extra):
    return plan_from_dict({**BASE, **extra, "sweep": sweep}, "s.yaml")


def test_modes_and_ranges():
    grid = plan({"parameters": {"geometry.coating.thickness": {"start": "2 um", "stop": "16 um", "num": 3},
                                "physics.piezo.poling": ["up", "down"]}})
    assert len(grid.points) == 6 and len(grid.cases) == 12
    assert [p.values["geometry.coating.thickness"] for p in grid.points[::2]] == ["2 um", "9 um", "16 um"]
    assert grid.points[1].label == "p001" and grid.cases[3].label == "p001/bto"
    assert grid.points[4].cases[1].scenario.physics.piezo.poling == "up"
    assert grid.points[4].cases[1].geometry.coating.thickness == pytest.approx(16e-6)
    # the bare case does not depend on the layer: run once, reused by every point
    bare = [c for c in grid.cases if c.name == "bare"]
    assert bare[0].same_as is None and all(c.same_as is bare[0] for c in bare[1:])
    assert sum(c.same_as is None for c in grid.cases) == 7
    each = plan({"mode": "each", "parameters": {"geometry.coating.thickness": ["4 um", "8 um"],
                                                "physics.piezo.screening_factor": [0, 0.5, 1]}})
    assert [p.values for p in each.points][1:3] == [{"geometry.coating.thickness": "8 um"},
                                                    {"physics.piezo.screening_factor": 0}]
    # 8 um with s = 1 is the base scenario twice (p001 and p004): solved once
    assert each.points[4].cases[1].same_as is each.points[1].cases[1]
    zipped = plan({"mode": "zip", "parameters": {"geometry.bud.height": ["1 um", "2 um"],
                                                 "geometry.bud.base_radius": ["1 um", "2 um"]}})
    assert [c.geometry.bud.height for c in zipped.cases[1::2]] == pytest.approx([1e-6, 2e-6])
    log = plan({"parameters": {"physics.piezo.piezo_scale": {"start": 0.01, "stop": 1, "num": 3, "spacing": "log"}}})
    assert [p.values["physics.piezo.piezo_scale"] for p in log.points] == pytest.approx([0.01, 0.1, 1])


@pytest.mark.parametrize("sweep, expected", [
    ({"mode": "zip", "parameters": {"geometry.bud.height": ["1 um"], "geometry.bud.base_radius": ["1 um", "2 um"]}},
     "mode zip needs lists of equal length"),
    ({"parameters": {"geometry.coating.thicknes": ["1 um"]}}, "did you mean 'thickness'"),
    ({"parameters": {"geometry.coating.thickness": ["1 mA"]}}, "sweep point p000 (geometry.coating.thickness=1 mA)"),
    ({"parameters": {"geometry.coating.thickness": {"start": "1 um", "stop": "2 V", "num": 2}}},
     "sweep.parameters.geometry.coating.thickness"),
    ({"parameters": {"study.current_density": []}}, "give at least one value"),
    ({"parameters": {"study.current_density": ["1 mA/cm^2"]}, "mode": "all"}, "sweep.mode"),
])
def test_bad_sweeps_are_named(sweep, expected):
    with pytest.raises(UserError) as err:
        plan(sweep)
    assert expected in str(err.value) and "s.yaml" in str(err.value)


def _sweep_file(tmp_path, sweep, **extra):
    path = tmp_path / "sweep.yaml"
    path.write_text(yaml.safe_dump({**BASE, **extra, "sweep": sweep}, sort_keys=False))
    return path


def _table(folder):
    with (folder / "summary.csv").open() as fh:
        return list(csv.DictReader(fh))


def test_sweep_serial_equals_mpi_groups(tmp_path):
    """The summary table is the same, character for character, in serial and on 2 ranks in
    groups of 1; every case has its folder (a repeated case links to the first), and plots."""
    path = _sweep_file(tmp_path, {"mode": "each", "metrics": ["tip_over_far", "piezo.piezo_potential_above_apex_V"],
                                  "parameters": {"geometry.coating.thickness": ["4 um", "8 um"],
                                                 "physics.piezo.poling": ["up", "down"]}})
    serial = cli("run", path, "-o", tmp_path / "serial", "-q")
    assert serial.returncode == 0, serial.stderr
    groups = cli("run", path, "-o", tmp_path / "groups", "-q", "--no-pictures", "--group-size", "1", ranks=2)
    assert groups.returncode == 0, groups.stderr
    text = (tmp_path / "serial" / "summary.csv").read_text()
    assert text == (tmp_path / "groups" / "summary.csv").read_text()
    rows = _table(tmp_path / "serial")
    assert len(rows) == 8 and all(r["status"] == "ok" for r in rows)
    by = {(r["point"], r["variant"]): r for r in rows}
    assert float(by["p000", "bto"]["geometry.coating.thickness"]) == pytest.approx(4e-6)
    # poling reversal flips the piezo potential; the bare bud is the same at every point
    assert float(by["p002", "bto"]["piezo.piezo_potential_above_apex_V"]) == pytest.approx(
        -float(by["p003", "bto"]["piezo.piezo_potential_above_apex_V"]), rel=1e-9)
    assert len({by[p, "bare"]["tip_over_far"] for p in ("p000", "p001", "p002", "p003")}) == 1
    assert by["p000", "bare"]["piezo.piezo_potential_above_apex_V"] == ""
    for out in ("serial", "groups"):
        for p in ("p000", "p001", "p002", "p003"):
            point = tmp_path / out / p
            assert (point / "bare" / "fields.vtkhdf").exists() and (point / "bto" / "metrics.json").exists()
            assert set(json.loads((point / "metrics.json").read_text())["cases"]) == {"bare", "bto"}
    plots = sorted(x.name for x in (tmp_path / "serial" / "plots").iterdir())
    assert plots == ["piezo_piezo_potential_above_apex_V_vs_geometry_coating_thickness.png",
                     "piezo_piezo_potential_above_apex_V_vs_physics_piezo_poling.png",
                     "tip_over_far_vs_geometry_coating_thickness.png", "tip_over_far_vs_physics_piezo_poling.png"]


def test_failed_case_is_reported_and_others_run(tmp_path):
    """One point cannot converge (one Newton step allowed): it is listed as failed with the
    solver's message, the others are solved, and the run exits with code 3 after writing."""
    extra = {"physics": {"model": "secondary"}, "variants": {}, "study": {"control": "potentiostatic",
                                                                          "electrode_potential": "-0.3 V"}}
    extra["geometry"] = {k: v for k, v in BASE["geometry"].items() if k != "coating"}
    extra["materials"] = {"electrolyte": BASE["materials"]["electrolyte"]}
    path = _sweep_file(tmp_path, {"parameters": {"solver.max_iterations": [1, 30]}}, **extra)
    proc = cli("run", path, "-o", tmp_path / "out", "-q", "--no-pictures")
    assert proc.returncode == 3 and "Traceback" not in proc.stderr
    assert "1 of 2 cases failed (p000/sweep_test)" in proc.stderr
    rows = _table(tmp_path / "out")
    assert [r["status"] for r in rows] == ["failed", "ok"]
    assert "did not converge" in rows[0]["error"] and rows[0]["tip_over_far"] == ""
    assert float(rows[1]["tip_over_far"]) > 1
    assert not (tmp_path / "out" / "p000" / "sweep_test").exists()
    assert (tmp_path / "out" / "p001" / "sweep_test" / "fields.vtkhdf").exists()
    summary = json.loads((tmp_path / "out" / "summary.json").read_text())
    assert summary["failed"] == ["p000/sweep_test"]


def test_group_size_must_divide_ranks(tmp_path):
    proc = cli("run", ROOT / "scenarios" / "default.yaml", "-o", tmp_path / "o", "--group-size", "3", ranks=2)
    assert proc.returncode == 2 and "must divide the number of MPI ranks (2)" in proc.stderr
    assert "Traceback" not in proc.stderr and not (tmp_path / "o").exists()
