"""A stationary current-distribution study: scenario case -> mesh -> solve -> metrics -> files.

This is the only module that knows both the scenario schema and the physics classes;
it translates one into the other.
"""

from __future__ import annotations

import json
import math
import os
import shutil
import time
from pathlib import Path

import numpy as np
import ufl
import yaml

import meshes
from solver._dolfinx import MPI, dolfinx
from solver import piezo_layer
from solver.domain import Domain
from solver.errors import SolverError, UserError
from solver.output import Staging, provenance, write_fields, write_json
from solver.physics.potential import ButlerVolmer, CurrentDistribution, FloatingConductor
from solver.postprocess import boundary_stats, recover_current, value_near
from solver.scenario import Case, ElectrolyteMaterial, Plan, Point, PorousLayerMaterial, SolidElectrolyteMaterial


class Log:
    """Progress lines on rank 0 only."""

    def __init__(self, comm, quiet: bool = False):
        self.comm, self.quiet, self.t0 = comm, quiet, time.perf_counter()

    def __call__(self, msg: str) -> None:
        if self.comm.rank == 0 and not self.quiet:
            print(f"[{time.perf_counter() - self.t0:7.2f} s] {msg}", flush=True)


def build_domain(case: Case, comm, reuse: dict | None = None) -> Domain:
    """The case's meshed domain. ``reuse``: a dict kept by the caller across the cases of one run;
    a case with the same geometry and mesh sizes as the last one meshed gets that domain back
    (a sweep over kinetics or materials meshes once)."""
    s = case.scenario
    if reuse is None:
        return mesh_domain(s.geometry.builder, case.geometry, s.mesh, comm)
    key = json.dumps([s.geometry.builder, case.geometry.model_dump(mode="json"), s.mesh.sizes(),
                      s.mesh.load, s.mesh.save], sort_keys=True)
    if reuse.get("key") != key or reuse.get("comm") is not comm:
        reuse.clear()  # only the last one: a sweep over geometry must not hold every mesh
        reuse.update(key=key, comm=comm, domain=mesh_domain(s.geometry.builder, case.geometry, s.mesh, comm))
    else:
        reuse["domain"].source = "reused from the previous case"
    return reuse["domain"]


def mesh_domain(builder: str, params, options, comm) -> Domain:
    """Mesh a registered builder's geometry (parameters as a model or a dict) into a Domain."""
    b = meshes.BUILDERS[builder]
    if not isinstance(params, b.params):
        params = b.params.model_validate(params)
    mesh, cell_tags, facet_tags, info = meshes.generate(b, params, options, comm)
    return Domain(
        mesh, cell_tags, facet_tags, info.regions, info.boundaries, info.axisymmetric,
        info.projected_area, info.landmarks, info.source,
    )


def conductivities(case: Case) -> dict[str, float]:
    """Region -> effective ionic conductivity (S/m) from the materials section."""
    out = {}
    for mat in case.scenario.materials.values():
        if isinstance(mat, ElectrolyteMaterial):
            kappa = mat.nominal_conductivity()
        elif isinstance(mat, PorousLayerMaterial):
            host = case.scenario.materials[mat.electrolyte]
            kappa = mat.conductivity or host.nominal_conductivity() * mat.porosity**mat.bruggeman
        elif isinstance(mat, SolidElectrolyteMaterial):
            kappa = mat.conductivity
        for region in mat.regions:
            out[region] = kappa
    return out


def make_problem(case: Case, domain: Domain, prefix: str = "potential_") -> CurrentDistribution:
    s = case.scenario
    def bv(k) -> ButlerVolmer:
        return ButlerVolmer(k.exchange_current_density, k.alpha_a, k.alpha_c, k.equilibrium_potential,
                            k.film_resistance)

    el = s.physics.electrode
    # deposition: false boundaries take no Faradaic current: left out of the kinetics (insulating)
    electrode = {name: bv(el.kinetics_on(name)) for name in el.faradaic()}
    floating = [FloatingConductor(label, {b: bv(g.kinetics_on(el, b)) for b in g.boundaries})
                for label, g in zip(s.physics.floating_names(), s.physics.floating)]
    return CurrentDistribution(
        domain,
        conductivities(case),
        electrode,
        s.physics.counter.boundaries,
        model=s.physics.model,
        control=s.study.control,
        current_density=s.study.current_density,
        electrode_potential=s.study.electrode_potential,
        temperature=s.physics.temperature,
        degree=s.solver.degree,
        linear_solver=s.solver.linear_solver,
        rtol=s.solver.rtol,
        atol=s.solver.atol,
        max_iterations=s.solver.max_iterations,
        petsc_options=s.solver.petsc_options,
        prefix=prefix,
        floating=floating,
    )


