"""The piezoelectric layer over a bud: loading, electrical conditions and coupling to the ions.

Geometry-agnostic apart from the names it binds to: the layer region, the Li boundaries under
it (the electrode boundaries: a "bud" boundary is displaced, the others are held), the layer
top (``coating_top``), the lateral walls (``side``) and the axis (``axis``, axisymmetric).

Assumptions (documented in README, exposed in ``physics.piezo``):

* Loading: the layer was cast on flat Li and the bud grew beneath it, in linear theory about
  the present geometry. Either the bud presses on the layer with a contact pressure (default:
  Li creeps above ~0.4-1 MPa, so a growing bud cannot push much harder than its flow stress),
  or the layer's lower surface on the bud is displaced by the local bud height (u = h e_n;
  linear elasticity makes this meaningful only for buds much thinner than the layer). On the
  flat Li the layer is held by rigid Li (bonded: u = 0; sliding: u_n = 0) or rests on an
  elastic Li foil (``li_substrate``): the foil, of thickness H on a rigid current collector,
  is a thin-layer (Winkler) foundation with traction -K u on the layer, K_n = M / H and
  K_t = G / H (M = E(1-nu)/((1+nu)(1-2nu)) the oedometric modulus, G the shear modulus; Li
  E = 4.91 GPa, nu = 0.36 [lit]). The foil is then compliant everywhere but carries no shear
  between neighbouring points, which is fair for loads varying over lengths >> H and only an
  estimate for a bud narrower than the foil. Lateral walls are symmetry planes (u_n = 0).
* Electrical: psi = 0 on the Li (the reference, at the electrode potential); the top is
  charge-free (``open``) or held at the Li potential (``screened``).
* Coupling: inside the layer's electrolyte-filled pores the ions feel the extra field
  -s grad(psi), s = screening_factor in [0, 1]: i = -kappa_eff grad(phi + s psi). The bulk
  electrolyte screens the field completely. With psi = 0 on the Li the Butler-Volmer
  overpotential is unchanged; the effect enters through the pore current.
"""

from __future__ import annotations

import dataclasses

import numpy as np

from solver import materials as matlib
from solver._dolfinx import MPI, dolfinx
from solver.domain import Domain, SubDomain, restrict
from solver.errors import SolverError
from solver.physics import piezo as pz
from solver.physics.potential import CurrentDistribution
from solver.postprocess import nearest_value


@dataclasses.dataclass
class PiezoLayerResult:
    problem: pz.Piezoelectricity
    sub: SubDomain
    psi_parent: dolfinx.fem.Function | None = None  # psi on the parent's potential space (set by couple)


def material(config, porosity: float) -> pz.PiezoMaterial:
    if config.material == "composite":
        c = config.composite
        base = pz.composite(pz.preset(c.active), pz.preset(c.matrix), c.fraction, porosity, c.poling_efficiency)
    else:
        base = pz.preset(config.material)
    return base.scaled(config.piezo_scale)


def _layer_problem(config, parent: Domain, porosity: float) -> tuple[SubDomain, pz.Piezoelectricity]:
    """The layer region as a mesh of its own and its (unconstrained) piezoelectric problem, poled
    along the layer normal (y in 2D / axisymmetric, z in 3D) up or down."""
    sub = restrict(parent, [config.region])
    gdim = sub.domain.mesh.geometry.dim
    up = np.eye(3)[gdim - 1]
    mat = material(config, porosity).poled_along(up if config.poling == "up" else -up)
    return sub, pz.Piezoelectricity(sub.domain, mat, degree=config.degree)


def solve(config, parent: Domain, electrode: list[str], porosity: float,
          linear_solver: str = "auto") -> PiezoLayerResult:
    """Solve the layer's piezoelectric problem for the bud displacement under it (``linear_solver``:
    auto = MUMPS below DIRECT_LIMIT unknowns, else the GAMG field split of Piezoelectricity)."""
    sub, problem = _layer_problem(config, parent, porosity)
    d = sub.domain
    gdim = d.mesh.geometry.dim
    vertical = gdim - 1
    present = set(d.boundaries)

    def height(x):
        out = np.zeros((gdim, x.shape[1]))
        out[vertical] = x[vertical]
        return out

    li = [b for b in electrode if b in present]
    raised = [b for b in li if b == "bud"]
    if raised and config.loading == "displacement":
        problem.fix(raised, height)
    elif raised:
        problem.pressure(raised, config.contact_pressure)
    _hold(problem, config, held=[b for b in li if b != "bud"], li=li)
    problem.solve(linear_solver=linear_solver)
    return PiezoLayerResult(problem, sub)


