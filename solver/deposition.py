"""The phase-field model (``solver.physics.phasefield``) as a transient study: scenario ->
``PhaseField`` on a geometry whose Li is a region, driven by the protocol steps, observed and
written by the transient runner (``solver.transient``).

Regions by material: ``lithium`` (xi = 1 at the start, relaxed for 0.1 s without reaction to the
equilibrium profile), ``electrolyte``, ``porous_layer`` (the
liquid's D and sigma times porosity^bruggeman; Li may grow into it, at ``kinetic_factor`` times
the deposition rate: a homogenised lithiophilic host), ``solid_electrolyte`` (an
inert solid that conducts ions: D and sigma scaled by its conductivity over the liquid's, no
deposition, xi held at 0 inside). The electrode boundaries hold xi = 1 (the current collector
under the Li); the counter holds xi = 0, c = c0 and phi = 0.
"""

from __future__ import annotations

import math

import numpy as np
import ufl

from solver._dolfinx import MPI, dolfinx, lagrange_space
from solver.domain import Domain
from solver.errors import UserError
from solver.physics.phasefield import PhaseField, PhaseFieldParameters, region_indicator
from solver.piezo_layer import GrowthCoupling
from solver.physics.potential import FARADAY
from solver.scenario import (
    Case, ElectrolyteMaterial, LithiumMaterial, PorousLayerMaterial, SolidElectrolyteMaterial,
)


def parameters(case: Case) -> PhaseFieldParameters:
    s = case.scenario
    pf = s.physics.phase_field
    liquid = next(m for m in s.materials.values() if isinstance(m, ElectrolyteMaterial))
    metal = next(m for m in s.materials.values() if isinstance(m, LithiumMaterial))
    return PhaseFieldParameters(
        interface_mobility=pf.interface_mobility, barrier=pf.barrier, gradient_coefficient=pf.gradient_coefficient,
        kinetic_coefficient=pf.kinetic_coefficient, alpha=pf.alpha,
        diffusivity=float(liquid.value("diffusivity")), conductivity=liquid.nominal_conductivity(),
        concentration=float(liquid.value("concentration") or 1000.0), molar_volume=metal.molar_volume,
        temperature=s.physics.temperature, anisotropy_strength=pf.anisotropy.strength,
        anisotropy_mode=pf.anisotropy.mode, anisotropy_angle=pf.anisotropy.angle, noise=pf.noise.amplitude,
        seed=pf.noise.seed, regularisation=pf.regularisation,
        metal_conductivity_fraction=pf.metal_conductivity_fraction, potential_form=pf.potential_form,
        metal_conductivity=pf.metal_conductivity,
    )


def surface_height(settings, lateral_bounds, axisymmetric: bool):
    """The random surface of ``settings`` (a ``scenario.Roughness``) as a function of the lateral
    coordinates (an array (n, d) with d = 1 or 2) -> height above the flat surface (m).

    Cosine modes ``cos(k pi (x - x0) / W)`` per lateral direction (zero slope on the walls and, in
    r, on the axis), every mode with wavelength >= ``min_wavelength``, Gaussian amplitudes from
    ``numpy.random.default_rng(seed)`` times ``k^-spectral_exponent``; the sum is shifted to zero
    mean and scaled to the root-mean-square ``amplitude`` over the footprint (area-weighted by r in
    axisymmetric cells), both measured on a fine sampling grid. Pure numpy: the same numbers on
    every rank."""
    lows = np.array([b[0] for b in lateral_bounds])
    widths = np.array([b[1] - b[0] for b in lateral_bounds])
    kmax = int(math.floor(2 * widths.min() / settings.min_wavelength))
    if kmax < 1:
        raise UserError(
            f"physics.phase_field.initial_roughness.min_wavelength ({settings.min_wavelength * 1e6:g} um) must be "
            f"below twice the cell width ({2 * widths.min() * 1e6:g} um)")
    axes = [np.arange(kmax + 1)] * len(widths)
    modes = np.array(np.meshgrid(*axes, indexing="ij")).reshape(len(widths), -1).T
    wavelength = 2.0 / np.sqrt(((modes / widths) ** 2).sum(axis=1).clip(min=1e-300))
    keep = (modes.sum(axis=1) > 0) & (wavelength >= settings.min_wavelength * (1 - 1e-12))
    modes = modes[keep]
    order = np.sqrt((modes**2).sum(axis=1))
    rng = np.random.default_rng(settings.seed)
    amps = rng.standard_normal(len(modes)) * order ** (-settings.spectral_exponent)

    def raw(x):
        x = np.atleast_2d(x)
        out = np.zeros(x.shape[0])
        phase = [np.pi * (x[:, j, None] - lows[j]) / widths[j] for j in range(len(widths))]
        basis = np.ones((x.shape[0], len(modes)))
        for j in range(len(widths)):
            basis *= np.cos(phase[j] * modes[None, :, j])
        out = basis @ amps
        return out

    n = 2048 if len(widths) == 1 else 128
    grids = [lows[j] + (np.arange(n) + 0.5) / n * widths[j] for j in range(len(widths))]
    sample = np.array(np.meshgrid(*grids, indexing="ij")).reshape(len(widths), -1).T
    w = sample[:, 0] if axisymmetric else np.ones(len(sample))
    values = raw(sample)
    mean = float((w * values).sum() / w.sum())
    rms = math.sqrt(float((w * (values - mean) ** 2).sum() / w.sum()))
    scale = settings.amplitude / rms if rms > 0 else 0.0
    return lambda x: scale * (raw(x) - mean)


