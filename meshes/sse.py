r"""SSE anode: Li with exposed Li6PS5Cl nanoparticles on a Cu foil, under an SEI film (``sse_anode``).

After Ye et al., Adv. Mater. 2021 ("An Antipulverization and High-Continuity Lithium Metal Anode"):
Li6PS5Cl (LPSCl) nanoparticles dispersed in the Li on a Cu foil; the particles that sit at the Li
surface poke through the SEI and give the ions conducting paths from the electrolyte into the Li.
A uniform, more conductive SEI alone lowers the Wagner number, so the particles' benefit shows
against a heterogeneous or cracked bare SEI: hence ``sei_mode: heterogeneous`` and cracks.

Cell
----
A periodic cell whose side walls are symmetry planes: ``-width/2 < x < width/2`` (3D: the square
``[-width/2, width/2]^2`` in x, y). "Vertical" is y (2D) or z (3D). The Li surface is the plane
``y = 0``; the SEI film fills ``0 < y < sei_thickness``; the electrolyte fills the rest up to the
counter boundary at ``height``. With ``lithium_thickness > 0`` a Li slab (region ``lithium``)
``-lithium_thickness < y < 0`` is meshed, its base is the Cu foil (``collector``); with 0 the Li
is not meshed and its surface is the bottom boundary::

        counter (y = height)
     +-------------------------------------+
     |              electrolyte            |
    side          _                       side
     |  sei     /   \  sei_weak  ||  sei   |   y = sei_thickness (sei_top); || = crack
     +---------|-----|-------------------  +   y = 0: li_surface
     |          \ _ /   lithium (optional) |
     +-------------------------------------+   y = -lithium_thickness: collector (Cu)
                particle

Particles
---------
Spheres (2D: discs) of ``particle_radius`` r whose tops stand ``exposure`` above the SEI top, all
centred at the height ``y_c = sei_thickness + exposure - r`` (validated: ``y_c - r < 0``, so every
particle reaches into the Li; with the Li meshed its bottom stays ``particle_gap`` above the
Cu). The particles are one region ``particles`` everywhere, also below the Li surface: the Li
region is the slab minus the particles, and with the Li not meshed the particles' lower caps stay
in the mesh (they are then bottom boundary, ``li_surface``).

Count (stereology, Delesse: the area fraction of a phase on a section plane equals its volume
fraction): the Li surface plane cuts each particle in a disc (2D: a chord) of radius
``rho_0 = sqrt(r^2 - y_c^2)``; the count ``n`` is the nearest integer to ``loading * width^2 /
(pi rho_0^2)`` (3D) or ``loading * width / (2 rho_0)`` (2D), so the LPSCl fraction of the Li
surface is ``loading`` up to the discreteness of n (landmark ``area_fraction`` is the value
reached). With the default ``exposure = particle_radius - sei_thickness`` the centres lie on the
Li surface and ``rho_0 = r`` (``n pi r^2 = loading * area``). ``loading`` 1.7 / 3.5 / 7.5 %
correspond to the 1:19, 1:9, 1:4 LPSCl:Li mass ratios of the study. ``loading: 0`` or
``particles: none``: the bare control (no particles; same SEI patches for the same seed).

Layout. The cell is divided into ``m = round(width / patch_size)`` patches of side ``width / m``
along x (3D: ``m x m`` squares, index ``i + m * j``, x fastest). Each particle lies wholly inside
one patch: its centre keeps ``r + particle_gap / 2`` from every patch edge (so also from the side
walls, so that the mirror images keep the gap), and the particles keep ``particle_gap`` between
each other (2D: between the discs; 3D: the spheres, all at the same height). With cracks, the
centres also keep ``crack_width / 2 + r + particle_gap / 2`` from the centre line of every patch
(where a crack may be). Positions are drawn uniformly in the cell, one particle after the other,
from ``numpy.random.default_rng(seed)``, rejecting those that break a rule; after 2000 rejected
draws for one particle the parameters are refused (the message names ``loading``). The generator
first draws a permutation of the patches (the weak ones are its first ones), then the particles,
so for one seed the particles do not depend on ``sei_mode`` or ``weak_fraction`` and the weak
patches do not depend on the particles.

SEI
---
``sei_mode: uniform``: one film (region ``sei``). ``heterogeneous``: the film is split into the
patches; ``round(weak_fraction * patch count)`` of them (at least one, and at least one not) form
region ``sei_weak`` (thin / cracked SEI, another conductivity set in the physics), the rest
``sei``. ``crack_width > 0`` (heterogeneous only) opens a crack through the film in the middle of
each weak patch: a slot of that width across the whole film thickness, along y in 3D (from patch
edge to patch edge), filled with electrolyte (region ``electrolyte``; its floor is bare Li, in
``li_surface``; its walls are SEI/electrolyte, in ``sei_top``).

Names (the project's contract)
------------------------------
regions (cells):
    ``electrolyte`` (above the SEI, and in the cracks); ``sei``; ``sei_weak`` (heterogeneous);
    ``particles`` (when there are particles); ``lithium`` (``lithium_thickness > 0``).
boundaries (facets), each facet in at most one group, every exterior facet in one:
    ``counter`` (y/z = height); ``side`` (the side walls, every region); ``li_surface`` (the Li's
    surface: Li/SEI at y/z = 0, crack floors, and the particles' caps below y/z = 0; the bottom
    boundary when the Li is not meshed, the interface of ``lithium`` when it is); ``sei_top``
    (SEI/electrolyte: the film top and the crack walls); ``particle_surface`` (particles/
    electrolyte: the exposed caps); ``collector`` (the Li slab's base, Li meshed only).
    Untagged interior interfaces: particles/SEI and sei/sei_weak (between patches).

Mesh sizes
----------
``h_sei = min(mesh.size_feature, sei_thickness / sei_cells)`` in the whole film (3D: ``0.8 *
sei_thickness / sei_cells``, tetrahedra being less regular), so that at least ``sei_cells`` >= 2
cells lie across it, ``min(h_sei, crack_width / 2)`` in the cracks,
``h_p = min(mesh.size_feature, r / 4, exposure / 2, depth / 2)`` inside the particles (depth =
``r - y_c``, how far they reach below the Li surface), at most ``mesh.size_electrode`` in the Li
slab; every size grows linearly to ``mesh.size_far`` over ``mesh.grading_distance``
(Box and Ball fields).

Landmarks: ``surface`` (0.0), ``sei_top`` (sei_thickness), ``particle_centres`` (``[x, y_c]`` /
``[x, y, z_c]`` each, SI), ``area_fraction`` (LPSCl fraction of the Li surface reached),
``weak_patches`` (bounds ``[x0, x1]`` / ``[x0, x1, y0, y1]`` of each weak patch, SI; empty when
uniform), ``patches_per_direction`` (m).

Units: built in micrometres and scaled to metres after meshing (OCC tolerance, see ``bud.py``).
"""

