"""3D bud benchmark: a hemispherical Li bud, Butler-Volmer (or primary) current, optional porous
or piezoelectric BTO layer, with an optional NGSolve run on the same mesh.

For each mesh level (the li_bud sizes divided by ``--refine`` factors), Lagrange degree and rank
count it prints one JSON line and, at the end, a table: cells, DOFs, Newton and KSP iterations,
times of mesh / set-up + assembly / PETSc solve (SNESSolve's own time from PETSc's log) /
recovery and metrics / output (VTKHDF fields), the piezo layer's solve, total, total over PETSc
solve, the solver phase (everything but meshing) over PETSc solve, peak memory per rank (max
over ranks), tip_over_far and its error against the finest level (or against 3, the analytic
primary value for a hemisphere on a plane, with ``--model primary``). Then a summary per series:
the fitted exponent of time vs DOFs, the KSP spread, the parallel efficiency, and with
``--ngsolve`` the time ratio against NGSolve. Every level runs in its own process (peak memory
is per level); ``--ranks 1 2`` re-launches each level under mpirun.

    python bench/secondary_3d.py                                    # serial, P1, three levels
    python bench/secondary_3d.py --degree 1 2 --refine 2 3 4 --ranks 1 2 --json out.json
    python bench/secondary_3d.py --layer porous                     # bud under a porous BTO layer
    python bench/secondary_3d.py --layer piezo --solver iterative   # ... and its piezo solve
    python bench/secondary_3d.py --ngsolve --control potentiostatic --solver iterative
    python bench/secondary_3d.py --ngsolve --model primary --hemisphere

``--ngsolve`` needs bench/setup_ngsolve.sh (a separate venv; never a project dependency): the
child saves its Gmsh mesh (format 2.2), NGSolve reads it (same tetrahedra, same DOFs) and solves
the same problem potentiostatically at the electrode potential lianode found (identical to the
galvanostatic solution); use ``--control potentiostatic`` to time the same algebraic problem.
Not part of the test suite; figures depend on the machine (say which one when quoting them).
"""

from __future__ import annotations

import argparse
import json
import math
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "bench"))
from _launch import emit, run_child  # noqa: E402
NGSOLVE_PYTHON = ROOT / "bench" / ".venv-ngsolve" / "bin" / "python"

# i0 = 1 A/cm^2 puts the 2 um bud in mixed control (Wa ~ 1), so tip_over_far is sensitive to the mesh
SCENARIO = {
    "name": "bench_secondary_3d",
    "geometry": {"builder": "li_bud", "dimension": "3d", "width": "24 um", "height": "24 um",
                 "bud": {"shape": "semi_ellipsoid", "height": "2 um", "base_radius": "2 um"}},
    "materials": {"electrolyte": {"type": "electrolyte", "preset": "lipf6_ec_emc", "regions": ["electrolyte"]}},
    "physics": {"model": "secondary", "electrode": {"kinetics": {"exchange_current_density": "1 A/cm^2"}}},  # Wa ~ 1
    "study": {"control": "galvanostatic", "current_density": "1 mA/cm^2"},
    "solver": {"degree": 1},
    "outputs": {"pictures": False},
}
BASE_SIZES_UM = {"size_far": 4.0, "size_electrode": 1.0, "size_feature": 0.25, "grading_distance": 6.0}
# the BTO study's porous layer (scenarios/bud_bto_piezo.yaml), 2 um thick and conformal here
LAYER = {"coating": {"thickness": "2 um", "mode": "conformal"}}
LAYER_MATERIAL = {"type": "porous_layer", "electrolyte": "electrolyte", "porosity": 0.4, "bruggeman": 1.5,
                  "regions": ["coating"]}
PIEZO = {"region": "coating", "material": "composite",
         "composite": {"active": "batio3", "matrix": "pvdf", "fraction": 0.3, "poling_efficiency": 1.0},
         "poling": "up", "bottom": "bonded", "top": "free", "electrical_top": "open", "screening_factor": 1.0}
