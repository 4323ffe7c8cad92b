"""The design studies (docs/designs.md): alloy-skeleton and HoMS-membrane metrics
(solver/design_metrics.py), their scenarios, the pictures of their geometries, serial vs MPI.

Known answers: all current on one boundary (the other insulating) puts every fraction at 0 or 1;
on straight posts the true areas, the apparent exchange current density and the pore volume are
closed forms; with the Wagner number in the thousands the current on the HoMS surfaces follows
their areas. The in-process tests also run under ``mpirun -n 2`` (marker ``mpi``); the 3D
serial-vs-2-ranks comparison spawns ``mpirun`` itself and is therefore not marked.
"""

from __future__ import annotations

import json
import math
import sys
from pathlib import Path

import pytest

from solver import render
from solver.cli import main
from solver.physics.potential import FARADAY, GAS_CONSTANT
from tests.util_scenarios import assert_metrics_equal, run_on_ranks, solve

ROOT = Path(__file__).resolve().parents[1]
UM = 1e-6
KAPPA = 1.1  # litfsi_dol_dme preset
I0_LI, I0_SK = 4.1, 37.1  # A/m^2


def _alloy(**geometry) -> dict:
    """A coarse 2D alloy cell: posts of known area unless told otherwise."""
    geo = {"builder": "alloy_skeleton", "dimension": "2d", "width": "20 um", "height": "30 um",
           "tree_height": "12 um", "pitch": "10 um", "trunk_width": "2 um", "generations": 0}
    geo.update(geometry)
    return {
        "geometry": geo,
        "mesh": {"size_far": "4 um", "size_electrode": "1 um", "size_feature": "0.5 um", "grading_distance": "6 um"},
        "materials": {"electrolyte": {"type": "electrolyte", "preset": "litfsi_dol_dme", "regions": ["electrolyte"]}},
        "physics": {"model": "secondary", "electrode": {
            "boundaries": ["li_surface", "skeleton_surface"],
            "kinetics": {"exchange_current_density": I0_LI},
            "per_boundary": {"skeleton_surface": {"exchange_current_density": I0_SK}}}},
        "study": {"control": "galvanostatic", "current_density": 10.0},
        "solver": {"degree": 1},
    }


@pytest.mark.mpi
def test_alloy_posts_closed_forms():
    """Straight posts: true areas, apparent i0, pore volume and the fractions' bookkeeping."""
    m = solve(_alloy())
    d = m["design"]
    w, h, t, n = 20 * UM, 12 * UM, 2 * UM, 2
    a_li, a_sk = w - n * t, n * (2 * h + t)
    assert d["true_area"]["li_surface"] / UM == pytest.approx(a_li / UM, rel=1e-9)
    assert d["true_area"]["skeleton_surface"] / UM == pytest.approx(a_sk / UM, rel=1e-9)
    assert d["true_over_projected_area"] == pytest.approx((a_li + a_sk) / w, rel=1e-9)
    assert d["apparent_exchange_current_density_A_m2"] == pytest.approx((I0_LI * a_li + I0_SK * a_sk) / w, rel=1e-9)
    # the true-surface i0 that reproduces the paper's apparent 3.71 mA/cm^2 does so
    i0 = d["skeleton_i0_for_paper_apparent_A_m2"]
    assert (I0_LI * a_li + i0 * a_sk) / w == pytest.approx(37.1, rel=1e-9)
    # only the top caps are not below the top
    assert d["area_fraction_below_top"] == pytest.approx(1 - n * t / (a_li + a_sk), rel=1e-9)
    assert sum(d["current_fraction_by_boundary"].values()) == pytest.approx(1.0, abs=1e-12)
    assert d["total_current_A"] / UM == pytest.approx(10.0 * w / UM, rel=1e-9)
    # porous electrode: a = area below the top / electrolyte volume below the top
    assert d["pore_volume"] / UM**2 == pytest.approx((w * h - n * t * h) / UM**2, rel=1e-9)
    a = (a_li + 2 * n * h) / (w * h - n * t * h)
    assert d["specific_area_per_m"] == pytest.approx(a, rel=1e-9)
    r_ct = GAS_CONSTANT * 298.15 / (FARADAY * I0_SK)
    assert d["penetration_depth_m"] / UM == pytest.approx(math.sqrt(KAPPA * r_ct / a) / UM, rel=1e-9)
    assert d["wagner_number_skeleton"] == pytest.approx(KAPPA * r_ct / h, rel=1e-9)
    below = list(d["current_fraction_below_height"].values())
    assert below == sorted(below) and 0 < below[0] and below[-1] < d["current_fraction_below_top"] < 1


