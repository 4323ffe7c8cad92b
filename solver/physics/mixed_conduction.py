r"""Mixed ionic-electronic conduction (MIEC) between two Li electrodes, with Li deposition inside
electron-conducting regions.

Unknowns
--------
* ``phi_i`` (V): the ionic (Li+) potential, in every region (every region conducts ions).
* ``phi_e`` (V): the electronic potential, in regions with an electronic conductivity
  ``sigma_e > 0``. It is discretised on the whole mesh for simplicity; in regions with
  ``sigma_e = 0`` its conductivity is a *floor* ``electronic_floor * max(sigma_e)`` (default
  1e-10), those regions host no reaction and get no electronic boundary condition, so they carry
  no electronic current to any electrode (the floor only keeps the matrix regular). When no region
  conducts electrons, ``phi_e`` is not created at all and the model is purely ionic.
* ``V`` (V): the cell voltage, the electronic potential of the top Li against the bottom Li
  (``phi_e = 0`` there, the reference); a global real unknown under galvanostatic control.

Equations (``i_ion = -sigma_i grad phi_i``, ``i_e = -sigma_e grad phi_e``)::

    div(i_ion) = -j        div(i_e) = +j          (total current i_ion + i_e conserved)
    j = -a_v i_a(eta),     eta = phi_e - phi_i - E_eq      (vs Li/Li+)

``j`` (A/m^3) is the *plating* rate Li+ + e- -> Li (positive = deposition), ``a_v`` (1/m) the
specific interface area of the region (per material), ``i_a`` the anodic Butler-Volmer current
density ``i0 [exp(alpha_a f eta) - exp(-alpha_c f eta)]`` (f = F/RT) or its linearisation
``i0 (alpha_a + alpha_c) f eta`` (``kinetics="linear"``). ``j`` acts only where ``sigma_e > 0``.

Boundaries (names, the physics knows no geometry):

* ``bottom`` (plated Li, e.g. ``li_bottom`` and ``filament_surface``): metal potential 0. Ionic
  exchange ``sigma_i grad(phi_i).n = i_a(0 - phi_i - E_eq)`` (Butler-Volmer or linear: an ohmic
  contact of resistance ``R_ct``); where an electron-conducting region touches it,
  ``phi_e = 0`` (Nitsche).
* ``top`` (stripped Li counter, ``li_top``): metal potential ``V``; ionic exchange
  ``i_a(V - phi_i - E_eq)``; ``phi_e = V`` where an electron-conducting region touches it
  (Nitsche).
* everything else (voids, side walls): insulating for ions and electrons.

The electronic Dirichlet conditions are imposed by Nitsche's method (symmetric, penalty
``nitsche * sigma_e / h``) so that the top value can be the unknown ``V``; the resulting
boundary flux is exactly conservative (the constant is in the test space): the currents through
top and bottom balance to round-off.

Control: galvanostatic (the total current through the top Li, ionic + electronic, equals
``current_density`` times the projected area; ``V`` unknown) or potentiostatic (``V`` given).

Solution: PETSc SNES (Newton, backtracking) on the blocks (phi_i, phi_e, V) with MUMPS. The
problem is first solved with linear kinetics (a linear problem: one Newton step from anything),
then Newton continues in a homotopy theta from linear to Butler-Volmer kinetics (theta = 1 at
once; on failure in steps of 1/4, halved down to 1/64); a failure raises ``SolverError``.

Metrics (``MixedConduction.metrics``) are integrals reduced over the communicator: see the
docstring there.
"""

from __future__ import annotations

import dataclasses
import math

import basix.ufl
import numpy as np
import ufl

from solver._dolfinx import MPI, PETSc, dolfinx, fresh_options, lagrange_space
from solver.domain import Domain
from solver.errors import SolverError
from solver.physics.potential import FARADAY, GAS_CONSTANT, ButlerVolmer

__all__ = ["MixedRegion", "Kinetics", "MixedConduction", "MixedResult", "transmission_line"]


@dataclasses.dataclass
class MixedRegion:
    """Transport properties of one region (SI)."""

    ionic: float  # sigma_i, S/m (> 0)
    electronic: float = 0.0  # sigma_e, S/m (0: no electrons, no deposition)
    specific_area: float = 0.0  # a_v, 1/m: reaction interface per volume (used where electronic > 0)


