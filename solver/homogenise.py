r"""Effective conductivity of a representative volume, and the ASR of a sulfide-film stack.

Homogenisation (:func:`homogenise`)
-----------------------------------
Steady conduction with a piecewise-constant conductivity ``sigma`` (one value per region, S/m)::

    div(sigma grad phi) = 0    in the box  [0, L_x] x [0, L_y] (x [0, L_z])

The applied mean field is along one axis ``k`` (``direction``: ``x``, ``y`` or, in 3D, ``z``; the
default is the vertical one, ``y`` in 2D and ``z`` in 3D, i.e. through the film); the faces normal
to it are the *inlet* (``k = 0``: ``left`` / ``bottom`` (2D) / ``front`` (3D y) / ``bottom`` (3D
z)) and the *outlet*. Three boundary conditions (``bc``):

``mixed`` (default)
    ``phi = dV`` (1 V) on the inlet, ``phi = 0`` on the outlet, the other faces insulated. This is
    the laboratory set-up (blocking electrodes on the film faces, no lateral current).
``linear`` (kinematic, KUBC)
    ``phi = dV (1 - x_k / L)`` on the whole boundary (Dirichlet "linear potential").
``flux`` (static, SUBC)
    a uniform normal current density ``J n_k`` on the whole boundary (inflow through the inlet,
    outflow through the outlet, nothing through the other faces); one DOF is pinned (pure Neumann).

In every case the apparent conductivity is computed from the *energy* ``W = int sigma |grad phi|^2
dV`` (for the Dirichlet cases ``W / dV`` is the consistent reaction current, which converges at
twice the rate of a boundary-flux integral): ``sigma_app = W L^2 / (V dV^2)`` for ``mixed`` and
``linear`` (for ``mixed`` this is ``(I / A) L / dV`` with ``I`` the total current and ``A = V / L``
the inlet area), ``sigma_app = J^2 V / W`` for ``flux``. By the minimum-energy principles the
apparent conductivities are ordered (Huet, J. Mech. Phys. Solids 38 (1990) 813; Hazanov & Huet,
J. Mech. Phys. Solids 42 (1994) 1995)::

    sigma_flux  <=  sigma_mixed  <=  sigma_linear

and all converge to the same effective value as the RVE grows; their spread measures how far the
box is from representative. The geometry does not need to be periodic for any of them.

Zero conductivities (insulating fibres, pores) are replaced by ``floor * max(sigma)`` (default
``1e-10``) so that the matrix stays non-singular when an insulating phase isolates conducting
islands; the relative effect on a conducting network is of that order.

Bounds, from the *meshed* region volumes (fractions ``f_i``):

* Wiener: harmonic ``1 / sum(f_i / sigma_i)`` <= sigma_eff <= arithmetic ``sum(f_i sigma_i)``
  (any microstructure; attained by laminates perpendicular / parallel to the field).
* Hashin-Shtrikman (statistically isotropic microstructures, ``d`` = 2 or 3):
  ``Lambda(s) = [sum f_i / (sigma_i + (d-1) s)]^-1 - (d-1) s``; lower ``Lambda(sigma_min)``,
  upper ``Lambda(sigma_max)`` (the classic two-phase formulae for two phases; Milton, The Theory of
  Composites, 2002, eq. 23.27). Anisotropic RVEs (aligned fibres) may fall outside them.

ASR of the stack (:func:`film_asr`)
-----------------------------------
The same equation on a ``sulfide_film`` mesh with Ohmic regions (li3n, interphase, film, and the
lithium slab if meshed): ``phi = dV`` on the bottom Li (``li_bottom``, and ``filament_surface``
when the filament is cut out of the mesh), ``phi = 0`` on ``li_top``; voids and side walls are
insulated. ``ASR = dV A / I`` (Ohm m^2) with ``A`` the projected area and ``I = W / dV`` the
consistent current. The problem is linear, so the ASR does not depend on dV and a galvanostatic
current ``i`` simply needs ``dV = ASR i``. Without voids or filament it equals the 1D value
``sum(t_i / sigma_i)`` (reported as ``analytic``).

Everything is parallel-safe: forms are assembled per rank and summed over the communicator; the
linear solver is MUMPS LU below ``DIRECT_LIMIT`` DOFs (``solver="auto"``), else CG + GAMG.
"""