def roughen(xi0: np.ndarray, domain: Domain, V, free_regions: list[str], settings) -> np.ndarray:
    """Initial Li indicator with a random surface: on the nodes of ``free_regions`` only (not inside
    solids or layers), Li below the surface ``surface + s(x)``; Li above the flat surface (nuclei)
    is kept."""
    gdim = domain.mesh.geometry.dim
    comm = domain.comm
    x = V.tabulate_dof_coordinates()[:, :gdim]
    vertical = gdim - 1
    lateral = [j for j in range(gdim) if j != vertical]
    bounds = [(comm.allreduce(float(x[:, j].min(initial=np.inf)), op=MPI.MIN),
               comm.allreduce(float(x[:, j].max(initial=-np.inf)), op=MPI.MAX)) for j in lateral]
    bottom = comm.allreduce(float(x[:, vertical].min(initial=np.inf)), op=MPI.MIN)
    surface = float(domain.landmarks.get("surface", 0.0))
    s = surface_height(settings, bounds, domain.axisymmetric)
    depth = s(x[:, lateral]) if len(x) else np.zeros(0)
    deepest = comm.allreduce(float(-depth.min(initial=0.0)), op=MPI.MAX)
    if surface - deepest <= bottom + 0.25 * (surface - bottom):
        raise UserError(
            f"physics.phase_field.initial_roughness.amplitude: the surface's deepest valley "
            f"({deepest * 1e6:.3g} um) reaches within a quarter of the Li's thickness of the collector; "
            f"lower the amplitude or thicken the Li")
    free = region_indicator(domain, V, free_regions) > 1 - 1e-12
    height = x[:, vertical]
    above = height > surface + 1e-12  # 1 pm: nodes on the flat surface count as on it whatever their round-off
    new = np.where(height < surface + depth, 1.0, np.where(above, xi0, 0.0))
    return np.where(free, new, xi0)