def regime(wagner: float, model: str) -> str:
    if model == "primary":
        return "primary distribution (no kinetic resistance): the upper bound of tip focusing"
    if wagner < 0.1:
        return "ohmic control (Wa < 0.1): current follows the primary distribution, strong tip focusing"
    if wagner < 10:
        return "mixed ohmic-kinetic control (0.1 <= Wa < 10): tip focusing partly evened out"
    return "kinetic control (Wa >= 10): nearly uniform current, little tip focusing"


def compute_metrics(case: Case, problem: CurrentDistribution, result, current) -> dict:
    s = case.scenario
    d = problem.domain
    names = list(problem.electrode)  # the Faradaic boundaries (deposition: false ones take no current)
    blocked = [n for n in s.physics.electrode.boundaries if n not in problem.electrode]
    total_e = current.total(names)
    total_c = -current.total(s.physics.counter.boundaries)
    per_boundary = {n: boundary_stats(current, [n]) for n in names}
    # no Faradaic current on a blocked surface by construction (the recovered P1 field there would only
    # show the neighbouring electrode's value at shared vertices)
    per_boundary |= {n: {"area": d.area([n]), "deposition": False} for n in blocked}
    metrics = {
        "model": s.physics.model,
        "control": s.study.control,
        "electrode_potential_V": result.electrode_potential,
        "applied_current_density_A_m2": s.study.current_density if s.study.control == "galvanostatic" else None,
        "total_current_A": total_e,
        "total_current_unit": "A per metre of depth" if (d.mesh.geometry.dim == 2 and not d.axisymmetric) else "A",
        "mean_current_density_projected_A_m2": total_e / d.projected_area,
        "charge_balance_error": abs(total_e - total_c) / abs(total_e) if total_e else math.nan,
        "electrode": {"all": boundary_stats(current, names), **per_boundary},
    }
    if blocked:
        metrics["blocked_boundaries"] = blocked
    if problem.has_film:
        metrics["film"] = problem.film_metrics()
    if problem.floating:
        floating = problem.floating_metrics()
        for group in floating.values():
            group["plating_fraction_of_electrode_current"] = group["plating_current_A"] / total_e if total_e else None
            group["net_over_plating"] = (group["net_current_A"] / group["plating_current_A"]
                                         if group["plating_current_A"] else None)
        metrics["floating"] = floating
    apexes = d.landmarks.get("apex") or []
    if apexes and "far" in d.landmarks:
        apex = value_near(current, apexes[0], names)
        far = value_near(current, d.landmarks["far"], names)
        metrics["apex_current_density_A_m2"] = apex
        metrics["far_current_density_A_m2"] = far
        metrics["tip_over_far"] = apex / far if far else math.nan
        if len(apexes) > 1:
            metrics["tip_over_far_per_bud"] = [value_near(current, p, names) / far for p in apexes]
    # Wagner number with the conductivity next to the electrode and the bud height as length.
    length = d.landmarks.get("bud_height") or 0.0
    if not length:
        length = d.comm.allreduce(float(d.mesh.geometry.x[:, d.mesh.geometry.dim - 1].max(initial=0)), op=MPI.MAX)
    kappa_wall = _conductivity_at(problem, names)
    if s.physics.model == "primary":
        wagner = 0.0
    else:
        r_ct = min(bv.interface_resistance(problem.f) for bv in problem.electrode.values())
        wagner = kappa_wall * r_ct / length
    metrics["wagner_number"] = wagner
    metrics["wagner_inputs"] = {"conductivity_S_m": kappa_wall, "length_m": length}
    metrics["regime"] = regime(wagner, s.physics.model)
    from solver import design_metrics  # alloy skeleton / HoMS membrane studies (docs/designs.md)

    design = design_metrics.compute(case, problem, current, metrics)
    if design is not None:
        metrics["design"] = design
    metrics["dofs"] = problem.num_dofs
    metrics["cells"] = d.num_cells_global()
    metrics["newton_iterations"] = result.newton_iterations
    metrics["linear_iterations"] = result.linear_iterations
    return metrics


