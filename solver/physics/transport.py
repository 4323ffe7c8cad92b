"""Tertiary current distribution: transient salt transport in a binary electrolyte.

Electroneutral concentrated-solution model of a binary salt (Newman; the form used in DFN
battery models), unknowns the salt concentration c (mol/m^3) and the electrolyte potential
phi (V, measured against a Li reference electrode), in every electrolyte-filled region
(free electrolyte: porosity 1; porous layers: porosity eps and Bruggeman factor
tau = eps^b on D and kappa)::

    eps dc/dt = div(tau D(c) grad c)                                      (t+ constant)
    div i = 0,   i = -tau kappa(c) [grad phi - (2RT/F)(1 - t+) TDF(c) grad ln c]

Boundaries (n the outward normal of the electrolyte, i_p = i.n the plating current density,
i_a = -i_p the Butler-Volmer anodic current density)::

    electrode:  i_a = i0(c) [exp(alpha_a f eta) - exp(-alpha_c f eta)],  eta = V - phi - E_eq,
                i0(c) = i0_ref (c / c_ref)^gamma (gamma = alpha_a by default: Li/Li+),
                salt: -tau D grad c . n = (1 - t+) i_p / F
    counter:    "reference": phi = 0, c = c_bulk (a bulk reservoir);
                "electrode": a Li counter electrode at potential 0 with the same kinetics
                law and salt flux (a closed symmetric cell Li|Li conserves salt)
    elsewhere:  no flux of salt or current

Single-ion conducting solids (``SolidElectrolyte``: t+ = 1, e.g. Li6PS5Cl) carry current by
Ohm's law, i = -sigma grad phi, and hold no salt equation (their Li+ concentration is fixed): c
is pinned to c_bulk on the nodes that touch no liquid, the liquid's salt flux at the
liquid/solid interface is (1 - t+) i.n / F (the anions cannot enter the solid; the same
condition as at an electrode), and Butler-Volmer kinetics on Li under the solid has a constant
i0. phi and the current are continuous across the interface.

Control: potentiostatic (V given) or galvanostatic (V a global unknown with the total
plating current fixed). Time: backward Euler; ``integrate`` adapts the step (the change of c
per step and the Newton iterations), cuts it back and retries when SNES fails, lands on the
requested output times and stops at Sand's time (the electrode surface concentration reaching
zero), estimated by interpolating between the last two steps.

The c equation is multiplied by F and every equation by dt, so that all residual blocks are
charges (C) with a round-off floor independent of the step; SNES converges on a relative
decrease ``rtol`` or an absolute residual of 1e-11 of the cell's salt charge F c_bulk |cell|.
"""

from __future__ import annotations

import dataclasses
import math
from typing import Callable

import basix.ufl
import numpy as np
import ufl

from solver._dolfinx import MPI, PETSc, dolfinx, fresh_options, lagrange_space
from solver.arrays import distinct
from solver.domain import Domain
from solver.errors import SolverError
from solver.physics.potential import FARADAY, GAS_CONSTANT, ButlerVolmer
from solver.stepping import Event, Integration, Integrator, Stop, TimeControl, solve_checked  # noqa: F401


def _pos(c, m):
    """c clipped at a tiny positive value (property laws and logarithms of c)."""
    return ufl.max_value(c, 1e-9) if m is ufl else np.maximum(c, 1e-9)


@dataclasses.dataclass
class Electrolyte:
    """Binary-electrolyte transport laws, each written once for UFL and numpy: ``law(c, m)``
    with ``m`` the module (``ufl`` or ``numpy``) and c in mol/m^3."""

    conductivity: Callable  # S/m
    diffusivity: Callable  # m^2/s
    transference_number: float
    thermodynamic_factor: Callable = lambda c, m: 1.0 + 0.0 * c
    name: str = "electrolyte"

    @classmethod
    def constant(cls, conductivity: float, diffusivity: float, transference_number: float, name="constant"):
        return cls(lambda c, m: conductivity + 0.0 * c, lambda c, m: diffusivity + 0.0 * c, transference_number,
                   name=name)


@dataclasses.dataclass
class Region:
    """An electrolyte-filled region: the electrolyte and, for porous layers, eps and b."""

    electrolyte: Electrolyte
    porosity: float = 1.0
    bruggeman: float = 1.5

    @property
    def tortuosity_factor(self) -> float:
        return self.porosity**self.bruggeman


@dataclasses.dataclass
class SolidElectrolyte:
    """A single-ion conducting solid region (t+ = 1): Ohm's law with ``conductivity`` (S/m)."""

    conductivity: float
    porosity: float = 0.0  # no liquid: no salt, no salt diffusion
    tortuosity_factor: float = 0.0