class Morphology:
    """Cheap, rank-independent measures of the deposit's shape (history columns; see
    docs/phase_field.md, "Morphology metrics"). ``vertical`` is the growth axis (the last one),
    ``lateral`` the first; in 3D the lines lie in the plane through the middle of the other
    lateral axis.

    - ``fingers``: the most separate Li intervals (runs of sample points with xi > 1/2) along the
      lateral lines at 1/4, 1/2 and 3/4 of the way from the mean front (the flat surface plus the
      mean rise) up to the deposit's top: the number of fingers (trunks) standing out of the
      front side by side.
    - ``overhangs``: the mean over ``vertical_lines`` lines along the growth axis, evenly spaced
      across the cell, of the Li intervals along the line that start above electrolyte (the run
      that starts at the collector is not counted): a front of any roughness, or upright needles,
      gives 0; each Li piece above a gap of electrolyte on a line (a side branch's arm, an
      overhanging or detached piece) adds 1.
    - ``interface_normal_lateral`` / ``interface_normal_vertical``: int |grad_lateral xi| and
      int |d xi / d vertical| (m; 2D per metre of depth), the interface measure weighted by the
      normal's lateral and vertical components: a flat front gives (0, width), upright needles
      raise the first (their walls), side branches the second (their arms' upper and lower faces).

    Samples are ``spacing`` apart (default half the interface width) at the centres of equal
    intervals, so none lies on the cell's boundary; each is evaluated on the first rank (lowest
    number) that owns a cell containing it, and the values are summed over the communicator, so
    every rank sees the same lines."""

    def __init__(self, pf: PhaseField, spacing: float | None = None, vertical_lines: int = 40,
                 fractions=(0.25, 0.5, 0.75)):
        mesh = pf.domain.mesh
        self.pf, self.comm = pf, pf.domain.comm
        gdim = mesh.geometry.dim
        self.vertical_axis, self.lateral_axis = gdim - 1, 0
        X = mesh.geometry.x[:, :gdim]
        lo = np.array([self.comm.allreduce(float(X[:, j].min(initial=np.inf)), op=MPI.MIN) for j in range(gdim)])
        hi = np.array([self.comm.allreduce(float(X[:, j].max(initial=-np.inf)), op=MPI.MAX) for j in range(gdim)])
        self.lo, self.hi = lo, hi
        self.spacing = spacing or 0.5 * pf.p.width
        self.fractions = tuple(fractions)
        tdim = mesh.topology.dim
        owned = np.arange(mesh.topology.index_map(tdim).size_local, dtype=np.int32)
        self.tree = dolfinx.geometry.bb_tree(mesh, tdim, entities=owned)
        # the vertical lines do not move: their points and cells are found once
        v, a = self.vertical_axis, self.lateral_axis
        xs = lo[a] + (np.arange(vertical_lines) + 0.5) / vertical_lines * (hi[a] - lo[a])
        ys = self._samples(lo[v], hi[v])
        self.vertical_shape = (vertical_lines, len(ys))
        pts = np.zeros((vertical_lines * len(ys), 3))
        pts[:, :gdim] = 0.5 * (lo + hi)
        pts[:, a] = np.repeat(xs, len(ys))
        pts[:, v] = np.tile(ys, vertical_lines)
        self.vertical_points = self._locate(pts)
        grad = ufl.grad(pf.xi)
        lateral = ufl.sqrt(sum(grad[j] ** 2 for j in range(gdim) if j != v) + 1e-300)
        self.forms = [dolfinx.fem.form(abs(grad[v]) * pf.domain.weight * pf.domain.dx),
                      dolfinx.fem.form(lateral * pf.domain.weight * pf.domain.dx)]

    def _samples(self, a: float, b: float) -> np.ndarray:
        n = max(2, int(math.ceil((b - a) / self.spacing)))
        return a + (np.arange(n) + 0.5) / n * (b - a)

    def _locate(self, pts: np.ndarray):
        """(points, local cell or -1, True where this rank evaluates the point)."""
        candidates = dolfinx.geometry.compute_collisions_points(self.tree, pts)
        colliding = dolfinx.geometry.compute_colliding_cells(self.pf.domain.mesh, candidates, pts)
        cells = np.full(len(pts), -1, dtype=np.int32)
        for i in range(len(pts)):
            links = colliding.links(i)
            if len(links):
                cells[i] = links[0]
        rank = self.comm.rank
        mine = np.where(cells >= 0, rank, self.comm.size).astype(np.int32)
        first = np.empty_like(mine)
        self.comm.Allreduce(mine, first, op=MPI.MIN)
        return pts, cells, first == rank

    def _values(self, located) -> np.ndarray:
        """xi at the points on every rank (0, electrolyte, where no cell holds a point)."""
        pts, cells, mine = located
        local = np.zeros(len(pts))
        if mine.any():
            local[mine] = self.pf.xi.eval(pts[mine], cells[mine]).reshape(-1)
        out = np.empty_like(local)
        self.comm.Allreduce(local, out, op=MPI.SUM)
        return out

    @staticmethod
    def intervals(values: np.ndarray, first: bool = True) -> np.ndarray:
        """Number of separate runs of xi > 1/2 along each row of ``values``; without ``first``,
        a run that starts at the row's first sample is not counted (only Li above a gap)."""
        li = np.atleast_2d(values) > 0.5
        starts = li[:, 1:] & ~li[:, :-1]
        return starts.sum(axis=1) + (li[:, 0] if first else 0)

    def measure(self, front: float, top: float) -> dict:
        """The history columns, for the mean front at ``front`` and the deposit's top at ``top``
        (coordinates along the growth axis)."""
        gdim = len(self.lo)
        v, a = self.vertical_axis, self.lateral_axis
        xs = self._samples(self.lo[a], self.hi[a])
        levels = [front + f * max(top - front, 0.0) for f in self.fractions]
        pts = np.zeros((len(levels) * len(xs), 3))
        pts[:, :gdim] = 0.5 * (self.lo + self.hi)
        pts[:, a] = np.tile(xs, len(levels))
        pts[:, v] = np.repeat(levels, len(xs))
        across = self.intervals(self._values(self._locate(pts)).reshape(len(levels), len(xs)))
        along = self.intervals(self._values(self.vertical_points).reshape(self.vertical_shape), first=False)
        normal_vertical, normal_lateral = (
            self.comm.allreduce(dolfinx.fem.assemble_scalar(f), op=MPI.SUM) for f in self.forms)
        return {"fingers": int(across.max()), "overhangs": float(np.mean(along)),
                "interface_normal_lateral": float(normal_lateral),
                "interface_normal_vertical": float(normal_vertical)}


