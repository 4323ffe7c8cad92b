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


def flat_problem(control, film=R_F, degree=1, n=4, model="secondary", **kw):
    d = unit_square(n)
    return CurrentDistribution(
        d, {"electrolyte": KAPPA}, {"electrode": ButlerVolmer(I0, 0.5, 0.5, 0.0, film)}, ["counter"],
        model=model, control=control, current_density=I_APP, degree=degree, **kw)


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


# ------------------------------------------------------------------ floating (bipolar) plate
A_LOW, B_HIGH = 0.3, 0.5  # the plate fills a_low < y < b_high across the whole width (cut out of the mesh)


def bipolar_channel(n: int = 4, comm=MPI.COMM_WORLD) -> Domain:
    """Unit-width channel, electrode at y = 0, counter at y = 1, a plate spanning the width between
    y = 0.3 and 0.5: two disconnected electrolyte blocks (a mesh built from two structured grids)."""
    import basix.ufl

    pts, cells = [], []
    for y0, y1 in ((0.0, A_LOW), (B_HIGH, 1.0)):
        start = sum(len(p) for p in pts)
        xs, ys = np.linspace(0, 1, n + 1), np.linspace(y0, y1, n + 1)
        X, Y = np.meshgrid(xs, ys, indexing="ij")
        pts.append(np.column_stack([X.ravel(), Y.ravel()]))
        idx = np.arange((n + 1) ** 2).reshape(n + 1, n + 1) + start
        for i in range(n):
            for j in range(n):
                a, b, c, e = idx[i, j], idx[i + 1, j], idx[i + 1, j + 1], idx[i, j + 1]
                cells += [[a, b, c], [a, c, e]]
    if comm.rank == 0:
        x, cells = np.vstack(pts), np.array(cells, dtype=np.int64)
    else:
        x, cells = np.zeros((0, 2)), np.zeros((0, 3), dtype=np.int64)
    element = ufl.Mesh(basix.ufl.element("Lagrange", "triangle", 1, shape=(2,)))
    mesh = dolfinx.mesh.create_mesh(comm, cells, element, x)
    tdim = mesh.topology.dim
    owned = np.arange(mesh.topology.index_map(tdim).size_local, dtype=np.int32)
    cell_tags = dolfinx.mesh.meshtags(mesh, tdim, owned, np.ones_like(owned))
    names = {"electrode": 1, "plate_bottom": 2, "plate_top": 3, "counter": 4, "side": 5}
    where = {"electrode": lambda x: np.isclose(x[1], 0.0), "plate_bottom": lambda x: np.isclose(x[1], A_LOW),
             "plate_top": lambda x: np.isclose(x[1], B_HIGH), "counter": lambda x: np.isclose(x[1], 1.0),
             "side": lambda x: (np.isclose(x[0], 0.0) | np.isclose(x[0], 1.0))}
    mesh.topology.create_connectivity(tdim - 1, tdim)
    idx, val = [], []
    taken = np.zeros(0, dtype=np.int32)
    for name, marker in where.items():
        f = np.setdiff1d(dolfinx.mesh.locate_entities_boundary(mesh, tdim - 1, marker), taken)
        taken = np.union1d(taken, f)
        idx.append(f)
        val.append(np.full_like(f, names[name]))
    idx, val = np.concatenate(idx), np.concatenate(val)
    order = np.argsort(idx)
    facet_tags = dolfinx.mesh.meshtags(mesh, tdim - 1, idx[order].astype(np.int32), val[order].astype(np.int32))
    return Domain(mesh, cell_tags, facet_tags, {"electrolyte": 1}, names, False, 1.0)


def bipolar_problem(control, plate_film=0.0, **kw):
    plate = FloatingConductor("plate", {b: ButlerVolmer(I0, 0.5, 0.5, 0.0, plate_film)
                                        for b in ("plate_bottom", "plate_top")})
    return CurrentDistribution(
        bipolar_channel(), {"electrolyte": KAPPA}, {"electrode": ButlerVolmer(I0, 0.5, 0.5)}, ["counter"],
        model="secondary", control=control, current_density=I_APP, degree=1, floating=[plate], **kw)


@pytest.mark.mpi
@pytest.mark.parametrize("plate_film", [0.0, R_F])
def test_floating_plate_is_a_bipolar_electrode_in_series(plate_film):
    ohmic = I_APP * (A_LOW + 1.0 - B_HIGH) / KAPPA
    bipolar = 2 * eta_bv(I_APP) + 2 * I_APP * plate_film
    expected = -eta_bv(I_APP) - ohmic - bipolar
    p = bipolar_problem("galvanostatic", plate_film)
    r = p.solve()
    m = p.floating_metrics()["plate"]
    print(f"galvanostatic, plate film {plate_film}: V = {r.electrode_potential!r}, closed form {expected!r} "
          f"(rel {abs(r.electrode_potential / expected - 1):.2e}); plate U = {m['potential_V']!r}, plating "
          f"{m['plating_current_A']!r}, stripping {m['stripping_current_A']!r}, net {m['net_current_A']:.2e}")
    assert r.electrode_potential == pytest.approx(expected, rel=1e-8)
    assert abs(m["net_current_A"]) < 1e-10 * I_APP
    assert m["plating_current_A"] == pytest.approx(I_APP, rel=1e-8)  # on the top face, all of it
    assert m["stripping_current_A"] == pytest.approx(I_APP, rel=1e-8)  # from the bottom face
    assert m["per_boundary"]["plate_top"]["stripping_current_A"] == pytest.approx(0.0, abs=1e-12)
    assert r.floating_potentials["plate"] == m["potential_V"]
    # the plate sits between the electrolyte potentials of its faces: phi_bottom + eta_a = phi_top + eta_c
    phi_top = -I_APP * (1.0 - B_HIGH) / KAPPA
    assert m["potential_V"] == pytest.approx(phi_top - eta_bv(I_APP) - I_APP * plate_film, rel=1e-8)
    # potentiostatic at that V: the same current and plate potential
    q = bipolar_problem("potentiostatic", plate_film, electrode_potential=expected)
    q.solve()
    assert recover_current(q).total(["electrode"]) == pytest.approx(I_APP, rel=1e-8)
    assert q.floating_metrics()["plate"]["potential_V"] == pytest.approx(m["potential_V"], rel=1e-8)
