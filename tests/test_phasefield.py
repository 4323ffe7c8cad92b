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
