"""Tertiary current distribution (solver/physics/transport.py): analytic benchmarks of
../shared/reference/physics.md section 4 and a transient MMS.

- Sand's time t_s = pi D (c0 F)^2 / [4 ((1 - t+) J)^2] on a semi-infinite 1D cell (length
  6 sqrt(D t_s): the far end is not felt, erfc(3) ~ 2e-5), for two current densities.
- Closed Li|Li cell: the steady profile is linear with slope (1 - t+) i / (F D) and exists
  only below the limiting current 2 F D c0 / [(1 - t+) L]; salt is conserved over a
  plate/strip cycle.
- MMS in 2D with a Butler-Volmer boundary, concentration-dependent i0 and the diffusion
  potential: spatial rate (time-linear solution, exact for backward Euler) and temporal rate.
"""

import math

import numpy as np
import pytest
import ufl

from solver._dolfinx import PETSc, dolfinx
from solver.physics.potential import FARADAY, ButlerVolmer
from solver.physics.transport import Electrolyte, Region, SolidElectrolyte, Tertiary, TimeControl, integrate
from tests.helpers import interval, interval_with_solid, rate, rectangle

D, C0, TP = 3e-10, 1000.0, 0.4


def sand_time(j):
    return math.pi * D * (C0 * FARADAY) ** 2 / (4 * ((1 - TP) * j) ** 2)


def cell(domain, j, counter_type="reference", **kw):
    e = Electrolyte.constant(1.0, D, TP)
    return Tertiary(domain, {"electrolyte": Region(e)}, {"x0": ButlerVolmer(10.0)}, ["x1"],
                    counter_type=counter_type, current_density=j, c_bulk=C0, **kw)


@pytest.mark.mpi
@pytest.mark.parametrize("j", [10.0, 30.0], ids=["1mA_cm2", "3mA_cm2"])
def test_sand_time(j):
    ts = sand_time(j)
    p = cell(interval(200, 6 * math.sqrt(D * ts), grading=2.0), j)
    run = integrate(p, 2 * ts, TimeControl(dt_initial=1e-6 * ts, target_change=0.005))
    print(f"J = {j} A/m^2: Sand's time {run.sand_time:.1f} s vs {ts:.1f} s ({run.sand_time / ts - 1:+.3%}), "
          f"{run.steps} steps, {run.rejected} rejected")
    assert run.stopped == "sand"
    assert run.sand_time == pytest.approx(ts, rel=0.02)
    assert run.sand_time == pytest.approx(ts, rel=0.005)  # measured 0.16%: catches regressions


@pytest.mark.mpi
def test_steady_profile_and_limiting_current():
    length = 100e-6
    i_lim = 2 * FARADAY * D * C0 / ((1 - TP) * length)
    tau = length**2 / D
    # below the limiting current: steady linear profile, mean c0
    j = 0.95 * i_lim
    p = cell(interval(20, length), j, counter_type="electrode")
    run = integrate(p, 30 * tau, TimeControl(dt_initial=1e-4 * tau))
    assert run.stopped is None
    x = p.Vc.tabulate_dof_coordinates()[:, 0]
    c = p.c.x.array
    slope_fit = np.polyfit(x, c, 1)[0] if x.size > 1 else None
    comm = p.domain.comm
    ends = comm.allgather((x.min(), c[np.argmin(x)], x.max(), c[np.argmax(x)]))
    lo = min(ends, key=lambda e: e[0])
    hi = max(ends, key=lambda e: e[2])
    slope = (hi[3] - lo[1]) / (hi[2] - lo[0])
    expected = (1 - TP) * j / (FARADAY * D)
    print(f"steady slope {slope:.6e} vs {expected:.6e} mol/m^4; surface c {lo[1]:.3f} (analytic {C0 * 0.05:.3f})")
    assert slope == pytest.approx(expected, rel=1e-6)
    assert lo[1] == pytest.approx(C0 * (1 - j / i_lim), rel=1e-4)
    if slope_fit is not None and comm.size == 1:
        assert slope_fit == pytest.approx(expected, rel=1e-6)  # linear everywhere, not only end to end
    # above it: the electrode depletes (Sand) instead of reaching a steady state
    p = cell(interval(20, length), 1.05 * i_lim, counter_type="electrode")
    run = integrate(p, 30 * tau, TimeControl(dt_initial=1e-4 * tau))
    assert run.stopped == "sand"


