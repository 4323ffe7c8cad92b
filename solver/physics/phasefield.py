"""Phase-field model of Li electrodeposition (Chen et al., J. Power Sources 2015), in a
charge- and mass-conserving form.

Unknowns: the order parameter xi (1 = Li metal, 0 = electrolyte), the normalised Li+
concentration u = c / c0 and the electrolyte potential phi (V, 0 at the counter); the Li metal is
an ideal conductor at the electrode potential V (given, or a global unknown when the current is
given)::

    dxi/dt = -L_s [W g'(xi) - div(kappa grad xi)] - L_k h'(xi) [exp((1-a) f eta) - u exp(-a f eta)] + noise
    (1 - h + e_c) du/dt = div[D (1 - h + e_D) (grad u + u f grad phi)] - (c_s/c0 - u) h'(xi) dxi/dt
    div[sigma (1 - h + e_s) grad phi] = F c_s dxi/dt
    eta = V - phi,  g = xi^2 (1 - xi)^2,  h = xi^3 (6 xi^2 - 15 xi + 10),  f = F / RT

with c_s = 1 / V_m the site density of Li metal. The first line is Chen 2015's Allen-Cahn
equation with the Butler-Volmer driving force; at u = 1 the bracket vanishes at eta = 0 and, for
other u, at eta = ln(u) / f (the Nernst shift). The second is the conservation of all Li,
(1 - h) c0 u + h c_s, as in the grand-potential form that the open MOOSE reproductions use (Hong &
Viswanathan, ACS Energy Lett. 2018): Li+ consumed at the moving interface comes from the
electrolyte. The third makes the current that enters through the counter sink where Li is
deposited, so the deposited Li equals the charge passed (Faraday) by construction; Chen's original
single-potential form, where the metal conducts with sigma_s and the local phi is the
overpotential, does not have this property. The small constants e_c, e_D, e_s keep the
equations for u and phi regular inside the metal, where they have no physical meaning.

Anisotropy (2D): kappa(theta) = kappa0 [1 + delta cos(omega (theta - theta0))] with theta the
angle of grad xi; the interface term is the variation of int kappa(theta) |grad xi|^2 / 2 (UFL
differentiates it). Noise: a uniform random number in [-1, 1] per node and step, times
``noise`` (1/s) and h'(xi) (the interface only), from a hash of the node's coordinates, the step
number and the seed: the same in serial and in parallel.

An optional extra potential felt by the ions only (``set_ion_potential``, e.g. a screened piezo
potential in a layer) enters through phi + ion_potential in the migration flux, the ionic current
and the overpotential; explicit couplings update it from ``before_step``.

Time: backward Euler (``solver.stepping.Integrator``); SNES Newton. Linear solver
(``linear_solver``): MUMPS LU below ``DIRECT_LIMIT`` unknowns ("auto"), else GMRES with a Schur
complement on the single V unknown whose (xi, u, phi) block is preconditioned by a multiplicative
field split (SOR on xi, GAMG on u and on phi); see ``ITERATIVE_OPTIONS`` and docs/phase_field.md
("Solver") for the measurements behind it.
"""

from __future__ import annotations

import contextlib
import dataclasses
import math

import basix.ufl
import numpy as np
import ufl

from solver._dolfinx import MPI, PETSc, dolfinx, fresh_options, lagrange_space
from solver.domain import Domain
from solver.errors import SolverError
from solver.physics.potential import FARADAY, GAS_CONSTANT
from solver.physics.transport import StepResult
from solver.stepping import solve_checked


# unknowns below which linear_solver "auto" uses MUMPS LU: there LU costs at most ~1.5x the
# iterative solver per Newton iteration (1.3x on 63k unknowns, 1.5x on 95k) and cannot fail to
# converge; above, LU's cost grows faster (measured, docs/phase_field.md "Solver")
DIRECT_LIMIT = 100_000