from __future__ import annotations

import math
from typing import Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, model_validator

from meshes.base import Builder, GeometryInfo, MeshOptions, keep_owned, mesh_in_metres, name_groups, register
from meshes.bud import _um
from solver.units import Dimensionless, Length

__all__ = ["SseParams", "patch_count", "patch_bounds", "weak_patches", "particle_count", "particle_centres",
           "section_radius", "sizes", "names", "build"]

_UM = 1e-6
_TRIES = 2000  # rejected draws for one particle before the parameters are refused
_TET_MARGIN = 0.8  # 3D: tetrahedra are less regular; h = 0.8 t / sei_cells keeps no tet across the SEI
_REGION_TAGS = {"electrolyte": 1, "sei": 2, "sei_weak": 3, "particles": 4, "lithium": 5}
_BOUNDARY_TAGS = {"li_surface": 1, "counter": 2, "side": 3, "sei_top": 4, "particle_surface": 5,
                  "collector": 6}


class SseParams(BaseModel):
    """Parameters of the ``sse_anode`` geometry (see the module docstring)."""

    model_config = ConfigDict(extra="forbid")

    dimension: Literal["2d", "3d"] = Field("2d", description="2d (per metre of depth) or 3d")
    width: Length = Field(30e-6, gt=0, description="cell width (3d: side of the square cell)")
    height: Length = Field(10e-6, gt=0, description="counter height above the Li surface")
    lithium_thickness: Length = Field(
        0.0, ge=0, description="0: Li not meshed; > 0: Li slab 'lithium' of this thickness on the Cu"
    )
    sei_thickness: Length = Field(0.1e-6, gt=0, description="SEI film thickness")
    sei_cells: int = Field(2, ge=2, description="minimum cells across the SEI film")
    sei_mode: Literal["uniform", "heterogeneous"] = Field(
        "uniform", description="uniform: one SEI region; heterogeneous: patches, some of them 'sei_weak'"
    )
    patch_size: Length = Field(
        2e-6, gt=0, description="SEI patch side (round(width / patch_size) patches per direction, "
        "also the particle placement grid)"
    )
    weak_fraction: float = Field(
        0.3, gt=0, lt=1, description="heterogeneous: fraction of the patches that are 'sei_weak'"
    )
    crack_width: Length = Field(
        0.0, ge=0, description="heterogeneous: width of an electrolyte-filled crack through the SEI "
        "in the middle of each weak patch (0 = no cracks)"
    )
    particles: Literal["exposed", "none"] = Field(
        "exposed", description="exposed: LPSCl particles through the SEI; none: bare control"
    )
    loading: Dimensionless = Field(
        0.035, ge=0, lt=0.3, description="LPSCl volume fraction in the Li (e.g. '1.7 %', '3.5 %', "
        "'7.5 %'; = area fraction on the Li surface); 0 = bare control"
    )
    particle_radius: Length = Field(0.25e-6, gt=0, description="particle radius")
    exposure: Length = Field(
        0.15e-6, gt=0, description="height of the particle tops above the SEI top"
    )
    particle_gap: Length = Field(
        0.05e-6, gt=0, description="minimum clearance between particles (half of it to patch edges and walls)"
    )
    seed: int = Field(0, description="random seed of the weak patches and particle positions (numpy default_rng)")

    @model_validator(mode="after")
    def _check(self) -> SseParams:
        t, h, r, e, g = self.sei_thickness, self.height, self.particle_radius, self.exposure, self.particle_gap
        if t >= h:
            raise ValueError(f"sei_thickness ({_um(t)}) must be below height ({_um(h)})")
        if self.patch_size > self.width * (1 + 1e-9):
            raise ValueError(f"patch_size ({_um(self.patch_size)}) must not exceed width ({_um(self.width)})")
        m = patch_count(self)
        pw = self.width / m
        heterogeneous = self.sei_mode == "heterogeneous"
        if heterogeneous:
            k, total = _weak_count(self), m ** (2 if self.dimension == "3d" else 1)
            if not 1 <= k <= total - 1:
                raise ValueError(
                    f"weak_fraction ({self.weak_fraction:g}) gives {k} weak patches of {total}: need at "
                    "least one weak and one sound patch; change weak_fraction, or patch_size or width"
                )
            if self.crack_width >= pw:
                raise ValueError(
                    f"crack_width ({_um(self.crack_width)}) must be below the patch width ({_um(pw)} = "
                    "width / round(width / patch_size))"
                )
        elif self.crack_width > 0:
            raise ValueError("crack_width applies to sei_mode 'heterogeneous' only (cracks are in the weak patches)")
        if not _has_particles(self):
            return self
        if t + e >= h:
            raise ValueError(
                f"the particles reach the counter: sei_thickness + exposure ({_um(t + e)}) must be below "
                f"height ({_um(h)})"
            )
        if t + e >= 2 * r:
            raise ValueError(
                f"the particles do not reach into the Li: sei_thickness + exposure ({_um(t + e)}) must be "
                f"below 2 * particle_radius ({_um(2 * r)})"
            )
        if particle_count(self) == 0:
            raise ValueError(
                f"loading ({self.loading:g}) gives no particle in this cell (the count rounds to 0: one "
                f"particle takes {_one_particle(self):.3g} of the Li surface); raise width or loading, "
                "or use particles: none for the bare control"
            )
        depth = 2 * r - t - e
        if self.lithium_thickness > 0 and self.lithium_thickness < depth + g:
            raise ValueError(
                f"the particles reach the Cu: lithium_thickness ({_um(self.lithium_thickness)}) must be at least "
                f"their depth below the Li surface ({_um(depth)}) + particle_gap ({_um(g)})"
            )
        if 2 * r + g > pw:
            raise ValueError(
                f"particle_radius ({_um(r)}) too large for a patch: 2 * particle_radius + particle_gap "
                f"({_um(2 * r + g)}) must not exceed the patch width ({_um(pw)} = width / round(width / "
                "patch_size)); lower particle_radius or raise patch_size"
            )
        if self.crack_width > 0 and (pw - self.crack_width) / 2 < 2 * r + g:
            raise ValueError(
                f"crack_width ({_um(self.crack_width)}) leaves no room for a particle beside the crack: "
                f"(patch width - crack_width) / 2 must be at least 2 * particle_radius + particle_gap "
                f"({_um(2 * r + g)})"
            )
        particle_centres(self)  # raises if the particles cannot be placed
        return self