@pytest.mark.mpi
def test_salt_is_conserved_over_a_plate_strip_cycle():
    length = 100e-6
    tau = length**2 / D
    d = rectangle(6, (length, length))
    d.regions = {"electrolyte": 1}
    p = Tertiary(d, {"electrolyte": Region(Electrolyte.constant(1.0, D, TP))}, {"y0": ButlerVolmer(10.0)}, ["y1"],
                 counter_type="electrode", current_density=20.0, c_bulk=C0)
    d.projected_area = length  # 2D: per metre of depth
    start = p.salt_amount()
    integrate(p, 0.5 * tau, TimeControl(dt_initial=1e-3 * tau))
    p.i_app.value = -20.0  # strip
    integrate(p, 1.0 * tau, TimeControl(dt_initial=1e-3 * tau))
    drift = abs(p.salt_amount() - start) / start
    print(f"salt after a plate/strip cycle: relative change {drift:.2e}")
    assert drift < 1e-10
    assert abs(p.electrode_current() - (-20.0 * length)) < 1e-8 * 20 * length  # galvanostatic holds


# ---------------------------------------------------------------------- MMS
F_RT = FARADAY / (8.314462618 * 298.15)


def exact(x, t, m, time_law):
    g = (1 + t) if time_law == "linear" else m.exp(-2 * t)
    c = 1.0 + 0.3 * (1 - x[1]) * m.cos(1.3 * x[0] + 0.2) * g
    phi = 0.01 * (1 - x[1]) * m.sin(x[0] + 0.5) * (1 + 0.5 * g)
    return c, phi


def mms_error(n, steps, degree, time_law, end=0.5):
    d = rectangle(n, (1.0, 1.0))
    d.regions = {"electrolyte": 1}
    e = Electrolyte(lambda c, m: 2.0 + 0.5 * c, lambda c, m: 0.4 + 0.1 * c, 0.35,
                    thermodynamic_factor=lambda c, m: 1.2 + 0.0 * c)
    bv = ButlerVolmer(1.0, 0.5, 0.5)
    p = Tertiary(d, {"electrolyte": Region(e)}, {"y0": bv}, ["y1"], control="potentiostatic",
                 electrode_potential=-0.02, c_bulk=1.0, degree=degree, rtol=1e-12)
    x = ufl.SpatialCoordinate(d.mesh)
    t = dolfinx.fem.Constant(d.mesh, PETSc.ScalarType(0.0))
    c_e, phi_e = exact(x, t, ufl, time_law)
    i_e = p.ionic_current(c_e, phi_e)
    n_vec = ufl.FacetNormal(d.mesh)
    tv = ufl.variable(t)
    c_t, _ = exact(x, tv, ufl, time_law)
    p.source_c = ufl.diff(c_t, tv) - ufl.div(e.diffusivity(c_e, ufl) * ufl.grad(c_e))
    p.source_phi = ufl.div(i_e)
    salt = e.diffusivity(c_e, ufl) * ufl.dot(ufl.grad(c_e), n_vec)
    i_a = p.anodic_current(bv, c_e, phi_e, p.v_app)
    p.extra_flux = {
        "y0": (salt - (1 - e.transference_number) * i_a / FARADAY, -ufl.dot(i_e, n_vec) - i_a),
        "x0": (salt, -ufl.dot(i_e, n_vec)),
        "x1": (salt, -ufl.dot(i_e, n_vec)),
    }
    p.c.interpolate(dolfinx.fem.Expression(c_e, p.Vc.element.interpolation_points))
    p.phi.interpolate(dolfinx.fem.Expression(phi_e, p.V.element.interpolation_points))
    dt = end / steps
    for k in range(steps):
        t.value = (k + 1) * dt
        assert p.step(dt).converged
    ec = math.sqrt(d.integrate((p.c - c_e) ** 2 * d.dx))
    ep = math.sqrt(d.integrate((p.phi - phi_e) ** 2 * d.dx))
    return ec, ep


