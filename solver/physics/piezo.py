"""Linear piezoelectricity in the stress-charge form.

Unknowns: displacement u (m) and electric potential psi (V) in a piezoelectric region.

    div sigma = 0,   sigma_ij = C_ijkl eps_kl - e_kij E_k          (mechanical balance)
    div D = 0,       D_i = e_ikl eps_kl + epsS_ij E_j               (Gauss's law, no free charge)
    eps = sym(grad u),  E = -grad psi

C is the stiffness at constant field (c^E), e the piezoelectric stress constants, epsS the
permittivity at constant strain. A poled ceramic is transversely isotropic about its poling
axis; the tensors are built in the material frame (poling along 3) and rotated to the poling
direction given in the model frame.

Two-dimensional models use the full 3D tensors:

* plane strain (``2d``): the mesh's (x, y) are the first two axes; eps_i3 = 0 and E_3 = 0;
* axisymmetric (r, z): the third axis is the hoop direction, eps_33 = u_r / r, E_3 = 0, and
  every integral carries 2 pi r. The poling axis must then be the symmetry axis (+-z).

Weak form (w = 2 pi r axisymmetric, 1 otherwise), test functions (v, phi):

    int sigma(u, psi) : eps(v) w dx + int (K u) . v w ds_K = int t . v w ds
    int D(u, psi) . grad(phi) w dx = int q phi w ds - int rho phi w dx

(t a prescribed traction; K = k_t I + (k_n - k_t) n n an elastic (Winkler) support, whose
traction on the body is -K u; q = D.n the free surface charge, 0 = charge-free; rho a free
volume charge, used by MMS).

Natural conditions are therefore traction-free and charge-free (open-circuit, unscreened)
surfaces. The psi unknown is scaled internally by sqrt(|C| / |epsS|) so that both blocks of
the (symmetric, indefinite) system have comparable size.
"""

from __future__ import annotations

import dataclasses
import math

import numpy as np
import ufl

from solver._dolfinx import MPI, PETSc, dolfinx, fresh_options, lagrange_space
from solver.domain import Domain
from solver.errors import SolverError

EPS0 = 8.8541878128e-12  # F/m

# Voigt index pairs: 1..6 = 11, 22, 33, 23, 13, 12
_VOIGT = [(0, 0), (1, 1), (2, 2), (1, 2), (0, 2), (0, 1)]


def _voigt_index(i: int, j: int) -> int:
    return _VOIGT.index((min(i, j), max(i, j)))


def stiffness_from_voigt(cv: np.ndarray) -> np.ndarray:
    """6x6 Voigt stiffness -> full C_ijkl (acting on the tensor strain)."""
    C = np.zeros((3, 3, 3, 3))
    for i, j, k, l in np.ndindex(3, 3, 3, 3):
        C[i, j, k, l] = cv[_voigt_index(i, j), _voigt_index(k, l)]
    return C


def coupling_from_voigt(ev: np.ndarray) -> np.ndarray:
    """3x6 Voigt piezoelectric stress constants -> full e_kij."""
    e = np.zeros((3, 3, 3))
    for k, i, j in np.ndindex(3, 3, 3):
        e[k, i, j] = ev[k, _voigt_index(i, j)]
    return e


def to_voigt_stiffness(C: np.ndarray) -> np.ndarray:
    return np.array([[C[a + b] for b in _VOIGT] for a in _VOIGT])


def to_voigt_coupling(e: np.ndarray) -> np.ndarray:
    return np.array([[e[(k, *p)] for p in _VOIGT] for k in range(3)])


def rotation_from_z(direction) -> np.ndarray:
    """Proper rotation R with R @ (0, 0, 1) = direction / |direction| (Rodrigues)."""
    d = np.asarray(direction, dtype=float)
    d = d / np.linalg.norm(d)
    z = np.array([0.0, 0.0, 1.0])
    c = float(z @ d)
    if c > 1 - 1e-14:
        return np.eye(3)
    if c < -1 + 1e-14:
        return np.diag([1.0, -1.0, -1.0])  # half turn about x
    v = np.cross(z, d)
    vx = np.array([[0, -v[2], v[1]], [v[2], 0, -v[0]], [-v[1], v[0], 0]])
    return np.eye(3) + vx + vx @ vx / (1 + c)