class Observer:
    """History row of the phase field: deposit height (the highest point of xi = 1/2 above the
    flat Li surface; over the first nucleus when there are nuclei), the mean rise a flat front would have (deposited Li x V_m / projected area),
    their difference (protrusion), tip velocity, charge passed, Faraday ratio (deposited Li x F /
    charge), interface measure and roughness (interface measure / flat one), and the morphology
    measures of ``Morphology`` (fingers, overhangs, interface by normal direction)."""

    def __init__(self, model):
        self.m = model
        self.morphology = Morphology(model.problem)
        self.charge = 0.0  # C (2D: per metre of depth), passed through the counter
        self.last_time = 0.0
        self.last_height = None

    def row(self, pf: PhaseField) -> dict:
        m = self.m
        current = pf.counter_current()
        charge = self.charge + current * (pf.time - self.last_time)
        height = pf.deposit_height(around=m.nucleus) - m.surface
        deposited = pf.lithium_amount() - m.lithium0
        interface = pf.interface_measure()
        velocity = ((height - self.last_height) / (pf.time - self.last_time)
                    if self.last_height is not None and pf.time > self.last_time else None)
        rise = deposited * pf.p.molar_volume / pf.domain.projected_area  # of a flat front
        return {
            "time_s": pf.time,
            "step": 0,
            "current_density_A_m2": current / pf.domain.projected_area,
            "cell_voltage_V": pf.electrode_potential,
            "deposit_height_m": height,
            "mean_rise_m": rise,
            "protrusion_m": height - rise,
            "tip_velocity_m_s": velocity,
            "deposited_li_mol": deposited,
            "charge_passed_C": charge,
            "faraday_ratio": deposited * FARADAY / charge if charge else None,
            "interface_measure": interface,
            "roughness": interface / m.flat_interface,
        } | self.morphology.measure(m.surface + rise, m.surface + height) | (dict(zip(("piezo_potential_min_V", "piezo_potential_max_V"), m.piezo.extremes()))
             if m.piezo is not None else {})

    def accept(self, row: dict) -> None:
        self.charge = row["charge_passed_C"]
        self.last_time = row["time_s"]
        self.last_height = row["deposit_height_m"]


