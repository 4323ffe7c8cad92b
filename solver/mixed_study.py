"""A mixed ionic-electronic conduction case (``physics.model: mixed_conduction``): scenario ->
solver.physics.mixed_conduction -> metrics.json and fields.vtkhdf.

Called by :func:`solver.study.run_case`; translates the scenario's materials and kinetics into
the physics module's region properties, adds the derived numbers that explain the result (the
transmission-line length and number of every electron-conducting layer, the ratio of electronic to
ionic conductivity, the 1D ohmic ASR) and writes the case's files.
"""

from __future__ import annotations

import math
import time
from pathlib import Path

import numpy as np

from solver._dolfinx import dolfinx
from solver.domain import Domain
from solver.output import write_fields as write_vtkhdf, write_json
from solver.physics.mixed_conduction import Kinetics, MixedConduction, MixedRegion
from solver.scenario import Case


def make_problem(case: Case, domain: Domain, prefix: str = "mixed_") -> MixedConduction:
    s = case.scenario
    mc = s.physics.mixed_conduction
    regions = {}
    for mat in s.materials.values():
        a_v = mat.specific_interface_area if mat.specific_interface_area is not None else mc.specific_interface_area
        for r in mat.regions:
            regions[r] = MixedRegion(mat.conductivity, mat.electronic_conductivity, a_v)
    k = s.physics.electrode.kinetics
    ck = s.physics.counter.kinetics or k
    surface = Kinetics(k.exchange_current_density, k.alpha_a, k.alpha_c, k.equilibrium_potential, form=mc.kinetics)
    counter = Kinetics(ck.exchange_current_density, ck.alpha_a, ck.alpha_c, ck.equilibrium_potential, form=mc.kinetics)
    reaction = Kinetics(mc.exchange_current_density or k.exchange_current_density, mc.alpha_a or k.alpha_a,
                        mc.alpha_c or k.alpha_c, k.equilibrium_potential, form=mc.kinetics)
    return MixedConduction(
        domain, regions, s.physics.electrode.boundaries, s.physics.counter.boundaries, surface, reaction,
        counter=counter, control=s.study.control, current_density=s.study.current_density,
        cell_voltage=-s.study.electrode_potential, temperature=s.physics.temperature, degree=s.solver.degree,
        electronic_floor=mc.electronic_floor, nitsche=mc.nitsche_penalty, rtol=s.solver.rtol, atol=s.solver.atol,
        max_iterations=s.solver.max_iterations, petsc_options=s.solver.petsc_options, prefix=prefix,
    )


def transmission_lines(problem: MixedConduction) -> dict:
    """Per electron-conducting region: sigma_e / sigma_i, the reaction length
    lambda = sqrt(R_ct / [a_v (1/sigma_i + 1/sigma_e)]) and nu = thickness / lambda (layers only)."""
    r_ct = problem.reaction.charge_transfer_resistance(problem.f)
    layers = problem.domain.landmarks.get("layers", {})
    out = {}
    for name, reg in problem.regions.items():
        if reg.electronic <= 0:
            continue
        entry = {"electronic_over_ionic": reg.electronic / reg.ionic,
                 "electronic_transference": reg.electronic / (reg.electronic + reg.ionic),
                 "specific_area_1_m": reg.specific_area}
        if reg.specific_area > 0:
            lam = math.sqrt(r_ct / (reg.specific_area * (1 / reg.ionic + 1 / reg.electronic)))
            entry["reaction_length_m"] = lam
            if name in layers:
                entry["thickness_m"] = layers[name][1] - layers[name][0]
                entry["transmission_line_number"] = entry["thickness_m"] / lam
        out[name] = entry
    return out


def regime(metrics: dict, lines: dict) -> str:
    frac = metrics["internal_fraction"]
    mixed = metrics["mixed"]
    if not lines or not (frac > 1e-3):
        return (f"surface deposition: {100 * frac:.2g} % of the Li deposits inside the stack, the rest on the Li "
                "surface (electrons reach no reaction sites inside: an electron-insulating layer on the Li, or "
                "a_v = 0 where electrons conduct)")
    deposits = {r: e.get("deposition_A", 0.0) for r, e in mixed["regions"].items()}
    main = max(deposits, key=deposits.get)
    info = lines.get(main, {})
    ratio = info.get("electronic_over_ionic", math.nan)
    upper = mixed["regions"][main].get("upper_half_deposition_fraction")
    where = (f"{100 * upper:.0f} % of it in the upper half of the {main}" if isinstance(upper, float)
             and math.isfinite(upper) else f"mostly in the {main}")
    nu = info.get("transmission_line_number")
    nu_text = f"transmission-line number nu = {nu:.3g}" if nu is not None else "nu unknown"
    if nu is not None and nu <= 1:
        kind = (f"reaction spread over the {main} ({nu_text} <= 1: the reaction length exceeds the layer), "
                f"sigma_e/sigma_i = {ratio:.3g}")
    elif ratio > 1:
        kind = (f"electron-dominated {main} (sigma_e/sigma_i = {ratio:.3g} > 1, {nu_text}): it extends the Li "
                "electrode and Li deposits where the ions arrive, away from the Li")
    else:
        kind = (f"ion-dominated {main} (sigma_e/sigma_i = {ratio:.3g} < 1, {nu_text}): the ions cross it and Li "
                "deposits next to the electron source")
    return f"{kind}; {100 * frac:.1f} % of the plating current deposits inside ({where})"