@dataclasses.dataclass(frozen=True)
class PiezoMaterial:
    """Full tensors in SI: C (Pa), e (C/m^2, e[k, i, j]), eps (F/m)."""

    C: np.ndarray
    e: np.ndarray
    eps: np.ndarray
    name: str = ""
    source: str = ""

    @classmethod
    def transversely_isotropic(
        cls, c11, c12, c13, c33, c44, e31, e33, e15, eps11, eps33, c66=None, name="", source=""
    ) -> "PiezoMaterial":
        """Poled along the material 3-axis; stiffness in Pa, e in C/m^2, permittivities in F/m."""
        c66 = 0.5 * (c11 - c12) if c66 is None else c66
        cv = np.array(
            [
                [c11, c12, c13, 0, 0, 0],
                [c12, c11, c13, 0, 0, 0],
                [c13, c13, c33, 0, 0, 0],
                [0, 0, 0, c44, 0, 0],
                [0, 0, 0, 0, c44, 0],
                [0, 0, 0, 0, 0, c66],
            ],
            dtype=float,
        )
        ev = np.zeros((3, 6))
        ev[0, 4] = e15
        ev[1, 3] = e15
        ev[2, 0:3] = [e31, e31, e33]
        return cls(stiffness_from_voigt(cv), coupling_from_voigt(ev), np.diag([eps11, eps11, eps33]), name, source)

    @classmethod
    def isotropic_dielectric(cls, young, poisson, eps_r, name="", source="") -> "PiezoMaterial":
        """An elastic, dielectric, non-piezoelectric material (e = 0)."""
        lam = young * poisson / ((1 + poisson) * (1 - 2 * poisson))
        mu = young / (2 * (1 + poisson))
        c11, c12 = lam + 2 * mu, lam
        return cls.transversely_isotropic(c11, c12, c12, c11, mu, 0, 0, 0, eps_r * EPS0, eps_r * EPS0,
                                          name=name, source=source)

    def rotated(self, R: np.ndarray) -> "PiezoMaterial":
        """Tensors of the material turned by the rotation R (material frame -> model frame)."""
        C = np.einsum("ia,jb,kc,ld,abcd->ijkl", R, R, R, R, self.C)
        e = np.einsum("ka,ib,jc,abc->kij", R, R, R, self.e)
        eps = R @ self.eps @ R.T
        return dataclasses.replace(self, C=C, e=e, eps=eps)

    def poled_along(self, direction) -> "PiezoMaterial":
        """The material (poled along its 3-axis) with the poling turned to ``direction``."""
        return self.rotated(rotation_from_z(direction))

    def scaled(self, piezo: float = 1.0) -> "PiezoMaterial":
        """The same material with the piezoelectric constants multiplied by ``piezo``."""
        return dataclasses.replace(self, e=self.e * piezo)

    # ---- derived constants (strain-charge form), used by benchmarks and documentation
    @property
    def compliance_voigt(self) -> np.ndarray:
        return np.linalg.inv(to_voigt_stiffness(self.C))

    @property
    def d_voigt(self) -> np.ndarray:
        """Piezoelectric strain constants d = e s^E (C/N), 3x6 Voigt (engineering shear)."""
        return to_voigt_coupling(self.e) @ self.compliance_voigt

    @property
    def eps_T(self) -> np.ndarray:
        """Permittivity at constant stress: eps^T = eps^S + d e^T."""
        return self.eps + self.d_voigt @ to_voigt_coupling(self.e).T

    @property
    def g33(self) -> float:
        """Voltage constant g33 = d33 / eps33^T (V m / N), material frame."""
        return self.d_voigt[2, 2] / self.eps_T[2, 2]


@dataclasses.dataclass
class PiezoResult:
    u: dolfinx.fem.Function
    psi: dolfinx.fem.Function