@pytest.mark.mpi
def test_alloy_all_current_on_the_foil_or_on_the_top():
    """Insulating posts: all current at y = 0, below every height. A dense layer over all of the
    Li (a flat electrode at its thickness): all current on the top, below no height."""
    raw = _alloy()
    raw["physics"]["electrode"] = {"boundaries": ["li_surface"], "kinetics": {"exchange_current_density": I0_LI}}
    d = solve(raw)["design"]
    assert d["current_fraction_below_top"] == pytest.approx(1.0, abs=1e-12)
    assert d["current_fraction_top_band"] == pytest.approx(0.0, abs=1e-12)
    assert all(v == pytest.approx(1.0, abs=1e-12) for v in d["current_fraction_below_height"].values())
    assert d["current_fraction_by_boundary"] == {"li_surface": pytest.approx(1.0, abs=1e-12)}
    assert d["apparent_exchange_current_density_A_m2"] == pytest.approx(I0_LI * (20 - 4) / 20, rel=1e-9)
    assert d["max_over_mean_true"] > 1  # the posts shade the foil next to them

    raw = _alloy(layout="dense", dense_thickness="3 um")
    raw["physics"]["electrode"]["boundaries"] = ["skeleton_surface"]
    m = solve(raw)
    d = m["design"]
    assert d["skeleton_top_m"] / UM == pytest.approx(3.0, rel=1e-12)
    assert d["current_fraction_below_top"] == pytest.approx(0.0, abs=1e-12)
    assert d["current_fraction_top_band"] == pytest.approx(1.0, abs=1e-12)
    assert d["apparent_exchange_current_density_A_m2"] == pytest.approx(I0_SK, rel=1e-9)
    assert d["max_over_mean_true"] == pytest.approx(1.0, abs=1e-9)
    assert "porous_wagner_number" not in d  # no pores in a dense layer


def _homs(boundaries, **geometry) -> dict:
    geo = {"builder": "homs_membrane", "dimension": "2d", "height": "4 um"}
    geo.update(geometry)
    interior = [] if geo.get("control") == "nanoparticles" else ["interior"]
    return {
        "geometry": geo,
        "mesh": {"size_far": "1 um", "size_electrode": "0.2 um", "size_feature": "0.05 um", "grading_distance": "1 um"},
        "materials": {"electrolyte": {"type": "electrolyte", "preset": "litfsi_dol_dme",
                                      "regions": ["electrolyte", *interior]}},
        "physics": {"model": "secondary", "electrode": {"boundaries": boundaries,
                                                       "kinetics": {"exchange_current_density": I0_LI}}},
        "study": {"control": "galvanostatic", "current_density": 10.0},
        "solver": {"degree": 1},
    }


@pytest.mark.mpi
def test_homs_insulating_shells_all_current_under_the_membrane():
    from tests.test_mesh_homs import _expected
    from meshes.homs import HomsParams

    d = solve(_homs(["electrode_surface"]))["design"]
    assert d["current_fraction"]["electrode_under_membrane"] == pytest.approx(1.0, abs=1e-12)
    for group in ("sphere_interiors", "membrane_top", "membrane_outer_below_top"):
        assert d["current_fraction"][group] == pytest.approx(0.0, abs=1e-12)
    assert d["apparent_exchange_current_density_A_m2"] == pytest.approx(I0_LI, rel=1e-9)
    assert d["mean_current_density_A_m2"]["electrode_under_membrane"] == pytest.approx(10.0, rel=1e-9)
    assert 0 <= d["electrode_cv"] < 1e-3 and d["electrode_max_over_mean"] >= 1 >= d["electrode_min_over_mean"]
    # the groups split the shell surface (closed form of the builder's test, polygonal mesh: 1 %)
    shells = _expected(HomsParams(dimension="2d", height="4 um"))["shell_surface"]
    areas = d["area"]
    assert areas["electrode_under_membrane"] / UM == pytest.approx(1.8, rel=1e-9)
    assert (sum(areas.values()) - areas["electrode_under_membrane"]) / UM == pytest.approx(shells / UM, rel=0.01)
    assert sum(d["area_fraction"].values()) == pytest.approx(1.0, abs=1e-12)
    assert d["upper_row_centre_m"] / UM == pytest.approx(0.1 + 0.4 + math.sqrt(3) / 2 * 0.9, rel=1e-12)