@dataclasses.dataclass
class Kinetics(ButlerVolmer):
    """Butler-Volmer (``form="butler_volmer"``) or linearised (``form="linear"``) kinetics."""

    form: str = "butler_volmer"

    def anodic(self, eta, f, theta=1.0):
        """theta * Butler-Volmer + (1 - theta) * linear (theta = 1: the chosen form)."""
        linear = self.i0 * (self.alpha_a + self.alpha_c) * f * eta
        if self.form == "linear":
            return linear
        bv = self.anodic_current(eta, f)
        if isinstance(theta, (int, float)) and theta == 1.0:
            return bv
        return theta * bv + (1 - theta) * linear


@dataclasses.dataclass
class MixedResult:
    cell_voltage: float  # V: phi_e(top Li) - phi_e(bottom Li)
    newton_iterations: int
    linear_iterations: int
    snes_reason: int


class MixedConduction:
    """The MIEC problem on a Domain (see the module docstring).

    Args:
        domain: mesh with named regions and boundaries.
        regions: region name -> MixedRegion; every region of the mesh needs one.
        bottom: boundary names of the plated Li (metal potential 0).
        top: boundary names of the counter Li (metal potential V).
        surface: kinetics of the ionic exchange at both Li surfaces (``counter`` overrides top).
        reaction: kinetics of the volumetric reaction (i0 per interface area).
        counter: kinetics at the top Li (default: ``surface``).
        control: "galvanostatic" or "potentiostatic"; current_density (A/m^2, projected, plating
            at the bottom positive) or cell_voltage (V).
    """

    def __init__(
        self,
        domain: Domain,
        regions: dict[str, MixedRegion],
        bottom: list[str],
        top: list[str],
        surface: Kinetics,
        reaction: Kinetics,
        counter: Kinetics | None = None,
        control: str = "galvanostatic",
        current_density: float = 10.0,
        cell_voltage: float = 0.05,
        temperature: float = 298.15,
        degree: int = 2,
        electronic_floor: float = 1e-10,
        nitsche: float = 20.0,
        rtol: float = 1e-10,
        atol: float = 1e-12,
        max_iterations: int = 50,
        petsc_options: dict | None = None,
        prefix: str = "mixed_",
    ):
        missing = sorted(set(domain.regions) - set(regions))
        if missing:
            raise SolverError(f"mixed conduction: no properties for region(s) {', '.join(missing)}")
        for name, reg in regions.items():
            if not (reg.ionic > 0 and reg.electronic >= 0 and reg.specific_area >= 0) or not all(
                    math.isfinite(v) for v in (reg.ionic, reg.electronic, reg.specific_area)):
                raise SolverError(f"mixed conduction: region {name}: need sigma_i > 0, sigma_e >= 0, a_v >= 0")
        self.domain = domain
        self.regions = {r: regions[r] for r in domain.regions}
        self.bottom, self.top = list(bottom), list(top)
        self.surface, self.counter_kinetics = surface, counter or surface
        self.reaction = reaction
        self.control = control
        self.current_density = current_density
        self.cell_voltage = cell_voltage
        self.temperature = temperature
        self.f = FARADAY / (GAS_CONSTANT * temperature)
        self.degree = degree
        self.electronic_floor = electronic_floor
        self.nitsche = nitsche
        self.rtol, self.atol, self.max_iterations = rtol, atol, max_iterations
        self.user_options = dict(petsc_options or {})
        self.prefix = prefix
        # MMS / verification hooks (UFL): volumetric sources and extra boundary fluxes, and
        # electronic boundary values replacing 0 (bottom) / V (top).
        self.source_i = None
        self.source_e = None
        self.extra_flux_i: dict[str, object] = {}
        self.extra_flux_e: dict[str, object] = {}
        self.electronic_value: dict[str, object] = {}

        mesh = domain.mesh
        self.has_electrons = any(r.electronic > 0 for r in self.regions.values())
        self.V = lagrange_space(mesh, degree)
        self.phi_i = dolfinx.fem.Function(self.V, name="ionic_potential")
        self.W = lagrange_space(mesh, degree) if self.has_electrons else None
        self.phi_e = dolfinx.fem.Function(self.W, name="electronic_potential") if self.has_electrons else None
        self.R = None
        self.voltage = None
        if control == "galvanostatic":
            self.R = dolfinx.fem.functionspace(mesh, basix.ufl.real_element(mesh.basix_cell(), ()))
            self.voltage = dolfinx.fem.Function(self.R, name="cell_voltage")
        elif control != "potentiostatic":
            raise SolverError(f"mixed conduction: unknown control '{control}'")
        top_e = max((r.electronic for r in self.regions.values()), default=0.0)
        self.sigma_i = self._cell_field({n: r.ionic for n, r in self.regions.items()}, "ionic_conductivity")
        self.sigma_e = self._cell_field(
            {n: (r.electronic if r.electronic > 0 else electronic_floor * top_e) for n, r in self.regions.items()},
            "electronic_conductivity")
        self.chi = self._cell_field({n: float(r.electronic > 0) for n, r in self.regions.items()}, "electron_conducting")
        self.a_v = self._cell_field(
            {n: (r.specific_area if r.electronic > 0 else 0.0) for n, r in self.regions.items()}, "specific_area")
        self.theta = dolfinx.fem.Constant(mesh, PETSc.ScalarType(1.0))
        self.i_app = dolfinx.fem.Constant(mesh, PETSc.ScalarType(current_density))
        self.v_app = dolfinx.fem.Constant(mesh, PETSc.ScalarType(cell_voltage))
        self._scale = None

    # ------------------------------------------------------------------ helpers
    def _cell_field(self, values: dict[str, float], name: str):
        Q = dolfinx.fem.functionspace(self.domain.mesh, ("DG", 0))
        u = dolfinx.fem.Function(Q, name=name)
        for region, value in values.items():
            u.x.array[self.domain.region_cells(region)] = value
        u.x.scatter_forward()
        return u

    @property
    def num_dofs(self) -> int:
        n = self.V.dofmap.index_map.size_global
        if self.has_electrons:
            n += self.W.dofmap.index_map.size_global
        return n + (1 if self.R is not None else 0)

    def metal_voltage(self):
        """UFL: the top Li's potential (the unknown or the applied value)."""
        return self.voltage if self.voltage is not None else self.v_app

    def eta(self):
        """UFL: phi_e - phi_i - E_eq of the volumetric reaction (phi_e = 0 without electrons)."""
        e = self.phi_e if self.has_electrons else 0.0
        return e - self.phi_i - self.reaction.e_eq

    def plating_rate(self):
        """UFL: j = -a_v i_a(eta) (A/m^3), positive = Li deposited; 0 where sigma_e = 0."""
        if not self.has_electrons:
            return ufl.as_ufl(0.0)
        return -self.a_v * self.reaction.anodic(self.eta(), self.f, self.theta)

    def _surface_anodic(self, which: str):
        """UFL anodic current density at the bottom (metal 0) or top (metal V) Li."""
        if which == "bottom":
            k, metal = self.surface, 0.0
        else:
            k, metal = self.counter_kinetics, self.metal_voltage()
        return k.anodic(metal - self.phi_i - k.e_eq, self.f, self.theta)

    def _h(self):
        return ufl.CellDiameter(self.domain.mesh)

    def electronic_flux(self, names: list[str]):
        """UFL: the discrete electronic current entering the stack through ``names`` (Nitsche
        flux ``sigma_e d(phi_e)/dn - gamma sigma_e / h (phi_e - g)``, times the indicator)."""
        n = ufl.FacetNormal(self.domain.mesh)
        g = self._electronic_value(names[0])
        return self.chi * (self.sigma_e * ufl.dot(ufl.grad(self.phi_e), n)
                           - self.nitsche * self.sigma_e / self._h() * (self.phi_e - g))

    def _electronic_value(self, name: str):
        if name in self.electronic_value:
            return self.electronic_value[name]
        return ufl.as_ufl(0.0) if name in self.bottom else self.metal_voltage()

    def _current_scale(self) -> float:
        if self._scale is None:
            area = self.domain.area(self.bottom + self.top)
            i_ref = max(abs(self.current_density), self.surface.i0, self.counter_kinetics.i0)
            self._scale = i_ref * area
        return self._scale

    # ------------------------------------------------------------------ forms
    def _forms(self):
        d = self.domain
        w8 = d.weight
        tests = list(ufl.TestFunctions(ufl.MixedFunctionSpace(*[f.function_space for f in self.unknowns()])))
        v = tests.pop(0)
        F_i = self.sigma_i * ufl.inner(ufl.grad(self.phi_i), ufl.grad(v)) * w8 * d.dx
        j = self.plating_rate()
        if self.has_electrons:
            F_i += j * v * w8 * d.dx  # div(i_ion) = -j  <=>  int sigma_i grad phi_i . grad v + j v
        for name in self.bottom:
            F_i -= self._surface_anodic("bottom") * v * w8 * d.ds_on([name])
        for name in self.top:
            F_i -= self._surface_anodic("top") * v * w8 * d.ds_on([name])
        if self.source_i is not None:
            F_i -= self.source_i * v * w8 * d.dx
        for name, flux in self.extra_flux_i.items():
            F_i -= flux * v * w8 * d.ds_on([name])
        forms = [F_i]
        if self.has_electrons:
            wt = tests.pop(0)
            n = ufl.FacetNormal(d.mesh)
            pe = self.phi_e
            F_e = self.sigma_e * ufl.inner(ufl.grad(pe), ufl.grad(wt)) * w8 * d.dx - j * wt * w8 * d.dx
            for name in self.bottom + self.top:
                g = self._electronic_value(name)
                dsn = d.ds_on([name])
                F_e += self.chi * (
                    -self.sigma_e * ufl.dot(ufl.grad(pe), n) * wt
                    - self.sigma_e * ufl.dot(ufl.grad(wt), n) * (pe - g)
                    + self.nitsche * self.sigma_e / self._h() * (pe - g) * wt
                ) * w8 * dsn
            if self.source_e is not None:
                F_e -= self.source_e * wt * w8 * d.dx
            for name, flux in self.extra_flux_e.items():
                F_e -= flux * wt * w8 * d.ds_on([name])
            forms.append(F_e)
        if self.R is not None:
            mu = tests.pop(0)
            total = 0
            for name in self.top:
                into = self._surface_anodic("top")
                if self.has_electrons:
                    into = into + self.electronic_flux([name])
                total += into * mu * w8 * d.ds_on([name])
            total -= self.i_app * mu * w8 * d.ds_on(self.top)
            forms.append(total)
        return forms

    def unknowns(self) -> list:
        u = [self.phi_i]
        if self.has_electrons:
            u.append(self.phi_e)
        if self.R is not None:
            u.append(self.voltage)
        return u

    # ------------------------------------------------------------------ solve
    def _options(self) -> dict:
        opts = {
            "snes_type": "newtonls",
            "snes_linesearch_type": "bt",
            "snes_rtol": self.rtol,
            "snes_atol": self.atol * self._current_scale(),
            "snes_stol": 0.0,
            "snes_max_it": self.max_iterations,
            "ksp_type": "preonly",
            "pc_type": "lu",
            "pc_factor_mat_solver_type": "mumps",
        }
        opts.update(self.user_options)
        return opts

    def solve(self) -> MixedResult:
        from dolfinx.fem.petsc import NonlinearProblem

        if self.control == "galvanostatic":
            self._check_top_area()
        forms = self._forms()
        u = self.unknowns()
        spaces = [f.function_space for f in u]
        du = ufl.TrialFunctions(ufl.MixedFunctionSpace(*spaces))
        total = sum(forms[1:], forms[0])
        J = ufl.extract_blocks(sum(ufl.derivative(total, ui, dui) for ui, dui in zip(u, du)))
        problem = NonlinearProblem(ufl.extract_blocks(total), u, bcs=[], J=J, kind="mpi",
                                   petsc_options_prefix=self.prefix, petsc_options=fresh_options(self.prefix, self._options()))
        snes = problem.solver
        its = lin = 0
        limit = 1e-6 * self._current_scale()

        def attempt() -> int:
            nonlocal its, lin
            saved = [f.x.array.copy() for f in u]
            problem.solve()
            its += snes.getIterationNumber()
            lin += snes.getLinearSolveIterations()
            reason = snes.getConvergedReason()
            finite = self.domain.comm.allreduce(all(np.isfinite(f.x.array).all() for f in u), op=MPI.LAND)
            if reason <= 0 or not finite or snes.getFunctionNorm() > limit:
                for f, a in zip(u, saved):
                    f.x.array[:] = a
                return min(reason, -1)
            return reason

        nonlinear = "butler_volmer" in (self.surface.form, self.counter_kinetics.form, self.reaction.form)
        self.theta.value = 0.0
        reason = attempt()  # linear kinetics: a linear problem
        if reason <= 0:
            raise SolverError(
                f"mixed conduction: the linearised problem did not solve (SNES reason {reason}): is a part of "
                "the stack cut off from both electrodes, or a conductivity zero?")
        if nonlinear:
            done, step = 0.0, 1.0
            while done < 1.0 and step >= 1 / 64:
                self.theta.value = min(1.0, done + step)
                if attempt() > 0:
                    done = float(self.theta.value)
                    step = max(step, 0.25) if done < 1 else step
                else:
                    step = 0.25 if step == 1.0 else step / 2
            if done < 1.0:
                self.theta.value = 1.0
                raise SolverError(
                    f"mixed conduction: Newton did not converge with Butler-Volmer kinetics (SNES reason "
                    f"{snes.getConvergedReason()} after {its} iterations, homotopy from linear kinetics stopped "
                    f"at {done:.3f}); try a smaller current, finer mesh or physics.mixed_conduction.kinetics: linear")
            reason = snes.getConvergedReason()
        self.theta.value = 1.0
        return MixedResult(self.voltage_value(), its, lin, reason)

    def voltage_value(self) -> float:
        if self.voltage is None:
            return float(self.cell_voltage)
        local = self.voltage.x.array[0] if self.voltage.x.array.size else -np.inf
        return float(self.domain.comm.allreduce(local, op=MPI.MAX))

    def _check_top_area(self):
        area = self.domain.area(self.top)
        ref = self.domain.projected_area
        if abs(area - ref) > 1e-6 * ref:
            raise SolverError(
                f"galvanostatic control integrates the applied current over the top Li ({', '.join(self.top)}), "
                f"whose area ({area:.4g}) differs from the projected area ({ref:.4g})")

    # ------------------------------------------------------------------ metrics
    def metrics(self) -> dict:
        """Currents (A; 2D: A per metre of depth), all reduced over the communicator.

        ``surface_plating_A``: Li+ reduced on the bottom Li surfaces (per boundary in
        ``surface_plating_by_boundary_A``); ``internal_plating_A``: net plating rate integrated over
        the electron-conducting regions (``internal_deposition_A`` its positive part,
        ``internal_stripping_A`` the negative part); ``plating_total_A`` their sum (= the ionic
        current reaching the bottom side); ``electronic_current_top_A``: electronic current from the top Li into the stack;
        ``electronic_leakage_A``: min(electronic current in at the top, out at the bottom) when both
        are positive, else 0: an upper bound of the electronic current from one Li to the other;
        ``internal_fraction`` = internal deposition / (surface plating + internal deposition),
        ``internal_net_fraction`` = net internal plating / plating_total; ``deposition_mean_height_m``:
        the deposition-weighted mean height of the internal deposition;
        ``electronic_current_bottom_A``: electronic current into the bottom Li; ``current_top_A`` /
        ``current_bottom_A``: total (ionic + electronic) through each Li, ``balance_error`` their
        relative mismatch; ``max_rate``: the largest plating rate (A/m^3), where (coordinates,
        height = vertical coordinate, region); per region: volume, deposition, net plating, its
        share in the upper half of the region, max rate.
        """
        d = self.domain
        w8 = d.weight
        j = self.plating_rate()
        out: dict = {}
        surface = {name: -d.integrate(self._surface_anodic("bottom") * w8 * d.ds_on([name])) for name in self.bottom}
        top_ionic = sum(d.integrate(self._surface_anodic("top") * w8 * d.ds_on([n])) for n in self.top)
        if self.has_electrons:
            internal = d.integrate(j * w8 * d.dx)
            deposition = d.integrate(ufl.max_value(j, 0.0) * w8 * d.dx)
            leak = sum(d.integrate(self.electronic_flux([n]) * w8 * d.ds_on([n])) for n in self.top)
            e_bottom = -sum(d.integrate(self.electronic_flux([n]) * w8 * d.ds_on([n])) for n in self.bottom)
        else:
            internal = deposition = leak = e_bottom = 0.0
        surface_total = sum(surface.values())
        total = surface_total + internal
        gdim = d.mesh.geometry.dim
        y = ufl.SpatialCoordinate(d.mesh)[gdim - 1]
        if self.has_electrons and deposition > 0:
            mean_height = d.integrate(y * ufl.max_value(j, 0.0) * w8 * d.dx) / deposition
        else:
            mean_height = math.nan
        current_top = top_ionic + leak
        current_bottom = surface_total + e_bottom
        out.update(
            surface_plating_A=surface_total,
            surface_plating_by_boundary_A=surface,
            internal_plating_A=internal,
            internal_deposition_A=deposition,
            internal_stripping_A=deposition - internal,
            plating_total_A=total,
            internal_fraction=deposition / (surface_total + deposition) if surface_total + deposition else math.nan,
            internal_net_fraction=internal / total if total else math.nan,
            deposition_mean_height_m=mean_height,
            electronic_current_top_A=leak,
            electronic_current_bottom_A=e_bottom,
            electronic_leakage_A=min(leak, e_bottom) if leak > 0 and e_bottom > 0 else 0.0,
            current_top_A=current_top,
            current_bottom_A=current_bottom,
            balance_error=abs(current_top - current_bottom) / max(abs(current_top), 1e-300),
        )
        out["max_rate"] = self._max_rate()
        layers = d.landmarks.get("layers", {})
        per = {}
        for name, tag in d.regions.items():
            dxr = d.dx(tag)
            entry = {"volume": d.integrate(ufl.as_ufl(1.0) * w8 * dxr)}
            if self.regions[name].electronic > 0:
                entry["deposition_A"] = d.integrate(ufl.max_value(j, 0.0) * w8 * dxr)
                entry["net_plating_A"] = d.integrate(j * w8 * dxr)
                if name in layers:
                    y0, y1 = layers[name]
                    upper = d.integrate(ufl.conditional(ufl.gt(y, 0.5 * (y0 + y1)), ufl.max_value(j, 0.0), 0.0)
                                        * w8 * dxr)
                    entry["upper_half_deposition_fraction"] = upper / entry["deposition_A"] if entry["deposition_A"] else math.nan
            per[name] = entry
        out["regions"] = per
        return out

    def surface_plating(self):
        """Plating current density (A/m^2) on the plated Li at its nodes: (coordinates, boundary
        names, values) of the owned DOFs of ``V`` on each bottom boundary, and (max, mean) over them
        all (reduced over the communicator; mean = surface plating / area)."""
        d = self.domain
        f = dolfinx.fem.Function(self.V)
        f.interpolate(dolfinx.fem.Expression(-self._surface_anodic("bottom"), self.V.element.interpolation_points))
        owned = self.V.dofmap.index_map.size_local
        coords = self.V.tabulate_dof_coordinates()
        rows = []
        top = -np.inf
        for name in self.bottom:
            dofs = dolfinx.fem.locate_dofs_topological(self.V, d.mesh.topology.dim - 1, d.facets([name]))
            dofs = dofs[dofs < owned]
            rows.append((coords[dofs], name, f.x.array[dofs].copy()))
            top = max(top, float(f.x.array[dofs].max(initial=-np.inf)))
        top = d.comm.allreduce(top, op=MPI.MAX)
        area = d.area(self.bottom)
        mean = -sum(d.integrate(self._surface_anodic("bottom") * d.weight * d.ds_on([n])) for n in self.bottom) / area
        return rows, top, mean

    def deposition_rate_cells(self) -> np.ndarray:
        """Plating rate j (A/m^3) at the midpoint of every owned cell."""
        Q = dolfinx.fem.functionspace(self.domain.mesh, ("DG", 0))
        q = dolfinx.fem.Function(Q)
        q.interpolate(dolfinx.fem.Expression(self.plating_rate(), Q.element.interpolation_points))
        n = self.domain.mesh.topology.index_map(self.domain.mesh.topology.dim).size_local
        return q.x.array[:n].copy()

    def eta_cells(self) -> np.ndarray:
        Q = dolfinx.fem.functionspace(self.domain.mesh, ("DG", 0))
        q = dolfinx.fem.Function(Q)
        q.interpolate(dolfinx.fem.Expression(ufl.as_ufl(self.eta()), Q.element.interpolation_points))
        n = self.domain.mesh.topology.index_map(self.domain.mesh.topology.dim).size_local
        return q.x.array[:n].copy()

    def _max_rate(self) -> dict:
        """Largest plating rate over the nodes of a DG space of the solution's degree."""
        d = self.domain
        mesh = d.mesh
        tdim, gdim = mesh.topology.dim, mesh.geometry.dim
        if not self.has_electrons:
            return {"rate_A_m3": 0.0, "height_m": math.nan, "point_m": None, "region": None}
        Q = dolfinx.fem.functionspace(mesh, ("DG", self.degree))
        q = dolfinx.fem.Function(Q)
        q.interpolate(dolfinx.fem.Expression(self.plating_rate(), Q.element.interpolation_points))
        n_owned = mesh.topology.index_map(tdim).size_local
        dofs = Q.dofmap.list[:n_owned]
        values = q.x.array[dofs]
        region_id = np.zeros(n_owned, dtype=np.int32)
        keep = d.cell_tags.indices < n_owned
        region_id[d.cell_tags.indices[keep]] = d.cell_tags.values[keep]
        tie = 1e-9  # near-equal maxima (symmetric geometries): the lowest, then leftmost, point wins

        def pick(candidates):
            top = max(c[0] for c in candidates)
            close = [c for c in candidates if c[0] >= top - tie * abs(top)]
            return min(close, key=lambda c: (c[1][::-1] if c[1] else []))

        best = (-np.inf, None, None)
        if values.size:
            top = float(values.max())
            cells, ks = np.nonzero(values >= top - tie * abs(top))
            coords = Q.tabulate_dof_coordinates()
            best = pick([(float(values[c, k]), [float(v) for v in coords[dofs[c, k]][:gdim]], int(region_id[c]))
                         for c, k in zip(cells[:64], ks[:64])])
        value, point, rid = pick(d.comm.allgather(best))
        names = {tag: name for name, tag in d.regions.items()}
        if not value > 0:  # no deposition anywhere: no location
            return {"rate_A_m3": max(value, 0.0), "height_m": math.nan, "point_m": None, "region": None}
        return {"rate_A_m3": value, "height_m": point[gdim - 1], "point_m": point, "region": names.get(rid)}