def patch_count(params: SseParams) -> int:
    """Patches per lateral direction."""
    return max(1, int(math.floor(params.width / params.patch_size + 0.5)))


def _weak_count(params: SseParams) -> int:
    total = patch_count(params) ** (2 if params.dimension == "3d" else 1)
    return int(math.floor(params.weak_fraction * total + 0.5))


def _centre_height(params: SseParams) -> float:
    return params.sei_thickness + params.exposure - params.particle_radius


def section_radius(params: SseParams) -> float:
    """Radius of the particles' section by the Li surface plane (m); 0 if they do not reach it."""
    r, yc = params.particle_radius, _centre_height(params)
    return math.sqrt(max(r * r - yc * yc, 0.0))


def _has_particles(params: SseParams) -> bool:
    return params.particles == "exposed" and params.loading > 0


def _one_particle(params: SseParams) -> float:
    """Fraction of the Li surface one particle takes."""
    rho = section_radius(params)
    if params.dimension == "3d":
        return math.pi * rho * rho / params.width**2
    return 2 * rho / params.width


def particle_count(params: SseParams) -> int:
    """Number of particles in the cell (see the module docstring)."""
    if not _has_particles(params) or section_radius(params) == 0:
        return 0
    return int(math.floor(params.loading / _one_particle(params) + 0.5))