PRIMARY_HEMISPHERE = 3.0  # apex / far-field current of a hemisphere on a plane, primary limit


def scenario(args) -> dict:
    data = json.loads(json.dumps(SCENARIO))
    data["physics"]["model"] = args.model
    data["study"]["control"] = args.control
    if args.control == "potentiostatic":
        data["study"]["electrode_potential"] = f"{args.potential} V"
    if args.solver:
        data["solver"]["linear_solver"] = args.solver
    if args.hemisphere:  # a far counter and walls, closer to the half-space of the analytic value
        data["geometry"]["width"] = data["geometry"]["height"] = "40 um"
    if args.layer != "none":
        data["geometry"].update(json.loads(json.dumps(LAYER)))
        data["materials"]["bto_layer"] = json.loads(json.dumps(LAYER_MATERIAL))
    if args.layer == "piezo":
        data["physics"]["piezo"] = json.loads(json.dumps(PIEZO))
    return data


def one_run(refine: float, degree: int, args, msh: str | None = None) -> dict:
    sys.path.insert(0, str(ROOT))
    import gmsh

    from solver import piezo_layer
    from solver._dolfinx import MPI, PETSc
    from solver.postprocess import recover_current
    from solver.scenario import cases_from_dict, parse_set, set_dotted
    from solver.study import build_domain, compute_metrics, make_problem, write_case

    comm = MPI.COMM_WORLD
    data = scenario(args)
    data["mesh"] = {k: f"{v / refine} um" if k != "grading_distance" else f"{v} um" for k, v in BASE_SIZES_UM.items()}
    data["solver"]["degree"] = degree
    if msh:
        data["mesh"]["save"] = msh
    if args.mesh_cache:  # one folder per Gmsh algorithm: the cache key knows the scenario, not Gmsh's options
        data["mesh"]["cache"] = str(Path(args.mesh_cache).resolve() / args.mesh_algorithm)
    for option in args.overrides:  # dotted KEY=VALUE, as run.py --set
        set_dotted(data, *parse_set(option))
    case = cases_from_dict(data)[0]
    t_write = [0.0]
    if comm.rank == 0:
        gmsh.initialize(interruptible=False)  # generate() keeps an initialised session's options
        if args.mesh_algorithm == "hxt":
            gmsh.option.setNumber("Mesh.Algorithm3D", 10)
        if msh:
            gmsh.option.setNumber("Mesh.MshFileVersion", 2.2)  # what netgen.read_gmsh reads
            write = gmsh.write

            def timed_write(name):  # saving the .msh for NGSolve is not meshing
                t = time.perf_counter()
                write(name)
                t_write[0] += time.perf_counter() - t

            gmsh.write = timed_write
    PETSc.Log.begin()
    t0 = time.perf_counter()
    domain = build_domain(case, comm)
    t_mesh = time.perf_counter() - t0 - t_write[0]
    t_mesh = comm.allreduce(t_mesh, op=MPI.MAX)
    if args.mesh_only:
        return {"refine": refine, "cells": domain.num_cells_global(), "mesh_s": round(t_mesh, 3),
                "mesh_source": domain.source}
    profiler = None
    if args.profile:  # everything after meshing, per rank: python -m pstats FILE
        import cProfile

        profiler = cProfile.Profile()
        profiler.enable()
    t0 = time.perf_counter()
    problem = make_problem(case, domain)
    config = case.scenario.physics.piezo
    piezo = {}
    if config is not None:
        stage = PETSc.Log.Stage("piezo")
        stage.push()
        t1 = time.perf_counter()
        owner = next(m for m in case.scenario.materials.values() if config.region in m.regions)
        layer = piezo_layer.solve(config, domain, case.scenario.physics.electrode.boundaries, owner.porosity,
                                  linear_solver=case.scenario.solver.linear_solver)
        piezo_layer.couple(layer, problem, config)
        stage.pop()
        # LinearProblem's LU factorisation / AMG set-up is logged outside KSPSolve: as PCSetUp, and the
        # field-split blocks' (GAMG on the displacement: half the piezo PETSc time) as PCSetUpOnBlocks
        ksp_piezo = sum(PETSc.Log.Event(e).getPerfInfo(stage)["time"]
                        for e in ("KSPSolve", "PCSetUp", "PCSetUpOnBlocks"))
        piezo = {"piezo_dofs": layer.problem.num_dofs, "piezo_solver": layer.problem.linear_solver,
                 "piezo_ksp": layer.problem.linear_iterations,
                 "piezo_s": round(comm.allreduce(time.perf_counter() - t1, op=MPI.MAX), 3),
                 "piezo_petsc_solve_s": round(comm.allreduce(ksp_piezo, op=MPI.MAX), 3)}
    result = problem.solve()
    t_solve_all = comm.allreduce(time.perf_counter() - t0, op=MPI.MAX)
    snes_time = comm.allreduce(PETSc.Log.Event("SNESSolve").getPerfInfo()["time"], op=MPI.MAX)
    t0 = time.perf_counter()
    current = recover_current(problem)
    metrics = compute_metrics(case, problem, result, current)
    t_post = comm.allreduce(time.perf_counter() - t0, op=MPI.MAX)
    t0 = time.perf_counter()
    if args.output:
        with tempfile.TemporaryDirectory() as tmp:
            folder = Path(comm.bcast(tmp if comm.rank == 0 else None, root=0))
            write_case(folder, case, problem, current, metrics, fields=True)
            comm.barrier()
    t_out = comm.allreduce(time.perf_counter() - t0, op=MPI.MAX)
    if profiler is not None:
        profiler.disable()
        Path(args.profile).mkdir(parents=True, exist_ok=True)
        profiler.dump_stats(str(Path(args.profile) / f"r{refine}_p{degree}_n{comm.size}_rank{comm.rank}.prof"))
    peak = comm.allreduce(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0, op=MPI.MAX)  # MiB
    petsc = snes_time + piezo.get("piezo_petsc_solve_s", 0.0)
    total = t_mesh + t_solve_all + t_post + t_out
    return {
        "ranks": comm.size, "degree": degree, "refine": refine, "model": problem.model, "control": problem.control,
        "layer": args.layer, "cells": domain.num_cells_global(), "mesh_source": domain.source.split(" ")[0],
        "dofs": problem.num_dofs, "newton": result.newton_iterations, "ksp": result.linear_iterations,
        "linear_solver": "direct" if problem._use_direct() else "iterative",
        "mesh_s": round(t_mesh, 3), "setup_assembly_s": round(t_solve_all - petsc, 3),
        "petsc_solve_s": round(petsc, 3), "post_s": round(t_post, 3), "output_s": round(t_out, 3), **piezo,
        "total_s": round(total, 3), "total_over_solve": round(total / petsc, 2) if petsc else None,
        "solver_phase_over_solve": round((total - t_mesh) / petsc, 2) if petsc else None,
        "peak_mem_mib_per_rank": round(peak, 1), "electrode_potential_V": result.electrode_potential,
        "tip_over_far": metrics.get("tip_over_far"),
        "apex": domain.landmarks["apex"][0], "far": domain.landmarks["far"],
        "kappa_S_m": problem.conductivity["electrolyte"],
    }


