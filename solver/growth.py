"""Quasi-static, two-way growth of a bud (``study.growth``).

Every step solves the stationary problem on the present geometry (the piezo layer's loading,
its field and the current included), then advances one geometry parameter, the bud's height
h above the flat electrode, by Faraday's law with an explicit Euler step::

    dh/dt = (i_apex - i_far) V_m / F

i_apex and i_far are the plating current densities at the apex and on the flat far from the
bud (the metrics ``apex_current_density_A_m2`` and ``far_current_density_A_m2``). The flat's
own rise, i_far V_m / F, lifts the whole electrode and is not followed. The bud keeps its other
dimensions. Growth ends early, with the reason recorded, when the bud flattens or when the new
geometry cannot be built (e.g. the bud would reach the top of the domain).

This module knows the scenario only through ``Case.with_values`` and the metrics names; the
solve is passed in, so the same loop serves any geometry with an apex.
"""

from __future__ import annotations

from typing import Callable

from solver.errors import SolverError, UserError
from solver.scenario import Case

FARADAY = 96485.33212  # C/mol (CODATA 2018, exact)


def grow(case: Case, solve: Callable[[Case], tuple], log=None):
    """Run the growth steps of ``case``.

    ``solve(case)`` returns ``(problem, result, current, metrics, layer)`` (see
    ``study.solve_case``). Returns ``(final case, final solve tuple, growth dict)``, the growth
    dict holding one row per solved state (step 0 = the initial geometry) and why it stopped early
    (None when it reached the full duration).
    """
    log = log or (lambda msg: None)
    g = case.scenario.study.growth
    dt = g.duration / g.steps
    height = float(case.value(g.advance))
    t, charge = 0.0, 0.0
    rows, stopped = [], None
    out = solve(case)
    for step in range(g.steps + 1):
        m = out[3]
        apex, far = m.get("apex_current_density_A_m2"), m.get("far_current_density_A_m2")
        if apex is None or far is None:
            raise UserError("study.growth: the geometry has no bud apex and flat far point to advance")
        rate = (apex - far) * g.molar_volume / FARADAY
        rows.append({
            "step": step,
            "time_s": t,
            "height_m": height,
            "growth_rate_m_s": rate,
            "tip_over_far": m.get("tip_over_far"),
            "apex_current_density_A_m2": apex,
            "far_current_density_A_m2": far,
            "mean_current_density_A_m2": m["mean_current_density_projected_A_m2"],
            "electrode_potential_V": m["electrode_potential_V"],
            "deposited_charge_C_m2": charge,
            "piezo_potential_above_apex_V": (m.get("piezo") or {}).get("piezo_potential_above_apex_V"),
        })
        log(f"[{case.label}] growth step {step}/{g.steps}: t = {t:.4g} s, {g.advance} = {height * 1e6:.4g} um, "
            f"tip_over_far = {m.get('tip_over_far', float('nan')):.4f}")
        if step == g.steps:
            break
        new_height = height + rate * dt
        if new_height <= g.min_height:
            stopped = f"the bud flattened at t = {t + dt:.4g} s ({g.advance} would be {new_height:.4g} m)"
            break
        try:
            following = case.with_values({g.advance: new_height})
        except UserError as err:
            stopped = f"the geometry cannot grow further at t = {t + dt:.4g} s: {err}"
            break
        try:
            out = solve(following)
        except SolverError as err:
            raise SolverError(f"growth step {step + 1} (t = {t + dt:.4g} s, {g.advance} = {new_height:.4g} m): "
                              f"{err}") from None
        charge += m["mean_current_density_projected_A_m2"] * dt
        t += dt
        height = new_height
        case = following
    if stopped:
        log(f"[{case.label}] growth stopped: {stopped}")
    first, last = rows[0], rows[-1]
    info = {
        "advance": g.advance,
        "steps": rows,
        "stopped": stopped,
        "final_time_s": last["time_s"],
        "final_height_m": last["height_m"],
        "height_change_m": last["height_m"] - first["height_m"],
        "deposited_charge_C_m2": last["deposited_charge_C_m2"],
    }
    return case, out, info
