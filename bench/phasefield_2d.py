"""Phase-field 2D benchmark: cells, unknowns, time steps, SNES and KSP iterations, wall time.

Runs the flat-electrode dendrite set-up of scenarios/pf_dendrite.yaml (noise, -0.45 V, or a
given current with --current) on a window of the given size for a fixed simulated time, with
the adaptive stepper, and prints one JSON line per run plus a table: the linear solver used,
Newton iterations, Krylov iterations per Newton iteration and seconds per Newton iteration.
Serial and parallel figures come from separate processes:

    python bench/phasefield_2d.py                 # runs itself with 1 and 2 ranks
    python bench/phasefield_2d.py --width 40 --time 5 --ranks 1 2 4
    python bench/phasefield_2d.py --width 160 --time 0.1 --solver iterative --current 300
    python bench/phasefield_2d.py --json pf.json      # the JSON document to a file (else printed last)

Not part of the test suite.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "bench"))
from _launch import emit, run_child  # noqa: E402


def one_run(width_um: float, end: float, size_um: float, overrides=(), current: float | None = None) -> dict:
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
        "study.protocol=[" + (f"Plate at {current} mA/cm^2" if current is not None else "Hold at -0.45 V")
        + f" for {end} s]", *overrides])[0]
    t0 = time.perf_counter()
    domain = build_domain(case, comm)
    t_mesh = time.perf_counter() - t0
    t0 = time.perf_counter()
    model = PhaseFieldModel(case, domain)  # includes the start-up relaxation (5 steps)
    t_setup = time.perf_counter() - t0
    pf = model.problem
    relax = {"relax_newton": pf.newton_iterations, "relax_ksp": pf.linear_iterations}
    if current is not None:
        pf.set_current(10.0 * current)  # mA/cm^2 -> A/m^2
    else:
        pf.set_potential(-0.45)
    stepper = Integrator(pf, time_control(case), observe=lambda p: {"time_s": p.time})
    newton0, ksp0 = pf.newton_iterations, pf.linear_iterations
    t0, c0 = time.perf_counter(), time.process_time()
    stepper.advance(end)
    wall, cpu = time.perf_counter() - t0, time.process_time() - c0  # cpu: this rank's
    newton, ksp = pf.newton_iterations - newton0, pf.linear_iterations - ksp0  # failed attempts included
    return {"ranks": comm.size, "cells": domain.num_cells_global(), "unknowns": pf.num_dofs,
            "solver": "direct" if pf.uses_direct_solver else "iterative",
            "control": "current" if current is not None else "potential",
            "simulated_s": end, "steps": stepper.steps, "rejected": stepper.rejected,
            "newton_iterations": newton, "ksp_iterations": ksp, "ksp_per_newton": round(ksp / max(1, newton), 1),
            "mesh_s": round(t_mesh, 3), "setup_s": round(t_setup, 3), **relax, "solve_s": round(wall, 3),
            "s_per_step": round(wall / max(1, stepper.steps + stepper.rejected), 4),
            "s_per_newton": round(wall / max(1, newton), 4), "cpu_s_per_newton": round(cpu / max(1, newton), 4),
            "electrode_potential_V": round(pf.electrode_potential, 6),
            "deposit_height_um": round(pf.deposit_height() * 1e6, 4)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--width", type=float, default=40.0, help="window width and height (um)")
    ap.add_argument("--time", type=float, default=2.0, help="simulated time (s)")
    ap.add_argument("--size", type=float, default=0.5, help="cell size in the growth zone (um)")
    ap.add_argument("--ranks", type=int, nargs="+", default=[1, 2])
    ap.add_argument("--solver", choices=["auto", "direct", "iterative"], default=None,
                    help="solver.linear_solver (default: the scenario's, auto)")
    ap.add_argument("--current", type=float, default=None, metavar="MA_CM2",
                    help="galvanostatic: plate at this current density (mA/cm^2) instead of holding -0.45 V")
    ap.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                    help="scenario overrides, e.g. solver.petsc_options.snes_linesearch_type=basic")
    ap.add_argument("--json", metavar="FILE", help="write the JSON document to FILE (else print it)")
    ap.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.solver is not None:
        args.overrides.append(f"solver.linear_solver={args.solver}")
    if args.child:
        result = one_run(args.width, args.time, args.size, args.overrides, args.current)
        if result["ranks"] == 1 or os.environ.get("PMI_RANK", "0") == "0":
            from mpi4py import MPI

            if MPI.COMM_WORLD.rank == 0:
                print("RESULT " + json.dumps(result), flush=True)
        return
    rows = []
    for n in args.ranks:
        cmd = [sys.executable, __file__, "--child", "--width", str(args.width), "--time", str(args.time),
               "--size", str(args.size)] + [f"--set={o}" for o in args.overrides]
        if args.current is not None:
            cmd += ["--current", str(args.current)]
        rows.append(run_child(cmd, n, f"the run on {n} rank(s)"))
    keys = ["ranks", "cells", "unknowns", "solver", "steps", "rejected", "newton_iterations", "ksp_per_newton",
            "solve_s", "s_per_newton", "cpu_s_per_newton", "electrode_potential_V", "deposit_height_um"]
    print(" | ".join(keys))
    for r in rows:
        print(" | ".join(str(r[k]) for k in keys))
    parallel = []
    for r in rows:
        base = next((b for b in rows if b["ranks"] == 1), None)
        if base and r["ranks"] > 1:
            parallel.append({"ranks": r["ranks"], "unknowns": r["unknowns"],
                             "same_steps": (r["steps"], r["newton_iterations"]) == (base["steps"], base["newton_iterations"]),
                             "efficiency_per_newton": base["s_per_newton"] / (r["ranks"] * r["s_per_newton"])})
            print(f"{r['ranks']} ranks: parallel efficiency per Newton iteration {parallel[-1]['efficiency_per_newton']:.2f}")
    doc = {"benchmark": "phasefield_2d", "argv": sys.argv[1:], "runs": rows, "parallel": parallel}
    emit(doc, args.json)


if __name__ == "__main__":
    main()