def ngsolve_run(row: dict, msh: str, args) -> dict:
    """NGSolve on the mesh the lianode child saved, at the electrode potential it found."""
    if not NGSOLVE_PYTHON.exists():
        raise SystemExit(f"--ngsolve: {NGSOLVE_PYTHON} is missing; run bench/setup_ngsolve.sh first")
    sys.path.insert(0, str(ROOT))
    from solver.scenario import cases_from_dict

    s = cases_from_dict(scenario(args))[0].scenario
    k = s.physics.electrode.kinetics_on("bud")
    cmd = [str(NGSOLVE_PYTHON), str(ROOT / "bench" / "ngsolve_bud_3d.py"), "--msh", msh,
           "--degree", str(row["degree"]), "--model", row["model"], "--kappa", repr(row["kappa_S_m"]),
           "--i0", repr(k.exchange_current_density), "--alpha-a", repr(k.alpha_a), "--alpha-c", repr(k.alpha_c),
           "--e-eq", repr(k.equilibrium_potential), "--voltage", repr(row["electrode_potential_V"]),
           "--apex", *map(repr, row["apex"]), "--far", *map(repr, row["far"])]
    out = subprocess.run(cmd, capture_output=True, text=True)
    line = next((ln for ln in out.stdout.splitlines() if ln.startswith("RESULT ")), None)
    if line is None:
        print(out.stdout[-3000:], out.stderr[-3000:], file=sys.stderr)
        raise SystemExit("the NGSolve run failed")
    return json.loads(line[7:])