def transmission_line(L1: float, L: float, sigma_i: float, sigma_e: float, sigma_film: float, a_v: float,
                      r_reaction: float, r_bottom: float, r_top: float, current: float) -> dict:
    """1D closed form, linear kinetics: Li | MIEC layer [0, L1] | ionic film [L1, L] | Li.

    The MIEC layer touches the bottom Li (phi_e = 0 there) and ends on the film, which carries no
    electrons. ``r_reaction`` = RT / [F i0 (alpha_a + alpha_c)] of the volumetric reaction (Ohm m^2
    per interface area), ``r_bottom`` / ``r_top`` those of the Li surfaces; ``current`` the plating
    current density (A/m^2). With k = a_v / r_reaction the overpotential eta = phi_e - phi_i obeys
    eta'' = eta / lambda^2, lambda^2 = 1 / [k (1/sigma_i + 1/sigma_e)] (the porous-electrode /
    transmission-line equation), eta = A cosh(x / lambda) + B sinh(x / lambda), with
    eta'(L1) = -I / sigma_i (only ions cross into the film) and, at x = 0, the ionic current
    I_i(0) = -eta(0) / r_bottom (eta(0) is the surface overpotential, phi_e(0) = 0) so that
    eta'(0) = I / sigma_e - I_i(0) s, s = 1/sigma_i + 1/sigma_e.

    Returns the internal plating fraction (I - I_i(0)) / I, the cell voltage
    V = phi_e(L1) - eta(L1) + I (L - L1) / sigma_film + I r_top, lambda and nu = L1 / lambda.
    """
    s = 1 / sigma_i + 1 / sigma_e
    lam = 1 / math.sqrt(a_v / r_reaction * s)
    I = current
    ch, sh = math.cosh(L1 / lam), math.sinh(L1 / lam)
    # unknowns A, B:  B / lam - A s / r_bottom = I / sigma_e ;  (A sh + B ch) / lam = -I / sigma_i
    M = np.array([[-s / r_bottom, 1 / lam], [sh / lam, ch / lam]])
    A, B = np.linalg.solve(M, np.array([I / sigma_e, -I / sigma_i]))
    eta0, eta1 = A, A * ch + B * sh
    i_ion0 = -eta0 / r_bottom
    int_ionic = (I * L1 / sigma_e - (eta1 - eta0)) / s  # int_0^L1 I_i dx
    phi_e1 = (I * L1 - int_ionic) / sigma_e
    voltage = phi_e1 - eta1 + I * (L - L1) / sigma_film + I * r_top
    return {"internal_fraction": (I - i_ion0) / I, "cell_voltage": voltage, "lambda": lam, "nu": L1 / lam,
            "eta0": eta0, "eta1": eta1}
