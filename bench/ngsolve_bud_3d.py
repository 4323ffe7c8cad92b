"""The 3D bud current-distribution problem in NGSolve, for bench/secondary_3d.py --ngsolve.

Runs in the bench-only NGSolve environment (bench/setup_ngsolve.sh), never in the project's.
It reads the Gmsh mesh that lianode meshed (format 2.2, physical names), so both codes solve
on the same tetrahedra with the same number of unknowns, and solves

    -div(kappa grad phi) = 0,  phi = 0 on the counter,
    primary:   phi = V - E_eq on the electrode boundaries,
    secondary: kappa grad(phi).n = i0 [exp(aa f eta) - exp(-ac f eta)], eta = V - phi - E_eq
               on the electrode boundaries (potentiostatic, Newton),

with H1 elements of the given order, CG preconditioned by NGSolve's algebraic multigrid
(h1amg, order 1) or BDDC with an h1amg coarse grid (order 2). tip_over_far is recovered as
lianode does it: the consistent nodal flux (P1 residual of the volume form divided by the
lumped boundary mass) at the boundary vertices nearest the apex and the far corner.

    bench/.venv-ngsolve/bin/python bench/ngsolve_bud_3d.py --msh MESH.msh --degree 1 \
        --model secondary --kappa 1.0 --i0 1e4 --voltage -0.02 --apex 0 0 2e-6 --far 1.2e-5 1.2e-5 0

Prints one JSON line (RESULT {...}).
"""

from __future__ import annotations