from __future__ import annotations

import dataclasses
import math
from typing import Any

import numpy as np
import ufl

from solver._dolfinx import MPI, PETSc, dolfinx, fresh_options, lagrange_space
from solver.domain import Domain
from solver.errors import SolverError
from solver.materials import SOLID_ELECTROLYTES

__all__ = [
    "FILM_VALUES", "film_value", "Homogenised", "FilmAsr", "build_domain", "homogenise",
    "wiener_bounds", "hashin_shtrikman_bounds", "film_asr",
]

DIRECT_LIMIT = 200_000

# Values of the film study, SI (S/m), each with its source. LPSCl values come from materials.py.
FILM_VALUES: dict[str, tuple[float, str]] = {
    "lpscl_powder": (SOLID_ELECTROLYTES["li6ps5cl"]["conductivity"][0],
                     SOLID_ELECTROLYTES["li6ps5cl"]["conductivity"][1]),
    "e_lpscl_film": SOLID_ELECTROLYTES["e_lpscl_film"]["conductivity"],
    "p_lpscl_pellet": SOLID_ELECTROLYTES["p_lpscl_pellet"]["conductivity"],
    "peva": (0.0, "PEVA (poly(ethylene-co-vinyl acetate)) fibres: insulating polymer, no Li+ "
                  "conduction [assumed]"),
    "li3n_single_crystal": (0.12, "Li3N single crystal, ~1.2e-3 S/cm perpendicular to c at room "
                                  "temperature, Alpen, Rabenau, Talat, Appl. Phys. Lett. 30 (1977) 621 "
                                  "[lit, not re-checked]"),
    "li3n_polycrystalline": (0.01, "Li3N as a polycrystalline / in-situ SEI layer, ~1e-4 S/cm [assumed: "
                                   "an order of magnitude below the single crystal; no measurement of "
                                   "the film study's Li3N layer]"),
    "interphase_electronic": (7.1e-5, "Li-reduced PTFE interphase (MIEC), electronic 7.1e-7 S/cm, Li et "
                                      "al., Adv. Funct. Mater. 2024 [paper]"),
    "lpscl_electronic": (1.6e-6, "LPSCl electronic 1.6e-8 S/cm, Li et al. 2024 [paper]"),
    "e_lpscl_electronic": (1.0e-7, "E-LPSCl electronic 1.0e-9 S/cm, Li et al. 2024 [paper]"),
    "lithium_metal": (1.08e7, "Li metal, resistivity 92.8 nOhm m at 20 degC, CRC Handbook [lit]"),
}
ASR_PAPER = (3.63e-4, "ASR 3.63 Ohm cm^2, Li et al., Adv. Funct. Mater. 2024 [paper]")  # Ohm m^2


def film_value(name: str) -> float:
    return FILM_VALUES[name][0]


@dataclasses.dataclass
class Homogenised:
    sigma_eff: float  # apparent conductivity along `direction` (S/m)
    direction: str
    bc: str
    fractions: dict[str, float]  # meshed volume fraction of every region
    conductivity: dict[str, float]  # region -> S/m, as given
    wiener: tuple[float, float]  # (harmonic, arithmetic)
    hashin_shtrikman: tuple[float, float]  # (lower, upper)
    length: float  # box length along the field (m)
    volume: float  # box volume (m^3; 2D: m^2 per m of depth)
    energy: float  # int sigma |grad phi|^2 (W, 2D: W/m)
    current: float  # mixed: total current inlet -> outlet (A, 2D: A/m); else mean j times area
    num_cells: int
    num_dofs: int
    phi: Any = dataclasses.field(repr=False, default=None)

    def as_dict(self) -> dict:
        return {f.name: getattr(self, f.name) for f in dataclasses.fields(self) if f.name != "phi"}