# GMRES (right preconditioned: the tolerance is on the residual that Newton's method sees) with
# a Schur complement on V, one global unknown whose diagonal is zero in galvanostatic mode (so V
# cannot be a block of its own in a block Gauss-Seidel). Upper factorisation [A00 A01; 0 S]:
# exact (up to A00's preconditioner) when the V row has no xi entries (potentiostatic), a
# rank-one error otherwise, with one application of A00's preconditioner per iteration ("full"
# applies it twice for the same iteration count). The 1 x 1 S is taken with the diagonal of A00
# ("selfp"; "full", with A00's preconditioner, crashes in PETSc 3.25 on ranks that hold no V
# row). A00, the (xi, u, phi) block: multiplicative field split xi -> u -> phi; xi's block is
# dominated by its mass matrix (SOR); u (diffusion) and phi (conduction, sigma 100x lower in
# the metal) are elliptic (GAMG).
ITERATIVE_OPTIONS = {
    "ksp_type": "gmres", "ksp_pc_side": "right", "ksp_norm_type": "unpreconditioned",
    "ksp_rtol": 1e-8, "ksp_max_it": 200, "ksp_gmres_restart": 100,
    "pc_type": "fieldsplit", "pc_fieldsplit_type": "schur",
    "pc_fieldsplit_schur_fact_type": "upper", "pc_fieldsplit_schur_precondition": "selfp",
    "fieldsplit_V_ksp_type": "preonly", "fieldsplit_V_pc_type": "jacobi",
    "fieldsplit_fields_ksp_type": "preonly", "fieldsplit_fields_pc_type": "fieldsplit",
    "fieldsplit_fields_pc_fieldsplit_type": "multiplicative",
    "fieldsplit_fields_fieldsplit_xi_ksp_type": "preonly", "fieldsplit_fields_fieldsplit_xi_pc_type": "sor",
    "fieldsplit_fields_fieldsplit_u_ksp_type": "preonly", "fieldsplit_fields_fieldsplit_u_pc_type": "gamg",
    "fieldsplit_fields_fieldsplit_phi_ksp_type": "preonly", "fieldsplit_fields_fieldsplit_phi_pc_type": "gamg",
}
DIRECT_OPTIONS = {"ksp_type": "preonly", "pc_type": "lu", "pc_factor_mat_solver_type": "mumps"}


@contextlib.contextmanager
def options_in_database(prefix: str, options: dict):
    """The options in PETSc's database (with ``prefix``) while the block runs, as they were
    before afterwards. The sub-solvers of a field split read theirs when the preconditioner is
    first set up, i.e. in the first solve, long after ``NonlinearProblem`` applied its options."""
    db = PETSc.Options()
    saved = {}
    for key, value in options.items():
        name = prefix + key
        if db.hasName(name):
            saved[name] = db.getString(name)
        db[name] = value
    try:
        yield
    finally:
        for key in options:
            db.delValue(prefix + key)
        for name, value in saved.items():
            db[name] = value


@dataclasses.dataclass
class PhaseFieldParameters:
    """SI values; defaults from the normalised constants of Hong & Viswanathan 2018's MOOSE input
    (length unit 1 um, time unit 1 s): kappa 0.3 um^2, W 2.4, L_s 6.25 1/s, L_k 0.001 1/s,
    D 3.197e-10 m^2/s, sigma 1.19 S/m, alpha 0.5, F/RT 38.69 1/V."""

    interface_mobility: float = 6.25  # L_s, 1/s
    barrier: float = 2.4  # W
    gradient_coefficient: float = 0.3e-12  # kappa0, m^2
    kinetic_coefficient: float = 1e-3  # L_k, 1/s
    alpha: float = 0.5
    diffusivity: float = 3.197e-10  # m^2/s, electrolyte
    conductivity: float = 1.19  # S/m, electrolyte
    concentration: float = 1000.0  # c0, mol/m^3
    molar_volume: float = 1.3e-5  # m^3/mol, Li metal (c_s = 1/V_m)
    temperature: float = 300.0  # K (F/RT = 38.68 1/V)
    anisotropy_strength: float = 0.0  # delta
    anisotropy_mode: int = 4  # omega
    anisotropy_angle: float = 0.0  # theta0, rad
    noise: float = 0.0  # 1/s
    seed: int = 0
    regularisation: float = 1e-4  # e_c, e_D: u's capacity and mobility inside the metal
    # "conserving" (default, see the module doc) or "single": Chen's and the MOOSE inputs' single
    # potential in metal and electrolyte, sigma = sigma_s h + sigma (1 - h), phi = V held on the
    # electrode boundary and the local phi as the overpotential (eta = phi); potentiostatic only
    potential_form: str = "conserving"
    metal_conductivity: float = 1e6  # S/m, sigma_s of the single form (the MOOSE input's value)
    metal_conductivity_fraction: float = 1e-2  # e_s: phi's conductivity inside the metal, / sigma

    @property
    def width(self) -> float:
        """Interface width l = sqrt(2 kappa / W) of the flat equilibrium profile
        xi = [1 - tanh(d / l)] / 2 (0.5 um with the defaults)."""
        return math.sqrt(2 * self.gradient_coefficient / self.barrier)


