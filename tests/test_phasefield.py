"""Phase-field electrodeposition (solver/physics/phasefield.py): Chen 2015's 1D checks.

- Nernst: with the electrolyte at u = c/c0 everywhere, a flat interface stays put exactly at the
  electrode potential V = (RT/F) ln u, deposits below it and dissolves above it.
- Faraday: a planar front driven at a fixed potential moves at v = i V_m / F, with i the current
  through the counter (from the potential gradient there) and v from the position of xi = 1/2.
"""

import math

import numpy as np
import pytest

from solver.physics.phasefield import PhaseField, PhaseFieldParameters, planar_profile
from solver.physics.potential import FARADAY
from tests.helpers import interval

P = PhaseFieldParameters()
LENGTH, FRONT = 20e-6, 5e-6


def front_position(pf) -> float:
    """x where xi crosses 1/2 (linear interpolation between nodes; 1D)."""
    x = pf.Vx.tabulate_dof_coordinates()[:, 0]
    comm = pf.domain.comm
    pts = np.vstack(comm.allgather(np.c_[x, pf.xi.x.array]))
    pts = pts[np.argsort(pts[:, 0])]
    k = int(np.flatnonzero((pts[:-1, 1] >= 0.5) & (pts[1:, 1] < 0.5))[-1])
    (x0, a), (x1, b) = pts[k], pts[k + 1]
    return x0 + (a - 0.5) / (a - b) * (x1 - x0)


def velocity(potential, bulk=1.0, steps=20, dt=0.05, n=400):
    pf = PhaseField(interval(n, LENGTH), P, lambda x: planar_profile(x[0] - FRONT, P), ["x0"], ["x1"],
                    electrode_potential=potential, bulk=bulk)
    amounts = []
    for _ in range(steps):
        assert pf.step(dt).converged
        amounts.append(pf.lithium_amount())
    return (amounts[-1] - amounts[-2]) / dt / pf.c_s, pf  # m/s (1D: metal amount per area / c_s)


@pytest.mark.mpi
@pytest.mark.parametrize("bulk", [0.5, 2.0])
def test_nernst_equilibrium(bulk):
    v_eq = math.log(bulk) / (FARADAY / (8.314462618 * P.temperature))
    rest, _ = velocity(v_eq, bulk)
    plate, _ = velocity(v_eq - 0.01, bulk)
    strip, _ = velocity(v_eq + 0.01, bulk)
    print(f"u = {bulk}: V_Nernst = {v_eq * 1e3:.3f} mV; front velocity {rest:.2e} m/s there, "
          f"{plate:.2e} at -10 mV, {strip:.2e} at +10 mV")
    assert plate > 0 > strip
    assert abs(rest) < 1e-3 * min(abs(plate), abs(strip))


@pytest.mark.mpi
def test_planar_front_moves_at_faraday_velocity():
    pf = PhaseField(interval(800, LENGTH), P, lambda x: planar_profile(x[0] - FRONT, P), ["x0"], ["x1"],
                    electrode_potential=-0.3)
    dt, times, fronts, currents = 0.02, [], [], []
    for _ in range(150):
        assert pf.step(dt).converged
        times.append(pf.time)
        fronts.append(front_position(pf))
        currents.append(pf.counter_current())
    times, fronts, currents = map(np.array, (times, fronts, currents))
    late = times > 1.0
    v = np.polyfit(times[late], fronts[late], 1)[0]
    i = currents[late].mean()
    expected = i * P.molar_volume / FARADAY
    print(f"planar front: moved {(fronts[-1] - FRONT) * 1e6:.3f} um, v = {v * 1e6:.5f} um/s; "
          f"i = {i:.3f} A/m^2 (spread {np.ptp(currents[late]) / i:.1e}), i V_m / F = {expected * 1e6:.5f} um/s "
          f"({v / expected - 1:+.3%})")
    assert fronts[-1] - FRONT > 0.5e-6  # it really moved (one interface width)
    assert v == pytest.approx(expected, rel=0.02)


# ---------------------------------------------------------------------- 2D
def nucleus(anisotropy=0.0, noise=0.0, n=50, **kwargs):
    """A 20 x 20 um cell: Li up to y = 3 um with a semicircular 2 um nucleus, -0.45 V reached
    over 0.2 s (the MOOSE benchmark's potential), adaptive steps; ``kwargs`` go to PhaseField."""
    from solver.stepping import Integrator, TimeControl
    from tests.helpers import rectangle

    width, base, radius = 20e-6, 3e-6, 2e-6
    p = PhaseFieldParameters(anisotropy_strength=anisotropy, noise=noise, seed=7)
    d = rectangle(n, (width, width))
    d.regions = {"all": 1}

    def xi0(x):
        return planar_profile(np.minimum(x[1] - base, np.hypot(x[0] - width / 2, x[1] - base) - radius), p)

    pf = PhaseField(d, p, xi0, ["y0"], ["y1"], electrode_potential=-0.45, ramp_time=0.2, **kwargs)
    stepper = Integrator(pf, TimeControl(dt_initial=1e-3, target_change=0.05, dt_max=0.05),
                         observe=lambda prob: {"time_s": prob.time})
    return pf, stepper