@dataclasses.dataclass
class FilmAsr:
    asr: float  # Ohm m^2
    analytic: float  # sum t_i / sigma_i of the void-free 1D stack (Ohm m^2)
    current: float  # A (2D: A/m)
    voltage: float  # V
    area: float  # projected area (m^2; 2D: m per m of depth)
    num_cells: int
    num_dofs: int
    phi: Any = dataclasses.field(repr=False, default=None)


# ----------------------------------------------------------------------------- helpers
def build_domain(builder: str, params, options, comm=MPI.COMM_WORLD) -> Domain:
    """Mesh a registered builder's geometry and wrap it in a Domain."""
    from solver.study import mesh_domain

    return mesh_domain(builder, params, options, comm)


def _sigma_field(domain: Domain, conductivity: dict[str, float], floor: float):
    missing = sorted(set(domain.regions) - set(conductivity))
    if missing:
        raise SolverError(f"no conductivity for region(s) {', '.join(missing)} "
                          f"(regions: {', '.join(sorted(domain.regions))})")
    values = {r: float(conductivity[r]) for r in domain.regions}
    if any(v < 0 or not math.isfinite(v) for v in values.values()):
        raise SolverError(f"conductivities must be finite and >= 0, got {values}")
    top = max(values.values())
    if top <= 0:
        raise SolverError("every region is insulating: no current can flow")
    Q = dolfinx.fem.functionspace(domain.mesh, ("DG", 0))
    sigma = dolfinx.fem.Function(Q, name="conductivity")
    for region, value in values.items():
        sigma.x.array[domain.region_cells(region)] = value if value > 0 else floor * top
    sigma.x.scatter_forward()
    return sigma, values


def _extent(domain: Domain, axis: int) -> tuple[float, float]:
    x = domain.mesh.geometry.x[:, axis]
    lo = domain.comm.allreduce(float(x.min(initial=np.inf)), op=MPI.MIN)
    hi = domain.comm.allreduce(float(x.max(initial=-np.inf)), op=MPI.MAX)
    return lo, hi


def _solve(V, a, L, bcs, solver: str, petsc_options: dict | None, prefix: str):
    from dolfinx.fem.petsc import LinearProblem

    n = V.dofmap.index_map.size_global
    direct = solver == "direct" or (solver == "auto" and n < DIRECT_LIMIT)
    if direct:
        opts = {"ksp_type": "preonly", "pc_type": "lu", "pc_factor_mat_solver_type": "mumps"}
    else:
        opts = {"ksp_type": "cg", "pc_type": "gamg", "ksp_rtol": 1e-12, "ksp_atol": 1e-30,
                "ksp_max_it": 2000}
    opts.update(petsc_options or {})
    problem = LinearProblem(a, L, bcs=bcs, petsc_options_prefix=prefix, petsc_options=fresh_options(prefix, opts))
    phi = problem.solve()
    ksp = problem.solver
    if ksp.getConvergedReason() <= 0:
        raise SolverError(f"the conduction solve did not converge (KSP reason {ksp.getConvergedReason()})")
    if not domain_all_finite(phi):
        raise SolverError("the conduction solve gave non-finite values (singular system?)")
    return phi


def domain_all_finite(f) -> bool:
    comm = f.function_space.mesh.comm
    return bool(comm.allreduce(bool(np.isfinite(f.x.array).all()), op=MPI.LAND))