class Piezoelectricity:
    """Linear piezoelectric problem on a Domain (one material everywhere in its mesh).

    Boundary conditions are added by name before ``solve``; unnamed boundaries are
    traction-free and charge-free. ``kind`` is "2d" (plane strain), "axisymmetric" or "3d".
    """

    def __init__(self, domain: Domain, material: PiezoMaterial, degree: int = 2, prefix: str = "piezo_"):
        self.domain = domain
        self.material = material
        self.degree = degree
        self.prefix = prefix
        mesh = domain.mesh
        self.gdim = mesh.geometry.dim
        if domain.axisymmetric:
            self._check_axisymmetric(material)
        self.U = lagrange_space(mesh, degree, (self.gdim,))
        self.P = lagrange_space(mesh, degree)
        self.u = dolfinx.fem.Function(self.U, name="displacement")
        self.psi = dolfinx.fem.Function(self.P, name="piezo_potential")
        self.C = dolfinx.fem.Constant(mesh, material.C)
        self.e = dolfinx.fem.Constant(mesh, material.e)
        self.eps = dolfinx.fem.Constant(mesh, material.eps)
        c_ref = float(np.abs(material.C).max())
        eps_ref = float(np.abs(material.eps).max())
        self.scale = math.sqrt(c_ref / eps_ref)  # psi = scale * psi_hat
        self._bcs_u: list = []
        self._bcs_psi: list = []
        self._loads = []  # (names, UFL vector traction)
        self._charges = []  # (names, UFL scalar surface charge density q = D.n)
        self._supports = []  # (names, k_normal Constant, k_tangential Constant), Pa/m
        self.body_force = None  # UFL vector body force (N/m^3)
        self.charge_density = None  # UFL scalar free charge (C/m^3)
        self.manufactured = None  # (u, psi) UFL expressions: add their weak residual to the load (MMS)

    @staticmethod
    def _check_axisymmetric(material: PiezoMaterial) -> None:
        # invariant under rotation about the y (axis) direction <=> no coupling to hoop shear
        R = np.array([[0.0, 0.0, 1.0], [0.0, 1.0, 0.0], [-1.0, 0.0, 0.0]])
        turned = material.rotated(R)
        if not (np.allclose(turned.C, material.C, atol=1e-9 * np.abs(material.C).max())
                and np.allclose(turned.e, material.e, atol=1e-9 * max(np.abs(material.e).max(), 1e-30))):
            raise SolverError("axisymmetric piezoelectricity needs the poling along the symmetry axis (+-z)")

    # ------------------------------------------------------------------ kinematics
    def strain(self, u):
        """3x3 strain tensor of a displacement field in the model's kinematics."""
        g = ufl.grad(u)
        if self.gdim == 3:
            return ufl.sym(g)
        hoop = u[0] / ufl.SpatialCoordinate(self.domain.mesh)[0] if self.domain.axisymmetric else 0
        e01 = 0.5 * (g[0, 1] + g[1, 0])
        return ufl.as_tensor([[g[0, 0], e01, 0], [e01, g[1, 1], 0], [0, 0, hoop]])

    def field(self, psi):
        """3-vector electric field E = -grad psi (third component 0 in 2D models)."""
        g = ufl.grad(psi)
        if self.gdim == 3:
            return -g
        return ufl.as_vector([-g[0], -g[1], 0])

    def stress(self, u, psi):
        i, j, k, l = ufl.indices(4)
        eps, E = self.strain(u), self.field(psi)
        return ufl.as_tensor(self.C[i, j, k, l] * eps[k, l] - self.e[k, i, j] * E[k], (i, j))

    def displacement_field(self, u, psi):
        """Electric displacement D (3-vector, C/m^2)."""
        i, k, l = ufl.indices(3)
        eps, E = self.strain(u), self.field(psi)
        return ufl.as_vector(self.e[i, k, l] * eps[k, l] + self.eps[i, k] * E[k], i)

    def energy_density(self, u, psi):
        """Electric enthalpy density H = 1/2 sigma:eps - 1/2 D.E (J/m^3)."""
        return 0.5 * ufl.inner(self.stress(u, psi), self.strain(u)) - 0.5 * ufl.dot(
            self.displacement_field(u, psi), self.field(psi))

    def von_mises(self, u, psi):
        s = self.stress(u, psi)
        dev = s - ufl.tr(s) / 3 * ufl.Identity(3)
        return ufl.sqrt(1.5 * ufl.inner(dev, dev))

    # ------------------------------------------------------------------ conditions
    def fix(self, names: list[str], value=None, component: int | None = None) -> None:
        """Prescribed displacement on the named boundaries: a vector (constant or callable
        x -> values) for all components, or a scalar for one ``component`` (a roller)."""
        self.fix_facets(self.domain.facets(names), value, component)

    def fix_facets(self, facets, value=None, component: int | None = None) -> None:
        """``fix`` on given local facet indices."""
        fdim = self.domain.mesh.topology.dim - 1
        if component is None:
            g = dolfinx.fem.Function(self.U)
            if callable(value):
                g.interpolate(value)
            elif value is not None:
                g.interpolate(lambda x: np.tile(np.asarray(value, float)[:, None], (1, x.shape[1])))
            dofs = dolfinx.fem.locate_dofs_topological(self.U, fdim, facets)
            self._bcs_u.append(dolfinx.fem.dirichletbc(g, dofs))
        else:
            sub, _ = self.U.sub(component).collapse()
            g = dolfinx.fem.Function(sub)
            if callable(value):
                g.interpolate(value)
            else:
                g.x.array[:] = 0.0 if value is None else float(value)
            dofs = dolfinx.fem.locate_dofs_topological((self.U.sub(component), sub), fdim, facets)
            self._bcs_u.append(dolfinx.fem.dirichletbc(g, dofs, self.U.sub(component)))

    def potential(self, names: list[str], value=0.0) -> None:
        """Prescribed electric potential (V; a number or x -> values) on the named boundaries."""
        fdim = self.domain.mesh.topology.dim - 1
        dofs = dolfinx.fem.locate_dofs_topological(self.P, fdim, self.domain.facets(names))
        if callable(value):
            g = dolfinx.fem.Function(self.P)
            g.interpolate(lambda x: value(x) / self.scale)
            self._bcs_psi.append(dolfinx.fem.dirichletbc(g, dofs))
        else:
            self._bcs_psi.append(dolfinx.fem.dirichletbc(PETSc.ScalarType(value / self.scale), dofs, self.P))

    def pressure(self, names: list[str], p: float) -> None:
        """Normal pressure p (Pa, positive = compression) on the named boundaries."""
        n = ufl.FacetNormal(self.domain.mesh)
        self._loads.append((names, -dolfinx.fem.Constant(self.domain.mesh, PETSc.ScalarType(p)) * n))

    def traction(self, names: list[str], t) -> None:
        """Traction vector (Pa) on the named boundaries (a UFL vector or a constant)."""
        if not isinstance(t, ufl.core.expr.Expr):
            t = dolfinx.fem.Constant(self.domain.mesh, np.asarray(t, dtype=float))
        self._loads.append((names, t))

    def elastic_support(self, names: list[str], k_normal: float, k_tangential: float) -> None:
        """An elastic (Winkler) foundation on the named boundaries: traction t = -K u with
        K = k_t I + (k_n - k_t) n n (Pa/m), n the outward normal.

        A thin substrate of thickness H bonded to a rigid base behaves so when the load varies
        over lengths much longer than H: k_n = M / H (M the constrained, oedometric modulus)
        and k_t = G / H. The term is symmetric positive semi-definite; with k_n, k_t > 0 on a
        flat face it alone holds a body against rigid motion.
        """
        if k_normal < 0 or k_tangential < 0:
            raise SolverError("elastic support stiffnesses must be >= 0")
        mesh = self.domain.mesh
        self._supports.append((names, dolfinx.fem.Constant(mesh, PETSc.ScalarType(k_normal)),
                               dolfinx.fem.Constant(mesh, PETSc.ScalarType(k_tangential))))

    def support_traction(self, u, k_normal, k_tangential):
        """Traction -K u that an elastic support exerts on the body (gdim vector)."""
        n = ufl.FacetNormal(self.domain.mesh)
        un = ufl.dot(u, n)
        return -(k_tangential * (u - un * n) + k_normal * un * n)

    def surface_charge(self, names: list[str], q) -> None:
        """Free surface charge density q = D.n (C/m^2) on the named boundaries."""
        self._charges.append((names, q))

    # ------------------------------------------------------------------ solve
    def forms(self):
        d = self.domain
        w = d.weight
        s = self.scale
        U, P = self.U, self.P
        u, psi_hat = ufl.TrialFunctions(ufl.MixedFunctionSpace(U, P))
        v, phi_hat = ufl.TestFunctions(ufl.MixedFunctionSpace(U, P))
        # Gauss's law is tested with -phi: its diagonal block (the dielectric Laplacian) is then
        # positive definite, so AMG can precondition it directly (the system is no longer
        # symmetric; the solution is the same)
        psi, phi = s * psi_hat, -s * phi_hat
        a = ufl.inner(self.stress(u, psi), self.strain(v)) * w * d.dx
        a += ufl.inner(self.displacement_field(u, psi), -self.field(phi)) * w * d.dx
        for names, kn, kt in self._supports:
            a += -ufl.inner(self.support_traction(u, kn, kt), v) * w * d.ds_on(names)
        # explicit zero loads keep both blocks in the right-hand side (UFL drops literal zeros)
        zero_u = dolfinx.fem.Constant(d.mesh, np.zeros(self.gdim))
        zero = dolfinx.fem.Constant(d.mesh, PETSc.ScalarType(0.0))
        L = ufl.inner(zero_u, v) * w * d.dx + zero * phi * w * d.dx
        for names, t in self._loads:
            L += ufl.inner(t, v) * w * d.ds_on(names)
        for names, q in self._charges:
            L += q * phi * w * d.ds_on(names)
        if self.body_force is not None:
            L += ufl.inner(self.body_force, v) * w * d.dx
        if self.charge_density is not None:
            L += -self.charge_density * phi * w * d.dx
        if self.manufactured is not None:
            ue, psie = self.manufactured
            L += ufl.inner(self.stress(ue, psie), self.strain(v)) * w * d.dx
            L += ufl.inner(self.displacement_field(ue, psie), -self.field(phi)) * w * d.dx
        return ufl.extract_blocks(a), ufl.extract_blocks(L)

    @property
    def num_dofs(self) -> int:
        return sum(V.dofmap.index_map.size_global * V.dofmap.index_map_bs for V in (self.U, self.P))

    def rigid_body_modes(self) -> list[np.ndarray]:
        """Owned entries of the rigid motions of the displacement space (the near-nullspace of
        the elastic block that smoothed-aggregation AMG needs to coarsen elasticity well):
        translations and rotations in 3D and plane strain, the axial translation only when
        axisymmetric (a hoop strain u_r / r excludes the others)."""
        x = self.U.tabulate_dof_coordinates()[: self.U.dofmap.index_map.size_local]
        n, g = x.shape[0], self.gdim
        modes = []
        axes = [1] if self.domain.axisymmetric else range(g)
        for k in axes:
            m = np.zeros((n, g))
            m[:, k] = 1.0
            modes.append(m)
        if not self.domain.axisymmetric:
            comm = self.domain.comm  # one centre for all ranks: a rotation about it is rigid globally
            centre = comm.allreduce(x.sum(axis=0), op=MPI.SUM) / max(1, comm.allreduce(n, op=MPI.SUM))
            c = x - centre
            pairs = [(0, 1)] if g == 2 else [(0, 1), (1, 2), (2, 0)]
            for i, j in pairs:  # rotation in the (i, j) plane: u_i = -x_j, u_j = x_i
                m = np.zeros((n, g))
                m[:, i], m[:, j] = -c[:, j], c[:, i]
                modes.append(m)
        return [m.reshape(-1) for m in modes]

    def _iterative_options(self) -> dict:
        """FGMRES on the (u, psi) system, preconditioned by block Gauss-Seidel (multiplicative
        field split): smoothed-aggregation AMG with the rigid-body near-nullspace on the elastic
        block, AMG on the (positive, see ``forms``) dielectric block. A Schur-complement split
        was tried first: GAMG then smooths with the matrix-free Schur complement, one elastic
        V-cycle per smoother step, and took twice the time with 30 % more iterations."""
        return {
            "ksp_type": "fgmres", "ksp_rtol": 1e-10, "ksp_atol": 1e-30, "ksp_max_it": 500,
            "ksp_gmres_restart": 100, "ksp_error_if_not_converged": True,
            "pc_type": "fieldsplit", "pc_fieldsplit_type": "multiplicative",
            "fieldsplit_u_ksp_type": "preonly", "fieldsplit_u_pc_type": "gamg",
            "fieldsplit_u_pc_gamg_threshold": 0.02,
            "fieldsplit_psi_ksp_type": "preonly", "fieldsplit_psi_pc_type": "gamg",
        }

    def _set_fieldsplit(self, problem) -> None:
        """Name the u and psi rows of the monolithic matrix and attach the rigid-body modes to
        the u block (PCFIELDSPLIT passes a 'nearnullspace' composed on a split's IS to its
        sub-matrix)."""
        comm = self.domain.comm
        A = problem.A
        start = A.getOwnershipRange()[0]
        bs = self.U.dofmap.index_map_bs
        n_u = self.U.dofmap.index_map.size_local * bs
        n_p = self.P.dofmap.index_map.size_local
        is_u = PETSc.IS().createStride(n_u, first=start, step=1, comm=comm)
        is_u.setBlockSize(bs)
        is_p = PETSc.IS().createStride(n_p, first=start + n_u, step=1, comm=comm)
        vectors = []
        for mode in self.rigid_body_modes():
            vec = PETSc.Vec().createMPI((n_u, PETSc.DECIDE), bsize=bs, comm=comm)
            vec.setArray(mode)
            vectors.append(vec)
        # orthonormalise (modified Gram-Schmidt): GAMG wants an independent set
        basis = []
        for vec in vectors:
            for b in basis:
                vec.axpy(-vec.dot(b), b)
            norm = vec.norm()
            if norm > 0:
                vec.scale(1.0 / norm)
                basis.append(vec)
        nsp = PETSc.NullSpace().create(vectors=basis, comm=comm)
        is_u.compose("nearnullspace", nsp)
        pc = problem.solver.getPC()
        pc.setFieldSplitIS(("u", is_u), ("psi", is_p))
        self._nearnullspace = nsp  # keep alive with the solver
        problem.solver.setFromOptions()

    def solve(self, petsc_options: dict | None = None, linear_solver: str = "direct") -> PiezoResult:
        """Assemble and solve. ``linear_solver``: "direct" (MUMPS), "iterative" (see
        ``_iterative_options``) or "auto" (direct below DIRECT_LIMIT unknowns)."""
        from dolfinx.fem.petsc import LinearProblem

        from solver.physics.potential import DIRECT_LIMIT

        a, L = self.forms()
        psi_hat = dolfinx.fem.Function(self.P)
        if linear_solver == "auto":
            linear_solver = "direct" if self.num_dofs < DIRECT_LIMIT else "iterative"
        self.linear_solver = linear_solver
        if linear_solver == "iterative":
            options = self._iterative_options()
        else:
            options = {"ksp_type": "preonly", "pc_type": "lu", "pc_factor_mat_solver_type": "mumps",
                       "ksp_error_if_not_converged": True}
        options.update(petsc_options or {})
        problem = LinearProblem(
            a, L, u=[self.u, psi_hat], bcs=self._bcs_u + self._bcs_psi, petsc_options=fresh_options(self.prefix, options),
            petsc_options_prefix=self.prefix, kind="mpi",
        )
        if options.get("pc_type") == "fieldsplit":
            self._set_fieldsplit(problem)
        try:
            problem.solve()
        except PETSc.Error as err:
            raise SolverError(f"the piezoelectric solve failed (PETSc error {err.ierr}: {err}); "
                              "is the layer held against rigid motion?") from None
        reason = problem.solver.getConvergedReason()
        self.linear_iterations = problem.solver.getIterationNumber()
        if reason <= 0:
            raise SolverError(f"the piezoelectric linear solve did not converge (KSP reason {reason})")
        self.psi.x.array[:] = self.scale * psi_hat.x.array
        ok = all(np.isfinite(f.x.array).all() for f in (self.u, self.psi))
        if not self.domain.comm.allreduce(ok, op=MPI.LAND):
            raise SolverError("the piezoelectric solve produced non-finite values (singular system?)")
        return PiezoResult(self.u, self.psi)

    def energy(self) -> float:
        """Electric enthalpy of the body (J; 2D: J per metre of depth); elastic supports excluded
        (see ``support_energy``)."""
        return self.domain.integrate(self.energy_density(self.u, self.psi) * self.domain.weight * self.domain.dx)

    def support_energy(self) -> float:
        """Elastic energy stored in the elastic supports, 1/2 int u . K u w ds (J)."""
        d = self.domain
        total = 0.0
        for names, kn, kt in self._supports:
            t = self.support_traction(self.u, kn, kt)
            total += d.integrate(-0.5 * ufl.inner(t, self.u) * d.weight * d.ds_on(names))
        return total