def _patch_order(params: SseParams, rng: np.random.Generator) -> np.ndarray:
    total = patch_count(params) ** (2 if params.dimension == "3d" else 1)
    return rng.permutation(total)


def weak_patches(params: SseParams) -> list[int]:
    """Indices of the weak patches (x fastest in 3D), sorted; empty when uniform."""
    if params.sei_mode != "heterogeneous":
        return []
    order = _patch_order(params, np.random.default_rng(params.seed))
    return sorted(int(k) for k in order[: _weak_count(params)])


def patch_bounds(params: SseParams, k: int) -> list[float]:
    """``[x0, x1]`` (2D) or ``[x0, x1, y0, y1]`` (3D) of patch ``k`` (m)."""
    m = patch_count(params)
    pw = params.width / m
    i, j = k % m, k // m
    x0 = -params.width / 2 + i * pw
    if params.dimension == "2d":
        return [x0, x0 + pw]
    y0 = -params.width / 2 + j * pw
    return [x0, x0 + pw, y0, y0 + pw]


def particle_centres(params: SseParams) -> np.ndarray:
    """Particle centres (m), shape ``(n, 2)`` (2D: x, y_c) or ``(n, 3)`` (3D: x, y, z_c).

    Raises ``ValueError`` (naming ``loading``) when they cannot all be placed.
    """
    n, lateral = particle_count(params), 1 if params.dimension == "2d" else 2
    if n == 0:
        return np.zeros((0, lateral + 1))
    rng = np.random.default_rng(params.seed)
    _patch_order(params, rng)  # the weak patches come first in the stream
    w, r, g, cw = params.width, params.particle_radius, params.particle_gap, params.crack_width
    pw = w / patch_count(params)
    edge, mid = r + g / 2, cw / 2 + r + g / 2
    placed: list[np.ndarray] = []
    for k in range(n):
        for _ in range(_TRIES):
            c = rng.uniform(-w / 2, w / 2, size=lateral)
            offset = np.mod(c + w / 2, pw)  # position inside its patch
            if np.any(np.minimum(offset, pw - offset) < edge):
                continue
            if cw > 0 and np.abs(offset[0] - pw / 2) < mid:
                continue
            if placed and np.min(np.linalg.norm(np.array(placed) - c, axis=1)) < 2 * r + g:
                continue
            placed.append(c)
            break
        else:
            raise ValueError(
                f"loading ({params.loading:g}): could not place particle {k + 1} of {n} (particle_radius "
                f"{_um(r)}, particle_gap {_um(g)}, one per patch of {_um(pw)} at most near its edges) without "
                f"overlap after {_TRIES} tries (seed {params.seed}); lower loading or particle_radius, "
                "raise width or patch_size, or change seed"
            )
    yc = _centre_height(params)
    return np.array([[*c, yc] for c in placed], dtype=float)