def _conductivity_at(problem: CurrentDistribution, names) -> float:
    """Smallest conductivity among cells touching the named boundaries."""
    d = problem.domain
    cells = d.cells_of_facets(d.facets(names))
    local = float(problem.kappa.x.array[cells].min(initial=np.inf))
    return d.comm.allreduce(local, op=MPI.MIN)


def _recovered_names(problem: CurrentDistribution) -> list[str]:
    """Boundaries whose current density is recovered: electrode, counter, floating conductors."""
    return list(problem.electrode) + list(problem.counter) + [b for g in problem.floating for b in g.kinetics]


def solve_case(case: Case, domain: Domain):
    """Solve one case on its domain: (problem, result, current, metrics, piezo layer or None)."""
    problem = make_problem(case, domain)
    config = case.scenario.physics.piezo
    layer = None
    if config is not None:
        owner = next(m for m in case.scenario.materials.values() if config.region in m.regions)
        layer = piezo_layer.solve(config, domain, case.scenario.physics.electrode.boundaries, owner.porosity,
                                  linear_solver=case.scenario.solver.linear_solver)
        piezo_layer.couple(layer, problem, config)
    result = problem.solve()
    current = recover_current(problem, _recovered_names(problem))
    metrics = compute_metrics(case, problem, result, current)
    if layer is not None:
        apexes = domain.landmarks.get("apex") or [None]
        thickness = case.geometry.coating.thickness if getattr(case.geometry, "coating", None) else None
        metrics["piezo"] = piezo_layer.metrics(layer, apexes[0], thickness)
    return problem, result, current, metrics, layer


def write_case(folder: Path, case: Case, problem: CurrentDistribution, current, metrics: dict, fields: bool,
               layer=None) -> None:
    comm = problem.domain.comm
    if fields and layer is not None:
        p = layer.problem
        u3 = dolfinx.fem.Function(dolfinx.fem.functionspace(p.domain.mesh, ("Lagrange", p.degree, (3,))),
                                  name="displacement")
        gdim = p.domain.mesh.geometry.dim
        u3.interpolate(dolfinx.fem.Expression(
            ufl.as_vector([p.u[k] if k < gdim else 0.0 for k in range(3)]), u3.function_space.element.interpolation_points))
        cells = piezo_layer.cell_fields(layer)
        write_fields(folder / "layer.vtkhdf", p.P, {"piezo_potential": p.psi, "displacement": u3}, cells)
    if fields:
        d = problem.domain
        mesh = d.mesh
        tdim = mesh.topology.dim
        gdim = mesh.geometry.dim
        V = problem.V
        # recovered boundary current (P1) on the output space, zero away from the boundaries
        plating = dolfinx.fem.Function(V, name="plating_current_density")
        if current.field.function_space is V:  # recovered on the problem's own (P1) space: a copy
            plating.x.array[:] = current.field.x.array
        else:
            plating.interpolate(current.field)
        names = _recovered_names(problem)
        on_boundary = dolfinx.fem.locate_dofs_topological(V, tdim - 1, d.facets(names))
        keep = np.zeros(plating.x.array.size, dtype=bool)
        keep[on_boundary] = True
        plating.x.array[~keep] = 0.0
        # cell-average current density vector i = -kappa grad(phi)
        Q = dolfinx.fem.functionspace(mesh, ("DG", 0, (gdim,)))
        ivec = dolfinx.fem.Function(Q)
        ivec.interpolate(dolfinx.fem.Expression(problem.ionic_current(), Q.element.interpolation_points))
        n_owned = mesh.topology.index_map(tdim).size_local
        vec = ivec.x.array.reshape(-1, gdim)[:n_owned]
        vec3 = np.zeros((n_owned, 3))
        vec3[:, :gdim] = vec
        region = np.zeros(n_owned, dtype=np.int32)
        region[d.cell_tags.indices[d.cell_tags.indices < n_owned]] = d.cell_tags.values[d.cell_tags.indices < n_owned]
        write_fields(
            folder / "fields.vtkhdf",
            V,
            {"electrolyte_potential": problem.phi, "plating_current_density": plating},
            {
                "current_density": vec3,
                "current_density_magnitude": np.sqrt(np.einsum("ij,ij->i", vec3, vec3)),
                "conductivity": problem.kappa.x.array[:n_owned],
                "region": region,
            },
            {"region_names": [f"{v}={k}" for k, v in d.regions.items()]},
            coordinates=problem.dof_coordinates,
        )
        _write_electrode_csv(folder, case, current)
    if comm.rank == 0:
        write_json(folder / "metrics.json", metrics)