import argparse
import json
import math
import resource
import time


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--msh", required=True)
    ap.add_argument("--degree", type=int, default=1)
    ap.add_argument("--model", choices=["primary", "secondary"], default="secondary")
    ap.add_argument("--kappa", type=float, required=True, help="S/m")
    ap.add_argument("--i0", type=float, default=1e4, help="A/m^2")
    ap.add_argument("--alpha-a", type=float, default=0.5)
    ap.add_argument("--alpha-c", type=float, default=0.5)
    ap.add_argument("--f", type=float, default=96485.33212 / (8.314462618 * 298.15), help="F/RT (1/V)")
    ap.add_argument("--e-eq", type=float, default=0.0)
    ap.add_argument("--voltage", type=float, required=True, help="electrode potential V (V)")
    ap.add_argument("--electrode", default="bud|flat", help="electrode boundary names, | separated")
    ap.add_argument("--counter", default="counter")
    ap.add_argument("--apex", type=float, nargs=3, required=True)
    ap.add_argument("--far", type=float, nargs=3, required=True)
    ap.add_argument("--rtol", type=float, default=1e-10, help="CG relative tolerance")
    ap.add_argument("--newton-rtol", type=float, default=1e-10)
    ap.add_argument("--precond", choices=["auto", "h1amg", "bddc", "multigrid", "local"], default="auto",
                    help="auto: h1amg (order 1); multigrid on one level with an h1amg coarse solve of the "
                    "vertex (P1) part and block smoothing of the rest (order 2)")
    ap.add_argument("--threads", type=int, default=1, help="NGSolve task-manager threads (1 = serial)")
    args = ap.parse_args()

    import ngsolve as ngs
    from ngsolve.krylovspace import CGSolver
    from netgen.read_gmsh import ReadGmsh

    if args.threads > 1:
        ngs.SetNumThreads(args.threads)
        ngs.TaskManager().__enter__()  # for the whole run
    times = {}
    t0 = time.perf_counter()
    mesh = ngs.Mesh(ReadGmsh(args.msh))
    times["import_s"] = time.perf_counter() - t0

    t0 = time.perf_counter()
    dirichlet = args.counter if args.model == "secondary" else f"{args.counter}|{args.electrode}"
    fes = ngs.H1(mesh, order=args.degree, dirichlet=dirichlet)
    u, v = fes.TnT()
    phi = ngs.GridFunction(fes)
    kappa = args.kappa
    electrode = mesh.Boundaries(args.electrode)
    # The volume operator is linear: assembled once, with its preconditioner; the Butler-Volmer
    # boundary term is a separate nonlinear form, linearised at every Newton iteration, and the
    # Jacobian is applied as the sum of the two (NGSolve's cheapest way to Newton on this problem).
    a = ngs.BilinearForm(fes, symmetric=True)
    a += kappa * ngs.grad(u) * ngs.grad(v) * ngs.dx
    kind = args.precond if args.precond != "auto" else ("h1amg" if args.degree == 1 else "multigrid")
    if kind in ("bddc", "multigrid"):
        pre = ngs.Preconditioner(a, kind, coarsetype="h1amg")
    else:
        pre = ngs.Preconditioner(a, kind)
    b = None
    if args.model == "secondary":
        eta = args.voltage - u - args.e_eq
        i_a = args.i0 * (ngs.exp(args.alpha_a * args.f * eta) - ngs.exp(-args.alpha_c * args.f * eta))
        b = ngs.BilinearForm(fes, symmetric=True)
        b += -i_a * v * ngs.ds(definedon=electrode)
    times["setup_s"] = time.perf_counter() - t0

    free = ngs.Projector(fes.FreeDofs(), True)
    newton = cg_its = 0
    t0 = time.perf_counter()
    a.Assemble()  # with the preconditioner's set-up
    t_asm = time.perf_counter() - t0
    t_solve = 0.0
    r = phi.vec.CreateVector()
    du = phi.vec.CreateVector()
    tmp = phi.vec.CreateVector()
    if args.model == "primary":
        phi.Set(args.voltage - args.e_eq, ngs.BND, definedon=electrode)
        t0 = time.perf_counter()
        r.data = -1.0 * (free * (a.mat * phi.vec))
        solver = CGSolver(a.mat, pre.mat, tol=args.rtol, maxiter=2000)
        du.data = solver * r
        phi.vec.data += du
        cg_its += solver.iterations
        t_solve += time.perf_counter() - t0
        newton = 1
    else:
        r0 = None
        for newton in range(1, 51):
            t0 = time.perf_counter()
            b.Apply(phi.vec, tmp)
            r.data = a.mat * phi.vec
            r.data += tmp
            r.data = -1.0 * (free * r)
            norm = ngs.Norm(r)
            r0 = norm if r0 is None else r0
            if norm <= args.newton_rtol * r0 or norm == 0.0:
                newton -= 1
                t_asm += time.perf_counter() - t0
                break
            b.AssembleLinearization(phi.vec)
            t_asm += time.perf_counter() - t0
            t0 = time.perf_counter()
            solver = CGSolver(a.mat + b.mat, pre.mat, tol=args.rtol, maxiter=2000)
            du.data = solver * r
            phi.vec.data += du
            cg_its += solver.iterations
            t_solve += time.perf_counter() - t0
    times["assembly_s"] = t_asm
    times["solve_s"] = t_solve

    # consistent nodal flux with P1 test functions, as solver/postprocess.recover_current
    t0 = time.perf_counter()
    V1 = ngs.H1(mesh, order=1)
    w = V1.TestFunction()
    res = ngs.LinearForm(kappa * ngs.grad(phi) * ngs.grad(w) * ngs.dx).Assemble()
    mass = ngs.LinearForm(w * ngs.ds(definedon=mesh.Boundaries(f"{args.electrode}|{args.counter}"))).Assemble()
    on_electrode = ngs.LinearForm(w * ngs.ds(definedon=electrode)).Assemble()
    import numpy as np

    R = res.vec.FV().NumPy()
    M = mass.vec.FV().NumPy()
    E = on_electrode.vec.FV().NumPy()
    pts = np.array([v.point for v in mesh.vertices])  # P1 DOF k = vertex k
    candidates = np.flatnonzero(E > 0)

    def nodal(point):
        k = candidates[np.argmin(np.linalg.norm(pts[candidates] - np.asarray(point), axis=1))]
        return -R[k] / M[k]  # plating current density (A/m^2), positive = deposition

    apex, far = nodal(args.apex), nodal(args.far)
    total = float(-R[candidates].sum())
    times["post_s"] = time.perf_counter() - t0
    out = {
        "code": "ngsolve", "ngsolve_version": ngs.__version__, "degree": args.degree, "model": args.model,
        "dofs": fes.ndof, "vertices": mesh.nv, "cells": mesh.ne, "newton": newton, "ksp": cg_its,
        "preconditioner": kind + ("+h1amg coarse" if kind in ("bddc", "multigrid") else ""),
        **{k: round(v, 4) for k, v in times.items()},
        "solver_phase_s": round(times["setup_s"] + t_asm + t_solve, 4),
        "peak_mem_mib": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0, 1),
        "apex_current_density_A_m2": apex, "far_current_density_A_m2": far,
        "tip_over_far": apex / far if far else math.nan, "electrode_current_A": total,
    }
    print("RESULT " + json.dumps(out), flush=True)


class _null:
    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False


if __name__ == "__main__":
    main()