def names(params: SseParams) -> tuple[set[str], set[str]]:
    """Region and boundary names this parameter set produces (no Gmsh call)."""
    regions = {"electrolyte", "sei"}
    boundaries = {"counter", "side", "li_surface", "sei_top"}
    if params.sei_mode == "heterogeneous":
        regions.add("sei_weak")
    if particle_count(params) > 0:
        regions.add("particles")
        boundaries.add("particle_surface")
    if params.lithium_thickness > 0:
        regions.add("lithium")
        boundaries.add("collector")
    return regions, boundaries


def sizes(params: SseParams, options: MeshOptions) -> dict[str, float]:
    """Element sizes (m): ``sei`` in the film, ``crack`` in the cracks, ``particles`` inside them."""
    across = params.sei_cells / (_TET_MARGIN if params.dimension == "3d" else 1.0)
    h_sei = min(options.size_feature, params.sei_thickness / across)
    depth = params.particle_radius - _centre_height(params)  # particle bottom below the Li surface
    out = {
        "sei": h_sei,
        "particles": min(options.size_feature, params.particle_radius / 4, params.exposure / 2, depth / 2),
    }
    if params.crack_width > 0:
        out["crack"] = min(h_sei, params.crack_width / 2)
    return out


# ----------------------------------------------------------------------------- geometry (um)
def _classify(params: SseParams, dim: int, region_of: dict[int, str]) -> dict[str, list[int]]:
    """Sort the facet entities of the synchronised model into boundary names."""
    import gmsh

    width, height, t_li = params.width / _UM, params.height / _UM, params.lithium_thickness / _UM
    tol = 1e-6 * max(width, height)
    v = dim - 1
    sei = {"sei", "sei_weak"}
    groups: dict[str, list[int]] = {name: [] for name in _BOUNDARY_TAGS}
    for _, tag in gmsh.model.getEntities(dim - 1):
        up, _ = gmsh.model.getAdjacencies(dim - 1, tag)
        kinds = {region_of[int(u)] for u in up}
        if len(up) == 2:
            if "lithium" in kinds and len(kinds) == 2:
                name = "li_surface"
            elif kinds == {"particles", "electrolyte"}:
                name = "particle_surface"
            elif "electrolyte" in kinds and kinds & sei:
                name = "sei_top"
            elif len(kinds) == 1 or kinds <= sei | {"particles"}:
                continue  # inside a region, between patches, or particle/SEI contact: untagged
            else:
                raise RuntimeError(f"sse_anode: unexpected interface between {sorted(kinds)}")
        elif len(up) == 1:
            (kind,) = kinds
            box = gmsh.model.getBoundingBox(dim - 1, tag)
            low, high = box[:3], box[3:]
            flat = high[v] - low[v] < tol
            if kind == "particles" and t_li == 0:
                name = "li_surface"  # lower cap of a particle in the (unmeshed) Li
            elif any(high[i] - low[i] < tol and abs(abs(low[i]) - width / 2) < tol for i in range(dim - 1)):
                name = "side"
            elif flat and low[v] > height - tol:
                name = "counter"
            elif flat and t_li > 0 and abs(low[v] + t_li) < tol:
                name = "collector"
            elif flat and t_li == 0 and abs(low[v]) < tol:
                name = "li_surface"
            else:
                raise RuntimeError(f"sse_anode: cannot name facet {tag} of region {kind} (box {box})")
        else:
            raise RuntimeError(f"sse_anode: stray facet entity {tag}")
        groups[name].append(tag)
    return {name: tags for name, tags in groups.items() if tags}


