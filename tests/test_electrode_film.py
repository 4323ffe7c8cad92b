"""Film resistance, blocked surfaces and floating (bipolar) conductors on the potential solver.

Known answers:
* a flat electrode under a film, 1D current: V = E_eq - asinh(i / 2 i0) / (alpha f) - i R_f - i H / kappa
  (symmetric Butler-Volmer, plating i > 0), galvanostatic and potentiostatic, to 1e-8;
* a manufactured solution with a filmed Butler-Volmer boundary: L2 rate k + 1 for P1 and P2;
* a floating plate spanning the channel between the electrode and the counter is a bipolar
  electrode in series: zero net current, it plates on one face what it strips on the other, and
  the cell voltage rises by exactly its two overpotentials, 2 asinh(i / 2 i0) / (alpha f).
Marked ``mpi``: the same numbers on 2 ranks.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import ufl

from solver._dolfinx import MPI, dolfinx
from solver.domain import Domain
from solver.errors import SolverError
from solver.physics.potential import ButlerVolmer, CurrentDistribution, FloatingConductor
from solver.postprocess import recover_current
from tests.helpers import rate, unit_square

F_RT = 96485.33212 / (8.314462618 * 298.15)
I0, KAPPA, R_F, I_APP = 4.1, 50.0, 5e-3, 10.0  # A/m^2, S/m, Ohm m^2 (50 Ohm cm^2), A/m^2


def eta_bv(i):
    """Charge-transfer overpotential magnitude of symmetric BV (alpha 0.5) at current density i."""
    return math.asinh(i / (2 * I0)) / (0.5 * F_RT)


def flat_problem(control, film=R_F, degree=1, n=4, **kw):
    d = unit_square(n)
    return CurrentDistribution(
        d, {"electrolyte": KAPPA}, {"electrode": ButlerVolmer(I0, 0.5, 0.5, 0.0, film)}, ["counter"],
        model="secondary", control=control, current_density=I_APP, degree=degree, **kw)


@pytest.mark.mpi
@pytest.mark.parametrize("degree", [1, 2])
def test_flat_film_closed_form(degree):
    expected = -eta_bv(I_APP) - I_APP * R_F - I_APP * 1.0 / KAPPA
    p = flat_problem("galvanostatic", degree=degree)
    r = p.solve()
    print(f"P{degree} galvanostatic: V = {r.electrode_potential!r}, closed form {expected!r}, "
          f"rel {abs(r.electrode_potential / expected - 1):.2e}")
    assert r.electrode_potential == pytest.approx(expected, rel=1e-8)
    film = p.film_metrics()["electrode"]
    assert film["mean_film_drop_V"] == pytest.approx(-I_APP * R_F, rel=1e-8)
    assert film["mean_charge_transfer_overpotential_V"] == pytest.approx(-eta_bv(I_APP), rel=1e-8)
    # potentiostatic at that V delivers the current
    p = flat_problem("potentiostatic", degree=degree, electrode_potential=expected)
    p.solve()
    total = recover_current(p).total(["electrode"])
    print(f"P{degree} potentiostatic: i = {total!r}, rel {abs(total / I_APP - 1):.2e}")
    assert total == pytest.approx(I_APP, rel=1e-8)
    # no film: the plain (unextended) path, the same closed form without i R_f
    p = flat_problem("galvanostatic", film=0.0, degree=degree)
    assert not p.extended
    assert p.solve().electrode_potential == pytest.approx(expected + I_APP * R_F, rel=1e-8)


def test_film_refuses_the_iterative_solver():
    p = flat_problem("galvanostatic", linear_solver="iterative")
    with pytest.raises(SolverError, match="iterative"):
        p.solve()
    with pytest.raises(SolverError, match="secondary"):
        flat_problem("galvanostatic", model="primary").solve()


# ------------------------------------------------------------------ MMS with a filmed BV boundary
V_MMS, E0, RF_MMS = -0.05, -0.03, 0.02
BV_MMS = ButlerVolmer(i0=0.5, alpha_a=0.6, alpha_c=0.4, film_resistance=RF_MMS)


def _exact(x, m, f):
    """phi_e = (1 - y) b(x) + 0.01 sin(pi y), b = V - eta_c - R_f BV(eta_c), eta_c(x) = E0 (1 + 0.5 cos(pi x)):
    on y = 0 the film relation holds exactly with charge-transfer overpotential eta_c."""
    eta_c = E0 * (1 + 0.5 * m.cos(m.pi * x[0]))
    i_a = BV_MMS.i0 * (m.exp(BV_MMS.alpha_a * f * eta_c) - m.exp(-BV_MMS.alpha_c * f * eta_c))
    b = V_MMS - eta_c - RF_MMS * i_a
    return (1 - x[1]) * b + 0.01 * m.sin(m.pi * x[1]), RF_MMS * i_a


def _mms(n, degree, control):
    d = unit_square(n)
    x = ufl.SpatialCoordinate(d.mesh)
    p = CurrentDistribution(d, {"electrolyte": 2.0}, {"electrode": BV_MMS}, ["counter"], model="secondary",
                            control=control, electrode_potential=V_MMS, degree=degree)
    phi_e, w_e = _exact(x, ufl, p.f)
    p.source = -ufl.div(2.0 * ufl.grad(phi_e))
    n_vec = ufl.FacetNormal(d.mesh)
    i_a = w_e / RF_MMS
    p.extra_flux = {"electrode": 2.0 * ufl.dot(ufl.grad(phi_e), n_vec) - i_a}
    if control == "galvanostatic":
        p.current_density = d.integrate(-i_a * d.ds_on(["electrode"])) / d.projected_area
    r = p.solve()
    err = math.sqrt(d.integrate((p.phi - phi_e) ** 2 * d.dx))
    err_w = math.sqrt(d.integrate((p.film - w_e) ** 2 * d.ds_on(["electrode"])))
    return err, err_w, r.electrode_potential


@pytest.mark.mpi
@pytest.mark.parametrize("control", ["potentiostatic", "galvanostatic"])
@pytest.mark.parametrize("degree", [1, 2])
def test_mms_film_rates(degree, control):
    ns = [8, 16, 32] if degree == 1 else [4, 8, 16]
    res = [_mms(n, degree, control) for n in ns]
    hs = [1.0 / n for n in ns]
    r_l2 = rate([r[0] for r in res], hs)
    r_w = rate([r[1] for r in res], hs)
    print(f"P{degree} {control}: L2 rate {r_l2:.3f}, film-drop L2(Gamma) rate {r_w:.3f}, errors {[r[0] for r in res]}")
    assert r_l2 == pytest.approx(degree + 1, abs=0.15)
    assert r_w > degree + 0.8
    if control == "galvanostatic":
        assert abs(res[-1][2] - V_MMS) < abs(res[0][2] - V_MMS)