@pytest.mark.mpi
def test_deposited_lithium_equals_passed_charge_in_2d():
    pf, stepper = nucleus()
    start = pf.lithium_amount()
    charge = [0.0]

    def on_step(row, dt, result):
        charge[0] += pf.counter_current() * dt  # backward Euler: the end-of-step current

    stepper.advance(0.5, on_step=on_step)
    deposited = pf.lithium_amount() - start
    passed = charge[0] / FARADAY
    print(f"2D nucleus, 0.5 s: deposited {deposited:.6e} mol/m, passed charge / F {passed:.6e} "
          f"({deposited / passed - 1:+.2e}), {stepper.steps} steps")
    assert passed > 0
    assert deposited == pytest.approx(passed, rel=0.01)


@pytest.mark.mpi
def test_iterative_linear_solver_gives_the_lu_steps(monkeypatch):
    """The iterative solver (GMRES, Schur complement on V, field split over xi, u, phi; "auto"
    above DIRECT_LIMIT unknowns) takes the same Newton steps as MUMPS LU: same iteration counts,
    fields equal to 1e-9, at -0.45 V and then at a given current (V a global unknown whose
    diagonal is zero), in serial and on 2 ranks."""
    from solver._dolfinx import MPI
    from solver.physics import phasefield

    runs = {}
    for solver in ("direct", "iterative"):
        pf, _ = nucleus(n=40, linear_solver=solver)
        pf.domain.projected_area = 20e-6  # the cell's width (galvanostatic: current per area)
        steps = [pf.step(dt) for dt in (0.01, 0.02, 0.04, 0.08, 0.1)]  # -0.45 V from 0.2 s on
        pf.set_current(1.5 * pf.counter_current() / pf.domain.projected_area)
        steps += [pf.step(dt) for dt in (0.02, 0.05, 0.1)]
        assert all(r.converged for r in steps)
        runs[solver] = pf, [r.newton_iterations for r in steps], pf.electrode_potential
    (lu, newton_lu, v_lu), (it, newton_it, v_it) = runs["direct"], runs["iterative"]
    comm = lu.domain.comm
    diff = {name: comm.allreduce(float(np.abs(a.x.array - b.x.array).max(initial=0.0)), op=MPI.MAX)
            for name, a, b in (("xi", lu.xi, it.xi), ("u", lu.u, it.u), ("phi", lu.phi, it.phi))}
    diff["V"] = abs(v_lu - v_it)
    per_newton = it.linear_iterations / it.newton_iterations
    print(f"V = {v_lu:.6f} V at the end; Newton its LU {newton_lu}, iterative {newton_it}; "
          f"{per_newton:.1f} GMRES its per Newton; largest differences {diff}")
    assert lu.uses_direct_solver and not it.uses_direct_solver
    assert lu.linear_iterations == lu.newton_iterations  # preonly LU: one "iteration" per solve
    assert v_lu < -0.45  # galvanostatic at 1.5x the current of -0.45 V
    assert newton_it == newton_lu
    assert 1 < per_newton < 60
    assert max(diff.values()) < 1e-9
    # "auto": LU for this size, the iterative solver above the limit
    assert nucleus(n=10)[0].uses_direct_solver
    monkeypatch.setattr(phasefield, "DIRECT_LIMIT", 100)
    assert not nucleus(n=10)[0].uses_direct_solver


@pytest.mark.mpi
def test_failed_linear_solve_fails_the_step():
    """A Krylov solve that stops short (here: at most 2 iterations) fails the Newton solve
    (SNES reason -3) and so the step, whose state is restored: the stepper then cuts dt."""
    pf, _ = nucleus(n=20, linear_solver="iterative", petsc_options={"ksp_max_it": 2})
    xi = pf.xi.x.array.copy()
    result = pf.step(0.05)
    assert not result.converged and result.reason == -3
    assert np.array_equal(pf.xi.x.array, xi) and pf.time == 0.0


def test_anisotropy_speeds_up_the_tip():
    """Four-fold anisotropy with a preferred direction along the growth axis (theta0 = 0: the
    x and y axes): the nucleus' tip outgrows the isotropic case."""
    heights = {}
    for delta in (0.0, 0.1):
        pf, stepper = nucleus(anisotropy=delta, n=40)
        stepper.advance(1.5)
        heights[delta] = pf.deposit_height()
    print(f"deposit height after 1.5 s: isotropic {heights[0.0] * 1e6:.3f} um, delta 0.1 {heights[0.1] * 1e6:.3f} um")
    assert heights[0.1] > heights[0.0]


def _noisy_run(seed: int) -> dict:
    pf, _ = nucleus(noise=5.0, n=30)
    pf.p.seed = seed
    for _ in range(6):
        assert pf.step(0.02).converged
    return {"lithium": pf.lithium_amount(), "interface": pf.interface_measure(), "height": pf.deposit_height()}