@pytest.mark.mpi
@pytest.mark.parametrize("degree", [1, 2])
def test_mms_spatial_rate(degree):
    ns = [4, 8, 16]
    errs = np.array([mms_error(n, 2, degree, "linear") for n in ns])
    rates = [rate(errs[:, k], [1 / n for n in ns]) for k in range(2)]
    print(f"P{degree} spatial L2 rates: c {rates[0]:.3f}, phi {rates[1]:.3f}")
    assert rates[0] == pytest.approx(degree + 1, abs=0.2)
    assert rates[1] == pytest.approx(degree + 1, abs=0.2)


@pytest.mark.mpi
def test_mms_temporal_rate():
    steps = [4, 8, 16]
    errs = np.array([mms_error(24, s, 2, "exponential") for s in steps])
    rates = [rate(errs[:, k], [1 / s for s in steps]) for k in range(2)]
    print(f"backward Euler temporal L2 rates: c {rates[0]:.3f}, phi {rates[1]:.3f}")
    assert rates[0] == pytest.approx(1.0, abs=0.15)
    assert rates[1] == pytest.approx(1.0, abs=0.15)


# ---------------------------------------------------------------------- single-ion solids
def solid_cell(domain, j, counter_type="reference", sigma=0.1):
    e = Electrolyte.constant(1.0, D, TP)
    return Tertiary(domain, {"electrolyte": Region(e), "solid": SolidElectrolyte(sigma)}, {"x0": ButlerVolmer(10.0)},
                    ["x1"], counter_type=counter_type, current_density=j, c_bulk=C0)


@pytest.mark.mpi
def test_sand_time_at_a_single_ion_solid_layer():
    """Li | 5 um single-ion conductor | liquid: the anions stop at the solid, so the liquid
    depletes at the interface at the same Sand's time as at a bare electrode."""
    j = 10.0
    ts = sand_time(j)
    a = 5e-6
    p = solid_cell(interval_with_solid(220, 20, a, a + 6 * math.sqrt(D * ts), grading=2.0), j)
    run = integrate(p, 2 * ts, TimeControl(dt_initial=1e-6 * ts, target_change=0.005))
    print(f"single-ion layer: Sand's time {run.sand_time:.1f} s vs {ts:.1f} s ({run.sand_time / ts - 1:+.3%})")
    assert run.stopped == "sand"
    assert run.sand_time == pytest.approx(ts, rel=0.02)
    assert run.sand_time == pytest.approx(ts, rel=0.005)


@pytest.mark.mpi
def test_closed_cell_with_a_solid_layer_steady_state():
    """Li | solid (a) | liquid | Li at half the limiting current: linear salt profile with slope
    (1 - t+) i / (F D) in the liquid, ohmic drop i a / sigma across the solid, salt conserved,
    c pinned in the solid."""
    a, length, sigma = 10e-6, 110e-6, 0.1
    liquid = length - a
    i_lim = 2 * FARADAY * D * C0 / ((1 - TP) * liquid)
    j = 0.5 * i_lim
    d = interval_with_solid(60, 10, a, length)
    p = solid_cell(d, j, counter_type="electrode", sigma=sigma)
    start = p.salt_amount()
    run = integrate(p, 30 * liquid**2 / D, TimeControl(dt_initial=1e-4 * liquid**2 / D))
    assert run.stopped is None
    x = p.Vc.tabulate_dof_coordinates()[:, 0]
    comm = p.domain.comm
    pts = comm.allgather(np.c_[x, p.c.x.array, p.phi.x.array])
    pts = np.vstack(pts)
    pts = pts[np.argsort(pts[:, 0])]

    def at(xq, col):
        return float(np.interp(xq, pts[:, 0], pts[:, col]))

    slope = (at(length, 1) - at(a, 1)) / liquid
    expected = (1 - TP) * j / (FARADAY * D)
    drop = at(a, 2) - at(0.0, 2)
    print(f"solid layer: liquid slope {slope:.6e} vs {expected:.6e}; ohmic drop {drop * 1e3:.5f} mV vs "
          f"{j * a / sigma * 1e3:.5f} mV; salt drift {abs(p.salt_amount() - start) / start:.1e}")
    assert slope == pytest.approx(expected, rel=1e-6)
    assert drop == pytest.approx(j * a / sigma, rel=1e-6)  # plating: current toward x = 0, phi rises with x
    assert np.all(pts[pts[:, 0] < a - 1e-12, 1] == C0)  # no salt equation in the solid
    assert abs(p.salt_amount() - start) / start < 1e-10