def compute_metrics(case: Case, problem: MixedConduction, result) -> dict:
    s = case.scenario
    d = problem.domain
    m = problem.metrics()
    galv = s.study.control == "galvanostatic"
    area = d.projected_area
    i_mean = m["current_top_A"] / area
    lines = transmission_lines(problem)
    layers = d.landmarks.get("layers", {})
    ohmic = sum((y1 - y0) / problem.regions[n].ionic for n, (y0, y1) in layers.items() if n in problem.regions)
    r_ct = problem.surface.charge_transfer_resistance(problem.f) + problem.counter_kinetics.charge_transfer_resistance(problem.f)
    out = {
        "model": "mixed_conduction",
        "control": s.study.control,
        "cell_voltage_V": result.cell_voltage,
        "electrode_potential_V": -result.cell_voltage,
        "applied_current_density_A_m2": s.study.current_density if galv else None,
        "mean_current_density_projected_A_m2": i_mean,
        "asr_ohm_cm2": result.cell_voltage / i_mean * 1e4 if i_mean else math.nan,
        "ohmic_asr_1d_ohm_cm2": ohmic * 1e4 if layers else None,
        "charge_transfer_asr_linear_ohm_cm2": r_ct * 1e4,
        "total_current_unit": "A per metre of depth" if d.mesh.geometry.dim == 2 else "A",
        "internal_fraction": m["internal_fraction"],
        "surface_fraction": 1 - m["internal_fraction"] if math.isfinite(m["internal_fraction"]) else math.nan,
        "electronic_leakage_fraction": m["electronic_leakage_A"] / m["current_top_A"] if m["current_top_A"] else math.nan,
        "electronic_leakage_A_m2": m["electronic_leakage_A"] / area,
        "internal_net_fraction": m["internal_net_fraction"],
        "max_deposition_height_m": m["max_rate"]["height_m"],
        "deposition_mean_height_m": m["deposition_mean_height_m"],
        "charge_balance_error": m["balance_error"],
        "mixed": m,
        "transmission_line": lines,
        "regime": "",
        "dofs": problem.num_dofs,
        "cells": d.num_cells_global(),
        "newton_iterations": result.newton_iterations,
        "linear_iterations": result.linear_iterations,
    }
    _, top, mean = problem.surface_plating()
    out["surface_plating_density"] = {"max_A_m2": top, "mean_A_m2": mean,
                                      "max_over_mean": top / mean if mean else math.nan}
    out["regime"] = regime(out, lines)
    return out


def write_fields(folder: Path, problem: MixedConduction) -> None:
    d = problem.domain
    mesh = d.mesh
    tdim = mesh.topology.dim
    n_owned = mesh.topology.index_map(tdim).size_local
    point = {"ionic_potential": problem.phi_i}
    if problem.has_electrons:
        pe = dolfinx.fem.Function(problem.V, name="electronic_potential")
        pe.interpolate(problem.phi_e)
        point["electronic_potential"] = pe
    region = np.zeros(n_owned, dtype=np.int32)
    keep = d.cell_tags.indices < n_owned
    region[d.cell_tags.indices[keep]] = d.cell_tags.values[keep]
    cells = {
        "deposition_rate": problem.deposition_rate_cells(),
        "overpotential": problem.eta_cells(),
        "ionic_conductivity": problem.sigma_i.x.array[:n_owned],
        "electronic_conductivity": problem.sigma_e.x.array[:n_owned] * problem.chi.x.array[:n_owned],
        "region": region,
    }
    write_vtkhdf(folder / "fields.vtkhdf", problem.V, point, cells,
                 {"region_names": [f"{v}={k}" for k, v in d.regions.items()]})
    rows, _, _ = problem.surface_plating()
    gathered = d.comm.gather(rows, root=0)
    if d.comm.rank == 0:
        records = {}
        for part in gathered:
            for x, name, values in part:
                for xi, vi in zip(x, values):
                    records.setdefault((round(xi[0], 15), round(xi[1], 15), round(xi[2], 15), name), vi)
        lines = ["x_m,y_m,z_m,boundary,plating_current_density_A_m2"]
        lines += [f"{k[0]:.9e},{k[1]:.9e},{k[2]:.9e},{k[3]},{v:.9e}" for k, v in sorted(records.items())]
        (folder / "surface_plating.csv").write_text("\n".join(lines) + "\n")


def run(case: Case, domain: Domain, folder: Path, comm, log, t_mesh: float) -> dict:
    """Solve and write one case (the mixed_conduction branch of solver.study.run_case)."""
    label = f"[{case.label}] "
    t0 = time.perf_counter()
    problem = make_problem(case, domain)
    result = problem.solve()
    metrics = {"case": case.name, **compute_metrics(case, problem, result)}
    t_solve = time.perf_counter() - t0
    log(f"{label}solve: {result.newton_iterations} Newton iterations; V = {result.cell_voltage * 1e3:.2f} mV, "
        f"internal deposition {100 * metrics['internal_fraction']:.3g} %, ASR {metrics['asr_ohm_cm2']:.4g} Ohm cm^2")
    t0 = time.perf_counter()
    metrics["timings_s"] = {"mesh": t_mesh, "solve": t_solve}
    if case.scenario.outputs.fields:
        write_fields(folder, problem)
    if comm.rank == 0:
        write_json(folder / "metrics.json", metrics)
    metrics["timings_s"]["write"] = time.perf_counter() - t0
    return metrics