def _hold(problem: pz.Piezoelectricity, config, held: list[str], li: list[str]) -> None:
    """The layer's supports and electrical conditions: ``bottom`` on the ``held`` boundaries,
    symmetry rollers on the walls and the axis, ``top`` and ``electrical_top`` on ``coating_top``,
    psi = 0 on the ``li`` boundaries."""
    d = problem.domain
    gdim = d.mesh.geometry.dim
    present = set(d.boundaries)
    if held:
        if config.bottom == "bonded":
            problem.fix(held, np.zeros(gdim))
        elif config.bottom == "li_substrate":
            problem.elastic_support(held, *matlib.li_foundation_stiffness(config.li_thickness))
        else:
            problem.fix(held, 0.0, component=gdim - 1)
    if "side" in present:
        _walls(problem, d, gdim)
    if "axis" in present:
        problem.fix(["axis"], 0.0, component=0)
    if "coating_top" in present:
        if config.top == "clamped":
            problem.fix(["coating_top"], np.zeros(gdim))
        elif config.top == "pressure":
            problem.pressure(["coating_top"], config.pressure)
        if config.electrical_top == "screened":
            problem.potential(["coating_top"], 0.0)
    problem.potential(li, 0.0)


class GrowthCoupling:
    """The piezo layer loaded by the Li of a phase field, and its potential fed back to the ions.

    Loading: Li that has grown into the layer (its pores) presses on the layer's solid with the
    contact pressure p_c (Li creeps, so about its flow stress), weighted by the Li fraction
    h(xi): a pore pressure p_c h(xi) with Biot coefficient 1, whose force on the solid is the
    body force -p_c grad h(xi). A uniform Li front inside the layer thus stretches the Li-filled
    part; a nucleus under the layer pushes the layer around it. The layer is held on the flat Li
    (``coating_bottom``, by ``bottom``); the nuclei's surfaces under it (``coating_nuclei``) are
    free. psi = 0 on both (the Li, at the electrode potential); walls, axis and top as in the
    stationary study. Linear theory about the undeformed layer (the mesh does not move).

    Coupling: the ions in the layer feel s * psi (s = ``screening_factor``): the phase field's
    ``ion_potential`` is s chi psi, chi the layer's indicator; it enters the migration flux,
    the ionic current and the Butler-Volmer overpotential of Li growing in the layer. psi is
    updated explicitly from the present xi before every ``update_interval``-th step (the layer's
    response is instantaneous; the lag is at most that many steps).
    """

    def __init__(self, config, pf, porosity: float):
        import ufl

        if config.loading != "pressure":
            raise SolverError("physics.piezo.loading: the phase field loads the layer by the Li's contact "
                              "pressure only ('pressure')")
        parent = pf.domain
        if "coating_bottom" not in parent.boundaries:
            raise SolverError(f"physics.piezo: the layer '{config.region}' needs its interface with the flat Li "
                              "named 'coating_bottom' (the deposition_cell geometry with a coating names it)")
        self.sub, self.problem = sub, problem = _layer_problem(config, parent, porosity)
        d = sub.domain
        self.xi = dolfinx.fem.Function(dolfinx.fem.functionspace(d.mesh, ("Lagrange", 1)))
        problem.body_force = -config.contact_pressure * ufl.grad(pf.h(self.xi))
        li = [b for b in ("coating_bottom", "coating_nuclei") if b in d.boundaries]
        _hold(problem, config, held=["coating_bottom"], li=li)
        self.sub_cells = np.arange(len(sub.parent_cells), dtype=np.int32)
        self.parent_cells = sub.parent_cells.astype(np.int32)
        self.psi = dolfinx.fem.Function(pf.Vp, name="piezo_potential")
        chi = dolfinx.fem.Function(dolfinx.fem.functionspace(parent.mesh, ("DG", 0)))
        chi.x.array[parent.region_cells(config.region)] = 1.0
        chi.x.scatter_forward()
        pf.set_ion_potential(config.screening_factor * chi * self.psi)
        self.interval = config.update_interval
        self.updated_at: int | None = None  # pf.step_number of the last update
        pf.before_step.append(self)

    def __call__(self, pf) -> None:
        if self.updated_at is None or pf.step_number - self.updated_at >= self.interval:
            self.update(pf)

    def update(self, pf) -> None:
        self.xi.interpolate(pf.xi, cells0=self.parent_cells, cells1=self.sub_cells)
        self.xi.x.scatter_forward()
        self.problem.solve()
        self.psi.interpolate(self.problem.psi, cells0=self.sub_cells, cells1=self.parent_cells)
        self.psi.x.scatter_forward()
        self.updated_at = pf.step_number

    def extremes(self) -> tuple[float, float]:
        """min and max of psi in the layer (V)."""
        psi = self.problem.psi.x.array
        comm = self.problem.domain.comm
        return (comm.allreduce(float(psi.min(initial=np.inf)), op=MPI.MIN),
                comm.allreduce(float(psi.max(initial=-np.inf)), op=MPI.MAX))