def preset(name: str) -> PiezoMaterial:
    """A piezoelectric material from ``solver.materials.PIEZO`` (poled along the 3-axis)."""
    from solver import materials

    values = materials.preset_values(materials.PIEZO, name)
    sources = "; ".join(sorted(set(materials.preset_sources(materials.PIEZO, name).values())))
    if "c11" in values:
        return PiezoMaterial.transversely_isotropic(
            values["c11"], values["c12"], values["c13"], values["c33"], values["c44"],
            values["e31"], values["e33"], values["e15"],
            values["eps11_r"] * EPS0, values["eps33_r"] * EPS0, c66=values["c66"], name=name, source=sources,
        )
    base = PiezoMaterial.isotropic_dielectric(values["young"], values["poisson"], values["eps_r"])
    d = np.zeros((3, 6))
    d[2, 0:3] = [values["d31"], values["d31"], values["d33"]]
    e = coupling_from_voigt(d @ to_voigt_stiffness(base.C))  # e = d c^E
    return dataclasses.replace(base, e=e, name=name, source=sources)


def composite(active: PiezoMaterial, matrix: PiezoMaterial, fraction: float, porosity: float = 0.0,
              poling_efficiency: float = 1.0) -> PiezoMaterial:
    """A 0-3 composite (particles of ``active`` in ``matrix``), optionally porous.

    Assumption (a bound, not a micromechanical model): stiffness and permittivity mix linearly
    in the volume fractions (Voigt), the pores add vacuum permittivity and no stiffness, and the
    piezoelectric stress constants are those of the active phase scaled by its volume fraction
    and by a poling efficiency in [0, 1]. Real 0-3 composites respond far less than this bound
    because the soft matrix carries the stress; use ``poling_efficiency`` (or the scenario's
    piezo scale) to bring the coefficients to a measured value.
    """
    solid = 1.0 - porosity
    C = solid * (fraction * active.C + (1 - fraction) * matrix.C)
    eps = solid * (fraction * active.eps + (1 - fraction) * matrix.eps) + porosity * EPS0 * np.eye(3)
    e = solid * fraction * poling_efficiency * active.e + solid * (1 - fraction) * matrix.e
    return PiezoMaterial(C, e, eps, name=f"{active.name}/{matrix.name} composite",
                         source=f"Voigt mixing rule of {active.name} and {matrix.name} (assumed)")
