"""Mixed ionic-electronic conduction (solver/physics/mixed_conduction.py, docs/film.md).

Known answers: the 1D two-layer stack Li | MIEC | ionic film | Li with linear kinetics is the
linearised porous-electrode (transmission-line) problem, solved in closed form
(``transmission_line``); with sigma_e -> 0 the model is the purely ionic stack, whose ASR is
sum(t / sigma) (solver.homogenise.film_asr) plus the two charge-transfer resistances; a manufactured
solution of the coupled nonlinear system converges at the optimal L2 rates. The in-process tests
marked ``mpi`` also run under ``mpirun -n 2``: there the COMM_WORLD vs COMM_SELF comparisons put
2 ranks against 1.
"""

from __future__ import annotations

import math
import os
import subprocess
import sys
from pathlib import Path

import pytest
import ufl

from solver._dolfinx import MPI
from solver.homogenise import build_domain, film_asr
from solver.physics.mixed_conduction import Kinetics, MixedConduction, MixedRegion, transmission_line
from solver.physics.potential import FARADAY, GAS_CONSTANT
from meshes.base import MeshOptions
from meshes.film import FilmParams
from tests.helpers import interval_with_solid, rate, rectangle

ROOT = Path(__file__).resolve().parents[1]
F_RT = FARADAY / (GAS_CONSTANT * 298.15)
UM = 1e-6


def r_ct(i0, alpha=1.0):
    return 1.0 / (F_RT * i0 * alpha)


# ----------------------------------------------------------------------------- 1D closed form
L1, L = 2 * UM, 12 * UM
SI, SE, SF, AV = 1e-3, 5e-3, 0.1, 2e6  # S/m, S/m, S/m, 1/m: nu = 0.61 (reaction over the whole layer)
I0_SURF, I0_RXN = 10.0, 1.0