def _box_field(dim: int, low, high, size: float, options: MeshOptions) -> int:
    """Size ``size`` in the box (model units, vertical last), growing to size_far outside."""
    import gmsh

    field = gmsh.model.mesh.field
    box = field.add("Box")
    keys = ("X", "Y", "Z") if dim == 3 else ("X", "Y")
    for key, a, b in zip(keys, low, high):
        field.setNumber(box, f"{key}Min", a)
        field.setNumber(box, f"{key}Max", b)
    if dim == 2:
        field.setNumber(box, "ZMin", -1.0)
        field.setNumber(box, "ZMax", 1.0)
    field.setNumber(box, "VIn", size)
    field.setNumber(box, "VOut", options.size_far / _UM)
    field.setNumber(box, "Thickness", options.grading_distance / _UM)
    return box


def _ball_field(dim: int, centre, radius: float, size: float, options: MeshOptions) -> int:
    import gmsh

    field = gmsh.model.mesh.field
    ball = field.add("Ball")
    for key, a in zip(("XCenter", "YCenter", "ZCenter"), list(centre) + [0.0] * (3 - len(centre))):
        field.setNumber(ball, key, a)
    field.setNumber(ball, "Radius", radius)
    field.setNumber(ball, "VIn", size)
    field.setNumber(ball, "VOut", options.size_far / _UM)
    field.setNumber(ball, "Thickness", options.grading_distance / _UM)
    return ball


