"""Quasi-static growth (study.growth): Faraday's law advances the bud height step by step.

Benchmark: in the primary distribution the apex of a small hemispherical bud on a plane carries
beta = 3 times the far current (physics.md section 4), so it rises relative to the flat at
dh/dt = (beta - 1) i V_m / F; the first step's rate must match that (2%, as the tip ratio).
"""

import csv

import pytest

from solver import growth, study
from solver._dolfinx import MPI
from solver.scenario import cases_from_dict
from tests.test_cli import cli
from tests.util_scenarios import bud_scenario

R = 1e-6
VM = 1.3e-5
I_APP = 10.0  # 1 mA/cm^2


def grow(raw, comm=MPI.COMM_WORLD):
    case = cases_from_dict(raw)[0]
    return growth.grow(case, lambda c: study.solve_case(c, study.build_domain(c, comm)))


def hemisphere(**growth_options):
    return bud_scenario("axisymmetric", R, R, 20 * R, 20 * R, R / 20, R / 2, 2 * R, physics={"model": "primary"},
                        study={"current_density": "1 mA/cm^2", "growth": growth_options})


@pytest.mark.mpi
def test_first_step_follows_faraday_and_the_hemisphere_benchmark():
    case, out, info = grow(hemisphere(duration="10 min", steps=1))
    first, second = info["steps"]
    expected = (3.0 - 1.0) * I_APP * VM / growth.FARADAY
    assert first["growth_rate_m_s"] == pytest.approx(expected, rel=0.02)
    dt = 600.0
    assert second["height_m"] == pytest.approx(R + first["growth_rate_m_s"] * dt, rel=1e-12)
    assert case.geometry.bud.height == pytest.approx(second["height_m"], rel=1e-12)
    # galvanostatic: the deposited charge is i t (Faraday), the state after the step is solved anew
    assert info["deposited_charge_C_m2"] == pytest.approx(I_APP * dt, rel=1e-9)
    assert second["tip_over_far"] > first["tip_over_far"]  # a taller bud focuses more current
    assert out[3]["tip_over_far"] == second["tip_over_far"] and info["stopped"] is None


def test_growth_stops_with_a_reason():
    # a tall bud in a short domain outgrows it
    raw = hemisphere(duration="10 h", steps=3)
    raw["mesh"].update(size_feature=R / 5, size_electrode=R)
    _, _, info = grow(raw)
    assert "cannot grow further" in info["stopped"] and "must be below height" in info["stopped"]
    assert len(info["steps"]) < 4
    # stripping at the apex (a negative ratio of currents is forced by a reversed apex kinetics)
    raw = hemisphere(duration="1 h", steps=2, min_height="0.9 um")
    raw["physics"] = {"model": "secondary", "electrode": {"per_boundary": {"bud": {"equilibrium_potential": "-30 mV"}}}}
    _, _, info = grow(raw)
    assert info["steps"][0]["growth_rate_m_s"] < 0 and "flattened" in info["stopped"]


def test_growth_run_writes_csv_and_metrics(tmp_path):
    path = tmp_path / "g.yaml"
    import yaml

    raw = bud_scenario("axisymmetric", R, R, 20 * R, 20 * R, R / 5, R, 4 * R, physics={"model": "primary"},
                       study={"growth": {"duration": "20 min", "steps": 2}})
    raw["name"] = "growth_test"
    path.write_text(yaml.safe_dump(raw))
    proc = cli("run", path, "-o", tmp_path / "out", "-q", "--no-pictures")
    assert proc.returncode == 0, proc.stderr
    with (tmp_path / "out" / "growth.csv").open() as fh:
        rows = list(csv.DictReader(fh))
    assert [r["step"] for r in rows] == ["0", "1", "2"] and float(rows[2]["time_s"]) == 1200
    heights = [float(r["height_m"]) for r in rows]
    assert heights[0] == R and heights[0] < heights[1] < heights[2]
    assert (tmp_path / "out" / "fields.vtkhdf").exists()
    bad = cli("check", path, "--set", "study.growth.advance=geometry.bud.shape")
    assert bad.returncode == 2 and "study.growth.advance: 'geometry.bud.shape' is not a number" in bad.stderr