def _one_d(form: str, current: float, degree=2, n=120, comm=MPI.COMM_WORLD):
    d = interval_with_solid(n, n // 2, L1, L, comm=comm)
    problem = MixedConduction(
        d, {"solid": MixedRegion(SI, SE, AV), "electrolyte": MixedRegion(SF)}, ["x0"], ["x1"],
        Kinetics(I0_SURF, form=form), Kinetics(I0_RXN, form=form), current_density=current, degree=degree)
    result = problem.solve()
    return problem, result, problem.metrics()


@pytest.mark.mpi
def test_transmission_line_closed_form():
    """Linear kinetics: the FE internal-deposition fraction and cell voltage equal the cosh/sinh solution
    (P2: to 1e-8); Butler-Volmer at a small current (0.1 % of i0) approaches it to < 1e-3."""
    ref = transmission_line(L1, L, SI, SE, SF, AV, r_ct(I0_RXN), r_ct(I0_SURF), r_ct(I0_SURF), 10.0)
    assert 0.3 < ref["internal_fraction"] < 0.5 and 0.3 < ref["nu"] < 1.0  # a genuinely mixed case
    problem, result, m = _one_d("linear", 10.0)
    assert m["internal_fraction"] == pytest.approx(ref["internal_fraction"], rel=1e-8)
    assert m["internal_net_fraction"] == pytest.approx(ref["internal_fraction"], rel=1e-8)
    assert result.cell_voltage == pytest.approx(ref["cell_voltage"], rel=1e-8)
    assert m["balance_error"] < 1e-9
    assert m["max_rate"]["region"] == "solid" and m["max_rate"]["height_m"] == pytest.approx(L1)  # at the film
    small = 1e-3 * I0_SURF
    ref_small = transmission_line(L1, L, SI, SE, SF, AV, r_ct(I0_RXN), r_ct(I0_SURF), r_ct(I0_SURF), small)
    _, res_bv, m_bv = _one_d("butler_volmer", small)
    assert m_bv["internal_fraction"] == pytest.approx(ref_small["internal_fraction"], rel=1e-3)
    assert res_bv.cell_voltage == pytest.approx(ref_small["cell_voltage"], rel=1e-3)
    # the electronic current into the bottom Li carries the internal deposition (no electrons in the film)
    assert m["electronic_current_bottom_A"] == pytest.approx(m["internal_plating_A"], rel=1e-8)
    assert abs(m["electronic_current_top_A"]) < 1e-12 and m["electronic_leakage_A"] == 0.0


def test_electron_dominated_layer_deposits_at_its_top():
    """sigma_e >> sigma_i: the layer is part of the electrode, Li deposits where the ions arrive; the
    reverse ratio puts it at the Li."""
    d = interval_with_solid(120, 60, L1, L)
    out = {}
    for label, (si, se) in {"electronic": (1e-4, 1e-2), "ionic": (1e-2, 1e-4)}.items():
        p = MixedConduction(d, {"solid": MixedRegion(si, se, 1e8), "electrolyte": MixedRegion(SF)}, ["x0"], ["x1"],
                            Kinetics(I0_SURF, form="linear"), Kinetics(I0_RXN, form="linear"), current_density=10.0)
        p.solve()
        out[label] = p.metrics()
    assert out["electronic"]["max_rate"]["height_m"] == pytest.approx(L1)
    assert out["electronic"]["internal_fraction"] > 0.95
    assert out["ionic"]["deposition_mean_height_m"] < 0.25 * L1


# ----------------------------------------------------------------------------- ionic limit
SIGMA = {"film": 0.11, "li3n": 0.12}


@pytest.mark.mpi
@pytest.mark.parametrize("sigma_e", [0.0, 1e-14])
def test_vanishing_electronic_conductivity_is_the_ionic_stack(sigma_e):
    params = FilmParams(film_thickness="20 um", li3n_thickness="3 um", width="10 um")
    domain = build_domain("sulfide_film", params, MeshOptions(size_far="3 um", size_electrode="1 um"))
    asr = film_asr(domain, SIGMA).analytic
    regions = {name: MixedRegion(s, sigma_e, 1e6) for name, s in SIGMA.items()}
    p = MixedConduction(domain, regions, ["li_bottom"], ["li_top"], Kinetics(10.0, form="linear"),
                        Kinetics(10.0, form="linear"), current_density=10.0, degree=1)
    result = p.solve()
    m = p.metrics()
    asr_fe = result.cell_voltage / 10.0 - 2 * r_ct(10.0)
    assert asr_fe == pytest.approx(asr, rel=1e-6)
    assert abs(m["internal_fraction"]) < 1e-8 and m["surface_plating_A"] == pytest.approx(10.0 * 10 * UM, rel=1e-9)
    assert p.has_electrons == (sigma_e > 0)


# ----------------------------------------------------------------------------- MMS
def _mms_errors(n: int, degree: int):
    d = rectangle(n)
    x = ufl.SpatialCoordinate(d.mesh)
    si, se = 1.0, 2.0
    pi_ex = 0.03 * ufl.sin(1.3 * x[0] + 0.4) * ufl.cos(x[1]) + 0.01 * x[1]
    pe_ex = 0.02 * ufl.cos(x[0]) * ufl.exp(0.5 * x[1]) + 0.04
    surface, reaction = Kinetics(1.0), Kinetics(1.0)
    p = MixedConduction(d, {"solid": MixedRegion(si, se, 1.0)}, ["y0"], ["y1"], surface, reaction,
                        control="potentiostatic", cell_voltage=0.05, degree=degree, rtol=1e-12)
    f = p.f
    j_ex = -1.0 * reaction.anodic_current(pe_ex - pi_ex, f)
    p.source_i = -ufl.div(si * ufl.grad(pi_ex)) + j_ex
    p.source_e = -ufl.div(se * ufl.grad(pe_ex)) - j_ex
    nrm = ufl.FacetNormal(d.mesh)
    flux_i = si * ufl.dot(ufl.grad(pi_ex), nrm)
    flux_e = se * ufl.dot(ufl.grad(pe_ex), nrm)
    p.extra_flux_i = {"y0": flux_i - surface.anodic_current(0.0 - pi_ex, f),
                      "y1": flux_i - surface.anodic_current(0.05 - pi_ex, f), "x0": flux_i, "x1": flux_i}
    p.extra_flux_e = {"x0": flux_e, "x1": flux_e}
    p.electronic_value = {"y0": pe_ex, "y1": pe_ex}
    p.solve()
    err_i = math.sqrt(d.integrate((p.phi_i - pi_ex) ** 2 * ufl.dx))
    err_e = math.sqrt(d.integrate((p.phi_e - pe_ex) ** 2 * ufl.dx))
    return err_i, err_e


@pytest.mark.mpi
@pytest.mark.parametrize("degree, ns", [(1, (8, 16, 32)), (2, (4, 8, 16))])
def test_mms_rates(degree, ns):
    errors = [_mms_errors(n, degree) for n in ns]
    hs = [1.0 / n for n in ns]
    for k in range(2):
        observed = rate([e[k] for e in errors], hs)
        assert observed == pytest.approx(degree + 1, abs=0.15), (k, observed, errors)


# ----------------------------------------------------------------------------- parallel
def _stack_metrics(comm, dimension="2d"):
    if dimension == "2d":
        params = FilmParams(film_thickness="10 um", li3n_thickness=0, interphase_thickness="1 um",
                            voids={"count": 2, "width": "2 um", "depth": "0.5 um"}, width="10 um")
        options = MeshOptions(size_far="2 um", size_electrode="0.5 um", size_feature="0.25 um")
    else:
        params = FilmParams(dimension="3d", film_thickness="6 um", li3n_thickness="1 um", interphase_thickness="1 um",
                            width="4 um", filament={"depth": "4 um", "width": "1 um"},
                            voids={"count": 2, "width": "1 um", "depth": "0.5 um"})
        options = MeshOptions(size_far="2 um", size_electrode="1 um", size_feature="0.5 um", grading_distance="2 um")
    domain = build_domain("sulfide_film", params, options, comm)
    regions = {"film": MixedRegion(0.11, 1e-7, 0.0), "interphase": MixedRegion(1e-5, 7.1e-5, 1e5),
               "li3n": MixedRegion(0.12, 0.0, 0.0)}
    bottom = ["li_bottom"] + (["filament_surface"] if "filament_surface" in domain.boundaries else [])
    p = MixedConduction(domain, {r: regions[r] for r in domain.regions}, bottom, ["li_top"], Kinetics(10.0),
                        Kinetics(10.0), current_density=10.0, degree=1 if dimension == "3d" else 2)
    result = p.solve()
    m = p.metrics()
    return [result.cell_voltage, m["internal_fraction"], m["surface_plating_A"], m["max_rate"]["rate_A_m3"],
            m["max_rate"]["height_m"], m["electronic_current_bottom_A"], m["balance_error"] < 1e-8]


@pytest.mark.mpi
@pytest.mark.parametrize("dimension", ["2d", "3d"])
def test_parallel_equals_serial(dimension):
    world = _stack_metrics(MPI.COMM_WORLD, dimension)
    alone = _stack_metrics(MPI.COMM_SELF, dimension)
    assert world == pytest.approx(alone, rel=1e-8)
    # 2D: the interphase on the Li takes most of the deposition; 3D: over an insulating Li3N only the
    # filament feeds it electrons
    assert world[1] > (0.5 if dimension == "2d" else 0.01)


# ----------------------------------------------------------------------------- scenario
def _cli(*args, timeout=300):
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PMI_", "MPI", "HYDRA", "OMPI"))}
    return subprocess.run([sys.executable, str(ROOT / "run.py"), *args], cwd=ROOT, capture_output=True, text=True,
                          timeout=timeout, env=env)


def test_scenario_checks(tmp_path):
    ok = _cli("check", "scenarios/sulfide_film.yaml")
    assert ok.returncode == 0, ok.stderr
    bad = {
        "materials.film.electronic_conductivity=-1e-9 S/cm": "materials.film.electronic_conductivity",
        "materials.film.specific_interface_area=3 um": "materials.film.specific_interface_area",
        "physics.counter.type=reference": "physics.counter.type",
        "solver.linear_solver=iterative": "solver.linear_solver",
        "physics.mixed_conduction.kinetics=tafel": "physics.mixed_conduction.kinetics",
    }
    for option, key in bad.items():
        proc = _cli("check", "scenarios/sulfide_film.yaml", "--set", option)
        assert proc.returncode == 2, (option, proc.stdout, proc.stderr)
        assert key in proc.stderr and "Traceback" not in proc.stderr, (option, proc.stderr)
    liquid = _cli("check", "scenarios/sulfide_film.yaml", "--set",
                  "materials.film={type: electrolyte, preset: litfsi_dol_dme, regions: [film]}")
    assert liquid.returncode == 2 and "solid_electrolyte materials only" in liquid.stderr


def test_scenario_runs_bare_vs_modified(tmp_path):
    """Two variants of the shipped scenario, coarse: metrics.json and the side-by-side picture."""
    import json

    out = tmp_path / "sf"
    proc = _cli("run", "scenarios/sulfide_film.yaml", "-o", str(out), "--set", "variants.bare=null",
                "--set", "variants.miec_ionic=null", "--set", "variants.voids=null", "--set", "variants.filament=null",
                "--set", "mesh.size_far=5 um", "--set", "geometry.layer_cells=5", "--set", "solver.degree=1")
    assert proc.returncode == 0, proc.stderr
    cases = json.loads((out / "metrics.json").read_text())["cases"]
    li3n, miec = cases["li3n"], cases["miec_interphase"]
    assert li3n["internal_fraction"] == 0.0 and miec["internal_fraction"] > 0.5
    assert miec["max_deposition_height_m"] == pytest.approx(1e-6, rel=1e-6)  # at the interphase/film boundary
    assert li3n["ohmic_asr_1d_ohm_cm2"] == pytest.approx(1e4 * (3e-6 / 0.12 + 40e-6 / 0.11), rel=1e-9)
    assert (out / "pictures" / "deposition_comparison.png").stat().st_size > 10_000
    assert (out / "miec_interphase" / "fields.vtkhdf").exists()
    assert (out / "li3n" / "surface_plating.csv").read_text().startswith("x_m,y_m,z_m,boundary,")
    assert li3n["surface_plating_density"]["max_over_mean"] == pytest.approx(1.0, abs=1e-6)  # flat, uniform
    assert li3n["regime"].startswith("surface deposition") and "electron-dominated" in miec["regime"]


def test_potentiostatic_at_the_galvanostatic_voltage_gives_the_current():
    _, result, m = _one_d("butler_volmer", 10.0, degree=1, n=60)
    d = interval_with_solid(60, 30, L1, L)
    p = MixedConduction(d, {"solid": MixedRegion(SI, SE, AV), "electrolyte": MixedRegion(SF)}, ["x0"], ["x1"],
                        Kinetics(I0_SURF), Kinetics(I0_RXN), control="potentiostatic",
                        cell_voltage=result.cell_voltage, degree=1)
    p.solve()
    m2 = p.metrics()
    assert m2["current_top_A"] == pytest.approx(10.0, rel=1e-8)
    assert m2["internal_fraction"] == pytest.approx(m["internal_fraction"], rel=1e-8)