@pytest.mark.mpi
def test_homs_conducting_shells_follow_the_area_at_high_wagner_number():
    """Wa ~ 1e4 on the sphere scale: every surface takes the same current density, so the current
    fractions are the area fractions; the nanoparticles have no interior."""
    d = solve(_homs(["electrode_surface", "shell_surface"]))["design"]
    assert d["wagner_number_sphere"] > 1000
    assert sum(d["current_fraction"].values()) == pytest.approx(1.0, abs=1e-9)
    for group, share in d["area_fraction"].items():
        assert d["current_fraction"][group] == pytest.approx(share, rel=0.02), group
    assert d["current_fraction"]["sphere_interiors"] > 0.5  # most of the area is inside the spheres
    d = solve(_homs(["electrode_surface", "shell_surface"], control="nanoparticles"))["design"]
    assert d["area"]["sphere_interiors"] == 0 and d["current_fraction"]["sphere_interiors"] == 0
    assert d["current_fraction"]["membrane_top"] == pytest.approx(d["area_fraction"]["membrane_top"], rel=0.02)


def test_the_design_scenarios_validate(capsys):
    assert main(["check", str(ROOT / "scenarios" / "alloy_skeleton.yaml")]) == 0
    assert main(["check", str(ROOT / "scenarios" / "homs_membrane.yaml")]) == 0
    out = capsys.readouterr().out
    assert ("8 cases: bare_li, dendritic, dendritic_true_i0, dense_alloy, coverage_half, dendritic_primary, "
            "dendritic_coated, dendritic_coated_blocked") in out
    assert ("7 cases: bare, homs_conducting, homs_insulating, nanoparticles, homs_primary, homs_floating, "
            "homs_binder") in out


ALLOY_COARSE = ["--set", "mesh.size_far=6 um", "--set", "mesh.size_electrode=2 um", "--set", "mesh.size_feature=0.5 um",
                "--set", "solver.degree=1"]
HOMS_COARSE = ["--set", "mesh.size_far=2 um", "--set", "mesh.size_electrode=0.3 um",
               "--set", "mesh.size_feature=0.06 um", "--set", "solver.degree=1", "--set", "geometry.height=4 um"]


def test_alloy_scenario_runs_coarse(tmp_path):
    out = tmp_path / "alloy"
    assert main(["run", str(ROOT / "scenarios" / "alloy_skeleton.yaml"), "-q", "--no-pictures", "-o", str(out),
                 *ALLOY_COARSE]) == 0
    cases = json.loads((out / "metrics.json").read_text())["cases"]
    d = {name: m["design"] for name, m in cases.items()}
    assert d["bare_li"]["apparent_exchange_current_density_A_m2"] == pytest.approx(4.1, rel=1e-9)
    assert d["dense_alloy"]["apparent_exchange_current_density_A_m2"] == pytest.approx(37.1, rel=1e-9)
    # the directions of docs/designs.md: into the pores in kinetic control, onto the tops in the primary limit
    assert 0.9 < d["dendritic"]["top_band_focusing"] < 1.6 and d["dendritic"]["current_fraction_below_top"] > 0.95
    assert d["dendritic_primary"]["top_band_focusing"] > 5
    assert d["dendritic_true_i0"]["apparent_exchange_current_density_A_m2"] == pytest.approx(37.1, rel=0.03)
    assert cases["dendritic_true_i0"]["electrode_potential_V"] == pytest.approx(
        cases["dense_alloy"]["electrode_potential_V"], rel=0.05)
    assert d["coverage_half"]["current_fraction_by_boundary"]["skeleton_surface"] > 0.9
    # the LiH / Li-polymer coating: a film evens the skeleton's current (less top focusing) at a higher
    # overpotential; a coating Li cannot plate on leaves only the foil, at more than bare Li's overpotential
    # (the trunks take some of the foil's area)
    coated, blocked = cases["dendritic_coated"], cases["dendritic_coated_blocked"]
    assert 1 <= d["dendritic_coated"]["top_band_focusing"] < d["dendritic"]["top_band_focusing"]
    assert cases["dendritic"]["electrode_potential_V"] > coated["electrode_potential_V"] > \
        cases["dendritic_true_i0"]["electrode_potential_V"]
    assert coated["film"]["skeleton_surface"]["film_resistance_ohm_m2"] == pytest.approx(5.14e-4, rel=1e-12)
    assert d["dendritic_coated_blocked"]["current_fraction_by_boundary"] == {"li_surface": pytest.approx(1.0)}
    assert blocked["electrode_potential_V"] < cases["bare_li"]["electrode_potential_V"]