def _walls(problem, d: Domain, gdim: int) -> None:
    """Symmetry rollers on the lateral walls: u_x = 0 on x-walls (and u_y = 0 on y-walls, 3D)."""
    side = d.facets(["side"])
    mesh = d.mesh
    tdim = mesh.topology.dim
    mid = dolfinx.mesh.compute_midpoints(mesh, tdim - 1, side)
    xs = mesh.geometry.x
    extent = [d.comm.allreduce(float(np.abs(xs[:, k]).max(initial=0)), op=MPI.MAX) for k in range(gdim - 1)]
    for k in range(gdim - 1):
        on = side[np.isclose(np.abs(mid[:, k]), extent[k], rtol=1e-6, atol=0)]
        problem.fix_facets(on, 0.0, component=k)


def couple(result: PiezoLayerResult, problem: CurrentDistribution, config) -> None:
    """Map psi onto the potential problem's mesh and add the drift term."""
    psi = dolfinx.fem.Function(problem.V, name="piezo_potential")
    sub_cells = np.arange(len(result.sub.parent_cells), dtype=np.int32)
    psi.interpolate(result.problem.psi, cells0=sub_cells, cells1=result.sub.parent_cells.astype(np.int32))
    psi.x.scatter_forward()
    result.psi_parent = psi
    if config.screening_factor > 0:
        problem.add_drift([config.region], psi, config.screening_factor)


def metrics(result: PiezoLayerResult, apex=None, thickness: float | None = None) -> dict:
    p = result.problem
    d = p.domain
    psi = p.psi.x.array[: p.P.dofmap.index_map.size_local]
    out = {
        "piezo_potential_max_V": d.comm.allreduce(float(psi.max(initial=-np.inf)), op=MPI.MAX),
        "piezo_potential_min_V": d.comm.allreduce(float(psi.min(initial=np.inf)), op=MPI.MIN),
        "layer_energy_J": p.energy(),
        "layer_material": p.material.name,
    }
    vm = _cellwise(d, p.von_mises(p.u, p.psi))
    out["von_mises_max_Pa"] = d.comm.allreduce(float(vm.max(initial=0.0)), op=MPI.MAX)
    if apex is not None and "coating_top" in d.boundaries:
        # potential on the layer top straight above the apex (nearest top vertex)
        point = np.array(apex, dtype=float)
        point[d.mesh.geometry.dim - 1] += thickness or 0.0
        out["piezo_potential_above_apex_V"] = nearest_value(p.psi, d, point, ["coating_top"])
    return out


def cell_fields(result: PiezoLayerResult) -> dict:
    """Per-cell stress and strain components, von Mises stress and electric displacement of the
    layer (owned cells).

    Components are named by the model's axes: ``xx, yy, zz, xy, xz, yz`` in 3D; ``xx, yy, xy``
    in plane strain (plus ``stress_zz``, the out-of-plane stress; eps_zz = 0); ``rr, zz, hoop,
    rz`` axisymmetric. Strains are tensor components (engineering shear = 2 x ``strain_xy``).
    ``strain_vertical`` is the normal strain along the layer normal (y in 2D, z in 3D).
    """
    p = result.problem
    d = p.domain
    gdim = d.mesh.geometry.dim
    vertical = gdim - 1
    s = p.stress(p.u, p.psi)
    eps = p.strain(p.u)
    out = {"von_mises_stress": _cellwise(d, p.von_mises(p.u, p.psi))}
    if d.axisymmetric:  # tensor index 0 = r, 1 = z, 2 = hoop
        axes = {"rr": (0, 0), "zz": (1, 1), "hoop": (2, 2), "rz": (0, 1)}
        strains = list(axes)
    elif gdim == 2:  # plane strain: index 2 is out of plane
        axes = {"xx": (0, 0), "yy": (1, 1), "zz": (2, 2), "xy": (0, 1)}
        strains = ["xx", "yy", "xy"]
    else:
        axes = {"xx": (0, 0), "yy": (1, 1), "zz": (2, 2), "xy": (0, 1), "xz": (0, 2), "yz": (1, 2)}
        strains = list(axes)
    for name, (i, j) in axes.items():
        out[f"stress_{name}"] = _cellwise(d, s[i, j])
    for name in strains:
        i, j = axes[name]
        out[f"strain_{name}"] = _cellwise(d, eps[i, j])
    out["electric_displacement"] = _cellwise(d, p.displacement_field(p.u, p.psi), (3,))
    out["strain_vertical"] = _cellwise(d, eps[vertical, vertical])
    return out


def _cellwise(d: Domain, expr, shape=()) -> np.ndarray:
    """Cell values (owned cells) of a UFL expression, interpolated at cell midpoints."""
    mesh = d.mesh
    n = mesh.topology.index_map(mesh.topology.dim).size_local
    Q = dolfinx.fem.functionspace(mesh, ("DG", 0, shape) if shape else ("DG", 0))
    f = dolfinx.fem.Function(Q)
    f.interpolate(dolfinx.fem.Expression(expr, Q.element.interpolation_points))
    size = int(np.prod(shape)) if shape else 1
    return f.x.array.reshape(-1, size)[:n].squeeze()
