"""A/B check of the Butler-Volmer Jacobian assembled as "linear part once + boundary part per
Newton iteration" (the default) against full assembly at every iteration, on one 3D bud mesh.

    python bench/jacobian_once.py --refine 6.5 --degree 1 --repeat 2
    python bench/jacobian_once.py --refine 6.5 --control galvanostatic

Alternates the two (``--repeat`` times each) on the same mesh and prints, per solve, Newton and
KSP iterations, PETSc's SNESSolve and SNESJacobianEval times and tip_over_far, then the medians.
Not part of the test suite (tests/test_benchmarks.py checks that both give the same iterates).
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--refine", type=float, default=6.5)
    ap.add_argument("--degree", type=int, default=1)
    ap.add_argument("--repeat", type=int, default=2)
    ap.add_argument("--control", choices=["potentiostatic", "galvanostatic"], default="potentiostatic")
    ap.add_argument("--potential", type=float, default=-0.02, help="electrode potential (V), potentiostatic")
    ap.add_argument("--mesh-cache", default=None, help="mesh.cache folder (default: mesh in the run)")
    args = ap.parse_args()

    import secondary_3d as bud

    from solver._dolfinx import MPI, PETSc
    from solver.postprocess import recover_current
    from solver.scenario import cases_from_dict
    from solver.study import build_domain, compute_metrics, make_problem

    class Options:  # what secondary_3d.scenario reads
        model, control, solver, hemisphere, layer = "secondary", args.control, "iterative", False, "none"
        potential = args.potential

    data = bud.scenario(Options)
    data["mesh"] = {k: f"{v / args.refine} um" if k != "grading_distance" else f"{v} um"
                    for k, v in bud.BASE_SIZES_UM.items()}
    if args.mesh_cache:
        data["mesh"]["cache"] = args.mesh_cache
    data["solver"]["degree"] = args.degree
    case = cases_from_dict(data)[0]
    comm = MPI.COMM_WORLD
    domain = build_domain(case, comm)
    rows = []
    PETSc.Log.begin()
    for k in range(2 * args.repeat):
        once = bool(k % 2)
        stage = PETSc.Log.Stage(f"solve{k}")
        stage.push()
        problem = make_problem(case, domain)
        problem.assemble_linear_once = once
        result = problem.solve()
        stage.pop()
        info = {e: comm.allreduce(PETSc.Log.Event(e).getPerfInfo(stage)["time"], op=MPI.MAX)
                for e in ("SNESSolve", "SNESJacobianEval")}
        tip = compute_metrics(case, problem, result, recover_current(problem)).get("tip_over_far")
        rows.append({"once": once, "dofs": problem.num_dofs, "newton": result.newton_iterations,
                     "ksp": result.linear_iterations, "snes_s": round(info["SNESSolve"], 3),
                     "jacobian_s": round(info["SNESJacobianEval"], 3), "tip_over_far": tip})
        if comm.rank == 0:
            print(json.dumps(rows[-1]), flush=True)
    if comm.rank == 0:
        for once in (False, True):
            rs = [r for r in rows if r["once"] == once]
            print(f"{'once' if once else 'full'}: median SNESSolve {statistics.median(r['snes_s'] for r in rs):.3f} s, "
                  f"SNESJacobianEval {statistics.median(r['jacobian_s'] for r in rs):.3f} s, "
                  f"{rs[0]['newton']} Newton, {rs[0]['ksp']} KSP")


if __name__ == "__main__":
    main()