def _write_electrode_csv(folder: Path, case: Case, current) -> None:
    """Plating current density at every electrode vertex: x, y, z, boundary, i (A/m^2)."""
    d = current.domain
    rows = []
    coords = current.coordinates
    floating = [b for g in case.scenario.physics.floating for b in g.boundaries]
    for name in case.scenario.physics.electrode.boundaries + floating:
        dofs = current.dofs([name])
        x = coords[dofs]
        rows.append((x, np.full(len(dofs), name), current.field.x.array[dofs]))
    gathered = d.comm.gather(rows, root=0)
    if d.comm.rank != 0:
        return
    parts = [part for rank_rows in gathered for part in rank_rows]
    x = np.vstack([p[0] for p in parts]) if parts else np.zeros((0, 3))
    names = np.concatenate([p[1] for p in parts]) if parts else np.zeros(0, dtype=str)
    values = np.concatenate([p[2] for p in parts]) if parts else np.zeros(0)
    # sorted by position (stable: a vertex on two boundaries keeps the first name), one row a vertex
    order = np.lexsort((x[:, 2], x[:, 1], x[:, 0]))
    x, names, values = x[order], names[order], values[order]
    key = np.round(x, 15)
    first = np.ones(len(x), dtype=bool)
    first[1:] = np.any(key[1:] != key[:-1], axis=1)
    lines = ["x_m,y_m,z_m,boundary,plating_current_density_A_m2"]
    lines += [f"{a:.9e},{b:.9e},{c:.9e},{n},{v:.9e}"
              for (a, b, c), n, v in zip(x[first].tolist(), names[first].tolist(), values[first].tolist())]
    (folder / "electrode_current.csv").write_text("\n".join(lines) + "\n")


def output_dir(cases: list[Case], override: str | None = None) -> Path:
    s = cases[0].scenario
    return Path(override or s.outputs.directory or Path("results") / s.name)


def run_case(case: Case, folder: Path, comm, log=None, reuse: dict | None = None) -> dict:
    """Mesh, solve and write one case into ``folder`` on ``comm``; its metrics. ``reuse``: see
    :func:`build_domain`."""
    log = log or (lambda msg: None)
    label = f"[{case.label}] "
    if comm.rank == 0:
        folder.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    log(f"{label}mesh: building '{case.scenario.geometry.builder}' ({case.geometry.dimension})")
    domain = build_domain(case, comm, reuse)
    t_mesh = time.perf_counter() - t0
    log(f"{label}mesh: {domain.num_cells_global()} cells"
        + ("" if domain.source == "gmsh" else f" ({domain.source})") + f"; solve: {case.scenario.physics.model} "
        f"{case.scenario.study.control}" + (" + piezo layer" if case.scenario.physics.piezo else ""))
    if case.scenario.physics.model == "mixed_conduction":  # its own solve, metrics and fields
        from solver import mixed_study

        return mixed_study.run(case, domain, folder, comm, log, t_mesh)
    t0 = time.perf_counter()
    growth_info = None
    if case.scenario.study.growth is None:
        problem, result, current, metrics, layer = solve_case(case, domain)
    else:
        from solver import growth

        def solve(c: Case):
            return solve_case(c, domain if c is case else build_domain(c, comm))

        case, (problem, result, current, metrics, layer), growth_info = growth.grow(case, solve, log)
        metrics["growth"] = growth_info
    metrics = {"case": case.name, **metrics}
    t_solve = time.perf_counter() - t0
    log(f"{label}solve: {result.newton_iterations} Newton / {result.linear_iterations} linear "
        f"iterations; " + _summary(metrics))
    t0 = time.perf_counter()
    metrics["timings_s"] = {"mesh": t_mesh, "solve": t_solve}
    metrics["mesh_source"] = domain.source
    write_case(folder, case, problem, current, metrics, case.scenario.outputs.fields, layer)
    if growth_info is not None and comm.rank == 0:
        write_rows(folder / "growth.csv", growth_info["steps"])
    metrics["timings_s"]["write"] = time.perf_counter() - t0
    return metrics


