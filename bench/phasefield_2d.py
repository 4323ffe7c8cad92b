"""Phase-field 2D benchmark: cells, unknowns, time steps, SNES and KSP iterations, wall time.

Runs the flat-electrode dendrite set-up of scenarios/pf_dendrite.yaml (noise, -0.45 V) on a
window of the given size for a fixed simulated time, with the adaptive stepper, and prints one
JSON line per run plus a table. Serial and parallel figures come from separate processes:

    python bench/phasefield_2d.py                 # runs itself with 1 and 2 ranks
    python bench/phasefield_2d.py --width 40 --time 5 --ranks 1 2 4

Not part of the test suite.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def one_run(width_um: float, end: float, size_um: float, overrides=()) -> dict:
    sys.path.insert(0, str(ROOT))
    from solver._dolfinx import MPI
    from solver.scenario import load
    from solver.study import build_domain
    from solver.deposition import PhaseFieldModel
    from solver.stepping import Integrator
    from solver.transient import time_control

    comm = MPI.COMM_WORLD
    case = load(ROOT / "scenarios" / "pf_dendrite.yaml", [
        f"geometry.width={width_um} um", f"geometry.height={width_um} um",
        f"geometry.growth_zone={0.6 * width_um} um", f"mesh.size_electrode={size_um} um",
        f"study.protocol=[Hold at -0.45 V for {end} s]", *overrides])[0]
    t0 = time.perf_counter()
    domain = build_domain(case, comm)
    t_mesh = time.perf_counter() - t0
    model = PhaseFieldModel(case, domain)
    pf = model.problem
    pf.set_potential(-0.45)
    stepper = Integrator(pf, time_control(case), observe=lambda p: {"time_s": p.time})
    counts = {"newton": 0, "ksp": 0}
    orig = pf.step

    def step(dt):
        result = orig(dt)
        counts["newton"] += result.newton_iterations
        counts["ksp"] += pf._problem.solver.getLinearSolveIterations()
        return result

    pf.step = step
    t0 = time.perf_counter()
    stepper.advance(end)
    wall = time.perf_counter() - t0
    return {"ranks": comm.size, "cells": domain.num_cells_global(), "unknowns": pf.num_dofs,
            "simulated_s": end, "steps": stepper.steps, "rejected": stepper.rejected,
            "newton_iterations": counts["newton"], "ksp_iterations": counts["ksp"],
            "mesh_s": round(t_mesh, 3), "solve_s": round(wall, 3),
            "s_per_step": round(wall / max(1, stepper.steps + stepper.rejected), 4),
            "deposit_height_um": round(pf.deposit_height() * 1e6, 4)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--width", type=float, default=40.0, help="window width and height (um)")
    ap.add_argument("--time", type=float, default=2.0, help="simulated time (s)")
    ap.add_argument("--size", type=float, default=0.5, help="cell size in the growth zone (um)")
    ap.add_argument("--ranks", type=int, nargs="+", default=[1, 2])
    ap.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                    help="scenario overrides, e.g. solver.petsc_options.snes_linesearch_type=basic")
    ap.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        result = one_run(args.width, args.time, args.size, args.overrides)
        if result["ranks"] == 1 or os.environ.get("PMI_RANK", "0") == "0":
            from mpi4py import MPI

            if MPI.COMM_WORLD.rank == 0:
                print("RESULT " + json.dumps(result), flush=True)
        return
    rows = []
    mpirun = Path(sys.executable).parent / "mpirun"
    for n in args.ranks:
        cmd = [sys.executable, __file__, "--child", "--width", str(args.width), "--time", str(args.time),
               "--size", str(args.size)] + [f"--set={o}" for o in args.overrides]
        if n > 1:
            cmd = [str(mpirun), "-n", str(n), *cmd]
        env = {k: v for k, v in os.environ.items() if not k.startswith(("PMI_", "MPI", "HYDRA", "OMPI"))}
        out = subprocess.run(cmd, capture_output=True, text=True, env=env, cwd=ROOT)
        line = next((ln for ln in out.stdout.splitlines() if ln.startswith("RESULT ")), None)
        if line is None:
            print(out.stdout, out.stderr, file=sys.stderr)
            raise SystemExit(f"the run on {n} rank(s) failed")
        rows.append(json.loads(line[7:]))
        print(json.dumps(rows[-1]), flush=True)
    keys = ["ranks", "cells", "unknowns", "steps", "rejected", "newton_iterations", "ksp_iterations", "solve_s",
            "s_per_step", "deposit_height_um"]
    print(" | ".join(keys))
    for r in rows:
        print(" | ".join(str(r[k]) for k in keys))


if __name__ == "__main__":
    main()