# ----------------------------------------------------------------------------- bounds
def wiener_bounds(fractions: dict[str, float], conductivity: dict[str, float]) -> tuple[float, float]:
    """(harmonic, arithmetic) means of the conductivities weighted by volume fraction."""
    arithmetic = sum(f * conductivity[r] for r, f in fractions.items())
    if any(conductivity[r] <= 0 and f > 0 for r, f in fractions.items()):
        return 0.0, arithmetic
    harmonic = 1.0 / sum(f / conductivity[r] for r, f in fractions.items() if f > 0)
    return harmonic, arithmetic


def hashin_shtrikman_bounds(fractions: dict[str, float], conductivity: dict[str, float],
                            dim: int) -> tuple[float, float]:
    """(lower, upper) Hashin-Shtrikman bounds of a statistically isotropic ``dim``-D mixture."""
    pairs = [(f, conductivity[r]) for r, f in fractions.items() if f > 0]
    total = sum(f for f, _ in pairs)
    pairs = [(f / total, s) for f, s in pairs]

    def lam(s: float) -> float:
        k = (dim - 1) * s
        if any(si + k <= 0 for _, si in pairs):
            return 0.0  # s = 0 with an insulating phase: the lower bound is 0
        return 1.0 / sum(f / (si + k) for f, si in pairs) - k

    sig = [s for _, s in pairs]
    return lam(min(sig)), lam(max(sig))


# ----------------------------------------------------------------------------- homogenisation
_FACES = {
    2: {"x": ("left", "right"), "y": ("bottom", "top")},
    3: {"x": ("left", "right"), "y": ("front", "back"), "z": ("bottom", "top")},
}


def homogenise(
    domain: Domain,
    conductivity: dict[str, float],
    direction: str | None = None,
    bc: str = "mixed",
    degree: int = 1,
    solver: str = "auto",
    floor: float = 1e-10,
    voltage: float = 1.0,
    petsc_options: dict | None = None,
) -> Homogenised:
    """Apparent conductivity of an RVE (a ``film_rve`` mesh, or any box with the same boundary
    names) along ``direction``; see the module docstring for the boundary conditions."""
    mesh = domain.mesh
    dim = mesh.topology.dim
    direction = direction or ("y" if dim == 2 else "z")
    if direction not in _FACES[dim]:
        raise SolverError(f"direction must be one of {sorted(_FACES[dim])} in {dim}D, got {direction!r}")
    if bc not in ("mixed", "linear", "flux"):
        raise SolverError(f"bc must be 'mixed', 'linear' or 'flux', got {bc!r}")
    axis = "xyz".index(direction)
    inlet, outlet = _FACES[dim][direction]
    for name in (inlet, outlet):
        if name not in domain.boundaries:
            raise SolverError(f"the mesh has no boundary named {name!r} (needed for direction {direction})")
    sigma, values = _sigma_field(domain, conductivity, floor)
    lo, hi = _extent(domain, axis)
    length = hi - lo
    volume = domain.integrate(ufl.as_ufl(1.0) * domain.dx)
    fractions = {r: domain.integrate(ufl.as_ufl(1.0) * domain.dx(t)) / volume for r, t in domain.regions.items()}

    V = lagrange_space(mesh, degree)
    u, v = ufl.TrialFunction(V), ufl.TestFunction(V)
    a = ufl.inner(sigma * ufl.grad(u), ufl.grad(v)) * ufl.dx
    fdim = dim - 1
    zero = dolfinx.fem.Constant(mesh, PETSc.ScalarType(0.0))
    L = zero * v * ufl.dx
    bcs = []
    if bc == "mixed":
        for name, value in ((inlet, voltage), (outlet, 0.0)):
            dofs = dolfinx.fem.locate_dofs_topological(V, fdim, domain.facets([name]))
            bcs.append(dolfinx.fem.dirichletbc(PETSc.ScalarType(value), dofs, V))
    elif bc == "linear":
        g = dolfinx.fem.Function(V)
        g.interpolate(lambda x: voltage * (1.0 - (x[axis] - lo) / length))
        facets = dolfinx.mesh.exterior_facet_indices(mesh.topology)
        dofs = dolfinx.fem.locate_dofs_topological(V, fdim, facets)
        bcs.append(dolfinx.fem.dirichletbc(g, dofs))
    else:
        flux = voltage * max(values.values()) / length  # J: any value; this keeps phi ~ dV
        n = ufl.FacetNormal(mesh)
        L = -flux * n[axis] * v * ufl.ds
        dofs = np.arange(1, dtype=np.int32) if mesh.comm.rank == 0 and V.dofmap.index_map.size_local else \
            np.zeros(0, dtype=np.int32)
        bcs.append(dolfinx.fem.dirichletbc(PETSc.ScalarType(0.0), dofs, V))
    phi = _solve(V, a, L, bcs, solver, petsc_options, "homogenise_")
    energy = domain.integrate(ufl.inner(sigma * ufl.grad(phi), ufl.grad(phi)) * ufl.dx)
    if bc == "flux":
        sigma_app = flux**2 * volume / energy
        current = flux * volume / length
    else:
        sigma_app = energy * length**2 / (volume * voltage**2)
        current = energy / voltage
    return Homogenised(
        sigma_eff=sigma_app,
        direction=direction,
        bc=bc,
        fractions=fractions,
        conductivity=values,
        wiener=wiener_bounds(fractions, values),
        hashin_shtrikman=hashin_shtrikman_bounds(fractions, values, dim),
        length=length,
        volume=volume,
        energy=energy,
        current=current,
        num_cells=domain.num_cells_global(),
        num_dofs=V.dofmap.index_map.size_global,
        phi=phi,
    )


