"""Tertiary transient benchmark: time per step and Newton iterations of the salt-transport model.

Runs scenarios/bud_sand.yaml (a Li bud plated at 20 mA/cm^2, axisymmetric; ``--variant bare``
or ``bto``, the bud under a porous layer) for a fixed simulated time with the adaptive stepper,
on the mesh sizes divided by ``--refine``, and prints one JSON line per run plus a table: cells,
unknowns, steps (accepted, rejected), Newton iterations, seconds per step and per Newton
iteration, set-up and mesh times, peak memory per rank. ``--ranks 1 2`` re-launches each run
under mpirun (separate processes, so memory is per run), with the parallel efficiency of the
stepping time in the summary.

    python bench/tertiary_transient.py                               # bare, 1 and 2 ranks
    python bench/tertiary_transient.py --variant bto --refine 1 2 --time 5 --json out.json

The linear solver of the tertiary model is MUMPS (the coupled c-phi-V Jacobian is nonsymmetric);
Not part of the test suite.
"""

from __future__ import annotations

import argparse
import json
import resource
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "bench"))
from _launch import emit, run_child  # noqa: E402
SIZES_UM = {"size_far": 20.0, "size_electrode": 0.5, "size_feature": 0.1}  # scenarios/bud_sand.yaml


def one_run(variant: str, refine: float, end: float, overrides=()) -> dict:
    sys.path.insert(0, str(ROOT))
    from solver._dolfinx import MPI
    from solver.scenario import load
    from solver.stepping import Integrator
    from solver.study import build_domain
    from solver.protocol import expand
    from solver.transient import TertiaryModel, time_control

    comm = MPI.COMM_WORLD
    sizes = [f"mesh.{k}={v / refine} um" for k, v in SIZES_UM.items()]
    cases = load(ROOT / "scenarios" / "bud_sand.yaml", [*sizes, *overrides])
    case = next(c for c in cases if c.name.endswith(variant) or c.label == variant)
    t0 = time.perf_counter()
    domain = build_domain(case, comm)
    t_mesh = time.perf_counter() - t0
    t0 = time.perf_counter()
    model = TertiaryModel(case, domain)
    p = model.problem
    step = expand(case.scenario.study.protocol, case.scenario.study.cycles)[0]  # plate at 20 mA/cm^2
    model.apply(step)
    t_setup = time.perf_counter() - t0
    counts = {"newton": 0, "solves": 0}
    inner = p.step

    def counted(dt):
        result = inner(dt)
        counts["newton"] += result.newton_iterations
        counts["solves"] += 1
        return result

    p.step = counted
    stepper = Integrator(p, time_control(case), observe=model.observer.row)  # as solver/transient.py
    t0, c0 = time.perf_counter(), time.process_time()
    stepper.advance(end)
    wall = comm.allreduce(time.perf_counter() - t0, op=MPI.MAX)
    cpu = time.process_time() - c0
    peak = comm.allreduce(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0, op=MPI.MAX)
    steps = stepper.steps + stepper.rejected
    return {"ranks": comm.size, "variant": variant, "refine": refine, "cells": domain.num_cells_global(),
            "unknowns": p.num_dofs, "simulated_s": end, "steps": stepper.steps, "rejected": stepper.rejected,
            "newton": counts["newton"], "newton_per_step": round(counts["newton"] / max(1, steps), 2),
            "mesh_s": round(comm.allreduce(t_mesh, op=MPI.MAX), 3),
            "setup_s": round(comm.allreduce(t_setup, op=MPI.MAX), 3), "stepping_s": round(wall, 3),
            "s_per_step": round(wall / max(1, steps), 4), "s_per_newton": round(wall / max(1, counts["newton"]), 4),
            "cpu_s_per_newton_rank0": round(cpu / max(1, counts["newton"]), 4),
            "peak_mem_mib_per_rank": round(peak, 1), "electrode_potential_V": round(p.electrode_potential, 6)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--variant", choices=["bare", "bto"], default="bare")
    ap.add_argument("--refine", type=float, nargs="+", default=[1.0])
    ap.add_argument("--time", type=float, default=2.0, help="simulated time (s)")
    ap.add_argument("--ranks", type=int, nargs="+", default=[1, 2])
    ap.add_argument("--json", metavar="FILE", help="write the JSON document to FILE (else print it)")
    ap.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE")
    ap.add_argument("--child", type=float, metavar="REFINE", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child is not None:
        result = one_run(args.variant, args.child, args.time, args.overrides)
        from mpi4py import MPI

        if MPI.COMM_WORLD.rank == 0:
            print("RESULT " + json.dumps(result), flush=True)
        return
    rows = []
    for refine in args.refine:
        for n in args.ranks:
            cmd = [sys.executable, __file__, "--variant", args.variant, "--time", str(args.time),
                   "--child", str(refine)] + [f"--set={o}" for o in args.overrides]
            rows.append(run_child(cmd, n, f"refine {refine} on {n} rank(s)"))
    parallel = []
    for r in rows:
        base = next((b for b in rows if b["ranks"] == 1 and b["refine"] == r["refine"]), None)
        if base and r["ranks"] > 1:
            parallel.append({"refine": r["refine"], "unknowns": r["unknowns"], "ranks": r["ranks"],
                             "same_steps": (r["steps"], r["newton"]) == (base["steps"], base["newton"]),
                             "efficiency_per_newton": base["s_per_newton"] / (r["ranks"] * r["s_per_newton"])})
    keys = ["ranks", "cells", "unknowns", "steps", "rejected", "newton", "newton_per_step", "mesh_s", "setup_s",
            "stepping_s", "s_per_step", "s_per_newton", "peak_mem_mib_per_rank", "electrode_potential_V"]
    print(" | ".join(keys))
    for r in rows:
        print(" | ".join(str(r[k]) for k in keys))
    for p in parallel:
        print(f"{p['ranks']} ranks, {p['unknowns']} unknowns: efficiency per Newton iteration "
              f"{p['efficiency_per_newton']:.2f} (same steps: {p['same_steps']})")
    doc = {"benchmark": "tertiary_transient", "argv": sys.argv[1:], "runs": rows, "parallel": parallel}
    emit(doc, args.json)


if __name__ == "__main__":
    main()
