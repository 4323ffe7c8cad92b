"""Method of manufactured solutions for the potential equation with a Butler-Volmer boundary.

Exact solution (written once, evaluated by UFL and by numpy):
    phi(x, y) = 0.02 (1 - y) (1 + 0.5 cos(pi x)) + 0.01 sin(pi y)
on the unit square: phi = 0 on the counter (y = 1), zero normal derivative on the sides,
and a Butler-Volmer electrode at y = 0 where a manufactured flux g closes the balance.
The observed convergence orders are asserted: L2 ~ k+1 and H1 ~ k for P_k, planar and
axisymmetric (weight 2 pi r), potentiostatic and galvanostatic (V is then an unknown).
"""

import math

import numpy as np
import pytest
import ufl

from solver.physics.potential import ButlerVolmer, CurrentDistribution
from tests.helpers import rate, unit_square

KAPPA = 2.0
V_APPLIED = -0.05
BV = ButlerVolmer(i0=0.5, alpha_a=0.6, alpha_c=0.4)


def exact(x, m):
    return 0.02 * (1 - x[1]) * (1 + 0.5 * m.cos(m.pi * x[0])) + 0.01 * m.sin(m.pi * x[1])


def solve(n, degree, axisymmetric, control, linear_solver="auto"):
    d = unit_square(n, axisymmetric)
    x = ufl.SpatialCoordinate(d.mesh)
    phi_e = exact(x, ufl)
    w = d.weight
    n_vec = ufl.FacetNormal(d.mesh)
    problem = CurrentDistribution(
        d, {"electrolyte": KAPPA}, {"electrode": BV}, ["counter"], model="secondary",
        control=control, electrode_potential=V_APPLIED, degree=degree, temperature=298.15,
        linear_solver=linear_solver,
    )
    f = problem.f
    problem.source = -ufl.div(w * KAPPA * ufl.grad(phi_e)) / w
    flux_e = KAPPA * ufl.dot(ufl.grad(phi_e), n_vec)
    i_a = BV.anodic_current(V_APPLIED - phi_e, f)
    problem.extra_flux = {"electrode": flux_e - i_a}
    if control == "galvanostatic":
        # the current that the exact solution plates, per projected area
        problem.current_density = d.integrate(-i_a * w * d.ds_on(["electrode"])) / d.projected_area
    result = problem.solve()
    err_l2 = math.sqrt(d.integrate((problem.phi - phi_e) ** 2 * w * d.dx))
    err_h1 = math.sqrt(d.integrate(ufl.inner(ufl.grad(problem.phi - phi_e), ufl.grad(problem.phi - phi_e)) * w * d.dx))
    return err_l2, err_h1, result.electrode_potential


@pytest.mark.mpi
@pytest.mark.parametrize("degree", [1, 2])
@pytest.mark.parametrize(
    "axisymmetric,control",
    [(False, "potentiostatic"), (False, "galvanostatic"), (True, "potentiostatic"), (True, "galvanostatic")],
)
def test_mms_rates(degree, axisymmetric, control):
    ns = [8, 16, 32] if degree == 1 else [4, 8, 16]
    hs = [1.0 / n for n in ns]
    results = [solve(n, degree, axisymmetric, control) for n in ns]
    l2 = [r[0] for r in results]
    h1 = [r[1] for r in results]
    r_l2, r_h1 = rate(l2, hs), rate(h1, hs)
    print(f"P{degree} axisym={axisymmetric} {control}: L2 rate {r_l2:.3f}, H1 rate {r_h1:.3f}, errors {l2}")
    assert r_l2 == pytest.approx(degree + 1, abs=0.15)
    assert r_h1 == pytest.approx(degree, abs=0.15)
    if control == "galvanostatic":
        v_err = [abs(r[2] - V_APPLIED) for r in results]
        assert v_err[-1] < v_err[0]
        assert v_err[-1] < 1e-3 * abs(V_APPLIED) * (0.1 if degree == 2 else 1)


def test_exact_solution_numpy_matches_ufl():
    """The same exact() serves both numpy (for point checks) and UFL."""
    pts = np.array([[0.3, 0.7], [0.0, 0.0], [1.0, 1.0]]).T
    vals = exact(pts, np)
    assert vals[2] == pytest.approx(0.0, abs=1e-15)  # counter at phi = 0
    assert vals[1] == pytest.approx(0.03)


@pytest.mark.mpi
@pytest.mark.parametrize("control", ["potentiostatic", "galvanostatic"])
def test_iterative_solver_matches_direct(control):
    """CG+GAMG (and the Schur field split for galvanostatic) give the direct solution."""
    direct = solve(16, 2, True, control, "direct")
    iterative = solve(16, 2, True, control, "iterative")
    assert iterative[0] == pytest.approx(direct[0], rel=1e-6)
    assert iterative[2] == pytest.approx(direct[2], rel=1e-9, abs=1e-12)


@pytest.mark.mpi
@pytest.mark.parametrize("cell", ["triangle", "tetrahedron", "quadrilateral"])
def test_p1_to_p2_interpolation_matrix_is_dolfinx_s(cell):
    """The P1 -> P2 matrix of the p-multigrid, built from the dofmaps, is the one
    dolfinx.fem.petsc.interpolation_matrix builds cell by cell: same layout, same product with a
    random vector, no stored zeros; on one rank and two."""
    import dolfinx.fem.petsc
    from mpi4py import MPI

    from solver.physics.potential import interpolation_matrix

    comm = MPI.COMM_WORLD
    if cell == "tetrahedron":
        mesh = dolfinx.mesh.create_unit_cube(comm, 4, 3, 3)
    else:
        mesh = dolfinx.mesh.create_unit_square(comm, 7, 5, getattr(dolfinx.mesh.CellType, cell))
    V1 = dolfinx.fem.functionspace(mesh, ("Lagrange", 1))
    V2 = dolfinx.fem.functionspace(mesh, ("Lagrange", 2))
    ours = interpolation_matrix(V1, V2)
    theirs = dolfinx.fem.petsc.interpolation_matrix(V1, V2)
    theirs.assemble()
    assert ours.getSizes() == theirs.getSizes()
    assert ours.getOwnershipRange() == theirs.getOwnershipRange()
    x, y = theirs.createVecs()
    x.setArray(np.random.default_rng(comm.rank).random(x.getLocalSize()))
    y_ours = y.duplicate()
    theirs.mult(x, y)
    ours.mult(x, y_ours)
    assert y_ours.getSize() > 0
    y_ours.axpy(-1.0, y)
    assert y_ours.norm() < 1e-12 * y.norm()
    _, _, values = ours.getValuesCSR()
    assert np.all(values != 0.0)
    # a P1 function (here x + 2y) is reproduced exactly on P2
    f1, f2 = dolfinx.fem.Function(V1), dolfinx.fem.Function(V2)
    f1.interpolate(lambda p: p[0] + 2 * p[1])
    ours.mult(f1.x.petsc_vec, f2.x.petsc_vec)
    f2.x.scatter_forward()
    exact = dolfinx.fem.Function(V2)
    exact.interpolate(lambda p: p[0] + 2 * p[1])
    owned = V2.dofmap.index_map.size_local
    assert np.allclose(f2.x.array[:owned], exact.x.array[:owned], atol=1e-13)