def write_rows(path: Path, rows: list[dict]) -> None:
    """A list of flat dicts as CSV (empty cells for None)."""
    keys = list(rows[0])
    lines = [",".join(keys)]
    for row in rows:
        lines.append(",".join("" if row[k] is None else (f"{row[k]:.10g}" if isinstance(row[k], float) else str(row[k]))
                              for k in keys))
    path.write_text("\n".join(lines) + "\n")


def split_groups(comm, group_size: int | None):
    """Split ``comm`` into groups of ``group_size`` ranks: (group communicator, colour, number)."""
    k = group_size or comm.size
    if k < 1 or comm.size % k:
        raise UserError(f"--group-size {k}: must divide the number of MPI ranks ({comm.size})")
    groups = comm.size // k
    if groups == 1:
        return comm, 0, 1
    return comm.Split(comm.rank // k, comm.rank), comm.rank // k, groups


def run(plan: Plan | list[Case], source: str | None = None, comm=MPI.COMM_WORLD, outdir: str | None = None,
        quiet=False, pictures: bool | None = None, group_size: int | None = None,
        restart: str | Path | None = None) -> dict:
    """Run every case of a scenario (variants and sweep points); write the results folder.

    The cases are spread over groups of ``group_size`` ranks (default: one group of all
    ranks), case ``j`` to group ``j mod groups``. Returns {case label: metrics} (on every rank).
    In a sweep a failed case is recorded (``{"error": ...}``) and the others go on; the run then
    ends with a ``SolverError`` naming the failures, after the results are in place.
    """
    if not isinstance(plan, Plan):
        plan = Plan(source or "<scenario>", None, [Point("", {}, list(plan))])
    source = plan.source
    cases = plan.cases
    log = Log(comm, quiet)
    t_start = time.perf_counter()
    final = Path(restart) if restart else output_dir(cases, outdir)
    s0 = cases[0].scenario
    if any(c.scenario.study.type == "transient" for c in cases):
        return _run_transient(plan, comm, final, log, quiet, pictures, restart, group_size, t_start)
    if restart:
        raise UserError(f"{source}: --restart continues transient studies only (study.type: transient)")
    if final.exists() and not s0.outputs.overwrite:
        raise UserError(f"{source}: outputs.overwrite is false and {final} exists")
    group, colour, groups = split_groups(comm, group_size)
    tasks = [c for c in cases if c.same_as is None]
    if groups > 1:
        log(f"{len(tasks)} cases over {groups} groups of {group.size} rank(s)")
    multi = len(cases) > 1 or plan.sweep is not None
    try:
        with Staging(final, comm) as stage:

            def folder_of(case: Case) -> Path:
                return stage / case.point / case.name if plan.sweep else (stage / case.name if multi else stage)

            mine: dict[str, dict] = {}
            reuse: dict = {}
            for case in tasks[colour::groups]:
                try:
                    mine[case.label] = run_case(case, folder_of(case), group, log, reuse)
                except Exception as err:  # noqa: BLE001 - a sweep records the failure and goes on
                    if plan.sweep is None:
                        raise
                    message = str(err) if isinstance(err, (SolverError, UserError)) else f"{type(err).__name__}: {err}"
                    mine[case.label] = {"case": case.name, "error": message}
                    if group.rank == 0:  # nothing half-written: the failure is in the point's metrics.json
                        shutil.rmtree(folder_of(case), ignore_errors=True)
                    log(f"[{case.label}] FAILED: {message}")
            gathered = comm.gather(mine if group.rank == 0 else {}, root=0)
            results: dict[str, dict] = {}
            if comm.rank == 0:
                for part in gathered:
                    results.update(part)
                for case in cases:
                    if case.same_as is not None:
                        results[case.label] = {**results[case.same_as.label], "same_as": case.same_as.label}
                results = {c.label: results[c.label] for c in cases}
            results = comm.bcast(results, root=0)
            wall = time.perf_counter() - t_start
            if comm.rank == 0:
                if plan.sweep is None:
                    _write_index(stage, source, cases, results)
                else:
                    for point in plan.points:
                        _write_index(stage / point.label, source, point.cases, results, point.values)
                        for case in point.cases:
                            if case.same_as is not None and "error" not in results[case.label]:
                                os.symlink(Path("..") / case.same_as.point / case.same_as.name,
                                           stage / case.point / case.name, target_is_directory=True)
                    from solver import sweep

                    sweep.write_summary(stage, plan, results)
                write_json(stage / "provenance.json", provenance(comm, wall))
            want_pictures = s0.outputs.pictures if pictures is None else pictures
            if want_pictures and comm.rank == 0:
                if plan.sweep is not None:
                    log("render: sweep plots")
                    from solver import sweep

                    sweep.plot_summary(stage, plan, results)
                elif all(c.scenario.outputs.fields for c in cases):
                    log("render: pictures")
                    from solver import render

                    render.render_folder(stage)
    finally:
        if group is not comm:
            group.Free()
    failed = [label for label, m in results.items() if "error" in m]
    log(f"done: results in {final} ({time.perf_counter() - t_start:.1f} s)"
        + (f"; {len(failed)} of {len(cases)} cases failed" if failed else ""))
    if failed:
        raise SolverError(f"{len(failed)} of {len(cases)} cases failed ({', '.join(failed)}); "
                          f"see {final / 'summary.csv'}")
    return results


def _run_transient(plan: Plan, comm, final: Path, log, quiet, pictures, restart, group_size, t_start) -> dict:
    """A transient scenario: written in place (see solver.transient), restartable."""
    from solver import transient

    cases = plan.cases
    where = plan.source
    if not all(c.scenario.study.type == "transient" for c in cases):
        raise UserError(f"{where}: variants mix stationary and transient studies; run them as separate scenarios")
    if plan.sweep is not None:
        raise UserError(f"{where}: sweeps of transient studies are not supported yet")
    if group_size not in (None, comm.size):
        raise UserError("--group-size applies to sweeps; a transient study runs on all ranks")
    if restart and not final.is_dir():
        raise UserError(f"--restart {final}: no such output folder")
    if not restart and final.exists() and not cases[0].scenario.outputs.overwrite:
        raise UserError(f"{where}: outputs.overwrite is false and {final} exists")
    want_pictures = cases[0].scenario.outputs.pictures if pictures is None else pictures
    results = transient.run_plan(plan, comm, final, log, quiet, want_pictures, bool(restart))
    failed = [label for label, m in results.items() if "error" in m]
    log(f"done: results in {final} ({time.perf_counter() - t_start:.1f} s)")
    if failed:
        raise SolverError("; ".join(f"{label}: {results[label]['error']}" for label in failed)
                          + f" (the outputs up to then are in {final})")
    return results


def _write_index(folder: Path, source: str, cases: list[Case], results: dict, point: dict | None = None) -> None:
    """``scenario.resolved.yaml`` and ``metrics.json`` of a folder of cases (rank 0)."""
    folder.mkdir(parents=True, exist_ok=True)
    multi = len(cases) > 1 or point is not None
    resolved = {c.name: c.resolved() for c in cases}
    (folder / "scenario.resolved.yaml").write_text(
        f"# {source} with every default filled in; quantities in SI units\n"
        + yaml.safe_dump(resolved if multi else resolved[cases[0].name], sort_keys=False)
    )
    body = {"source": source}
    if point is not None:
        body["point"] = point
    body["cases"] = {c.name: results[c.label] for c in cases}
    write_json(folder / "metrics.json", body)


def _summary(m: dict) -> str:
    parts = [f"V = {m['electrode_potential_V'] * 1e3:.2f} mV", f"Wa = {m['wagner_number']:.3g}"]
    if "tip_over_far" in m:
        parts.append(f"tip_over_far = {m['tip_over_far']:.4f}")
    parts.append(f"max/mean = {m['electrode']['all']['max_over_mean']:.4f}")
    return ", ".join(parts)