def test_homs_scenario_runs_coarse_and_draws_the_shells(tmp_path):
    out = tmp_path / "homs"
    assert main(["run", str(ROOT / "scenarios" / "homs_membrane.yaml"), "-q", "--no-pictures", "-o", str(out),
                 *HOMS_COARSE]) == 0
    cases = json.loads((out / "metrics.json").read_text())["cases"]
    assert "design" not in cases["bare"] and cases["bare"]["electrode"]["all"]["cv"] < 1e-9
    conducting = cases["homs_conducting"]["design"]["current_fraction"]
    assert conducting["sphere_interiors"] > 0.5 and conducting["membrane_top"] < 0.1
    primary = cases["homs_primary"]["design"]
    assert primary["current_fraction"]["membrane_top"] > 0.5 and primary["electrode_cv"] is None
    assert cases["homs_insulating"]["design"]["current_fraction"]["electrode_under_membrane"] == pytest.approx(1.0)
    # floating shells: zero net current, a small bipolar plating/stripping; the electrode takes all of the
    # applied current (as with insulating shells, to within the bipolar share)
    floating = cases["homs_floating"]
    shells = floating["floating"]["shells"]
    assert abs(shells["net_current_A"]) < 1e-9 * shells["plating_current_A"]
    assert 0 < shells["plating_fraction_of_electrode_current"] < 0.05
    assert floating["design"]["current_fraction"]["electrode_under_membrane"] == pytest.approx(1.0)
    assert floating["electrode_potential_V"] == pytest.approx(cases["homs_insulating"]["electrode_potential_V"], rel=0.01)
    # conducting shells under the binder: Li still goes inside the spheres, through the binder film
    binder = cases["homs_binder"]["design"]["current_fraction"]
    assert binder["sphere_interiors"] > 0.5 and binder["membrane_top"] < 0.1

    # pictures: the electrode outline is the electrode's own facets, closed rings included: its
    # drawn length is the true electrode length of the metrics (2D, um per um of depth)
    for name in ("homs_conducting", "nanoparticles"):
        case = next(c for c in render._read_cases(out) if c.name == name)
        sec = render._section(case)
        lines = sec.electrode_lines
        pts = lines.points
        length = sum(float(((pts[b] - pts[a]) ** 2).sum() ** 0.5)
                     for a, b in lines.lines.reshape(-1, 3)[:, 1:])
        total = sum(cases[name]["electrode"][b]["area"] for b in ("electrode_surface", "shell_surface"))
        assert length == pytest.approx(total / UM, rel=1e-6), name
    written = {p.name for p in render.render_folder(out)}
    assert {"comparison.png", "electrode_current.png", "homs_conducting_potential.png"} <= written


