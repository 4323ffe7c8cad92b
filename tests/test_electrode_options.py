"""Scenario keys of the electrode extensions: film_resistance, deposition, physics.floating.

Bad input gets one message naming the key; the keys reach the solver (a blocked boundary takes
no current, a film lowers the current it takes, a floating conductor carries zero net current);
the new metrics are the same on 1 and 2 ranks (subprocess, like the 3D skeleton test).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from solver.errors import UserError
from solver.scenario import cases_from_dict
from tests.test_designs import HOMS_COARSE, _alloy, _homs
from tests.util_scenarios import assert_metrics_equal, run_on_ranks, solve

ROOT = Path(__file__).resolve().parents[1]


def _problems(raw) -> str:
    with pytest.raises(UserError) as err:
        cases_from_dict(raw)
    return str(err.value)


def test_film_and_deposition_keys_validate():
    raw = _alloy()
    raw["physics"]["electrode"]["per_boundary"]["skeleton_surface"]["film_resistance"] = "49 Ohm cm^2"
    case = cases_from_dict(raw)[0]
    el = case.scenario.physics.electrode
    assert el.kinetics_on("skeleton_surface").film_resistance == pytest.approx(4.9e-3, rel=1e-12)
    assert el.kinetics_on("li_surface").film_resistance == 0 and el.has_film()
    raw["physics"]["electrode"]["per_boundary"]["skeleton_surface"]["film_resistance"] = "49 Ohm"
    assert "physics.electrode.per_boundary.skeleton_surface.film_resistance" in _problems(raw)
    raw["physics"]["electrode"]["per_boundary"]["skeleton_surface"]["film_resistance"] = -1
    assert "film_resistance" in _problems(raw)
    raw["physics"]["electrode"]["per_boundary"]["skeleton_surface"]["film_resistance"] = 1e-3
    raw["physics"]["model"] = "primary"
    assert "film_resistance: a film resistance needs the secondary model" in _problems(raw)
    raw["physics"]["model"] = "secondary"
    raw["solver"]["linear_solver"] = "iterative"
    assert "solver.linear_solver: 'iterative' does not handle film resistances" in _problems(raw)
    raw = _alloy()
    raw["physics"]["electrode"]["kinetics"]["deposition"] = False
    raw["physics"]["electrode"]["per_boundary"]["skeleton_surface"]["deposition"] = False
    assert "every boundary has deposition: false" in _problems(raw)


def test_floating_keys_validate():
    raw = _homs(["electrode_surface"])
    raw["physics"]["floating"] = {"boundaries": ["shell_surface"], "kinetics": {"exchange_current_density": 20}}
    case = cases_from_dict(raw)[0]
    phys = case.scenario.physics
    assert phys.floating_names() == ["floating_0"]
    k = phys.floating[0].kinetics_on(phys.electrode, "shell_surface")
    assert k.exchange_current_density == 20 and k.alpha_a == 0.5  # the rest from the working electrode
    raw["physics"]["floating"] = [{"name": "shells", "boundaries": ["shel_surface"]}]
    assert "physics.floating.0.boundaries: no boundary named 'shel_surface'" in _problems(raw)
    raw["physics"]["floating"] = [{"boundaries": ["electrode_surface"]}]
    assert "is also an electrode or counter boundary" in _problems(raw)
    raw["physics"]["floating"] = [{"boundaries": ["shell_surface"], "kinetics": {"deposition": False}}]
    assert "physics.floating.0: deposition: false" in _problems(raw)
    raw["physics"]["floating"] = [{"boundaries": ["shell_surface"]}]
    raw["physics"]["model"] = "primary"
    assert "physics.floating: floating conductors need the secondary model" in _problems(raw)
    raw["physics"]["model"] = "secondary"
    raw["physics"]["floating"] = [{"boundaries": ["shell_surface"]}, {"boundaries": ["shell_surface"]}]
    assert "belong to two floating conductors" in _problems(raw)


@pytest.mark.mpi
def test_blocked_and_filmed_skeleton_reach_the_solver():
    """deposition: false on the posts = the posts left out of the electrode (same V, all current on the
    foil); a film on the posts moves current from them to the foil and costs voltage."""
    raw = _alloy()
    raw["physics"]["electrode"]["per_boundary"]["skeleton_surface"]["deposition"] = False
    blocked = solve(raw)
    raw = _alloy()
    raw["physics"]["electrode"] = {"boundaries": ["li_surface"], "kinetics": {"exchange_current_density": 4.1}}
    insulating = solve(raw)
    assert blocked["electrode_potential_V"] == pytest.approx(insulating["electrode_potential_V"], rel=1e-10)
    assert blocked["blocked_boundaries"] == ["skeleton_surface"]
    assert blocked["design"]["current_fraction_by_boundary"] == {"li_surface": pytest.approx(1.0, abs=1e-12)}
    assert blocked["electrode"]["skeleton_surface"]["deposition"] is False
    bare = solve(_alloy())
    raw = _alloy()
    raw["physics"]["electrode"]["per_boundary"]["skeleton_surface"]["film_resistance"] = "49 Ohm cm^2"
    filmed = solve(raw)
    share = {m: x["design"]["current_fraction_by_boundary"]["li_surface"] for m, x in
             (("bare", bare), ("filmed", filmed))}
    assert share["filmed"] > share["bare"]
    assert filmed["electrode_potential_V"] < bare["electrode_potential_V"]
    film = filmed["film"]["skeleton_surface"]
    assert film["film_resistance_ohm_m2"] == pytest.approx(4.9e-3)
    assert film["mean_film_drop_V"] < 0  # plating: the film drop is R_f i_a < 0
    assert filmed["design"]["wagner_number_skeleton"] > bare["design"]["wagner_number_skeleton"]


def test_new_metrics_serial_equals_two_ranks(tmp_path):
    """homs_floating and homs_binder (coarse) on 1 and 2 ranks: the floating and design metrics agree."""
    args = ["run", str(ROOT / "scenarios" / "homs_membrane.yaml"), "-q", "--no-pictures", *HOMS_COARSE,
            "--set", "outputs.fields=false"]
    for name in ("bare", "homs_conducting", "homs_insulating", "nanoparticles", "homs_primary"):
        args += ["--set", f"variants.{name}=null"]
    serial, parallel = (m["cases"] for m in run_on_ranks(args, tmp_path))
    assert set(serial) == {"homs_floating", "homs_binder"}
    for name in serial:
        for key in ("design", "floating", "electrode_potential_V", "electrode"):
            if key in serial[name]:
                assert_metrics_equal(serial[name][key], parallel[name][key], f"{name}.{key}")
    f = serial["homs_floating"]["floating"]["shells"]
    print(f"homs_floating coarse: U = {f['potential_V']!r} V, plating {f['plating_current_A']!r}, stripping "
          f"{f['stripping_current_A']!r}, net {f['net_current_A']:.2e} A/m; 2 ranks: U = "
          f"{parallel['homs_floating']['floating']['shells']['potential_V']!r}")
    assert abs(f["net_current_A"]) < 1e-9 * f["plating_current_A"]
    assert 0 < f["plating_fraction_of_electrode_current"] < 0.05