# ----------------------------------------------------------------------------- ASR
def film_asr(
    domain: Domain,
    conductivity: dict[str, float],
    voltage: float = 1.0,
    degree: int = 1,
    solver: str = "auto",
    petsc_options: dict | None = None,
) -> FilmAsr:
    """Area-specific resistance (Ohm m^2) of a ``sulfide_film`` stack (see the module docstring).

    ``conductivity``: region -> S/m for every region of the mesh (extra keys are ignored, so one
    dict serves stacks with and without optional layers); zero is not allowed here.
    """
    mesh = domain.mesh
    dim = mesh.topology.dim
    sigma, values = _sigma_field(domain, conductivity, floor=0.0)
    if any(val <= 0 for val in values.values()):
        raise SolverError(f"film_asr needs positive conductivities, got {values}")
    bottom = ["li_bottom"]
    if "filament_surface" in domain.boundaries and "lithium" not in domain.regions:
        bottom.append("filament_surface")
    V = lagrange_space(mesh, degree)
    u, v = ufl.TrialFunction(V), ufl.TestFunction(V)
    a = ufl.inner(sigma * ufl.grad(u), ufl.grad(v)) * ufl.dx
    L = dolfinx.fem.Constant(mesh, PETSc.ScalarType(0.0)) * v * ufl.dx
    bcs = []
    for names, value in ((bottom, voltage), (["li_top"], 0.0)):
        dofs = dolfinx.fem.locate_dofs_topological(V, dim - 1, domain.facets(names))
        bcs.append(dolfinx.fem.dirichletbc(PETSc.ScalarType(value), dofs, V))
    phi = _solve(V, a, L, bcs, solver, petsc_options, "film_asr_")
    energy = domain.integrate(ufl.inner(sigma * ufl.grad(phi), ufl.grad(phi)) * ufl.dx)
    current = energy / voltage
    area = domain.projected_area
    layers = domain.landmarks.get("layers", {})
    analytic = sum((y1 - y0) / values[name] for name, (y0, y1) in layers.items() if name in values)
    return FilmAsr(
        asr=voltage * area / current,
        analytic=analytic,
        current=current,
        voltage=voltage,
        area=area,
        num_cells=domain.num_cells_global(),
        num_dofs=V.dofmap.index_map.size_global,
        phi=phi,
    )