def fit_exponent(xs, ys) -> float | None:
    """Least-squares slope of log y against log x."""
    pts = [(math.log(x), math.log(y)) for x, y in zip(xs, ys) if x and y and x > 0 and y > 0]
    if len(pts) < 2:
        return None
    mx = sum(p[0] for p in pts) / len(pts)
    my = sum(p[1] for p in pts) / len(pts)
    sxx = sum((p[0] - mx) ** 2 for p in pts)
    return sum((p[0] - mx) * (p[1] - my) for p in pts) / sxx if sxx else None


def summarise(rows: list[dict], ng: list[dict]) -> dict:
    out = {"series": [], "parallel": [], "ngsolve": []}
    series = {}
    for r in rows:
        series.setdefault((r["degree"], r["ranks"]), []).append(r)
    for (degree, ranks), rs in sorted(series.items()):
        rs = sorted(rs, key=lambda r: r["dofs"])
        ksp = [r["ksp"] for r in rs if r["linear_solver"] == "iterative"]
        dofs = [r["dofs"] for r in rs]
        out["series"].append({
            "degree": degree, "ranks": ranks, "dofs": [dofs[0], dofs[-1]],
            "exponent_total": fit_exponent(dofs, [r["total_s"] for r in rs]),
            "exponent_solver_phase": fit_exponent(dofs, [r["total_s"] - r["mesh_s"] for r in rs]),
            "exponent_petsc_solve": fit_exponent(dofs, [r["petsc_solve_s"] for r in rs]),
            "ksp_iterative": ksp, "ksp_spread": (max(ksp) / min(ksp) - 1) if ksp and min(ksp) else None,
        })
    for r in rows:
        if r["ranks"] == 1:
            continue
        base = next((b for b in rows if b["ranks"] == 1 and b["degree"] == r["degree"] and b["refine"] == r["refine"]),
                    None)
        if base:
            n = r["ranks"]
            out["parallel"].append({
                "degree": r["degree"], "dofs": r["dofs"], "ranks": n,
                "efficiency_total": base["total_s"] / (n * r["total_s"]),
                "efficiency_solver_phase": (base["total_s"] - base["mesh_s"]) / (n * (r["total_s"] - r["mesh_s"])),
                "efficiency_petsc_solve": base["petsc_solve_s"] / (n * r["petsc_solve_s"]),
            })
    for r, g in ng:
        ours = r["setup_assembly_s"] + r["petsc_solve_s"]
        out["ngsolve"].append({
            "degree": r["degree"], "dofs": r["dofs"], "ngsolve_dofs": g["dofs"],
            "ours_setup_assembly_solve_s": round(ours, 3), "ngsolve_setup_assembly_solve_s": g["solver_phase_s"],
            "ratio_ours_over_ngsolve": ours / g["solver_phase_s"] if g["solver_phase_s"] else None,
            "ours_ksp": r["ksp"], "ngsolve_cg": g["ksp"], "ours_newton": r["newton"], "ngsolve_newton": g["newton"],
            "ours_tip_over_far": r["tip_over_far"], "ngsolve_tip_over_far": g["tip_over_far"],
            "tip_relative_difference": abs(r["tip_over_far"] - g["tip_over_far"]) / abs(g["tip_over_far"]),
            "ngsolve_import_s": g["import_s"], "ngsolve_post_s": g["post_s"], "ngsolve_peak_mem_mib": g["peak_mem_mib"],
        })
    return out