def test_alloy_3d_serial_equals_two_ranks(tmp_path):
    """A coarse 3D skeleton (one tree, generation 1): the design metrics on 1 and 2 ranks agree."""
    args = ["run", str(ROOT / "scenarios" / "alloy_skeleton.yaml"), "-q", "--no-pictures",
            "--set", "variants=null", "--set", "geometry.dimension=3d", "--set", "geometry.width=10 um",
            "--set", "geometry.generations=1", "--set", "mesh.size_feature=0.6 um", "--set", "mesh.size_far=5 um",
            "--set", "mesh.size_electrode=2.5 um", "--set", "solver.degree=1", "--set", "outputs.fields=false"]
    serial, parallel = (m["cases"]["alloy_skeleton"] for m in run_on_ranks(args, tmp_path))
    assert_metrics_equal(serial["design"], parallel["design"], "design")
    assert_metrics_equal(serial["electrode_potential_V"], parallel["electrode_potential_V"], "V")
    d = serial["design"]
    assert d["true_over_projected_area"] > 1 and 0 < d["current_fraction_top_band"] < 1


THREE_D = {
    "homs_membrane": ["--set", "geometry.dimension=3d", "--set", "geometry.width=0.9um", "--set",
                      "geometry.height=3um", "--set", "mesh.size_feature=0.05um", "--set", "mesh.size_far=0.6um",
                      "--set", "mesh.size_electrode=0.3um", "--set", "mesh.grading_distance=1um"],
    "sse_anode": ["--set", "geometry.dimension=3d", "--set", "geometry.width=4um", "--set", "geometry.height=3um",
                  "--set", "geometry.sei_thickness=0.2um", "--set", "geometry.particles=exposed", "--set",
                  "materials.lpscl={type: solid_electrolyte, preset: li6ps5cl, regions: [particles]}",
                  "--set", "geometry.loading=7.5%", "--set", "geometry.particle_radius=0.4um", "--set",
                  "geometry.patch_size=2um", "--set", "mesh.size_far=1.5um", "--set", "mesh.size_electrode=0.8um",
                  "--set", "mesh.size_feature=0.2um", "--set", "mesh.grading_distance=1um"],
}


@pytest.mark.parametrize("name", sorted(THREE_D))
def test_3d_design_serial_equals_two_ranks(name, tmp_path):
    """Coarse 3D runs of the HoMS membrane (conducting shells) and of the SSE anode (exposed
    particles under a heterogeneous SEI): every float metric on 1 and 2 ranks agrees."""
    args = ["run", str(ROOT / "scenarios" / f"{name}.yaml"), "-q", "--no-pictures", "--set", "variants=null",
            "--set", "solver.degree=1", "--set", "outputs.fields=false", *THREE_D[name]]
    serial, parallel = (m["cases"][name] if "cases" in m else m for m in run_on_ranks(args, tmp_path))
    compared = []
    for key in ("electrode_potential_V", "total_current_A", "electrode", "design"):
        if key in serial:
            compared += assert_metrics_equal(serial[key], parallel[key], key, rel=1e-7, abs_tol=1e-12,
                                             skip=("timings", "wall_time_s", "charge_balance_error"))
    print(f"{name} 3D: {serial['cells']} cells, V = {serial['electrode_potential_V'] * 1e3:.6f} mV, "
          f"{len(compared)} metrics equal on 1 and 2 ranks")
    assert serial["cells"] > 5000 and len(compared) > 10


def test_sse_scenario_directions(tmp_path):
    """docs/designs.md section 3: a uniform SEI spreads the current perfectly and exposed LPSCl
    particles focus it; against a heterogeneous SEI more particles even it out (cv falls)."""
    assert main(["check", str(ROOT / "scenarios" / "sse_anode.yaml")]) == 0
    out = tmp_path / "sse"
    assert main(["run", str(ROOT / "scenarios" / "sse_anode.yaml"), "-q", "--no-pictures", "-o", str(out),
                 "--set", "mesh.size_far=3 um", "--set", "mesh.size_electrode=1 um"]) == 0
    cases = json.loads((out / "metrics.json").read_text())["cases"]
    li = {name: m["electrode"]["li_surface"] for name, m in cases.items()}
    assert li["uniform_bare"]["cv"] < 1e-6 and li["uniform_3.5"]["max_over_mean"] > 3
    assert li["hetero_7.5"]["cv"] < li["hetero_bare"]["cv"] - 0.03
    assert cases["hetero_7.5"]["electrode_potential_V"] > cases["hetero_bare"]["electrode_potential_V"]
