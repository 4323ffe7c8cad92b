"""Electrolyte potential: primary and secondary current distribution.

Unknown: the electrolyte potential phi (V) in every conducting region (electrolyte and
porous layers), with a piecewise-constant conductivity kappa (S/m) per region.

    -div(kappa grad phi) = 0                                    in the regions
    phi = 0                                                     on the counter boundaries
    kappa grad(phi).n = i_a(eta),  eta = V - phi - E_eq         on the electrode boundaries
    grad(phi).n = 0                                             elsewhere (walls, symmetry, axis)

n is the outward normal of the electrolyte domain (it points into the electrode), and
i_a = i0 [exp(alpha_a F eta / RT) - exp(-alpha_c F eta / RT)] is the Butler-Volmer
*anodic* current density (positive = stripping). The plating current density reported
everywhere in this project is i = -i_a = -kappa grad(phi).n (positive = Li deposited).

* primary:   eta = 0, i.e. phi = V - E_eq on the electrode (a Dirichlet condition).
* secondary: Butler-Volmer as above, solved with PETSc SNES (Newton, backtracking).

Film resistance (secondary): a boundary with R_f > 0 (Ohm m^2) has a film in series with the
charge transfer, V - phi - E_eq = eta_ct + R_f i_a with i_a = BV(eta_ct). The film's potential
drop w = R_f i_a is an auxiliary unknown in the Lagrange space of phi, fixed to 0 at every DOF
that is not on a filmed facet (a Dirichlet condition), with the boundary equation

    int_Gamma (w / R_f - i_a(V - phi - E_eq - w)) q ds = 0

and i_a(V - phi - E_eq - w) in the phi equation: exact (not linearised), solved monolithically
with phi (and V, floating potentials). Where two filmed boundaries of different R_f meet, w is
continuous through the shared DOFs (a local approximation at the junction only).

Floating conductors (secondary): boundaries forming one electronically isolated conductor at
its own potential U (a real unknown), Butler-Volmer with eta = U - phi - E_eq on its surfaces,
closed by zero net current int i_a ds = 0: a bipolar electrode.

These extensions add unknowns only when present (no film and no floating conductor: the
problem, its cost and its results are unchanged) and are solved with MUMPS ('auto' picks it;
'iterative' is refused: the field split below knows only the (phi, V) blocks).

Control:
* potentiostatic: V is given.
* galvanostatic: V is a global unknown (a "real" element, one DOF) with the constraint
  that the total plating current equals i_app * A_projected. For the primary model the
  problem is linear in V, so it is solved for V = -1 V and scaled (exact).
"""

from __future__ import annotations

import dataclasses
import functools
import math

import basix
import basix.ufl
import numpy as np
import ufl

from solver._dolfinx import MPI, PETSc, dolfinx, fresh_options, lagrange_space
from solver.domain import Domain
from solver.errors import SolverError
from solver.sparsity import fast_create_matrix

FARADAY = 96485.33212  # C/mol
GAS_CONSTANT = 8.314462618  # J/(mol K)


@dataclasses.dataclass
class ButlerVolmer:
    """Kinetics on one electrode boundary (SI)."""

    i0: float
    alpha_a: float = 0.5
    alpha_c: float = 0.5
    e_eq: float = 0.0
    film_resistance: float = 0.0  # R_f (Ohm m^2) of a film in series: V - phi - E_eq = eta_ct + R_f i_a

    def anodic_current(self, eta, f):
        """UFL (or numpy) expression of the anodic current density; f = F/RT."""
        exp = ufl.exp if isinstance(eta, ufl.core.expr.Expr) else np.exp
        return self.i0 * (exp(self.alpha_a * f * eta) - exp(-self.alpha_c * f * eta))

    def charge_transfer_resistance(self, f) -> float:
        """Linearised R_ct = RT / [F i0 (alpha_a + alpha_c)] (Ohm m^2)."""
        return 1.0 / (f * self.i0 * (self.alpha_a + self.alpha_c))

    def interface_resistance(self, f) -> float:
        """Linearised resistance of the interface, R_ct + R_f (Ohm m^2): what a Wagner number uses."""
        return self.charge_transfer_resistance(f) + self.film_resistance


@dataclasses.dataclass
class FloatingConductor:
    """An electronically isolated conductor: boundary name -> kinetics; one potential, zero net current."""

    name: str
    kinetics: dict[str, ButlerVolmer]


@dataclasses.dataclass
class PotentialResult:
    phi: dolfinx.fem.Function
    electrode_potential: float
    newton_iterations: int
    linear_iterations: int
    snes_reason: int
    floating_potentials: dict[str, float] = dataclasses.field(default_factory=dict)


DIRECT_LIMIT = 100_000  # DOFs below which "auto" picks a direct solver
RESIDUAL_CHECK = 1e-6  # a converged residual norm must be below this times the electrode current