def table(rows: list[dict], keys: list[str]) -> str:
    def fmt(v):
        if isinstance(v, float):
            return f"{v:.4g}"
        return "-" if v is None else str(v)

    cells = [[fmt(r.get(k)) for k in keys] for r in rows]
    widths = [max(len(k), *(len(c[i]) for c in cells)) for i, k in enumerate(keys)]
    lines = [" | ".join(k.rjust(w) for k, w in zip(keys, widths))]
    lines += [" | ".join(c.rjust(w) for c, w in zip(row, widths)) for row in cells]
    return "\n".join(lines)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--refine", type=float, nargs="+", default=[1.0, 1.5, 2.0],
                    help="mesh levels: the base sizes divided by these factors (DOFs grow about as refine^3)")
    ap.add_argument("--degree", type=int, nargs="+", default=[1])
    ap.add_argument("--ranks", type=int, nargs="+", default=[1])
    ap.add_argument("--model", choices=["secondary", "primary"], default="secondary")
    ap.add_argument("--control", choices=["galvanostatic", "potentiostatic"], default="galvanostatic")
    ap.add_argument("--potential", type=float, default=-0.02, help="electrode potential (V), potentiostatic")
    ap.add_argument("--layer", choices=["none", "porous", "piezo"], default="none",
                    help="a 2 um conformal porous BTO layer on the Li; 'piezo' also solves its piezoelectricity")
    ap.add_argument("--solver", choices=["auto", "direct", "iterative"], default=None,
                    help="solver.linear_solver (default: auto, MUMPS below 100k DOFs)")
    ap.add_argument("--hemisphere", action="store_true",
                    help="a 40 um box instead of 24 um (the primary tip_over_far then nears 3)")
    ap.add_argument("--mesh-algorithm", choices=["default", "hxt"], default="default",
                    help="Gmsh 3D algorithm: the project's (Delaunay) or HXT (faster, other meshes)")
    ap.add_argument("--mesh-cache", metavar="DIR",
                    help="mesh each level once into DIR (mesh.cache; a serial run, timed as gmsh_s) and time the "
                    "measured runs on the mesh read back from there (mesh_s is then the parallel read, with the partition "
                    "that a first untimed read on as many ranks kept)")
    ap.add_argument("--profile", metavar="DIR",
                    help="cProfile everything after meshing into DIR (one .prof per level, degree and rank)")
    ap.add_argument("--no-output", dest="output", action="store_false", help="skip writing the VTKHDF fields")
    ap.add_argument("--ngsolve", action="store_true", help="also solve on the same mesh with NGSolve (1 rank)")
    ap.add_argument("--keep-msh", metavar="DIR", help="with --ngsolve: keep the .msh files in DIR")
    ap.add_argument("--json", metavar="FILE", help="write the JSON document to FILE (else print it)")
    ap.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE")
    ap.add_argument("--child", nargs=2, metavar=("REFINE", "DEGREE"), help=argparse.SUPPRESS)
    ap.add_argument("--msh", help=argparse.SUPPRESS)
    ap.add_argument("--mesh-only", action="store_true", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        result = one_run(float(args.child[0]), int(args.child[1]), args, args.msh)
        from mpi4py import MPI

        if MPI.COMM_WORLD.rank == 0:
            print("RESULT " + json.dumps(result), flush=True)
        return
    if args.ngsolve and args.layer != "none":
        raise SystemExit("--ngsolve compares the bare bud only (one conductivity)")
    if args.ngsolve and args.mesh_cache:
        raise SystemExit("--ngsolve saves each level's Gmsh mesh; leave out --mesh-cache")
    gmsh_s = {}
    if args.mesh_cache:
        for refine in args.refine:  # the mesh does not depend on the degree (order-1 geometry)
            cmd = [sys.executable, __file__, *sys.argv[1:], "--child", str(refine), "1", "--mesh-only"]
            made = run_child(cmd, 1, f"meshing level {refine}")
            gmsh_s[refine] = made["mesh_s"] if made["mesh_source"] == "gmsh" else None
            for n in sorted(set(args.ranks) - {1}):  # the partition a read on n ranks keeps, made once
                run_child(cmd, n, f"partitioning level {refine} for {n} ranks")
    rows, ng = [], []
    passthrough = sys.argv[1:]
    with tempfile.TemporaryDirectory() as tmp:
        for degree in args.degree:
            for n in args.ranks:
                for refine in args.refine:
                    folder = Path(args.keep_msh or tmp)
                    folder.mkdir(parents=True, exist_ok=True)
                    msh = str(folder / f"bud_{refine}_{degree}.msh") if args.ngsolve and n == 1 else None
                    cmd = [sys.executable, __file__, *passthrough, "--child", str(refine), str(degree)]
                    if msh:
                        cmd += ["--msh", msh]
                    rows.append(run_child(cmd, n, f"level {refine}, degree {degree}, {n} rank(s)"))
                    if args.mesh_cache:
                        rows[-1]["gmsh_s"] = gmsh_s[refine]
                    if msh:
                        ng.append((rows[-1], ngsolve_run(rows[-1], msh, args)))
                        print(json.dumps(ng[-1][1]), flush=True)
                        if not args.keep_msh:
                            Path(msh).unlink(missing_ok=True)
    finest = {}
    for r in rows:
        key = (r["degree"], r["ranks"])
        if key not in finest or r["dofs"] > finest[key]["dofs"]:
            finest[key] = r
    for r in rows:
        ref = finest[(r["degree"], r["ranks"])]["tip_over_far"]
        r["tip_error_vs_finest"] = abs(r["tip_over_far"] - ref) / abs(ref) if ref else None
        if args.model == "primary":
            r["tip_error_vs_3"] = abs(r["tip_over_far"] - PRIMARY_HEMISPHERE) / PRIMARY_HEMISPHERE
    for r, g in ng:
        g["tip_error_vs_finest"] = abs(g["tip_over_far"] - finest[(r["degree"], 1)]["tip_over_far"]) / abs(
            finest[(r["degree"], 1)]["tip_over_far"])
    summary = summarise(rows, ng)
    keys = ["ranks", "degree", "cells", "dofs", "newton", "ksp", "linear_solver", "mesh_s", "setup_assembly_s",
            "petsc_solve_s", "post_s", "output_s", "total_s", "total_over_solve", "solver_phase_over_solve",
            "peak_mem_mib_per_rank", "tip_over_far", "tip_error_vs_finest"]
    if args.mesh_cache:
        keys[7:7] = ["gmsh_s", "mesh_source"]
    if args.layer == "piezo":
        keys[7:7] = ["piezo_dofs", "piezo_solver", "piezo_ksp", "piezo_s", "piezo_petsc_solve_s"]
    if args.model == "primary":
        keys.append("tip_error_vs_3")
    print(table(rows, keys))
    for name, part in summary.items():
        if part:
            print(f"\n{name}:")
            print(table(part, list(part[0])))
    doc = {"benchmark": "secondary_3d", "argv": sys.argv[1:], "runs": rows,
           "ngsolve_runs": [g for _, g in ng], "summary": summary}
    emit(doc, args.json)


if __name__ == "__main__":
    main()