class PhaseFieldModel:
    """The phase field as the transient runner sees it (see ``solver.transient.run_case``)."""

    name = "phase_field"

    def __init__(self, case: Case, domain: Domain):
        s = case.scenario
        self.case = case
        p = parameters(case)
        V1 = lagrange_space(domain.mesh, s.solver.degree)
        li_regions = [r for m in s.materials.values() if isinstance(m, LithiumMaterial) for r in m.regions]
        xi0 = region_indicator(domain, V1, li_regions)
        if s.physics.phase_field.initial_roughness is not None:
            liquid = [r for m in s.materials.values() if isinstance(m, ElectrolyteMaterial) for r in m.regions]
            xi0 = roughen(xi0, domain, V1, li_regions + liquid, s.physics.phase_field.initial_roughness)
        Q = dolfinx.fem.functionspace(domain.mesh, ("DG", 0))
        transport, kinetics = dolfinx.fem.Function(Q), dolfinx.fem.Function(Q)
        transport.x.array[:] = 1.0
        kinetics.x.array[:] = 1.0
        solids = []
        for mat in s.materials.values():
            for r in mat.regions:
                cells = domain.region_cells(r)
                if isinstance(mat, PorousLayerMaterial):
                    transport.x.array[cells] = mat.porosity**mat.bruggeman
                    kinetics.x.array[cells] = mat.kinetic_factor
                elif isinstance(mat, SolidElectrolyteMaterial):
                    transport.x.array[cells] = mat.conductivity / p.conductivity
                    kinetics.x.array[cells] = 0.0
                    solids.append(r)
        transport.x.scatter_forward()
        kinetics.x.scatter_forward()
        solid_dofs = None
        if solids:
            inside = region_indicator(domain, V1, solids)
            solid_dofs = np.flatnonzero(inside > 1 - 1e-12)
        self.problem = pf = PhaseField(
            domain, p, xi0, s.physics.electrode.boundaries, s.physics.counter.boundaries,
            electrode_potential=0.0, ramp_time=s.physics.phase_field.ramp_time, transport=transport,
            kinetics=kinetics, solid_dofs=solid_dofs, degree=s.solver.degree, rtol=s.solver.rtol,
            max_iterations=s.solver.max_iterations, linear_solver=s.solver.linear_solver,
            petsc_options=s.solver.petsc_options)
        pf.relax()  # the cells' sharp Li region -> the equilibrium profile, before any current flows
        self.checkpoint_fields = {"order_parameter": pf.xi, "normalised_concentration": pf.u,
                                  "electrolyte_potential": pf.phi, "electrode_potential": pf.voltage}
        self.piezo = None
        config = s.physics.piezo
        if config is not None:  # the layer's piezo potential, updated from the growing Li
            owner = next(m for m in s.materials.values() if config.region in m.regions)
            self.piezo = GrowthCoupling(config, pf, owner.porosity)
            self.piezo.update(pf)
            self.checkpoint_fields["piezo_potential"] = self.piezo.psi
        self.surface = float(domain.landmarks.get("surface", 0.0))
        # with nuclei, the height is the level set's over the first nucleus (within its base radius)
        apexes = domain.landmarks.get("apex") or []
        nuclei = getattr(case.geometry, "nuclei", None)
        self.nucleus = (apexes[0], nuclei.base_radius) if apexes and nuclei is not None else None
        self.lithium0 = pf.lithium_amount()
        # the flat electrode's interface measure: the projected area (2D: the width; axisymmetric:
        # pi R^2, as the weighted measure)
        self.flat_interface = domain.projected_area
        self.observer = Observer(self)
        self.concentration = dolfinx.fem.Function(pf.Vu, name="concentration")

    def frame_fields(self):
        pf = self.problem
        self.concentration.x.array[:] = pf.p.concentration * pf.u.x.array
        fields = {"order_parameter": pf.xi, "concentration": self.concentration, "electrolyte_potential": pf.phi}
        if self.piezo is not None:
            fields["piezo_potential"] = self.piezo.psi
        return pf.Vx, fields, {}

    def first_row(self) -> dict:
        row = self.observer.row(self.problem)
        row["current_density_A_m2"] = None
        row["faraday_ratio"] = None
        return row

    def apply(self, step, restarting: bool = False) -> None:
        if step.control == "potentiostatic":
            self.problem.set_potential(step.potential)
        else:
            self.problem.set_current(step.current_density)

    def event(self, step):
        from solver.transient import _event

        return _event(step, self.case, self.problem) if step.until is not None else None

    def state(self) -> dict:
        return {"charge": self.observer.charge, "last_height": self.observer.last_height,
                "step_number": self.problem.step_number, "lithium0": self.lithium0,
                "piezo_updated_at": self.piezo.updated_at if self.piezo else None}

    def set_state(self, state: dict, time_s: float) -> None:
        self.observer.charge, self.observer.last_time = state["charge"], time_s
        self.observer.last_height = state["last_height"]
        self.problem.step_number = state["step_number"]
        self.lithium0 = state["lithium0"]
        if self.piezo is not None:  # psi itself comes back with the checkpoint's fields
            self.piezo.updated_at = state.get("piezo_updated_at")

    def summary(self, rows: list[dict], steps) -> dict:
        last = rows[-1]
        heights = [r["deposit_height_m"] for r in rows]
        return {
            "deposit_height_initial_m": heights[0],
            "deposit_height_final_m": heights[-1],
            "protrusion_initial_m": rows[0]["protrusion_m"],
            "protrusion_final_m": last["protrusion_m"],
            "mean_rise_m": last["mean_rise_m"],
            "deposited_li_mol": last["deposited_li_mol"],
            "charge_passed_C": last["charge_passed_C"],
            "faraday_ratio": last["faraday_ratio"],
            "roughness_final": last["roughness"],
            "fingers_final": last["fingers"],
            "overhangs_final": last["overhangs"],
            "interface_normal_lateral_final": last["interface_normal_lateral"],
            "interface_normal_vertical_final": last["interface_normal_vertical"],
            "interface_measure_final": last["interface_measure"],
            "interface_width_m": self.problem.p.width,
        }

    def progress_text(self, row: dict) -> str:
        i = row.get("current_density_A_m2")
        return (f"V = {row['cell_voltage_V'] * 1e3:.1f} mV, height = {row['deposit_height_m'] * 1e6:.3f} um"
                + (f", i = {i / 10:.4g} mA/cm^2" if i is not None else ""))