def build(params: SseParams, options: MeshOptions) -> GeometryInfo:
    """Write the SSE-anode geometry, physical groups and mesh into the current Gmsh model."""
    import gmsh

    gmsh.option.setNumber("General.NumThreads", 1)
    occ = gmsh.model.occ
    dim = 3 if params.dimension == "3d" else 2
    width, height = params.width / _UM, params.height / _UM
    t, t_li = params.sei_thickness / _UM, params.lithium_thickness / _UM
    cw, r = params.crack_width / _UM, params.particle_radius / _UM
    half = width / 2 + 1e-3 * width  # lateral reach of the size boxes

    def block(lo: list[float], hi: list[float]) -> tuple[int, int]:
        """Box/rectangle from lateral+vertical bounds (model units)."""
        if dim == 3:
            return 3, occ.addBox(lo[0], lo[1], lo[2], hi[0] - lo[0], hi[1] - lo[1], hi[2] - lo[2])
        return 2, occ.addRectangle(lo[0], lo[1], 0, hi[0] - lo[0], hi[1] - lo[1])

    lateral_lo, lateral_hi = [-width / 2] * (dim - 1), [width / 2] * (dim - 1)
    pieces: list[tuple[str, tuple[int, int]]] = [
        ("electrolyte", block(lateral_lo + [t], lateral_hi + [height]))
    ]
    weak = weak_patches(params)
    cracks: list[tuple[list[float], list[float]]] = []
    if params.sei_mode == "uniform":
        pieces.append(("sei", block(lateral_lo + [0.0], lateral_hi + [t])))
    else:
        total = patch_count(params) ** (dim - 1)
        for k in range(total):
            b = [x / _UM for x in patch_bounds(params, k)]
            lo, hi = b[0::2], b[1::2]
            pieces.append(("sei_weak" if k in weak else "sei", block(lo + [0.0], hi + [t])))
            if k in weak and cw > 0:
                xm = (b[0] + b[1]) / 2
                crack = ([xm - cw / 2] + lo[1:] + [0.0], [xm + cw / 2] + hi[1:] + [t])
                cracks.append(crack)
                pieces.append(("crack", block(*crack)))
    centres = particle_centres(params) / _UM
    for c in centres:
        if dim == 3:
            pieces.append(("particles", (3, occ.addSphere(c[0], c[1], c[2], r))))
        else:
            pieces.append(("particles", (2, occ.addDisk(c[0], c[1], 0, r, r))))
    if t_li > 0:
        pieces.append(("lithium", block(lateral_lo + [-t_li], lateral_hi + [0.0])))

    dimtags = [dt for _, dt in pieces]
    _, mapping = occ.fragment(dimtags[:1], dimtags[1:])
    region_of: dict[tuple[int, int], str] = {}
    for kind in ("particles", "crack", "sei_weak", "sei", "lithium", "electrolyte"):  # first claim wins
        for (k, _), children in zip(pieces, mapping):
            if k == kind:
                for dt in children:
                    region_of.setdefault(dt, "electrolyte" if kind == "crack" else kind)
    regions = keep_owned(dim, region_of)
    boundaries = _classify(params, dim, {tag: kind for (_, tag), kind in region_of.items()})
    name_groups("sse_anode", dim, regions, boundaries, names(params), _REGION_TAGS, _BOUNDARY_TAGS)

    h = {k: s / _UM for k, s in sizes(params, options).items()}
    lateral_lo, lateral_hi = [-half] * (dim - 1), [half] * (dim - 1)
    fields = [_box_field(dim, lateral_lo + [0.0], lateral_hi + [t], h["sei"], options)]
    if t_li > 0:
        fields.append(_box_field(dim, lateral_lo + [-t_li], lateral_hi + [0.0], options.size_electrode / _UM,
                                 options))
    for lo, hi in cracks:
        fields.append(_box_field(dim, lo, hi, h["crack"], options))
    for c in centres:
        fields.append(_ball_field(dim, c, r, h["particles"], options))
    field = gmsh.model.mesh.field
    smallest = field.add("Min")
    field.setNumbers(smallest, "FieldsList", fields)
    field.setAsBackgroundMesh(smallest)
    for option in ("MeshSizeFromPoints", "MeshSizeFromCurvature", "MeshSizeExtendFromBoundary"):
        gmsh.option.setNumber(f"Mesh.{option}", 0)
    mesh_in_metres(dim, options.order, _UM)

    n = patch_count(params)
    rho = section_radius(params)
    return GeometryInfo(
        gdim=dim,
        axisymmetric=False,
        regions={name: _REGION_TAGS[name] for name in regions},
        boundaries={name: _BOUNDARY_TAGS[name] for name in boundaries},
        projected_area=params.width if dim == 2 else params.width**2,
        landmarks={
            "surface": 0.0,
            "sei_top": params.sei_thickness,
            "particle_centres": [[float(x) for x in c] for c in particle_centres(params)],
            "area_fraction": len(centres) * (_one_particle(params) if rho > 0 else 0.0),
            "weak_patches": [patch_bounds(params, k) for k in weak],
            "patches_per_direction": n,
        },
    )


register(Builder(name="sse_anode", params=SseParams, build=build, names=names))