class CurrentDistribution:
    """Primary/secondary current distribution in the electrolyte of a Domain.

    Args:
        domain: mesh with named regions and boundaries.
        conductivity: region name -> kappa (S/m); every cell must be covered.
        electrode: boundary name -> ButlerVolmer kinetics (the working electrode).
        counter: boundary names where phi = 0.
        model: "primary" or "secondary".
        control: "galvanostatic" or "potentiostatic".
        current_density: applied mean plating current density (A/m^2, projected area).
        electrode_potential: applied electrode potential V (potentiostatic).
        temperature: K.
        degree: Lagrange degree.
        linear_solver: "auto", "direct" or "iterative".
        petsc_options: user options merged over the defaults.
        floating: floating (bipolar) conductors, each with its boundaries' kinetics.

    A ``ButlerVolmer.film_resistance`` > 0 on any boundary, or any floating conductor, switches to
    the monolithic mixed solve (``_solve_secondary_mixed``; see the module docstring).
    """

    def __init__(
        self,
        domain: Domain,
        conductivity: dict[str, float],
        electrode: dict[str, ButlerVolmer],
        counter: list[str],
        model: str = "secondary",
        control: str = "galvanostatic",
        current_density: float = 10.0,
        electrode_potential: float = -0.05,
        temperature: float = 298.15,
        degree: int = 2,
        linear_solver: str = "auto",
        rtol: float = 1e-10,
        atol: float = 1e-12,
        max_iterations: int = 50,
        petsc_options: dict | None = None,
        prefix: str = "potential_",
        floating: list[FloatingConductor] | None = None,
    ):
        self.domain = domain
        self.conductivity = conductivity
        self.electrode = electrode
        self.counter = counter
        self.model = model
        self.control = control
        self.current_density = current_density
        self.electrode_potential = electrode_potential
        self.temperature = temperature
        self.f = FARADAY / (GAS_CONSTANT * temperature)
        self.degree = degree
        self.linear_solver = linear_solver
        self.rtol, self.atol, self.max_iterations = rtol, atol, max_iterations
        self.user_options = dict(petsc_options or {})
        self.prefix = prefix
        self.floating = list(floating or [])
        self.film = None  # film potential drop w (Function) after a solve with films
        self.floating_potential: dict = {}  # name -> real Function after a solve with floating conductors

        mesh = domain.mesh
        self.V = lagrange_space(mesh, degree)
        self.kappa = self._conductivity_field()
        self.phi = dolfinx.fem.Function(self.V, name="electrolyte_potential")
        self.source = None  # optional volumetric source (MMS); set by tests
        self.extra_flux = {}  # boundary name -> UFL flux added to kappa grad(phi).n (MMS)
        self._electrode_area: float | None = None
        self.drift: list = []  # (regions, psi, factor): see add_drift
        # secondary current: assemble the (linear) volume part of the Jacobian once, not per Newton iteration
        self.assemble_linear_once = True

    # ------------------------------------------------------------------ set-up helpers
    def _conductivity_field(self) -> dolfinx.fem.Function:
        Q = dolfinx.fem.functionspace(self.domain.mesh, ("DG", 0))
        kappa = dolfinx.fem.Function(Q, name="conductivity")
        kappa.x.array[:] = np.nan
        for region, value in self.conductivity.items():
            kappa.x.array[self.domain.region_cells(region)] = value
        owned = Q.dofmap.index_map.size_local
        local_missing = int(np.isnan(kappa.x.array[:owned]).sum())
        if self.domain.comm.allreduce(local_missing, op=MPI.SUM):
            raise SolverError("some cells have no conductivity: every region needs a material")
        kappa.x.scatter_forward()
        return kappa

    @property
    def num_dofs(self) -> int:
        return self.V.dofmap.index_map.size_global * self.V.dofmap.index_map_bs

    @property
    def has_film(self) -> bool:
        kinetics = list(self.electrode.values()) + [bv for g in self.floating for bv in g.kinetics.values()]
        return any(bv.film_resistance > 0 for bv in kinetics)

    @property
    def extended(self) -> bool:
        """Film resistances or floating conductors: the monolithic mixed solve."""
        return self.has_film or bool(self.floating)

    def _use_direct(self) -> bool:
        if self.extended:
            if self.linear_solver == "iterative":
                raise SolverError("solver.linear_solver: 'iterative' does not handle film resistances or floating "
                                  "conductors yet; use 'auto' or 'direct' (MUMPS)")
            return True
        if self.linear_solver == "auto":
            return self.num_dofs < DIRECT_LIMIT
        return self.linear_solver == "direct"

    def _options(self, mixed: bool) -> dict:
        opts: dict = {
            "snes_type": "newtonls",
            "snes_linesearch_type": "bt",
            "snes_rtol": self.rtol,
            "snes_atol": self.atol * self._current_scale(),
            "snes_max_it": self.max_iterations,
            "snes_stol": 0.0,  # converge on the residual only, never on a stagnating step
        }
        # Linear solves stop at a relative 1e-10 or at 1e-4 of the Newton tolerance, whichever
        # comes first: a Newton step whose first residual is already small would otherwise chase
        # round-off (seen: 7 outer iterations where 3 reach 1e-4 snes_atol).
        ksp_atol = 1e-4 * opts["snes_atol"]
        # AMG on graded 3D meshes (docs/performance.md, changes 2 and 12): dropping the weakest
        # couplings from the aggregation graph (threshold 0.02) keeps the aggregates aligned
        # with the grading; 0.05 saved 2 iterations but coarsened so slowly that the Galerkin
        # products grew faster than the mesh (1.14M P1 DOFs: PETSc solve 44.8 s -> 21.4 s).
        # Three Chebyshev steps per level instead of two keep the porous layer's iterations
        # from jumping with the partition (514k DOFs on 2 ranks: 52 -> 25).
        amg = {"pc_type": "gamg", "pc_gamg_threshold": 0.02, "mg_levels_ksp_max_it": 3}
        # The Jacobian is the constant Laplacian plus the Butler-Volmer boundary term: the AMG
        # set-up (its Galerkin products cost 60 % of a P2 solve: 190k DOFs, PETSc log) is
        # rebuilt every third Newton iteration only, the Krylov solver always sees the new
        # Jacobian. Strongly nonlinear solves still get a fresh preconditioner every 3 steps.
        lag = {"snes_lag_preconditioner": 3}
        # P2: p-multigrid, P1 on the same mesh as the coarse level (one GAMG V-cycle on its
        # Galerkin operator), Chebyshev/Jacobi on P2. GAMG on the P2 matrix itself pays for wide
        # Galerkin products: 61k P2 DOFs, potentiostatic (3 Newton iterations) 4.0 s -> 1.9 s,
        # 48 -> 33 CG iterations; galvanostatic 2.9 s -> 1.2 s (bench/secondary_3d.py).
        pmg = {"pc_type": "mg", "pc_mg_levels": 2, "pc_mg_galerkin": "both", "mg_coarse_ksp_type": "preonly",
               **{f"mg_coarse_{k}": v for k, v in amg.items()},
               "mg_levels_ksp_type": "chebyshev", "mg_levels_pc_type": "jacobi"}
        if self._use_direct():
            opts |= {"ksp_type": "preonly", "pc_type": "lu", "pc_factor_mat_solver_type": "mumps"}
        elif not mixed:
            # SPD operator (Laplacian + positive BV boundary term): CG + smoothed aggregation AMG.
            opts |= {"ksp_type": "cg", "ksp_rtol": 1e-10, "ksp_atol": ksp_atol,
                     **(pmg if self.degree > 1 else amg), **lag}
        else:
            # Bordered system [A b; c^T d] (phi, V): Schur complement on the single V DOF from the
            # diagonal of A (selfp, inverted exactly: jacobi on a 1x1 block); each FGMRES iteration
            # applies one AMG V-cycle on phi (upper factorisation). An inner CG to 1e-12 per
            # application cost 2-3x the time for the same answer (bench/secondary_3d.py, PETSc
            # log: 15 inner solves x 22 CG iterations). (The exact Schur complement, 'full',
            # with a preonly inner solve crashes PETSc 3.25 on 2 ranks: SEGV in the set-up.)
            opts |= {
                "ksp_type": "fgmres",
                "ksp_rtol": 1e-10,
                "ksp_atol": ksp_atol,
                "ksp_gmres_restart": 100,
                "pc_type": "fieldsplit",
                "pc_fieldsplit_type": "schur",
                "pc_fieldsplit_schur_fact_type": "upper",
                "pc_fieldsplit_schur_precondition": "selfp",
                "fieldsplit_phi_ksp_type": "preonly",
                **{f"fieldsplit_phi_{k}": v for k, v in (pmg if self.degree > 1 else amg).items()},
                "fieldsplit_V_ksp_type": "preonly",
                "fieldsplit_V_pc_type": "jacobi",
                **lag,
            }
        opts.update(self.user_options)
        return opts

    def _current_scale(self) -> float:
        """Typical electrode current (A, or A/m in 2D): makes the absolute tolerance scale-free."""
        if self._electrode_area is None:
            self._electrode_area = self.domain.area(list(self.electrode))
        i_ref = max([abs(self.current_density)] + [bv.i0 for bv in self.electrode.values()])
        return i_ref * self._electrode_area

    def _electrode_terms(self, phi, voltage):
        """Sum over electrode boundaries of the anodic BV current times test weight pieces."""
        terms = []
        for name, bv in self.electrode.items():
            eta = voltage - phi - bv.e_eq
            terms.append((name, bv.anodic_current(eta, self.f)))
        return terms

    def _counter_bc(self, value: float = 0.0):
        mesh = self.domain.mesh
        facets = self.domain.facets(self.counter)
        dofs = dolfinx.fem.locate_dofs_topological(self.V, mesh.topology.dim - 1, facets)
        return dolfinx.fem.dirichletbc(PETSc.ScalarType(value), dofs, self.V)

    # ------------------------------------------------------------------ solves
    def solve(self) -> PotentialResult:
        if self.model == "primary":
            if self.extended:
                raise SolverError("film resistances and floating conductors need the secondary model")
            return self._solve_primary()
        if self.extended:
            return self._solve_secondary_mixed()
        if self.control == "potentiostatic":
            return self._solve_secondary_potentiostatic()
        return self._solve_secondary_galvanostatic()

    def add_drift(self, regions: list[str], psi, factor: float) -> None:
        """An extra field -factor * grad(psi) acting on the ions in ``regions`` (e.g. a piezo
        potential felt through a screening factor): i = -kappa grad(phi + factor * psi) there."""
        self.drift.append((regions, psi, factor))

    def volume_residual(self, phi, v):
        """int kappa grad(phi + drift) . grad(v) - source v: the part of the residual whose
        boundary flux is the current density (used by the solves and by flux recovery)."""
        w = self.domain.weight
        F = self.kappa * ufl.inner(ufl.grad(phi), ufl.grad(v)) * w * self.domain.dx
        for regions, psi, factor in self.drift:
            dx = self.domain.dx(tuple(self.domain.regions[r] for r in regions))
            F += factor * self.kappa * ufl.inner(ufl.grad(psi), ufl.grad(v)) * w * dx
        if self.source is not None:
            F -= self.source * v * w * self.domain.dx
        return F

    def ionic_current(self):
        """UFL vector of the ionic current density -kappa grad(phi + drift)."""
        i = -self.kappa * ufl.grad(self.phi)
        for regions, psi, factor in self.drift:
            inside = self._indicator(regions)
            i = i - inside * factor * self.kappa * ufl.grad(psi)
        return i

    def _indicator(self, regions):
        Q = self.kappa.function_space
        chi = dolfinx.fem.Function(Q)
        for r in regions:
            chi.x.array[self.domain.region_cells(r)] = 1.0
        chi.x.scatter_forward()
        return chi

    def _volume_terms(self, phi, v):
        F = self.volume_residual(phi, v)
        w = self.domain.weight
        for name, flux in self.extra_flux.items():
            F -= flux * v * w * self.domain.ds_on([name])
        return F

    def _run_snes(self, F, u, bcs, mixed=False, J=None, load=None, unloaded=None, check_residual=True,
                  split=None):
        """Solve with SNES; on failure, continue in the load (a Constant) from a fraction of it.

        ``load`` is the applied current density or electrode potential, ``unloaded`` the
        solution at zero load (one value per function in ``u``). If the full load fails from
        the initial guess, the solve restarts from the unloaded state, applies a quarter of the
        load and steps up, halving the step after each failure (down to 1/64) before giving up.
        ``check_residual``: also require the final residual (a current, for Butler-Volmer
        problems) to be small against the electrode current; off for the linear primary
        problem, whose residual is dominated by Dirichlet rows in volts.
        """
        from dolfinx.fem.petsc import NonlinearProblem

        options = self._options(mixed)
        split_blocks = mixed and not self._use_direct() and options.get("pc_type") == "fieldsplit"
        # The (phi, V) field split runs on a nest matrix: its phi block has the single-field
        # sparsity pattern, which dolfinx builds without merging the blocks' patterns into one
        # (402k P1 DOFs: set-up 3.0 s -> 2.5 s, peak memory -11 %, same iterations); MUMPS and
        # any other preconditioner need the monolithic matrix.
        with fast_create_matrix():  # the phi block's preallocation by a sort (solver.sparsity)
            problem = NonlinearProblem(
                F, u, bcs=bcs, J=J, petsc_options_prefix=self.prefix,
                petsc_options=fresh_options(self.prefix, options),
                kind=("nest" if split_blocks else "mpi") if mixed else None,
            )
        snes = problem.solver
        if split is not None:
            self._assemble_linear_part_once(problem, *split, u, bcs)
        if split_blocks:
            self._set_fieldsplit(problem)
        if not mixed and options.get("pc_type") == "mg" and self.degree > 1:
            self._set_p_multigrid(problem)
        functions = u if isinstance(u, (list, tuple)) else [u]
        its = lin = 0
        residual_limit = RESIDUAL_CHECK * self._current_scale() if check_residual else np.inf

        def attempt() -> int:
            nonlocal its, lin
            saved = [f.x.array.copy() for f in functions]
            problem.solve()
            its += snes.getIterationNumber()
            lin += snes.getLinearSolveIterations()
            reason = snes.getConvergedReason()
            finite = all(np.isfinite(f.x.array).all() for f in functions)
            # A relative decrease from an absurd first residual is not convergence: the final
            # residual must also be small against the electrode current itself.
            small = snes.getFunctionNorm() <= residual_limit
            if reason <= 0 or not small or not self.domain.comm.allreduce(finite, op=MPI.LAND):
                for f, a in zip(functions, saved):
                    f.x.array[:] = a
                return min(reason, -1)
            return reason

        reason = attempt()
        if reason <= 0 and load is not None:
            target = float(load.value)
            for f, value in zip(functions, unloaded or [0.0] * len(functions)):
                f.x.array[:] = value
            done, step = 0.0, 0.25
            while done < 1.0 and step >= 1 / 64:
                load.value = target * min(1.0, done + step)
                if attempt() > 0:
                    done = min(1.0, done + step)
                else:
                    step /= 2
            load.value = target
            reason = snes.getConvergedReason() if done >= 1.0 else reason
        if reason <= 0:
            raise SolverError(
                f"the potential solve did not converge (SNES reason {reason} after {its} Newton "
                f"iterations, including load continuation); the applied current or potential may be "
                f"unreachable: try a smaller one, a finer mesh or other solver.petsc_options"
            )
        return its, lin, reason

    def _assemble_linear_part_once(self, problem, a_linear, a_rest, u, bcs):
        """Newton's Jacobian as A0 + J_rest(u): A0, the Jacobian of the linear part of the residual
        (``a_linear``: the volume Laplacian, with the Dirichlet rows), is assembled once, on the
        Jacobian's own sparsity pattern; each Newton iteration copies it and adds ``a_rest``, the
        Jacobian of the rest (the Butler-Volmer boundary terms and, galvanostatic, the current
        constraint: boundary cells only). Same matrix as assembling the whole Jacobian, without
        re-assembling the volume at every iteration. Both are UFL bilinear forms, or 2x2 blocks
        (phi, V) for the galvanostatic system."""
        from dolfinx.fem.petsc import assemble_matrix, assign

        if isinstance(a_linear, list):
            # A0 must touch every entry of the Jacobian's pattern: PETSc drops the locations a final
            # assembly left untouched, and later insertions there (the V row and column) are lost
            zero = dolfinx.fem.Constant(self.domain.mesh, PETSc.ScalarType(0.0))
            a_linear = [[lin if lin is not None else (zero * rest if rest is not None else None)
                         for lin, rest in zip(row_lin, row_rest)] for row_lin, row_rest in zip(a_linear, a_rest)]
        a_linear = dolfinx.fem.form(a_linear)
        # the rest is given as its own form: UFL would keep both volume terms of F - linear_part
        # (cancelling to zero, at the cost of a volume assembly per iteration)
        a_rest = dolfinx.fem.form(a_rest)
        saved = []  # A0, once assembled (alive as long as the solver)

        def jacobian(snes, x, J, P):
            for part in x.getNestSubVecs() if x.getType() == PETSc.Vec.Type.NEST else [x]:
                part.ghostUpdate(addv=PETSc.InsertMode.INSERT, mode=PETSc.ScatterMode.FORWARD)
            assign(x, u)
            if saved:
                saved[0].copy(J, structure=PETSc.Mat.Structure.SAME_NONZERO_PATTERN)
            else:  # the first call: assemble A0 in J itself (a fresh matrix cannot be copied into)
                J.zeroEntries()
                assemble_matrix(J, a_linear, bcs, diag=1.0)
                J.assemble()
                saved.append(J.duplicate(copy=True))
            # Dirichlet rows: A0 holds 1 on their diagonal; this insertion sets the same 1 again
            assemble_matrix(J, a_rest, bcs, diag=1.0)
            J.assemble()

        self._linear_jacobian = saved
        problem.solver.setJacobian(jacobian, problem.A, problem.P_mat)

    def _set_p_multigrid(self, problem):
        """Degree 2, potentiostatic or primary (the default there, see ``_options``): two-level
        p-multigrid, the P1 space on the same mesh as the coarse level
        (Galerkin operator, solved by one GAMG V-cycle), Chebyshev/Jacobi smoothing on P2."""
        pc = problem.solver.getKSP().getPC()
        pc.setMGLevels(2)
        pc.setMGInterpolation(1, self._p1_prolongation())
        problem.solver.setFromOptions()

    def _p1_prolongation(self):
        """The P1 -> P(degree) interpolation matrix on the same mesh (p-multigrid's coarse level);
        kept on the object, alive as long as the solver that uses it."""
        V1 = dolfinx.fem.functionspace(self.domain.mesh, ("Lagrange", 1))
        P = interpolation_matrix(V1, self.V)
        self._prolongation = P
        return P

    def _set_fieldsplit(self, problem):
        """Name the (phi, V) blocks of the nest matrix for PCFIELDSPLIT."""
        is_phi, is_r = problem.A.getNestISs()[0]
        pc = problem.solver.getKSP().getPC()
        pc.setFieldSplitIS(("phi", is_phi), ("V", is_r))
        problem.solver.setFromOptions()
        if self.degree > 1 and self._options(True).get("fieldsplit_phi_pc_type") == "mg":
            # the phi block's PCMG needs its P1 -> P2 interpolation; the sub-solvers exist only
            # once the field split is set up, i.e. inside KSPSolve: hand it over just before
            P = self._p1_prolongation()
            ready = [False]  # once per solver

            def presolve(ksp, b, x):
                if ready[0]:
                    return
                ksp.getPC().setUp()  # builds the splits (their own set-up comes later)
                sub = ksp.getPC().getFieldSplitSubKSP()[0].getPC()
                sub.setMGLevels(2)
                sub.setMGInterpolation(1, P)
                sub.setFromOptions()
                ready[0] = True

            problem.solver.getKSP().setPreSolve(presolve)

    def _solve_primary(self) -> PotentialResult:
        """Linear: phi = V - E_eq on the electrode, 0 on the counter."""
        mesh = self.domain.mesh
        fdim = mesh.topology.dim - 1
        eqs = {bv.e_eq for bv in self.electrode.values()}
        if len(eqs) > 1 and self.control == "galvanostatic":
            raise SolverError("galvanostatic primary control needs one equilibrium potential on all boundaries")
        e_eq = eqs.pop()
        voltage = e_eq - 1.0 if self.control == "galvanostatic" else self.electrode_potential
        phi, v = self.phi, ufl.TestFunction(self.V)
        bcs = [self._counter_bc(0.0)]
        electrode_values = []
        for name, bv in self.electrode.items():
            dofs = dolfinx.fem.locate_dofs_topological(self.V, fdim, self.domain.facets([name]))
            value = dolfinx.fem.Constant(mesh, PETSc.ScalarType(voltage - bv.e_eq))
            electrode_values.append(value)
            bcs.append(dolfinx.fem.dirichletbc(value, dofs, self.V))
        F = self._volume_terms(phi, v)
        its, lin, reason = self._run_snes(F, phi, bcs, check_residual=False)
        if self.control == "galvanostatic":
            # phi is affine in U = V - E_eq (E_eq uniform; linear without a drift term): solved for
            # U = -1 (and U = 0 when a drift makes it affine), then combined to hit the target.
            from solver.postprocess import recover_current

            total1 = recover_current(self).total(self.electrode)
            phi1 = self.phi.x.array.copy()
            total0, phi0 = 0.0, np.zeros_like(phi1)
            if self.drift:
                for value in electrode_values:
                    value.value = 0.0
                self.phi.x.array[:] = 0.0
                more = self._run_snes(F, phi, bcs, check_residual=False)
                its, lin = its + more[0], lin + more[1]
                total0 = recover_current(self).total(self.electrode)
                phi0 = self.phi.x.array.copy()
            if total1 == total0:
                raise SolverError("no current reaches the electrode: is it connected to the counter?")
            scale = (self.current_density * self.domain.projected_area - total0) / (total1 - total0)
            self.phi.x.array[:] = phi0 + scale * (phi1 - phi0)
            voltage = e_eq - scale
        return PotentialResult(self.phi, voltage, its, lin, reason)

    def _initial_voltage(self) -> float:
        """Estimate of V for the applied current: ohmic drop over the cell + BV overpotential."""
        i_app = self.current_density
        kappa_min = min(self.conductivity.values())
        ymax = self._height()
        bv = next(iter(self.electrode.values()))
        a = 0.5 * (bv.alpha_a + bv.alpha_c)
        eta = -math.asinh(i_app / (2 * bv.i0)) / (a * self.f)
        return bv.e_eq + eta - i_app * ymax / kappa_min

    @functools.cached_property
    def dof_coordinates(self) -> np.ndarray:
        """Coordinates of the local (owned and ghost) DOFs of ``V``, tabulated once (the mesh does
        not move during a problem's life): the initial guess, the recovered current and the
        field output use them."""
        x = self.V.tabulate_dof_coordinates()
        x.flags.writeable = False
        return x

    def _ohmic_initial_guess(self) -> None:
        """phi = -i_app (H - y) / kappa_min: the 1D ohmic profile, so that the first Newton
        iterate sees the kinetic overpotential only (not the whole cell voltage)."""
        gdim = self.domain.mesh.geometry.dim
        height = self._height()
        kappa = min(self.conductivity.values())
        i_app = self.current_density
        # Lagrange DOFs are point values at the nodes: evaluated there directly (interpolating the
        # lambda evaluates it at every cell's nodes, 2.9 s at 6.5M tetrahedra against 0.3 s)
        y = self.dof_coordinates[:, gdim - 1]
        self.phi.x.array[:] = -i_app * (height - y) / kappa

    def _unloaded_voltage(self) -> float:
        """Electrode potential at zero current (E_eq; the first boundary's when they differ)."""
        return next(iter(self.electrode.values())).e_eq

    def _height(self) -> float:
        x = self.domain.mesh.geometry.x[:, self.domain.mesh.geometry.dim - 1]
        return self.domain.comm.allreduce(float(x.max(initial=-np.inf)), op=MPI.MAX)

    def _solve_secondary_potentiostatic(self) -> PotentialResult:
        phi, v = self.phi, ufl.TestFunction(self.V)
        w = self.domain.weight
        V_app = dolfinx.fem.Constant(self.domain.mesh, PETSc.ScalarType(self.electrode_potential))
        linear = self._volume_terms(phi, v)
        kinetics = 0
        for name, i_a in self._electrode_terms(phi, V_app):
            kinetics -= i_a * v * w * self.domain.ds_on([name])
        F = linear + kinetics
        split = None
        if self.assemble_linear_once:
            dphi = ufl.TrialFunction(self.V)
            split = (ufl.derivative(linear, phi, dphi), ufl.derivative(kinetics, phi, dphi))
        its, lin, reason = self._run_snes(F, phi, [self._counter_bc(0.0)], load=V_app, unloaded=[0.0], split=split)
        return PotentialResult(self.phi, self.electrode_potential, its, lin, reason)

    def _solve_secondary_galvanostatic(self) -> PotentialResult:
        mesh = self.domain.mesh
        self._R = dolfinx.fem.functionspace(mesh, basix.ufl.real_element(mesh.basix_cell(), ()))
        voltage = dolfinx.fem.Function(self._R, name="electrode_potential")
        voltage.x.array[:] = self._initial_voltage()
        self._ohmic_initial_guess()
        phi = self.phi
        v, mu = ufl.TestFunctions(ufl.MixedFunctionSpace(self.V, self._R))
        w = self.domain.weight
        i_app = dolfinx.fem.Constant(mesh, PETSc.ScalarType(self.current_density))
        linear = self._volume_terms(phi, v)
        kinetics = plating = 0
        for name, i_a in self._electrode_terms(phi, voltage):
            kinetics -= i_a * v * w * self.domain.ds_on([name])
            plating += -i_a * mu * w * self.domain.ds_on([name])
        # Constraint: total plating current = i_app * (projected electrode area). The
        # counter boundaries have the projected area in every geometry of this project
        # (their area is checked against it in postprocessing), so i_app is integrated there.
        constraint = plating - i_app * mu * w * self.domain.ds_on(self.counter)
        self._check_counter_area()
        F = linear + kinetics + constraint
        residual = ufl.extract_blocks(F)
        u = [phi, voltage]
        du = ufl.TrialFunctions(ufl.MixedFunctionSpace(self.V, self._R))

        def jacobian(form):
            return ufl.extract_blocks(sum(ufl.derivative(form, ui, dui) for ui, dui in zip(u, du)))

        split = None
        if self.assemble_linear_once:
            # the volume Laplacian (phi, phi block) once; the V row and column are boundary terms
            split = ([[ufl.derivative(linear, phi, du[0]), None], [None, None]], jacobian(kinetics + constraint))
        its, lin, reason = self._run_snes(residual, u, [self._counter_bc(0.0)], mixed=True, J=jacobian(F), load=i_app,
                                          unloaded=[0.0, self._unloaded_voltage()], split=split)
        value = float(self.domain.comm.allreduce(
            voltage.x.array[0] if voltage.x.array.size else -np.inf, op=MPI.MAX))
        return PotentialResult(self.phi, value, its, lin, reason)

    # ------------------------------------------------------------------ films and floating conductors
    def _surfaces(self):
        """(boundary, kinetics, owner): owner None for the working electrode, else a floating conductor's name."""
        out = [(name, bv, None) for name, bv in self.electrode.items()]
        for g in self.floating:
            out += [(name, bv, g.name) for name, bv in g.kinetics.items()]
        return out

    def anodic_current_expr(self, name: str):
        """UFL anodic current density on a boundary of the electrode or of a floating conductor, with the
        solved fields (film drop included)."""
        for b, bv, owner in self._surfaces():
            if b == name:
                break
        else:
            raise KeyError(name)
        u = self._voltage_expr if owner is None else self.floating_potential[owner]
        eta = u - self.phi - bv.e_eq
        if bv.film_resistance > 0:
            eta = eta - self.film
        return bv.anodic_current(eta, self.f)

    def _solve_secondary_mixed(self) -> PotentialResult:
        """phi with film drops w and/or floating potentials (and V when galvanostatic), one Newton solve."""
        mesh = self.domain.mesh
        fdim = mesh.topology.dim - 1
        w_ = self.domain.weight
        galvanostatic = self.control == "galvanostatic"
        real = basix.ufl.real_element(mesh.basix_cell(), ())
        spaces, functions, unloaded = [self.V], [self.phi], [0.0]
        filmed = [name for name, bv, _ in self._surfaces() if bv.film_resistance > 0]
        bcs = [self._counter_bc(0.0)]
        if filmed:
            W = lagrange_space(mesh, self.degree)
            self.film = dolfinx.fem.Function(W, name="film_potential_drop")
            on_film = dolfinx.fem.locate_dofs_topological(W, fdim, self.domain.facets(filmed))
            n_local = W.dofmap.index_map.size_local + W.dofmap.index_map.num_ghosts
            away = np.setdiff1d(np.arange(n_local, dtype=np.int32), on_film).astype(np.int32)
            bcs.append(dolfinx.fem.dirichletbc(PETSc.ScalarType(0.0), away, W))
            spaces.append(W)
            functions.append(self.film)
            unloaded.append(0.0)
        if galvanostatic:
            self._R = dolfinx.fem.functionspace(mesh, real)
            voltage = dolfinx.fem.Function(self._R, name="electrode_potential")
            voltage.x.array[:] = self._initial_voltage()
            self._ohmic_initial_guess()
            load = dolfinx.fem.Constant(mesh, PETSc.ScalarType(self.current_density))
            spaces.append(self._R)
            functions.append(voltage)
            unloaded.append(self._unloaded_voltage())
        else:
            voltage = load = dolfinx.fem.Constant(mesh, PETSc.ScalarType(self.electrode_potential))
        self._voltage_expr = voltage
        self.floating_potential = {}
        for g in self.floating:
            R = dolfinx.fem.functionspace(mesh, real)
            u = dolfinx.fem.Function(R, name=f"potential_{g.name}")
            e_eq = next(iter(g.kinetics.values())).e_eq
            # start at the mean electrolyte potential of its surfaces (+ E_eq): near zero net current
            area = self.domain.area(list(g.kinetics))
            u.x.array[:] = e_eq + self.domain.integrate(self.phi * w_ * self.domain.ds_on(list(g.kinetics))) / area
            self.floating_potential[g.name] = u
            spaces.append(R)
            functions.append(u)
            unloaded.append(e_eq)
        mixed = ufl.MixedFunctionSpace(*spaces)
        tests = list(ufl.TestFunctions(mixed))
        trials = list(ufl.TrialFunctions(mixed))
        v = tests[0]
        k = 1
        q = None
        if filmed:
            q = tests[k]
            k += 1
        mu = None
        if galvanostatic:
            mu = tests[k]
            k += 1
        nu = dict(zip([g.name for g in self.floating], tests[k:]))
        F = self._volume_terms(self.phi, v)
        if filmed:  # sparsity for the Dirichlet rows of w away from the films (the term itself is zero)
            F += dolfinx.fem.Constant(mesh, PETSc.ScalarType(0.0)) * self.film * q * self.domain.dx
        for name, bv, owner in self._surfaces():
            ds = self.domain.ds_on([name])
            i_a = self.anodic_current_expr(name)
            F -= i_a * v * w_ * ds
            if bv.film_resistance > 0:
                F += (self.film / bv.film_resistance - i_a) * q * w_ * ds
            if owner is None and galvanostatic:
                F += -i_a * mu * w_ * ds
            elif owner is not None:
                F += i_a * nu[owner] * w_ * ds
        if galvanostatic:
            F -= load * mu * w_ * self.domain.ds_on(self.counter)
            self._check_counter_area()
        residual = ufl.extract_blocks(F)
        J = ufl.extract_blocks(sum(ufl.derivative(F, ui, dui) for ui, dui in zip(functions, trials)))
        its, lin, reason = self._run_snes(residual, functions, bcs, mixed=True, J=J, load=load, unloaded=unloaded)
        comm = self.domain.comm

        def value(f):
            return float(comm.allreduce(f.x.array[0] if f.x.array.size else -np.inf, op=MPI.MAX))

        potential = value(voltage) if galvanostatic else self.electrode_potential
        floating = {name: value(u) for name, u in self.floating_potential.items()}
        return PotentialResult(self.phi, potential, its, lin, reason, floating)

    def floating_metrics(self) -> dict:
        """Per floating conductor: its potential, and the stripping (anodic) and plating (cathodic) currents
        on its surfaces (A; 2D per metre of depth), from the Butler-Volmer expression with the solved
        fields; their difference is the net current (zero to the solver tolerance)."""
        out = {}
        w_ = self.domain.weight
        comm = self.domain.comm
        for g in self.floating:
            u = self.floating_potential[g.name]
            anodic = cathodic = 0.0
            per = {}
            for name in g.kinetics:
                i_a = self.anodic_current_expr(name)
                ds = self.domain.ds_on([name])
                a = self.domain.integrate(ufl.max_value(i_a, 0.0) * w_ * ds)
                c = self.domain.integrate(ufl.max_value(-i_a, 0.0) * w_ * ds)
                per[name] = {"stripping_current_A": a, "plating_current_A": c}
                anodic, cathodic = anodic + a, cathodic + c
            net = self.domain.integrate(sum(self.anodic_current_expr(n) * w_ * self.domain.ds_on([n])
                                            for n in g.kinetics))
            out[g.name] = {
                "boundaries": list(g.kinetics),
                "potential_V": float(comm.allreduce(u.x.array[0] if u.x.array.size else -np.inf, op=MPI.MAX)),
                "stripping_current_A": anodic,
                "plating_current_A": cathodic,
                "net_current_A": net,
                "area": self.domain.area(list(g.kinetics)),
                "per_boundary": per,
            }
        return out

    def film_metrics(self) -> dict:
        """Per filmed boundary: R_f and the mean film potential drop (V; positive while stripping)."""
        if self.film is None:
            return {}
        w_ = self.domain.weight
        out = {}
        for name, bv, _ in self._surfaces():
            if bv.film_resistance > 0:
                ds = self.domain.ds_on([name])
                area = self.domain.area([name])
                out[name] = {
                    "film_resistance_ohm_m2": bv.film_resistance,
                    "mean_film_drop_V": self.domain.integrate(self.film * w_ * ds) / area,
                    "mean_charge_transfer_overpotential_V": self.domain.integrate(
                        (self._voltage_expr - self.phi - bv.e_eq - self.film) * w_ * ds) / area
                    if name in self.electrode else None,
                }
        return out

    def _check_counter_area(self):
        area = self.domain.area(self.counter)
        ref = self.domain.projected_area
        if abs(area - ref) > 1e-6 * ref:
            raise SolverError(
                f"galvanostatic control integrates the applied current over the counter boundary, whose "
                f"area ({area:.4g}) differs from the projected electrode area ({ref:.4g})"
            )