@dataclasses.dataclass
class StepResult:
    converged: bool
    newton_iterations: int
    reason: int


class Tertiary:
    """Transient Nernst-Planck (concentrated solution) problem on a Domain; see module doc.

    Args:
        domain: mesh with named regions and boundaries.
        regions: region name -> Region (every cell must be covered; one electrolyte law).
        electrode: working-electrode boundary name -> ButlerVolmer (i0 at c_ref).
        counter: counter boundary names; ``counter_type`` "reference" or "electrode".
        c_bulk: initial and reservoir concentration; c_ref: reference of i0 (default c_bulk).
    """

    def __init__(self, domain: Domain, regions: dict[str, Region], electrode: dict[str, ButlerVolmer],
                 counter: list[str], counter_type: str = "reference", counter_kinetics: ButlerVolmer | None = None,
                 c_bulk: float = 1000.0, c_ref: float | None = None, i0_exponent: float | None = None,
                 control: str = "galvanostatic", current_density: float = 10.0, electrode_potential: float = -0.05,
                 temperature: float = 298.15, degree: int = 1, rtol: float = 1e-9, max_iterations: int = 25,
                 petsc_options: dict | None = None, prefix: str = "tertiary_"):
        laws = {id(r.electrolyte) for r in regions.values() if isinstance(r, Region)}
        if len(laws) != 1:
            raise SolverError("the tertiary model takes one liquid electrolyte (porous layers hold the same one)")
        self.domain, self.regions, self.electrode = domain, regions, electrode
        self.counter, self.counter_type = counter, counter_type
        self.counter_kinetics = counter_kinetics or next(iter(electrode.values()))
        self.electrolyte = next(r for r in regions.values() if isinstance(r, Region)).electrolyte
        self.c_bulk = c_bulk
        self.c_ref = c_ref or c_bulk
        self.i0_exponent = i0_exponent
        self.control = control
        self.temperature = temperature
        self.f = FARADAY / (GAS_CONSTANT * temperature)
        self.rtol, self.max_iterations = rtol, max_iterations
        self.user_options = dict(petsc_options or {})
        self.prefix = prefix

        mesh = domain.mesh
        # separate (equal) spaces for c and phi: a Dirichlet condition names its block by its space
        self.Vc = lagrange_space(mesh, degree)
        self.V = lagrange_space(mesh, degree)
        self.R = dolfinx.fem.functionspace(mesh, basix.ufl.real_element(mesh.basix_cell(), ()))
        self.c = dolfinx.fem.Function(self.Vc, name="concentration")
        self.c_old = dolfinx.fem.Function(self.Vc)
        self.phi = dolfinx.fem.Function(self.V, name="electrolyte_potential")
        self.voltage = dolfinx.fem.Function(self.R, name="electrode_potential")
        self.c.x.array[:] = c_bulk
        self.c_old.x.array[:] = c_bulk
        self.eps = self._cellwise(lambda r: r.porosity)
        self.tau = self._cellwise(lambda r: r.tortuosity_factor)
        self.has_solid = any(isinstance(r, SolidElectrolyte) for r in regions.values())
        self.liquid = self._cellwise(lambda r: 0.0 if isinstance(r, SolidElectrolyte) else 1.0)
        self.sigma_solid = self._cellwise(lambda r: r.conductivity if isinstance(r, SolidElectrolyte) else 0.0)
        self.dt = dolfinx.fem.Constant(mesh, PETSc.ScalarType(1.0))
        self.i_app = dolfinx.fem.Constant(mesh, PETSc.ScalarType(current_density))
        self.v_app = dolfinx.fem.Constant(mesh, PETSc.ScalarType(electrode_potential))
        self.galvanostatic = dolfinx.fem.Constant(mesh, PETSc.ScalarType(1.0 if control == "galvanostatic" else 0.0))
        self.source_c = None  # optional UFL volume sources (MMS): added to the c and phi equations
        self.source_phi = None
        self.extra_flux = {}  # boundary name -> (salt flux into the domain, current into the domain) (MMS)
        self.time = 0.0
        self._problem = None
        self._electrode_dofs = None
        self.voltage.x.array[:] = self._voltage_guess(current_density) if control == "galvanostatic" \
            else electrode_potential

    # ------------------------------------------------------------------ set-up
    def _cellwise(self, value: Callable[[Region], float]) -> dolfinx.fem.Function:
        Q = dolfinx.fem.functionspace(self.domain.mesh, ("DG", 0))
        f = dolfinx.fem.Function(Q)
        f.x.array[:] = np.nan
        for name, region in self.regions.items():
            f.x.array[self.domain.region_cells(name)] = value(region)
        owned = Q.dofmap.index_map.size_local
        if self.domain.comm.allreduce(int(np.isnan(f.x.array[:owned]).sum()), op=MPI.SUM):
            raise SolverError("some cells are in no region of the tertiary model")
        f.x.scatter_forward()
        return f

    def _voltage_guess(self, i_app: float) -> float:
        bv = next(iter(self.electrode.values()))
        a = 0.5 * (bv.alpha_a + bv.alpha_c)
        return bv.e_eq - math.asinh(i_app / (2 * bv.i0)) / (a * self.f)

    def _i0_factor(self, c, bv: ButlerVolmer):
        gamma = bv.alpha_a if self.i0_exponent is None else self.i0_exponent
        factor = (_pos(c, ufl) / self.c_ref) ** gamma
        if self.has_solid:  # Li under a single-ion conductor: constant Li+ activity
            return self.liquid * factor + (1 - self.liquid)
        return factor

    def anodic_current(self, bv: ButlerVolmer, c, phi, metal_potential):
        eta = metal_potential - phi - bv.e_eq
        return self._i0_factor(c, bv) * bv.anodic_current(eta, self.f)

    def ionic_current(self, c=None, phi=None):
        """UFL vector i = -tau kappa(c) [grad phi - (2RT/F)(1 - t+) TDF grad ln c] in the liquid,
        -sigma grad phi in single-ion solids."""
        c = self.c if c is None else c
        phi = self.phi if phi is None else phi
        e = self.electrolyte
        diffusion = 2.0 / self.f * (1 - e.transference_number) * e.thermodynamic_factor(c, ufl)
        i = -self.tau * e.conductivity(_pos(c, ufl), ufl) * (ufl.grad(phi) - diffusion * ufl.grad(c) / _pos(c, ufl))
        if self.has_solid:
            i = i - self.sigma_solid * ufl.grad(phi)
        return i

    def _forms(self):
        d = self.domain
        w = d.weight
        e = self.electrolyte
        t_plus = e.transference_number
        c, phi, voltage = self.c, self.phi, self.voltage
        q, v, mu = ufl.TestFunctions(ufl.MixedFunctionSpace(self.Vc, self.V, self.R))
        i = self.ionic_current(c, phi)
        Fc = FARADAY * (self.eps * (c - self.c_old) / self.dt * q
                        + self.tau * e.diffusivity(_pos(c, ufl), ufl) * ufl.inner(ufl.grad(c), ufl.grad(q))) * w * d.dx
        Fphi = -ufl.inner(i, ufl.grad(v)) * w * d.dx
        plating = 0
        boundaries = [(name, bv, voltage) for name, bv in self.electrode.items()]
        if self.counter_type == "electrode":
            zero = dolfinx.fem.Constant(d.mesh, PETSc.ScalarType(0.0))
            boundaries += [(name, self.counter_kinetics, zero) for name in self.counter]
        salt_side = self.liquid if self.has_solid else 1.0  # no salt flux where Li touches a solid
        for name, bv, metal in boundaries:
            i_a = self.anodic_current(bv, c, phi, metal)
            ds = d.ds_on([name])
            Fphi -= i_a * v * w * ds
            Fc += (1 - t_plus) * (-i_a) * salt_side * q * w * ds
            if name in self.electrode:
                plating += -i_a * mu * w * ds
        if self.has_solid:
            # liquid/solid interface: the anions stop, salt flux (1 - t+) i.n_liquid / F out of the
            # liquid. |jump(liquid)| = 1 only there. i.n is taken on the solid's side (Ohm's law,
            # no 1/c term that the liquid's side has as c -> 0 at Sand's time): (1 - liquid)
            # picks the solid side, whose neighbour's normal is the liquid's outward normal
            n = ufl.FacetNormal(d.mesh)
            lq = self.liquid
            flux = (1 - lq("+")) * ufl.dot(i("+"), n("-")) + (1 - lq("-")) * ufl.dot(i("-"), n("+"))
            wS = w("+") if isinstance(w, ufl.core.expr.Expr) else w
            Fc += (1 - t_plus) * flux * abs(ufl.jump(lq)) * q("+") * wS * d.dS
        if self.source_c is not None:
            Fc -= FARADAY * self.source_c * q * w * d.dx
        if self.source_phi is not None:
            Fphi -= self.source_phi * v * w * d.dx
        for name, (salt, current) in self.extra_flux.items():
            Fc -= FARADAY * salt * q * w * d.ds_on([name])
            Fphi -= current * v * w * d.ds_on([name])
        # control: galvanostatic (total plating current = i_app * projected area, spread over the
        # counter's area) or potentiostatic (V = v_app), switched by the constant ``galvanostatic``
        # without rebuilding the problem (a protocol's hold steps)
        counter_area = d.area(self.counter)
        if counter_area <= 0:
            raise SolverError("the counter boundary has zero area")
        scale = d.projected_area / counter_area
        g = self.galvanostatic
        Fv = g * (plating - self.i_app * scale * mu * w * d.ds_on(self.counter)) \
            + (1 - g) * (voltage - self.v_app) * mu * w * d.ds_on(self.counter)
        # times dt: every block becomes a charge (C), F eps (c - c_old) at most; its round-off
        # floor does not grow as dt shrinks
        return self.dt * (Fc + Fphi + Fv)

    def _bcs(self):
        """Reference counter: c = c_bulk and phi = 0 there; c = c_bulk on nodes in solids only."""
        bcs = []
        fdim = self.domain.mesh.topology.dim - 1
        if self.counter_type == "reference":
            facets = self.domain.facets(self.counter)
            bcs += [dolfinx.fem.dirichletbc(PETSc.ScalarType(value), dolfinx.fem.locate_dofs_topological(W, fdim, facets), W)
                    for W, value in ((self.Vc, self.c_bulk), (self.V, 0.0))]
        if self.has_solid:
            solid_only = np.flatnonzero(self.liquid_nodes() == 0).astype(np.int32)
            bcs.append(dolfinx.fem.dirichletbc(PETSc.ScalarType(self.c_bulk), solid_only, self.Vc))
        return bcs

    def liquid_nodes(self) -> np.ndarray:
        """1 at the c nodes (local, ghosts included) that touch a liquid-filled cell, else 0."""
        if getattr(self, "_liquid_nodes", None) is None:
            cells = np.flatnonzero(self.liquid.x.array > 0.5)
            mark = dolfinx.fem.Function(self.Vc)
            mark.x.array[distinct(self.Vc.dofmap.list[cells])] = 1.0
            mark.x.scatter_reverse(dolfinx.la.InsertMode.add)  # a node touched on any rank
            mark.x.scatter_forward()
            self._liquid_nodes = (mark.x.array > 0.5).astype(np.int8)
        return self._liquid_nodes

    def _build(self):
        from dolfinx.fem.petsc import NonlinearProblem

        F = self._forms()
        u = [self.c, self.phi, self.voltage]
        du = ufl.TrialFunctions(ufl.MixedFunctionSpace(self.Vc, self.V, self.R))
        J = ufl.extract_blocks(sum(ufl.derivative(F, ui, dui) for ui, dui in zip(u, du)))
        bcs = self._bcs()
        d = self.domain
        charge = FARADAY * self.c_bulk * d.integrate(self.eps * d.weight * d.dx)  # salt charge in the cell
        options = {
            "snes_type": "newtonls", "snes_linesearch_type": "l2", "snes_rtol": self.rtol,
            "snes_atol": 1e-11 * charge,
            "snes_stol": 0.0, "snes_max_it": self.max_iterations,
            "ksp_type": "preonly", "pc_type": "lu", "pc_factor_mat_solver_type": "mumps",
        } | self.user_options
        self._problem = NonlinearProblem(ufl.extract_blocks(F), u, bcs=bcs, J=J, kind="mpi",
                                         petsc_options_prefix=self.prefix, petsc_options=fresh_options(self.prefix, options))

    failure_hint = ("the applied current may exceed what the electrolyte can carry (limiting current), or "
                    "the cell is past Sand's time")

    def set_current(self, current_density: float) -> None:
        """Galvanostatic from now on: mean plating current density over the projected area."""
        # Newton's first guess for V: shifted by the change of the kinetic overpotential
        if self.galvanostatic.value == 1.0:
            shift = self._voltage_guess(current_density) - self._voltage_guess(float(self.i_app.value))
            self.voltage.x.array[:] += shift
        self.galvanostatic.value = 1.0
        self.i_app.value = current_density

    def set_potential(self, electrode_potential: float) -> None:
        """Potentiostatic from now on: working-electrode potential vs the counter (V)."""
        self.galvanostatic.value = 0.0
        self.v_app.value = electrode_potential
        self.voltage.x.array[:] = electrode_potential

    # ------------------------------------------------------------------ stepping
    def step(self, dt: float) -> StepResult:
        """One backward-Euler step of length dt from the present state; on failure the state
        is restored."""
        if self._problem is None:
            self._build()
        saved = [f.x.array.copy() for f in (self.c, self.phi, self.voltage)]
        self.c_old.x.array[:] = self.c.x.array
        self.dt.value = dt
        ok, its, reason = solve_checked(self._problem, (self.c, self.phi, self.voltage), self.domain.comm)
        if ok:
            self.time += dt
        else:
            for f, a in zip((self.c, self.phi, self.voltage), saved):
                f.x.array[:] = a
            self.c_old.x.array[:] = self.c.x.array
        return StepResult(ok, its, reason)

    def snapshot(self) -> tuple:
        """The state (fields and time), for ``restore``."""
        return tuple(f.x.array.copy() for f in (self.c, self.phi, self.voltage)) + (self.time,)

    def restore(self, snap: tuple) -> None:
        for f, a in zip((self.c, self.phi, self.voltage), snap[:3]):
            f.x.array[:] = a
        self.c_old.x.array[:] = self.c.x.array
        self.time = snap[3]

    def relative_change(self, snap: tuple) -> float:
        """Largest |change of c| since ``snap``, relative to c_bulk (the stepper's measure)."""
        local = float(np.abs(self.c.x.array - snap[0]).max(initial=0.0))
        return self.domain.comm.allreduce(local, op=MPI.MAX) / self.c_bulk

    # ------------------------------------------------------------------ observables
    @property
    def num_dofs(self) -> int:
        return 2 * self.V.dofmap.index_map.size_global + 1

    @property
    def electrode_potential(self) -> float:
        value = self.voltage.x.array[0] if self.voltage.x.array.size else -np.inf
        return float(self.domain.comm.allreduce(value, op=MPI.MAX))

    def surface_concentration(self) -> tuple[float, float]:
        """(min, max) of c over the working-electrode boundaries' nodes."""
        if self._electrode_dofs is None:
            fdim = self.domain.mesh.topology.dim - 1
            dofs = dolfinx.fem.locate_dofs_topological(self.Vc, fdim, self.domain.facets(list(self.electrode)))
            if self.has_solid:  # the liquid's side of the electrode: its own surface and solid interfaces
                dofs = np.union1d(dofs[self.liquid_nodes()[dofs] == 1], self._interface_dofs())
            self._electrode_dofs = dofs
        values = self.c.x.array[self._electrode_dofs]
        comm = self.domain.comm
        return (comm.allreduce(float(values.min(initial=np.inf)), op=MPI.MIN),
                comm.allreduce(float(values.max(initial=-np.inf)), op=MPI.MAX))

    def _interface_dofs(self) -> np.ndarray:
        """c nodes on liquid/solid interfaces (touching both a liquid and a solid cell)."""
        cells = np.flatnonzero(self.liquid.x.array < 0.5)
        solid = distinct(self.Vc.dofmap.list[cells]).astype(np.int32)
        return solid[self.liquid_nodes()[solid] == 1]

    def salt_amount(self) -> float:
        """Total salt, int eps c (mol; 2D per metre of depth)."""
        d = self.domain
        return d.integrate(self.eps * self.c * d.weight * d.dx)

    def electrode_current(self) -> float:
        """Total plating current on the working electrode from the kinetics (A)."""
        d = self.domain
        total = 0.0
        for name, bv in self.electrode.items():
            total += d.integrate(-self.anodic_current(bv, self.c, self.phi, self.voltage) * d.weight * d.ds_on([name]))
        return total


# ---------------------------------------------------------------------- time integration
def integrate(problem: Tertiary, t_end: float, control: TimeControl | None = None,
              output_times: list[float] | None = None, on_output: Callable | None = None) -> Integration:
    """Step ``problem`` to ``t_end`` (see ``Integrator``); one row of scalars per accepted step."""
    stepper = Integrator(problem, control, observe=_row)
    rows = [_row(problem)]
    stop = stepper.advance(t_end, output_times, on_output, on_step=lambda row, dt, result: rows.append(row),
                           last=rows[0])
    return Integration(rows, None if stop.reason == "end" else stop.reason, stop.sand_time, stepper.steps,
                       stepper.rejected)


def _row(problem: Tertiary) -> dict:
    c_min, c_max = problem.surface_concentration()
    return {
        "time_s": problem.time,
        "electrode_potential_V": problem.electrode_potential,
        "surface_concentration_min": c_min,
        "surface_concentration_max": c_max,
        "salt_mol": problem.salt_amount(),
    }