def planar_profile(distance, p: PhaseFieldParameters, m=np):
    """Equilibrium xi across a flat interface; ``distance`` > 0 in the electrolyte."""
    return 0.5 * (1 - m.tanh(distance / p.width))


class PhaseField:
    """Electrodeposition phase field on a Domain (see module doc).

    Args:
        domain: mesh; ``electrode`` names the boundary held at xi = 1 (the current collector side
            of the Li), ``counter`` the boundary where u = 1 and phi = 0 (bulk electrolyte).
        params: PhaseFieldParameters.
        xi0: callable x -> initial xi (numpy), e.g. from ``planar_profile``.
        electrode_potential: V (potentiostatic); ``current_density``: mean current over the
            projected area (galvanostatic, V a global unknown) when given.
        linear_solver: "auto" (MUMPS LU below ``DIRECT_LIMIT`` unknowns, else iterative),
            "direct" or "iterative" (``ITERATIVE_OPTIONS``); ``petsc_options`` are merged over.
    """

    def __init__(self, domain: Domain, params: PhaseFieldParameters, xi0, electrode: list[str], counter: list[str],
                 electrode_potential: float = -0.45, current_density: float | None = None, bulk: float = 1.0,
                 ramp_time: float = 0.0, transport=1.0, kinetics=1.0, solid_dofs=None, degree: int = 1,
                 rtol: float = 1e-9, max_iterations: int = 25, linear_solver: str = "auto",
                 petsc_options: dict | None = None, prefix: str = "phasefield_"):
        if linear_solver not in ("auto", "direct", "iterative"):
            raise SolverError(f"linear_solver must be auto, direct or iterative, not {linear_solver!r}")
        self.domain, self.p = domain, params
        self.electrode, self.counter = electrode, counter
        self.f = FARADAY / (GAS_CONSTANT * params.temperature)
        self.c_s = 1.0 / params.molar_volume
        mesh = domain.mesh
        self.Vx = lagrange_space(mesh, degree)
        self.Vu = lagrange_space(mesh, degree)
        self.Vp = lagrange_space(mesh, degree)
        self.R = dolfinx.fem.functionspace(mesh, basix.ufl.real_element(mesh.basix_cell(), ()))
        self.xi = dolfinx.fem.Function(self.Vx, name="order_parameter")
        self.u = dolfinx.fem.Function(self.Vu, name="normalised_concentration")
        self.phi = dolfinx.fem.Function(self.Vp, name="electrolyte_potential")
        self.voltage = dolfinx.fem.Function(self.R, name="electrode_potential")
        self.xi_old = dolfinx.fem.Function(self.Vx)
        self.u_old = dolfinx.fem.Function(self.Vu)
        self.noise = dolfinx.fem.Function(self.Vx)
        if callable(xi0):
            self.xi.interpolate(xi0)
        else:
            self.xi.x.array[:] = xi0
        self.xi.x.array[:] = np.clip(self.xi.x.array, 0.0, 1.0)
        self.bulk = bulk  # u at the counter and at the start
        self.u.x.array[:] = bulk
        self.xi_old.x.array[:] = self.xi.x.array
        self.u_old.x.array[:] = bulk
        self.target_potential = electrode_potential
        self.target_current = current_density or 0.0
        self.ramp_time = ramp_time  # the applied potential rises linearly from 0 over this time
        self.voltage.x.array[:] = 0.0 if ramp_time > 0 else electrode_potential
        # per-cell factors (DG0 Functions or numbers): transport scales D and sigma of the liquid
        # phase (porous layers: eps^b; solids: their own), kinetics scales L_k (0: no deposition);
        # xi is held at 0 on ``solid_dofs`` (nodes inside solids that Li cannot enter)
        self.transport, self.kinetics = transport, kinetics
        self.solid_dofs = np.asarray(solid_dofs if solid_dofs is not None else [], dtype=np.int32)
        self.control = dolfinx.fem.Constant(mesh, PETSc.ScalarType(1.0 if current_density is not None else 0.0))
        self.i_app = dolfinx.fem.Constant(mesh, PETSc.ScalarType(current_density or 0.0))
        self.v_app = dolfinx.fem.Constant(mesh, PETSc.ScalarType(electrode_potential))
        self.dt = dolfinx.fem.Constant(mesh, PETSc.ScalarType(1.0))
        self.time = 0.0
        self.step_number = 0
        self.rtol, self.max_iterations = rtol, max_iterations
        self.linear_solver = linear_solver
        self.user_options = dict(petsc_options or {})
        self.prefix = prefix
        self._problem = None
        self.ion_potential = None  # see set_ion_potential
        # explicit couplings: callables called with this object at the start of every step attempt
        self.before_step: list = []
        self._options: dict = {}
        self.newton_iterations = 0  # totals over all solves (failed ones included)
        self.linear_iterations = 0
        coords = self.Vx.tabulate_dof_coordinates()
        span = domain.comm.allreduce(float(np.ptp(coords, axis=0).max(initial=0.0)), op=MPI.MAX)
        self._node_keys = np.round(coords / (1e-9 * span)).astype(np.int64) if span else np.zeros_like(coords, int)

    # ------------------------------------------------------------------ forms
    @staticmethod
    def g_prime(xi):
        return 2 * xi * (1 - xi) * (1 - 2 * xi)

    @staticmethod
    def h(xi):
        return xi**3 * (6 * xi**2 - 15 * xi + 10)

    @staticmethod
    def h_prime(xi):
        return 30 * xi**2 * (1 - xi) ** 2

    def reaction_bracket(self, u, eta):
        """exp((1-a) f eta) - u exp(-a f eta): > 0 dissolves, < 0 deposits."""
        a = self.p.alpha
        return ufl.exp((1 - a) * self.f * eta) - u * ufl.exp(-a * self.f * eta)

    def kappa_energy(self, xi):
        """kappa(n) |grad xi|^2 / 2 (UFL), n = grad xi / |grad xi|.

        2D: kappa0 [1 + delta cos(omega (theta - theta0))]. 3D (four-fold only, about the
        coordinate axes): kappa0 [1 + delta (4 sum n_i^4 - 3)], the cubic form that reduces to
        the 2D one (cos 4 theta = 4 (n_x^4 + n_y^4) - 3) for a field that does not vary along z.
        """
        p = self.p
        grad = ufl.grad(xi)
        gdim = self.domain.mesh.geometry.dim
        isotropic = 0.5 * p.gradient_coefficient * ufl.inner(grad, grad)
        if p.anisotropy_strength == 0.0 or gdim == 1:
            return isotropic
        if gdim == 2:
            theta = ufl.atan2(grad[1], grad[0] + 1e-30)
            kappa = p.gradient_coefficient * (1 + p.anisotropy_strength
                                              * ufl.cos(p.anisotropy_mode * (theta - p.anisotropy_angle)))
            return 0.5 * kappa * ufl.inner(grad, grad)
        if p.anisotropy_mode != 4 or p.anisotropy_angle != 0.0:
            raise SolverError("3D anisotropy is four-fold about the coordinate axes only (mode 4, angle 0)")
        g2 = ufl.inner(grad, grad)
        quartic = sum(grad[i] ** 4 for i in range(3)) / (g2 + 1e-300)  # |grad|^2 sum n_i^4
        return 0.5 * p.gradient_coefficient * ((1 - 3 * p.anisotropy_strength) * g2
                                               + 4 * p.anisotropy_strength * quartic)

    def ionic_potential(self, phi):
        """The potential the ions feel (UFL): phi, plus ``ion_potential`` where one is set."""
        return phi if self.ion_potential is None else phi + self.ion_potential

    def current_density(self, phi):
        """Current density -sigma grad(.) of phi's equation (UFL): ionic, through the ions'
        potential, with the electrolyte's conductivity (in the metal a small numerical fraction of
        it, conserving form); the single form adds the metal's electronic sigma_s h grad phi."""
        p, h = self.p, self.h(self.xi)
        ionic = ufl.grad(self.ionic_potential(phi))
        if p.potential_form == "single":
            return -(p.metal_conductivity * h * ufl.grad(phi) + p.conductivity * self.transport * (1 - h) * ionic)
        return -p.conductivity * self.transport * (1 - h + p.metal_conductivity_fraction) * ionic

    def source_rate(self):
        """dxi/dt of the present step (UFL)."""
        return (self.xi - self.xi_old) / self.dt

    def _forms(self):
        d, p = self.domain, self.p
        w = d.weight
        xi, u, phi, V = self.xi, self.u, self.phi, self.voltage
        v, q, r, mu = ufl.TestFunctions(ufl.MixedFunctionSpace(self.Vx, self.Vu, self.Vp, self.R))
        h, dh = self.h(xi), self.h_prime(xi)
        rate = self.source_rate()
        single = p.potential_form == "single"
        ion = self.ionic_potential(phi)
        eta = ion if single else V - ion
        e = p.regularisation
        # Allen-Cahn: the gradient term as the variation of the (possibly anisotropic) energy
        gradient = ufl.derivative(self.kappa_energy(xi) * w * d.dx, xi, v)
        F_xi = (rate * v + p.interface_mobility * p.barrier * self.g_prime(xi) * v
                + p.kinetic_coefficient * self.kinetics * dh * self.reaction_bracket(u, eta) * v
                - self.noise * dh * v) * w * d.dx + p.interface_mobility * gradient
        # all Li conserved: (1 - h) c0 u + h c_s
        capacity = 1 - h + e
        mobility = p.diffusivity * self.transport * (1 - h + e)
        F_u = (capacity * (u - self.u_old) / self.dt * q
               + mobility * ufl.inner(ufl.grad(u) + u * self.f * ufl.grad(ion), ufl.grad(q))
               + (self.c_s / p.concentration - u) * dh * rate * q) * w * d.dx
        # charge: the current from the counter sinks where Li deposits
        F_phi = (-ufl.inner(self.current_density(phi), ufl.grad(r)) + FARADAY * self.c_s * rate * r) * w * d.dx
        # control: V given, or the total deposition current F c_s int dxi/dt = i_app * area;
        # switched by the constant ``control`` (1: galvanostatic) without rebuilding
        g = self.control
        area = d.area(self.counter)
        F_v = g * ((FARADAY * self.c_s * rate * mu) * w * d.dx
                   - self.i_app * d.projected_area / area * mu * w * d.ds_on(self.counter)) \
            + (1 - g) * (FARADAY * self.c_s / area) * (V - self.v_app) * mu * w * d.ds_on(self.counter)
        # scale every block to O(1) per unit volume and step: xi and u equations (1/s) times dt;
        # phi's by dt * l^2 / sigma (l the interface width); the control row by dt / (F c_s)
        length2 = p.width**2
        return self.dt * (F_xi + F_u + (length2 / p.conductivity) * F_phi + (1.0 / (FARADAY * self.c_s)) * F_v)

    def _bcs(self) -> list[tuple]:
        """(Dirichlet condition, the field it holds) pairs."""
        fdim = self.domain.mesh.topology.dim - 1
        pairs = []
        electrode = self.domain.facets(self.electrode)
        pairs.append((dolfinx.fem.dirichletbc(PETSc.ScalarType(1.0), dolfinx.fem.locate_dofs_topological(
            self.Vx, fdim, electrode), self.Vx), self.xi))
        if self.p.potential_form == "single":  # the collector at the applied potential
            pairs.append((dolfinx.fem.dirichletbc(self.v_app, dolfinx.fem.locate_dofs_topological(
                self.Vp, fdim, electrode), self.Vp), self.phi))
        if self.solid_dofs.size:
            pairs.append((dolfinx.fem.dirichletbc(PETSc.ScalarType(0.0), self.solid_dofs, self.Vx), self.xi))
        counter = self.domain.facets(self.counter)
        for W, value, field in ((self.Vx, 0.0, self.xi), (self.Vu, self.bulk, self.u), (self.Vp, 0.0, self.phi)):
            pairs.append((dolfinx.fem.dirichletbc(PETSc.ScalarType(value), dolfinx.fem.locate_dofs_topological(
                W, fdim, counter), W), field))
        return pairs

    def _apply_bcs(self) -> None:
        """Give the initial guess its Dirichlet values: the first residual is then the equations'
        alone (a Dirichlet row's residual is u - g with a unit diagonal, the equations' rows are
        of the order of a cell's measure: a Krylov tolerance on both would see the former only)."""
        for bc, field in self._bc_pairs:
            bc.set(field.x.array)

    @property
    def uses_direct_solver(self) -> bool:
        if self.linear_solver == "auto":
            return self.num_dofs < DIRECT_LIMIT
        return self.linear_solver == "direct"

    def _build(self):
        from dolfinx.fem.petsc import NonlinearProblem

        F = self._forms()
        fields = [self.xi, self.u, self.phi, self.voltage]
        du = ufl.TrialFunctions(ufl.MixedFunctionSpace(self.Vx, self.Vu, self.Vp, self.R))
        J = ufl.extract_blocks(sum(ufl.derivative(F, f, t) for f, t in zip(fields, du)))
        volume = self.domain.integrate(self.domain.weight * ufl.as_ufl(1.0) * self.domain.dx)
        options = {
            # full Newton steps (a quarter faster than the l2 line search, which evaluates the
            # residual twice more per iteration); a failed step is retried with l2 (``step``)
            "snes_type": "newtonls", "snes_linesearch_type": "basic", "snes_rtol": self.rtol,
            # residual entries are dt * (rate of order 1/s) * (cell measure): converged when they
            # are below 1e-10 of a cell's measure (above the round-off floor, ~1e-12 of it)
            "snes_atol": 1e-10 * volume / self.domain.num_cells_global(),
            "snes_stol": 0.0, "snes_max_it": self.max_iterations,
        } | (DIRECT_OPTIONS if self.uses_direct_solver else ITERATIVE_OPTIONS) | self.user_options
        self._options = options
        with options_in_database(self.prefix, options):
            self._bc_pairs = self._bcs()
            bcs = [bc for bc, _ in self._bc_pairs]
            self._problem = NonlinearProblem(ufl.extract_blocks(F), fields, bcs=bcs, J=J, kind="mpi",
                                             petsc_options_prefix=self.prefix, petsc_options=fresh_options(self.prefix, options))
            if options.get("pc_type") == "fieldsplit":
                self._set_fieldsplit()

    def _set_fieldsplit(self):
        """Name the blocks of the monolithic (kind="mpi") matrix for PCFIELDSPLIT: "fields"
        (xi, u, phi) and "V" and, inside "fields", "xi", "u" and "phi". Each rank owns its xi,
        u, phi and (one rank) V rows in this order."""
        problem, comm = self._problem, self.domain.comm
        sizes = [W.dofmap.index_map.size_local for W in (self.Vx, self.Vu, self.Vp, self.R)]
        n = sum(sizes[:3])

        def stride(size, first):
            return PETSc.IS().createStride(size, first=first, step=1, comm=comm)

        start = problem.A.getOwnershipRange()[0]
        pc = problem.solver.getKSP().getPC()
        pc.setFieldSplitIS(("fields", stride(n, start)), ("V", stride(sizes[3], start + n)))
        if self._options.get("fieldsplit_fields_pc_type") == "fieldsplit":
            # a Schur split gives its sub-solvers out only after set-up (a solve): reach the
            # (xi, u, phi) one while the split is additive
            outer = str(self._options.get("pc_fieldsplit_type", "multiplicative")).upper()
            kind = getattr(PETSc.PC.CompositeType, outer)
            pc.setFieldSplitType(PETSc.PC.CompositeType.ADDITIVE)
            inner = pc.getFieldSplitSubKSP()[0].getPC()
            pc.setFieldSplitType(kind)
            inner.setType(PETSc.PC.Type.FIELDSPLIT)
            first = comm.exscan(n) or 0  # the block's rows: every rank's xi, u, phi rows, without V
            splits = []
            for name, size in zip(("xi", "u", "phi"), sizes[:3]):
                splits.append((name, stride(size, first)))
                first += size
            inner.setFieldSplitIS(*splits)
        problem.solver.setFromOptions()

    def relax(self, duration: float = 0.1, steps: int = 5) -> None:
        """Let a sharp initial xi (e.g. from region cells) relax to the equilibrium profile: steps at
        V = 0 with u = 1, where the reaction bracket vanishes (pure Allen-Cahn); time and step count
        are reset afterwards. A galvanostatic start from a sharp profile otherwise has to balance
        the relaxation's change of the Li amount with the potential."""
        control, target, ramp = float(self.control.value), self.target_potential, self.ramp_time
        self.control.value, self.target_potential, self.ramp_time = 0.0, 0.0, 0.0
        noise, self.p.noise = self.p.noise, 0.0
        try:
            for _ in range(steps):
                if not self.step(duration / steps).converged:
                    raise SolverError("the initial order parameter could not be relaxed")
        finally:
            self.control.value, self.target_potential, self.ramp_time = control, target, ramp
            self.p.noise = noise
        self.u.x.array[:] = self.bulk
        self.u_old.x.array[:] = self.bulk
        self.phi.x.array[:] = 0.0
        self.voltage.x.array[:] = 0.0
        self.time, self.step_number = 0.0, 0

    def set_ion_potential(self, expr) -> None:
        """An extra potential felt by the ions only (V, UFL; e.g. a screened piezo potential in a
        layer): the ions' potential becomes phi + expr in the migration flux, the ionic current and
        the overpotential. The forms are rebuilt at the next step; an explicit coupling updates
        the Functions in ``expr`` from ``before_step``."""
        self.ion_potential = expr
        self._problem = None

    failure_hint = ("the driving force may be too large for the interface to follow: lower "
                    "time_stepping.target_change, raise phase_field.ramp_time or refine the mesh")

    def set_potential(self, potential: float) -> None:
        """Potentiostatic from now on (reached over ``ramp_time`` from the start of the run)."""
        self.control.value = 0.0
        self.target_potential = potential

    def set_current(self, current_density: float) -> None:
        """Galvanostatic from now on: mean deposition current density over the projected area
        (reached over ``ramp_time`` from the start of the run)."""
        if self.p.potential_form == "single":
            raise SolverError("the single-potential phase field is potentiostatic only ('Hold at ... for ...')")
        self.control.value = 1.0
        self.target_current = current_density

    @property
    def num_dofs(self) -> int:
        return 3 * self.Vx.dofmap.index_map.size_global + 1

    # ------------------------------------------------------------------ stepping
    def _draw_noise(self) -> None:
        if self.p.noise == 0.0:
            return
        k = self._node_keys.astype(np.uint64)  # wraps negative keys: still one number per node
        u64 = np.uint64
        with np.errstate(over="ignore"):
            x = (k[:, 0] * u64(0x9E3779B97F4A7C15) + k[:, 1] * u64(0xC2B2AE3D27D4EB4F)
                 + k[:, 2] * u64(0x165667B19E3779F9) + u64(self.step_number + 1) * u64(0xD6E8FEB86659FD93)
                 + u64(self.p.seed + 1) * u64(0x94D049BB133111EB))
            # splitmix64 finaliser
            x ^= x >> u64(30)
            x *= u64(0xBF58476D1CE4E5B9)
            x ^= x >> u64(27)
            x *= u64(0x94D049BB133111EB)
            x ^= x >> u64(31)
        self.noise.x.array[:] = self.p.noise * (2.0 * (x >> u64(11)).astype(np.float64) / 2.0**53 - 1.0)

    def step(self, dt: float) -> StepResult:
        if self._problem is None:
            self._build()
        for update in self.before_step:
            update(self)
        saved = self.snapshot()
        self.xi_old.x.array[:] = self.xi.x.array
        self.u_old.x.array[:] = self.u.x.array
        self.dt.value = dt
        ramp = min(1.0, (self.time + dt) / self.ramp_time) if self.ramp_time > 0 else 1.0
        if self.control.value == 0.0:
            self.v_app.value = ramp * self.target_potential
            self.voltage.x.array[:] = self.v_app.value
        else:
            self.i_app.value = ramp * self.target_current
        self._draw_noise()
        self._apply_bcs()
        fields = (self.xi, self.u, self.phi, self.voltage)
        snes = self._problem.solver

        def solve():
            result = solve_checked(self._problem, fields, self.domain.comm)
            self.newton_iterations += snes.getIterationNumber()
            self.linear_iterations += snes.getLinearSolveIterations()
            return result

        # a failed linear solve (SNES reason -3, DIVERGED_LINEAR_SOLVE) fails the step like a
        # failed Newton iteration: retried with l2, then the stepper cuts dt
        with np.errstate(over="ignore", invalid="ignore"), options_in_database(self.prefix, self._options):
            ok, its, reason = solve()
            search = snes.getLineSearch()
            if not ok and search.getType() == "basic":  # once more from the same state, with l2
                for f, a in zip(fields, saved[:4]):
                    f.x.array[:] = a
                self._apply_bcs()
                search.setType("l2")
                ok, more, reason = solve()
                its += more
                search.setType("basic")
        if ok:
            self.time += dt
            self.step_number += 1
        else:
            self.restore(saved)
        return StepResult(ok, its, reason)

    def snapshot(self) -> tuple:
        return tuple(f.x.array.copy() for f in (self.xi, self.u, self.phi, self.voltage)) + (self.time, self.step_number)

    def restore(self, snap: tuple) -> None:
        for f, a in zip((self.xi, self.u, self.phi, self.voltage), snap[:4]):
            f.x.array[:] = a
        self.xi_old.x.array[:] = self.xi.x.array
        self.u_old.x.array[:] = self.u.x.array
        self.time, self.step_number = snap[4], snap[5]

    def relative_change(self, snap: tuple) -> float:
        """Largest change of xi since ``snap`` (xi is already O(1))."""
        local = float(np.abs(self.xi.x.array - snap[0]).max(initial=0.0))
        return self.domain.comm.allreduce(local, op=MPI.MAX)

    # ------------------------------------------------------------------ observables
    @property
    def electrode_potential(self) -> float:
        value = self.voltage.x.array[0] if self.voltage.x.array.size else -np.inf
        return float(self.domain.comm.allreduce(value, op=MPI.MAX))

    def _integral(self, expr) -> float:
        return self.domain.integrate(expr * self.domain.weight * self.domain.dx)

    def lithium_amount(self) -> float:
        """Li deposited as metal, c_s int xi (mol; 2D per metre of depth)."""
        return self.c_s * self._integral(self.xi)

    def counter_current(self) -> float:
        """Current entering through the counter from the electrolyte side, -int sigma grad phi . n
        (A; positive = plating), from the gradient on the counter's cells."""
        d = self.domain
        n = ufl.FacetNormal(d.mesh)
        return d.integrate(-ufl.dot(self.current_density(self.phi), n) * d.weight * d.ds_on(self.counter))

    def interface_measure(self) -> float:
        """int |grad xi| dx: the interface length (2D, per metre of depth) or area (3D)."""
        return self._integral(ufl.sqrt(ufl.inner(ufl.grad(self.xi), ufl.grad(self.xi)) + 1e-300))

    def deposit_height(self, axis: int | None = None, around=None) -> float:
        """Largest coordinate along ``axis`` (default: the last) of the xi = 1/2 level set, from
        the crossings of 1/2 along the cells' edges (P1; nodal for higher degrees). ``around =
        (point, radius)`` keeps the crossings within ``radius`` of ``point`` across the axis (e.g.
        the column over one nucleus)."""
        mesh = self.domain.mesh
        axis = mesh.geometry.dim - 1 if axis is None else axis
        X = self.Vx.tabulate_dof_coordinates()[:, : mesh.geometry.dim]
        xi = self.xi.x.array
        if self.Vx.element.basix_element.degree == 1:
            cells = self.Vx.dofmap.list[: mesh.topology.index_map(mesh.topology.dim).size_local]
            points = []
            k = cells.shape[1]
            for a in range(k):
                for b in range(a + 1, k):
                    ia, ib = cells[:, a], cells[:, b]
                    fa, fb = xi[ia] - 0.5, xi[ib] - 0.5
                    cross = (fa * fb <= 0) & (fa != fb)
                    t = (fa[cross] / (fa[cross] - fb[cross]))[:, None]
                    points.append(X[ia[cross]] + t * (X[ib[cross]] - X[ia[cross]]))
            points = np.concatenate(points) if points else np.zeros((0, X.shape[1]))
        else:
            points = X[xi >= 0.5]
        if around is not None:
            centre, radius = np.asarray(around[0], dtype=float), around[1]
            lateral = [i for i in range(X.shape[1]) if i != axis]
            offset = points[:, lateral] - centre[lateral]
            points = points[np.einsum("ij,ij->i", offset, offset) <= radius**2]
        local = float(points[:, axis].max(initial=-np.inf))
        return self.domain.comm.allreduce(local, op=MPI.MAX)


def region_indicator(domain: Domain, V, regions: list[str]) -> np.ndarray:
    """Nodal values on the P1 space V of the cells' indicator of ``regions`` (lumped L2
    projection): 1 inside, 0 outside, the share of adjacent measure on the regions' boundary."""
    Q = dolfinx.fem.functionspace(domain.mesh, ("DG", 0))
    ind = dolfinx.fem.Function(Q)
    for name in regions:
        ind.x.array[domain.region_cells(name)] = 1.0
    ind.x.scatter_forward()
    v = ufl.TestFunction(V)
    from solver.postprocess import assemble_local

    def lumped(expr):
        return assemble_local(expr * v * domain.dx)

    return lumped(ind) / lumped(ufl.as_ufl(1.0))