def interpolation_matrix(coarse, fine):
    """The matrix that interpolates ``coarse`` functions into ``fine`` (two scalar Lagrange spaces
    on one mesh, e.g. P1 -> P2 for p-multigrid), as ``dolfinx.fem.petsc.interpolation_matrix``
    makes it, built from the dofmaps in numpy.

    On the reference cell the interpolation is one small matrix M (fine DOFs x coarse DOFs: the
    coarse basis at the fine element's interpolation points), the same in every cell whatever
    its geometry, since both spaces are mapped by the same map; a fine DOF's row is M's row for
    that DOF in any cell holding it (all agree), with its (near-)zeros dropped. dolfinx's generic
    version builds a sparsity pattern and inserts cell by cell: 3.0 s for 1.0M P2 DOFs, against
    about 0.3 s here (docs/performance.md, change 20). Spaces that need DOF transformations (P3
    and up) or carry blocks go to dolfinx's."""
    import dolfinx.fem.petsc

    ec, ef = coarse.ufl_element().basix_element, fine.ufl_element().basix_element
    if (coarse.mesh is not fine.mesh or coarse.dofmap.bs != 1 or fine.dofmap.bs != 1
            or not ef.dof_transformations_are_identity or not ec.dof_transformations_are_identity
            or not ef.map_type == ec.map_type == basix.MapType.identity):
        P = dolfinx.fem.petsc.interpolation_matrix(coarse, fine)
        P.assemble()
        return P
    local = ef.interpolation_matrix @ ec.tabulate(0, ef.points)[0, :, :, 0]  # fine x coarse
    local[np.abs(local) < 1e-12 * np.abs(local).max()] = 0.0
    fdofs, cdofs = fine.dofmap.list, coarse.dofmap.list
    fmap, cmap = fine.dofmap.index_map, coarse.dofmap.index_map
    n_rows = fmap.size_local
    at = np.empty(fmap.size_local + fmap.num_ghosts, dtype=np.int64)
    at[fdofs.ravel()] = np.arange(fdofs.size)  # one (cell, local DOF) holding each fine DOF
    cell, j = np.divmod(at[:n_rows], fdofs.shape[1])
    values = local[j]  # rows x coarse DOFs of the cell
    columns = cmap.local_to_global(cdofs[cell].ravel().astype(np.int32)).reshape(values.shape)
    keep = values != 0.0
    order = np.argsort(np.where(keep, columns, np.iinfo(np.int64).max), axis=1)  # sorted columns, kept first
    values, columns, keep = (np.take_along_axis(a, order, axis=1) for a in (values, columns, keep))
    indptr = np.zeros(n_rows + 1, dtype=PETSc.IntType)
    np.cumsum(keep.sum(axis=1), out=indptr[1:])
    P = PETSc.Mat().createAIJ(
        ((n_rows, fmap.size_global), (cmap.size_local, cmap.size_global)),
        csr=(indptr, columns[keep].astype(PETSc.IntType), values[keep].astype(PETSc.ScalarType)),
        comm=fine.mesh.comm)
    P.assemble()
    return P