def test_same_seed_same_result_in_serial_and_parallel(tmp_path):
    """Langevin noise from a hash of node coordinates, step and seed: reproducible, and the same
    on 1 and 2 ranks; another seed gives another result."""
    import json
    import subprocess
    import sys

    from tests.test_cli import BIN, ROOT

    script = ("import json, sys; sys.path.insert(0, %r); from tests.test_phasefield import _noisy_run; "
              "from mpi4py import MPI; r = _noisy_run(int(sys.argv[1])); "
              "MPI.COMM_WORLD.rank == 0 and print(json.dumps(r))") % str(ROOT)
    import os

    env = {k: v for k, v in os.environ.items() if not k.startswith(("PMI_", "MPI", "HYDRA", "OMPI"))}

    def run(ranks, seed):
        cmd = [sys.executable, "-c", script, str(seed)]
        if ranks > 1:
            cmd = [str(BIN / "mpirun"), "-n", str(ranks), *cmd]
        proc = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=300, env=env)
        assert proc.returncode == 0, proc.stderr
        return json.loads(proc.stdout.strip().splitlines()[-1])

    serial, parallel, again, other = run(1, 3), run(2, 3), run(1, 3), run(1, 4)
    print(f"seed 3: serial {serial}, 2 ranks {parallel}; seed 4: {other}")
    assert serial == again
    for key in serial:
        assert parallel[key] == pytest.approx(serial[key], rel=1e-9)
    assert other["interface"] != pytest.approx(serial["interface"], rel=1e-9)


@pytest.mark.mpi
def test_3d_cubic_anisotropy_reduces_to_the_2d_form():
    """For a field that does not vary along z, the 3D cubic interface energy equals the 2D
    four-fold one per unit depth (cos 4 theta = 4 (n_x^4 + n_y^4) - 3)."""
    import ufl

    from tests.helpers import box, rectangle

    size = (4e-6, 4e-6)
    p = PhaseFieldParameters(anisotropy_strength=0.2)

    def xi0(x):  # a front tilted by 30 degrees: cos(4 theta) = -1/2 on it
        return planar_profile(np.cos(np.pi / 6) * (x[0] - 2e-6) + np.sin(np.pi / 6) * (x[1] - 2e-6), p)

    energies = []
    for d in (rectangle(24, size), box(24, (*size, 1e-6))):
        d.regions = {"all": 1}
        pf = PhaseField(d, p, xi0, ["y0"], ["y1"])
        energy = d.integrate(pf.kappa_energy(pf.xi) * d.dx)
        depth = 1.0 if d.mesh.geometry.dim == 2 else 1e-6
        energies.append(energy / depth)
    iso = PhaseFieldParameters()
    d = rectangle(24, size)
    d.regions = {"all": 1}
    pf = PhaseField(d, iso, xi0, ["y0"], ["y1"])
    isotropic = d.integrate(pf.kappa_energy(pf.xi) * d.dx)
    print(f"interface energy per depth: 2D {energies[0]:.6e}, 3D {energies[1]:.6e}, isotropic {isotropic:.6e}")
    assert energies[1] == pytest.approx(energies[0], rel=2e-2)  # different meshes of the same field
    assert energies[0] == pytest.approx(0.9 * isotropic, rel=2e-2)  # 1 + 0.2 cos(120 deg) = 0.9


@pytest.mark.mpi
def test_single_potential_form_runs_and_does_not_close_faraday():
    """Chen's / the MOOSE inputs' single-potential form (potential_form = "single"): the metal at
    the applied potential, the local potential as overpotential. It deposits, but the charge
    through the counter differs from the Li deposited (documented); the conserving form closes it."""
    ratios = {}
    for form in ("conserving", "single"):
        p = PhaseFieldParameters(potential_form=form)
        pf = PhaseField(interval(400, LENGTH), p, lambda x: planar_profile(x[0] - FRONT, p), ["x0"], ["x1"],
                        electrode_potential=-0.45, ramp_time=0.2)
        start, charge = pf.lithium_amount(), 0.0
        for _ in range(25):
            assert pf.step(0.02).converged
            charge += pf.counter_current() * 0.02
        ratios[form] = (pf.lithium_amount() - start) * FARADAY / charge
    print(f"deposited Li x F / charge passed: conserving {ratios['conserving']:.10f}, single {ratios['single']:.4f}")
    assert ratios["conserving"] == pytest.approx(1.0, abs=1e-8)
    assert abs(ratios["single"] - 1.0) > 0.05


@pytest.mark.mpi
def test_kinetic_factor_scales_the_deposition_rate():
    """Near equilibrium (-5 mV: kinetics, not the electrolyte, limits) a kinetic factor k (a
    lithiophilic host) multiplies the front velocity by k."""
    speeds = {}
    for k in (1.0, 3.0):
        pf = PhaseField(interval(400, LENGTH), P, lambda x: planar_profile(x[0] - FRONT, P), ["x0"], ["x1"],
                        electrode_potential=-0.005, kinetics=k)
        start = pf.lithium_amount()
        for _ in range(10):
            assert pf.step(0.05).converged
        speeds[k] = (pf.lithium_amount() - start) / pf.time
    print(f"deposition rate with k = 3 over k = 1: {speeds[3.0] / speeds[1.0]:.4f}")
    assert speeds[3.0] / speeds[1.0] == pytest.approx(3.0, rel=0.05)
