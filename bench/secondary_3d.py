"""3D secondary-current benchmark: a hemispherical Li bud, Butler-Volmer kinetics, galvanostatic.

For each mesh level (the li_bud sizes divided by ``--refine`` factors) and each Lagrange degree it
prints one JSON line and, at the end, a table: cells, DOFs, Newton and KSP iterations, times of
mesh / set-up + assembly / PETSc solve (SNESSolve's own time from PETSc's log) / recovery and
metrics / output (VTKHDF fields), total, total over PETSc solve, peak memory per rank, and
tip_over_far with its error against the finest level of the same degree. Every level runs in its
own process, so peak memory is per level:

    python bench/secondary_3d.py                          # serial, P1, three levels
    python bench/secondary_3d.py --degree 1 2 --refine 1 1.5 2 2.5 --ranks 1 2
    python bench/secondary_3d.py --set solver.linear_solver=direct

Not part of the test suite; figures depend on the machine (say which one when quoting them).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

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


def one_run(refine: float, degree: int, overrides: list[str]) -> dict:
    sys.path.insert(0, str(ROOT))
    from solver._dolfinx import MPI, PETSc
    from solver.postprocess import recover_current
    from solver.scenario import cases_from_dict
    from solver.study import build_domain, compute_metrics, make_problem, write_case

    comm = MPI.COMM_WORLD
    data = json.loads(json.dumps(SCENARIO))
    data["mesh"] = {k: f"{v / refine} um" if k != "grading_distance" else f"{v} um" for k, v in BASE_SIZES_UM.items()}
    data["solver"]["degree"] = degree
    from solver.scenario import parse_set, set_dotted  # dotted KEY=VALUE, as run.py --set

    for option in overrides:
        set_dotted(data, *parse_set(option))
    case = cases_from_dict(data)[0]
    PETSc.Log.begin()
    t0 = time.perf_counter()
    domain = build_domain(case, comm)
    t_mesh = time.perf_counter() - t0
    t0 = time.perf_counter()
    problem = make_problem(case, domain)
    result = problem.solve()
    t_solve_all = time.perf_counter() - t0
    snes_time = PETSc.Log.Event("SNESSolve").getPerfInfo()["time"]
    snes_time = comm.allreduce(snes_time, op=MPI.MAX)
    t0 = time.perf_counter()
    current = recover_current(problem)
    metrics = compute_metrics(case, problem, result, current)
    t_post = time.perf_counter() - t0
    t0 = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(comm.bcast(tmp if comm.rank == 0 else None, root=0))
        write_case(folder, case, problem, current, metrics, fields=True)
        comm.barrier()
    t_out = time.perf_counter() - t0
    peak = comm.allreduce(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0, op=MPI.MAX)  # MiB
    total = t_mesh + t_solve_all + t_post + t_out
    return {
        "ranks": comm.size, "degree": degree, "refine": refine, "cells": domain.num_cells_global(),
        "dofs": problem.num_dofs, "newton": result.newton_iterations, "ksp": result.linear_iterations,
        "linear_solver": "direct" if problem._use_direct() else "iterative",
        "mesh_s": round(t_mesh, 3), "setup_assembly_s": round(t_solve_all - snes_time, 3),
        "petsc_solve_s": round(snes_time, 3), "post_s": round(t_post, 3), "output_s": round(t_out, 3),
        "total_s": round(total, 3), "total_over_solve": round(total / snes_time, 2) if snes_time else None,
        "solve_over_petsc": round(t_solve_all / snes_time, 2) if snes_time else None,
        "peak_mem_mib_per_rank": round(peak, 1), "tip_over_far": metrics.get("tip_over_far"),
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--refine", type=float, nargs="+", default=[1.0, 1.5, 2.0],
                    help="mesh levels: the base sizes divided by these factors")
    ap.add_argument("--degree", type=int, nargs="+", default=[1])
    ap.add_argument("--ranks", type=int, nargs="+", default=[1])
    ap.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE")
    ap.add_argument("--child", nargs=2, metavar=("REFINE", "DEGREE"), help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        result = one_run(float(args.child[0]), int(args.child[1]), args.overrides)
        from mpi4py import MPI

        if MPI.COMM_WORLD.rank == 0:
            print("RESULT " + json.dumps(result), flush=True)
        return
    rows = []
    mpirun = Path(sys.executable).parent / "mpirun"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PMI_", "MPI", "HYDRA", "OMPI"))}
    for degree in args.degree:
        for n in args.ranks:
            for refine in args.refine:
                cmd = [sys.executable, __file__, "--child", str(refine), str(degree)] + [
                    f"--set={o}" for o in args.overrides]
                if n > 1:
                    cmd = [str(mpirun), "-n", str(n), *cmd]
                out = subprocess.run(cmd, capture_output=True, text=True, env=env, cwd=ROOT)
                line = next((ln for ln in out.stdout.splitlines() if ln.startswith("RESULT ")), None)
                if line is None:
                    print(out.stdout[-3000:], out.stderr[-3000:], file=sys.stderr)
                    raise SystemExit(f"level {refine}, degree {degree}, {n} rank(s) failed")
                rows.append(json.loads(line[7:]))
                print(json.dumps(rows[-1]), flush=True)
    finest = {}
    for r in rows:
        key = (r["degree"], r["ranks"])
        if key not in finest or r["dofs"] > finest[key]["dofs"]:
            finest[key] = r
    for r in rows:
        ref = finest[(r["degree"], r["ranks"])]["tip_over_far"]
        r["tip_error_vs_finest"] = abs(r["tip_over_far"] - ref) / ref if ref else None
    keys = ["ranks", "degree", "cells", "dofs", "newton", "ksp", "linear_solver", "mesh_s", "setup_assembly_s",
            "petsc_solve_s", "output_s", "total_s", "total_over_solve", "peak_mem_mib_per_rank", "tip_over_far",
            "tip_error_vs_finest"]
    print(" | ".join(keys))
    for r in rows:
        print(" | ".join(f"{r[k]:.4g}" if isinstance(r[k], float) else str(r[k]) for k in keys))


if __name__ == "__main__":
    main()
