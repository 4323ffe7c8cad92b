r"""Sulfide solid-electrolyte film: the Li | Li3N | film | Li stack and the film's RVE.

After Li et al., Adv. Funct. Mater. 2024 (sulfide SE films with a PEVA fibre scaffold and an in-situ
Li3N SEI): a 40 um E-LPSCl film between two Li electrodes, a ~3 um Li3N layer on the bottom Li,
interfacial voids (contact loss) and a Li filament growing into a crack. Two builders:

``sulfide_film`` -- the stack (2D or 3D periodic cell)
=======================================================

The Li surface is the plane ``y = 0`` (2D) or ``z = 0`` (3D); "vertical" below means y (2D) or z
(3D). The cell is ``[-width/2, width/2]`` (2D) or ``[-width/2, width/2]^2`` (3D) laterally; its side
walls (boundary ``side``) are symmetry planes of a periodic interface. From the bottom up::

        li_top (y = H)                      top Li electrode (not meshed)
     +-------------------------------+
     |              film             |      film_thickness (region film)
    side                            side
     |            interphase         |      interphase_thickness (region interphase; 0 = none)
     |              li3n    |fil|    |      li3n_thickness (region li3n; 0 = none)
     +--[void]-----[void]---|ament|--+      y = 0: li_bottom (Li not meshed) / li_contact
     |            lithium            |      lithium_thickness (region lithium; 0 = not meshed)
     +-------------------------------+      y = -lithium_thickness: li_bottom

``H = li3n_thickness + interphase_thickness + film_thickness``. The layer order is Li | Li3N |
interphase | film: the Li3N is the SEI grown on the Li, the MIEC interphase (Li-reduced binder) is
the film-side layer in contact with it (with ``li3n_thickness = 0`` it lies directly on the Li).

Voids (contact loss): ``voids.count`` cavities at the Li surface, reaching ``voids.depth`` up into
the stack (through the Li3N / interphase into the film if deep enough), ``voids.width`` wide (2D)
or in diameter (3D). ``voids.shape``: ``rectangle`` (2D rectangle, 3D upright cylinder) or
``ellipse`` (half ellipse / half spheroid with semi-axes ``width/2`` and ``depth``). They are cut
out of the mesh; their surfaces form the insulating boundary ``void_surface``. Layout:
``voids.seed`` null -- evenly spaced: 2D centres ``x_i = -width/2 + width (i + 1/2) / count``;
3D on an ``m x m`` grid of pitch ``width / m``, ``m = ceil(sqrt(count))``, filled row by row (x
fastest). ``voids.seed`` an integer -- random centres (``numpy.random.default_rng(seed)``,
rejection sampling). Either way the voids must not overlap: the clear distance between two voids,
and between a void and the filament, is at least ``gap = voids.width / 10``, and a void stays
``gap / 2`` away from the side walls (validated; the error names the key).

Filament (Li in a crack): ``filament: {depth, width, position}`` a Li-filled slot (2D rectangle;
3D upright cylinder of diameter ``width``) from the Li surface up to ``depth``, centred at
``x = position`` (3D: ``(position, 0)``). It belongs to the bottom electrode: with the Li not
meshed it is cut out and its surface is the boundary ``filament_surface`` (same potential as
``li_bottom``); with a meshed Li slab it is part of the region ``lithium`` and
``filament_surface`` is its interface with the stack. ``depth`` must stay below ``H`` (a filament
reaching the top Li would short the cell).

Names (the project's contract)
------------------------------
regions (cells): ``film``; ``li3n`` (``li3n_thickness > 0``); ``interphase``
(``interphase_thickness > 0``); ``lithium`` (``lithium_thickness > 0``).
boundaries (facets): ``li_top`` (y/z = H); ``li_bottom`` (the Li surface y/z = 0 outside the
voids, or the base of the meshed Li slab); ``side``; ``li_contact`` (Li meshed: the Li/stack
interface at y/z = 0, outside voids and filament); ``void_surface`` (voids); ``filament_surface``
(filament). Interfaces between two stack layers are not tagged.

Mesh sizes: ``mesh.size_electrode`` on the Li surface (y/z = 0), growing to ``mesh.size_far``
over ``mesh.grading_distance``; each thin layer (li3n, interphase) has cells of at most
``min(mesh.size_electrode, thickness / layer_cells)`` (a Box field with the same grading); void
and filament surfaces ``min(mesh.size_feature, voids.depth / 2, voids.width / 4,
filament.width / 2)``.

Landmarks: ``surface`` (0), ``top`` (H), ``layers`` (region -> [bottom, top] in m, lithium
included when meshed), ``void_centres``, ``filament`` (``{depth, width, centre}`` or absent).

``film_rve`` -- a representative volume of the composite film
==============================================================

A square ``[0, size]^2`` (2D) or cube ``[0, size]^3`` (3D): LPSCl particles (discs / spheres,
region ``particles``), PEVA fibres (region ``fibres``) and the rest, pores or binder (region
``matrix``). Fibres: ``fibre_orientation`` ``disc`` (2D only: cross-sections of fibres normal to
the plane), ``x`` or ``y`` (2D: strips of width ``fibre_diameter`` across the whole square along
that axis; 3D: cylinders spanning the cube along that axis). Default: ``disc`` in 2D, ``x`` in 3D.
Boundaries: ``left`` / ``right`` (x = 0 / size), ``bottom`` / ``top`` (2D: y, 3D: z = 0 / size),
``front`` / ``back`` (3D: y = 0 / size). Interfaces between the phases are not tagged.

``arrangement: random`` -- rejection sampling (``numpy.random.default_rng(seed)``): strips /
cylinders first, then particles, then fibre discs (big or long ones first). Each kind is added
until its fraction inside the box, estimated on a 256^2 (2D) / 64^3 (3D) sampling grid, reaches
the target (the count closest to it is kept). Centres are drawn in the box enlarged by the radius,
so inclusions cut by the walls occur and keep their inside part (the meshed fractions are what
the homogenisation uses). Inclusions never overlap: their surfaces are at least ``min_gap``
apart; a surface is at least ``min_gap`` from every wall plane, edge line and corner of the box or
crosses it by at least that much, and an inclusion penetrates the box by at least ``min_gap`` (no
slivers, no tangencies). Random sequential addition jams (2D: ~0.45 particles with the default
fibres; 3D: ~0.2-0.3 for 5 um spheres, less between cylinders): a fraction that cannot be reached
fails with a message naming it. Since the particles do not touch, an insulating matrix leaves them
disconnected: a percolating LPSCl phase needs a conducting matrix (see ``docs/film.md``).

``arrangement: array`` -- a regular ``n x n (x n)`` lattice of pitch ``p = size / n``: particles
at the cell centres, fibres at the cell corners (2D discs, quarters/halves on the walls), on the
cell edges along the axis (3D cylinders) or centred on the lattice lines ``y = j p`` (2D strips
along x; ``x = i p`` along y). ``n = cells`` if given, else ``round(size / p0)`` with ``p0`` the
pitch at which inclusions of the given diameter have the given fraction (particles; fibres when
there are no particles). The diameters are then *adjusted* so that the fractions are exact on the
lattice (strip width ``fibre_fraction * p``). Fit checks (``min_gap``) name the offending key.

Units: both builders work in micrometres and scale the mesh to metres (OCC tolerance, see bud.py).
"""

from __future__ import annotations

import functools
import itertools
import json
import math
from typing import Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, model_validator

from meshes.base import Builder, GeometryInfo, MeshOptions, cell_slab, mesh_in_metres, name_groups, register
from meshes.bud import _um
from solver.units import Length

__all__ = [
    "Voids", "Filament", "FilmParams", "film_names", "void_centres", "layers", "build_film",
    "RveParams", "Inclusion", "inclusions", "rve_names", "build_rve",
]

_UM = 1e-6
_FILM_REGIONS = {"film": 1, "li3n": 2, "interphase": 3, "lithium": 4}
_FILM_BOUNDARIES = {"li_bottom": 1, "li_top": 2, "side": 3, "void_surface": 4, "filament_surface": 5,
                    "li_contact": 6}
_RVE_REGIONS = {"matrix": 1, "particles": 2, "fibres": 3}
_RVE_BOUNDARIES = {"left": 1, "right": 2, "bottom": 3, "top": 4, "front": 5, "back": 6}
_MAX_TRIES = 20000  # rejection-sampling draws per inclusion


# ============================================================================ sulfide_film
class Voids(BaseModel):
    """Interfacial voids at the bottom Li surface (see the module docstring)."""

    model_config = ConfigDict(extra="forbid")

    count: int = Field(0, ge=0, description="number of voids (0 = full contact)")
    width: Length = Field(2e-6, gt=0, description="void width (2d) / diameter (3d)")
    depth: Length = Field(1e-6, gt=0, description="height of a void above the Li surface")
    shape: Literal["rectangle", "ellipse"] = Field(
        "rectangle", description="rectangle (3d: cylinder) or half ellipse (3d: half spheroid)"
    )
    seed: int | None = Field(
        None, description="null: evenly spaced; an integer: random positions (numpy default_rng(seed))"
    )


class Filament(BaseModel):
    """A Li filament in a crack, growing from the bottom Li into the stack."""

    model_config = ConfigDict(extra="forbid")

    depth: Length = Field(..., gt=0, description="height of the filament tip above the Li surface")
    width: Length = Field(0.5e-6, gt=0, description="filament width (2d) / diameter (3d)")
    position: Length = Field(0.0, description="x of the filament axis (3d: at y = 0)")


class FilmParams(BaseModel):
    """Parameters of the ``sulfide_film`` geometry (see the module docstring)."""

    model_config = ConfigDict(extra="forbid")

    dimension: Literal["2d", "3d"] = Field("2d", description="2d (per metre of depth) or 3d")
    width: Length = Field(20e-6, gt=0, description="cell width (3d: side of the square cell)")
    film_thickness: Length = Field(40e-6, gt=0, description="thickness of the SE film (region film)")
    li3n_thickness: Length = Field(3e-6, ge=0, description="Li3N SEI on the bottom Li (region li3n); 0 = none")
    interphase_thickness: Length = Field(
        0.0, ge=0, description="MIEC interphase between Li3N (or Li) and film (region interphase); 0 = none"
    )
    lithium_thickness: Length = Field(
        0.0, ge=0, description="bottom Li slab meshed below the surface (region lithium); 0 = not meshed"
    )
    voids: Voids = Field(default_factory=Voids, description="interfacial voids at the bottom Li surface")
    filament: Filament | None = Field(None, description="Li filament in a crack (null = none)")
    layer_cells: int = Field(2, ge=1, description="minimum cells across a thin layer (li3n, interphase)")

    @model_validator(mode="after")
    def _check(self) -> FilmParams:
        stack = stack_thickness(self)
        what = "li3n_thickness + interphase_thickness + film_thickness"
        v, f = self.voids, self.filament
        if v.count:
            if v.depth >= stack:
                raise ValueError(
                    f"voids.depth ({_um(v.depth)}) must be below the stack thickness {what} ({_um(stack)})"
                )
            if v.width * 1.1 > self.width:
                raise ValueError(
                    f"voids.width ({_um(v.width)}) is too wide for the cell: it must be below width "
                    f"({_um(self.width)}) / 1.1 (the voids keep a tenth of their width from the walls)"
                )
        if f is not None:
            if f.depth >= stack:
                raise ValueError(
                    f"filament.depth ({_um(f.depth)}) must be below the stack thickness {what} "
                    f"({_um(stack)}): the filament would short the cell"
                )
            if abs(f.position) + f.width / 2 >= self.width / 2:
                raise ValueError(
                    f"the filament (filament.position {_um(f.position)}, filament.width {_um(f.width)}) "
                    f"must lie inside the cell (|position| + width / 2 below width / 2 = {_um(self.width / 2)})"
                )
        void_centres(self)  # raises ValueError naming the key when the voids do not fit
        return self


def stack_thickness(params: FilmParams) -> float:
    """``H``: li3n + interphase + film thickness (m)."""
    return params.li3n_thickness + params.interphase_thickness + params.film_thickness


def layers(params: FilmParams) -> dict[str, tuple[float, float]]:
    """Region -> (bottom, top) in metres, bottom up; lithium included when meshed."""
    out: dict[str, tuple[float, float]] = {}
    if params.lithium_thickness > 0:
        out["lithium"] = (-params.lithium_thickness, 0.0)
    y = 0.0
    for name, t in (("li3n", params.li3n_thickness), ("interphase", params.interphase_thickness),
                    ("film", params.film_thickness)):
        if t > 0:
            out[name] = (y, y + t)
            y += t
    return out


def _void_gap(params: FilmParams) -> float:
    return 0.1 * params.voids.width


def void_centres(params: FilmParams) -> np.ndarray:
    """Void centres on the Li surface (m), shape ``(count, 1)`` (2d: x) or ``(count, 2)`` (3d).

    Raises ``ValueError`` (naming the key) when the voids overlap each other, the filament or the
    walls (see the module docstring for the layout).
    """
    v, w = params.voids, params.width
    lateral = 1 if params.dimension == "2d" else 2
    if v.count == 0:
        return np.zeros((0, lateral))
    gap = _void_gap(params)
    fil = params.filament
    fil_centre = None if fil is None else np.array([fil.position, 0.0][:lateral])

    def clash_filament(c) -> bool:
        if fil is None:
            return False
        return float(np.linalg.norm(c - fil_centre)) < (v.width + fil.width) / 2 + gap

    if v.seed is None:
        m = v.count if lateral == 1 else math.ceil(math.sqrt(v.count))
        pitch = w / m
        if pitch < v.width + gap:
            where = f"{v.count} voids" if lateral == 1 else f"a {m} x {m} grid"
            raise ValueError(
                f"voids.count: {where} of voids.width {_um(v.width)} do not fit in width {_um(w)} "
                f"(evenly spaced, pitch {_um(pitch)} must be at least 1.1 x voids.width): lower "
                "voids.count or voids.width"
            )
        axis = -w / 2 + pitch * (np.arange(m) + 0.5)
        if lateral == 1:
            centres = axis[:, None]
        else:
            centres = np.array([(axis[k % m], axis[k // m]) for k in range(v.count)])
        for c in centres:
            if clash_filament(c):
                raise ValueError(
                    f"voids: the evenly spaced void at {_um(float(c[0]))} overlaps the filament (at "
                    f"filament.position {_um(fil.position)}): move filament.position, or give voids.seed"
                )
        return centres
    rng = np.random.default_rng(v.seed)
    low, high = -w / 2 + v.width / 2 + gap / 2, w / 2 - v.width / 2 - gap / 2
    placed: list[np.ndarray] = []
    for _ in range(_MAX_TRIES * v.count):
        c = rng.uniform(low, high, size=lateral)
        if clash_filament(c):
            continue
        if all(np.linalg.norm(c - p) >= v.width + gap for p in placed):
            placed.append(c)
            if len(placed) == v.count:
                return np.array(placed)
    raise ValueError(
        f"voids.count: could not place {v.count} voids of voids.width {_um(v.width)} without overlap "
        f"(clear distance >= {_um(gap)}) in width {_um(w)} (seed {v.seed}); lower voids.count or "
        "voids.width, or change voids.seed"
    )


def film_names(params: FilmParams) -> tuple[set[str], set[str]]:
    """Region and boundary names this parameter set produces (no Gmsh call)."""
    regions = set(layers(params))
    boundaries = {"li_top", "li_bottom", "side"}
    if params.lithium_thickness > 0:
        boundaries.add("li_contact")
    if params.voids.count:
        boundaries.add("void_surface")
    if params.filament is not None:
        boundaries.add("filament_surface")
    return regions, boundaries


def film_feature_size(params: FilmParams, options: MeshOptions) -> float:
    """Element size on void and filament surfaces (m)."""
    h = options.size_feature
    if params.voids.count:
        h = min(h, params.voids.depth / 2, params.voids.width / 4)
    if params.filament is not None:
        h = min(h, params.filament.width / 2)
    return h


def _threshold(dim: int, tags: list[int], size: float, extent: float, options: MeshOptions,
               dist_min: float = 0.0) -> int:
    """Size ``size`` within ``dist_min`` of the facet entities, growing linearly to size_far."""
    import gmsh

    field = gmsh.model.mesh.field
    cap = 2000 if dim == 2 else 200
    distance = field.add("Distance")
    field.setNumbers(distance, "CurvesList" if dim == 2 else "SurfacesList", tags)
    field.setNumber(distance, "Sampling", min(cap, max(20, math.ceil(2 * extent / size) + 1)))
    threshold = field.add("Threshold")
    field.setNumber(threshold, "InField", distance)
    field.setNumber(threshold, "SizeMin", size)
    field.setNumber(threshold, "SizeMax", max(size, options.size_far / _UM))
    field.setNumber(threshold, "DistMin", dist_min)
    field.setNumber(threshold, "DistMax", dist_min + options.grading_distance / _UM)
    return threshold


def _mesh(dim: int, fields: list[int], options: MeshOptions) -> None:
    import gmsh

    field = gmsh.model.mesh.field
    if fields:
        smallest = field.add("Min")
        field.setNumbers(smallest, "FieldsList", fields)
        field.setAsBackgroundMesh(smallest)
    for option in ("MeshSizeFromPoints", "MeshSizeFromCurvature", "MeshSizeExtendFromBoundary"):
        gmsh.option.setNumber(f"Mesh.{option}", 0)
    gmsh.option.setNumber("Mesh.MeshSizeMax", options.size_far / _UM)
    mesh_in_metres(dim, options.order, _UM)


def build_film(params: FilmParams, options: MeshOptions) -> GeometryInfo:
    """Write the stack geometry, physical groups and mesh into the current Gmsh model."""
    import gmsh

    gmsh.option.setNumber("General.NumThreads", 1)
    occ = gmsh.model.occ
    dim = 3 if params.dimension == "3d" else 2
    v = dim - 1  # vertical axis
    w = params.width / _UM
    height = stack_thickness(params) / _UM
    lay = {name: (y0 / _UM, y1 / _UM) for name, (y0, y1) in layers(params).items()}
    meshed_li = "lithium" in lay

    def post(c, diameter: float, depth: float, shape: str) -> tuple[int, int]:
        """Rectangle / upright cylinder on the Li surface, or a full ellipse / spheroid centred on it."""
        r = diameter / 2
        if shape == "ellipse":
            if dim == 2:
                return 2, (occ.addDisk(c[0], 0, 0, r, depth) if r >= depth else _rotated_disk(occ, c[0], r, depth))
            tag = occ.addSphere(c[0], c[1], 0, 1.0)
            occ.dilate([(3, tag)], c[0], c[1], 0, r, r, depth)
            return 3, tag
        if dim == 2:
            return 2, occ.addRectangle(c[0] - r, 0, 0, 2 * r, depth)
        return 3, occ.addCylinder(c[0], c[1], 0, 0, 0, depth, r)

    names = list(lay)
    boxes = [cell_slab(dim, w, *lay[name]) for name in names]
    tools, kinds = [], []
    voids = void_centres(params) / _UM
    vw, vd = params.voids.width / _UM, params.voids.depth / _UM
    for c in voids:
        tools.append(post(c, vw, vd, params.voids.shape))
        kinds.append("void")
    fil = params.filament
    if fil is not None:
        fil_centre = np.array([fil.position, 0.0][: v]) / _UM
        tools.append(post(fil_centre, fil.width / _UM, fil.depth / _UM, "rectangle"))
        kinds.append("filament")
    if len(boxes) + len(tools) > 1:
        _, mapping = occ.fragment(boxes, tools)
    else:
        mapping = [boxes]  # a lone film slab: nothing to fragment
    region_of: dict[tuple[int, int], str] = {}
    inside = {dt for children in mapping[: len(boxes)] for dt in children}
    if meshed_li:  # the Li slab first: the lower half of an elliptic void is Li, not void
        for dt in mapping[names.index("lithium")]:
            region_of[dt] = "lithium"
    for children, kind in zip(mapping[len(boxes):], kinds):
        for dt in children:
            if dt in inside:
                region_of.setdefault(dt, kind)
    for children, name in zip(mapping, names):
        for dt in children:
            region_of.setdefault(dt, name)
    drop = [dt for dt in occ.getEntities(dim) if region_of.get(dt, "void") == "void"]
    if not meshed_li:
        drop += [dt for dt, k in region_of.items() if k == "filament"]
    for dt, k in list(region_of.items()):
        if k == "filament":
            region_of[dt] = "lithium"
    if drop:
        occ.remove(drop, recursive=True)
    for dt in drop:
        region_of.pop(dt, None)
    occ.synchronize()

    regions: dict[str, list[int]] = {}
    for (_, tag), kind in sorted(region_of.items()):
        regions.setdefault(kind, []).append(tag)
    tag_region = {tag: kind for (_, tag), kind in region_of.items()}

    # ---- classify the facets. Voids are the only holes besides the filament (when cut out), so a
    # facet with one cell side that is on no outer plane and not on the filament is a void surface
    # (no bounding boxes of curved faces: OCC's are loose for the B-spline spheroids; even a plane
    # face with holes bounded by B-spline edges has a bounding box ~1e-5 thick, hence tol).
    tol = 1e-4 * max(w, height)

    def on_filament(low, high) -> bool:
        if fil is None:
            return False
        r, depth = fil.width / 2 / _UM, fil.depth / _UM
        if low[v] < -tol or high[v] > depth + tol:
            return False
        return all(low[i] > fil_centre[i] - r - tol and high[i] < fil_centre[i] + r + tol for i in range(v))

    groups: dict[str, list[int]] = {name: [] for name in _FILM_BOUNDARIES}
    bottom = lay["lithium"][0] if meshed_li else 0.0
    for _, tag in gmsh.model.getEntities(dim - 1):
        up, _ = gmsh.model.getAdjacencies(dim - 1, tag)
        if len(up) == 0:
            raise RuntimeError(f"sulfide_film: stray facet entity {tag}")
        kinds_up = {tag_region[u] for u in up}
        if len(up) == 2 and len(kinds_up) == 1:
            continue
        box = gmsh.model.getBoundingBox(dim - 1, tag)
        low, high = box[:3], box[3:]
        flat = high[v] - low[v] < tol
        if flat and abs(low[v] - height) < tol:
            name = "li_top"
        elif any(high[i] - low[i] < tol and abs(abs(low[i]) - w / 2) < tol for i in range(v)):
            name = "side"
        elif meshed_li and flat and abs(low[v] - bottom) < tol:
            name = "li_bottom"
        elif on_filament(low, high):
            name = "filament_surface"
        elif flat and abs(low[v]) < tol:
            if meshed_li:
                name = "void_surface" if kinds_up == {"lithium"} else "li_contact"
            else:
                name = "li_bottom"
        elif len(up) == 1:
            name = "void_surface"
        else:
            continue  # interface between two stack layers
        groups[name].append(tag)
    boundaries = {name: tags for name, tags in groups.items() if tags}
    name_groups("sulfide_film", dim, regions, boundaries, film_names(params), _FILM_REGIONS, _FILM_BOUNDARIES)

    # ---- sizes
    field = gmsh.model.mesh.field
    contact = boundaries.get("li_contact" if meshed_li else "li_bottom", [])
    fields = [_threshold(dim, contact, options.size_electrode / _UM, w, options)]
    features = boundaries.get("void_surface", []) + boundaries.get("filament_surface", [])
    if features:
        fields.append(_threshold(dim, features, film_feature_size(params, options) / _UM, w, options))
    for name in ("li3n", "interphase"):
        if name not in lay:
            continue
        y0, y1 = lay[name]
        box = field.add("Box")
        field.setNumber(box, "VIn", min(options.size_electrode / _UM, (y1 - y0) / params.layer_cells))
        field.setNumber(box, "VOut", options.size_far / _UM)
        for axis in range(dim):
            lo, hi = (y0, y1) if axis == v else (-w / 2, w / 2)
            field.setNumber(box, f"{'XYZ'[axis]}Min", lo)
            field.setNumber(box, f"{'XYZ'[axis]}Max", hi)
        field.setNumber(box, "Thickness", options.grading_distance / _UM)
        fields.append(box)
    _mesh(dim, fields, options)

    return GeometryInfo(
        gdim=dim,
        axisymmetric=False,
        regions={name: _FILM_REGIONS[name] for name in regions},
        boundaries={name: _FILM_BOUNDARIES[name] for name in boundaries},
        projected_area=params.width ** (dim - 1),
        landmarks={
            "surface": 0.0,
            "top": stack_thickness(params),
            "layers": {name: list(span) for name, span in layers(params).items()},
            "void_centres": [[float(x) for x in c] for c in void_centres(params)],
            **({"filament": {"depth": fil.depth, "width": fil.width,
                             "centre": [fil.position, 0.0][: dim - 1]}} if fil is not None else {}),
        },
    )


def _rotated_disk(occ, x: float, r: float, depth: float) -> int:
    """OCC's addDisk needs rx >= ry: a disk with rx = depth, ry = r, turned by 90 degrees."""
    tag = occ.addDisk(x, 0, 0, depth, r)
    occ.rotate([(2, tag)], x, 0, 0, 0, 0, 1, math.pi / 2)
    return tag


# ============================================================================ film_rve
class RveParams(BaseModel):
    """Parameters of the ``film_rve`` geometry (see the module docstring)."""

    model_config = ConfigDict(extra="forbid")

    dimension: Literal["2d", "3d"] = Field("2d", description="2d square or 3d cube")
    size: Length = Field(20e-6, gt=0, description="edge of the square / cube")
    particle_diameter: Length = Field(5e-6, gt=0, description="LPSCl particle diameter")
    particle_fraction: float = Field(0.4, ge=0, lt=1, description="particle volume (2d: area) fraction")
    fibre_fraction: float = Field(0.126, ge=0, lt=1, description="PEVA fibre volume (2d: area) fraction")
    fibre_diameter: Length = Field(2e-6, gt=0, description="fibre diameter (2d strips: width)")
    fibre_orientation: Literal["disc", "x", "y"] | None = Field(
        None, description="disc (2d only: cross-sections), x or y (2d strips / 3d cylinders along that "
        "axis); null: disc in 2d, x in 3d",
    )
    arrangement: Literal["random", "array"] = Field(
        "random", description="random non-overlapping placement, or a regular lattice (diameters adjusted)"
    )
    cells: int | None = Field(None, ge=1, description="array: lattice cells per side (null: from the diameters)")
    seed: int = Field(0, description="random placement: seed of numpy default_rng")
    min_gap: Length = Field(0.2e-6, gt=0, description="least clear distance between inclusions, and to walls")

    @model_validator(mode="after")
    def _check(self) -> RveParams:
        if self.dimension == "3d" and self.fibre_orientation == "disc":
            raise ValueError("fibre_orientation: 'disc' is 2d only (3d fibres are cylinders along 'x' or 'y')")
        if self.particle_fraction + self.fibre_fraction >= 1:
            raise ValueError(
                f"particle_fraction + fibre_fraction ({self.particle_fraction:g} + {self.fibre_fraction:g}) "
                "must be below 1"
            )
        inclusions(self)  # raises ValueError naming the key when they do not fit
        return self


def orientation(params: RveParams) -> str:
    if params.fibre_orientation is not None:
        return params.fibre_orientation
    return "disc" if params.dimension == "2d" else "x"


class Inclusion(tuple):
    """``(kind, centre, radius, axis)``: a particle or fibre (m); ``axis`` is None for discs and
    spheres, else the index of the axis a strip / cylinder runs along (its centre coordinate along
    that axis is meaningless)."""

    __slots__ = ()

    def __new__(cls, kind: str, centre, radius: float, axis: int | None):
        return super().__new__(cls, (kind, np.asarray(centre, dtype=float), float(radius), axis))

    kind = property(lambda self: self[0])
    centre = property(lambda self: self[1])
    radius = property(lambda self: self[2])
    axis = property(lambda self: self[3])


def _fibre_axis(params: RveParams) -> int | None:
    o = orientation(params)
    return None if o == "disc" else "xy".index(o)


def _measure(dim: int, r: float, axis: int | None) -> float:
    """Measure of one inclusion in the space of its free coordinates (area, volume, width)."""
    if axis is None:
        return math.pi * r * r if dim == 2 else 4 / 3 * math.pi * r**3
    return 2 * r if dim == 2 else math.pi * r * r


def _free_dims(dim: int, axis: int | None) -> list[int]:
    return [i for i in range(dim) if i != axis]


def _distance(a: Inclusion, b_centre, b_axis) -> float:
    d = a.centre - b_centre
    for axis in (a.axis, b_axis):
        if axis is not None:
            d = d.copy()
            d[axis] = 0.0
    return float(np.linalg.norm(d))


def _wall_ok(c: np.ndarray, r: float, dims: list[int], size: float, gap: float) -> np.ndarray:
    """Candidates ``c`` (k, dim) with no sliver or tangency at the box's walls, edges and corners
    (in ``dims``), and penetrating the box by at least ``gap``."""
    cd = c[:, dims]
    outside = np.linalg.norm(np.maximum(0.0, np.maximum(-cd, cd - size)), axis=1)
    ok = outside <= r - gap
    for k in range(1, len(dims) + 1):
        for sub in itertools.combinations(range(len(dims)), k):
            for walls in itertools.product((0.0, size), repeat=k):
                dist = np.sqrt(sum((cd[:, i] - wv) ** 2 for i, wv in zip(sub, walls)))
                ok &= np.abs(dist - r) >= gap
    return ok


def _grid(params: RveParams) -> np.ndarray:
    """Sample points (cell centres of a regular grid) that estimate fractions inside the box."""
    dim = 2 if params.dimension == "2d" else 3
    n = 256 if dim == 2 else 64
    axis = (np.arange(n) + 0.5) * params.size / n
    return np.stack([g.ravel() for g in np.meshgrid(*[axis] * dim, indexing="ij")], axis=1)


def _covered(points: np.ndarray, c: np.ndarray, r: float, axis: int | None) -> np.ndarray:
    d = points - c
    if axis is not None:
        d[:, axis] = 0.0
    return np.einsum("ij,ij->i", d, d) < r * r


def _place(params: RveParams, rng, kind: str, fraction: float, r: float, axis: int | None,
           placed: list[Inclusion], key: str, points: np.ndarray) -> None:
    """Add inclusions by rejection sampling until their fraction in the box reaches ``fraction``
    (estimated on ``points``; the count closest to the target is kept)."""
    dim = 2 if params.dimension == "2d" else 3
    size, gap = params.size, params.min_gap
    dims = _free_dims(dim, axis)
    covered = np.zeros(len(points), dtype=bool)
    batch = 256
    while covered.mean() < fraction:
        found = None
        for _ in range(_MAX_TRIES // batch + 1):
            c = np.full((batch, dim), size / 2)
            c[:, dims] = rng.uniform(-r, size + r, size=(batch, len(dims)))
            ok = _wall_ok(c, r, dims, size, gap)
            for p in placed:
                d = c - p.centre
                for ax in (p.axis, axis):
                    if ax is not None:
                        d[:, ax] = 0.0
                ok &= np.linalg.norm(d, axis=1) >= p.radius + r + gap
            if ok.any():
                found = c[np.argmax(ok)]
                break
        if found is None:
            raise ValueError(
                f"{key}: could not place more {kind}s (diameter {_um(2 * r)}) without overlap (min_gap "
                f"{_um(gap)}) in a box of size {_um(size)} (seed {params.seed}); reached {covered.mean():.3f} "
                f"of {key} {fraction:g}: lower {key} or min_gap, or change seed"
            )
        before = covered.mean()
        now = covered | _covered(points, found, r, axis)
        if now.mean() - fraction > fraction - before and before > 0:
            return  # one more would overshoot more than stopping here undershoots
        covered = now
        placed.append(Inclusion(kind, found, r, axis))


def _lattice(params: RveParams) -> tuple[int, float]:
    """Array arrangement: cells per side and pitch (m)."""
    dim = 2 if params.dimension == "2d" else 3
    if params.cells is not None:
        n = params.cells
    else:
        if params.particle_fraction > 0:
            d, f, axis = params.particle_diameter, params.particle_fraction, None
        elif params.fibre_fraction > 0:
            d, f, axis = params.fibre_diameter, params.fibre_fraction, _fibre_axis(params)
        else:
            return 1, params.size
        r = d / 2
        ideal = (_measure(dim, r, axis) / f) ** (1 / len(_free_dims(dim, axis)))
        n = max(1, round(params.size / ideal))
    return n, params.size / n


def _array(params: RveParams) -> list[Inclusion]:
    dim = 2 if params.dimension == "2d" else 3
    n, p = _lattice(params)
    gap = params.min_gap
    axis = _fibre_axis(params)
    out: list[Inclusion] = []
    rp = rf = 0.0
    if params.particle_fraction > 0:
        rp = ((params.particle_fraction * p**2 / math.pi) ** 0.5 if dim == 2
              else (3 * params.particle_fraction * p**3 / (4 * math.pi)) ** (1 / 3))
        if 2 * rp + gap > p:
            raise ValueError(
                f"particle_fraction ({params.particle_fraction:g}) is too high for a {n}-cell array: the "
                f"particles (diameter {_um(2 * rp)}) and min_gap ({_um(gap)}) exceed the pitch ({_um(p)})"
            )
        for idx in itertools.product(range(n), repeat=dim):
            out.append(Inclusion("particle", (np.array(idx) + 0.5) * p, rp, None))
    if params.fibre_fraction > 0:
        ff = params.fibre_fraction
        rf = ff * p / 2 if (dim == 2 and axis is not None) else (ff * p * p / math.pi) ** 0.5
        # fibres on the lattice nodes (discs, 3d cylinders) or lines (2d strips) of the free dims
        lines = _free_dims(dim, axis)
        clear = p * math.sqrt(len(lines)) / 2 if rp else math.inf  # particle centre to fibre axis
        if 2 * rf + gap > p:
            raise ValueError(
                f"fibre_fraction ({ff:g}) is too high for a {n}-cell array: the fibres ({_um(2 * rf)}) "
                f"and min_gap ({_um(gap)}) exceed the pitch ({_um(p)})"
            )
        if rp + rf + gap > clear:
            raise ValueError(
                f"particle_fraction + fibre_fraction ({params.particle_fraction:g} + {ff:g}) are too high "
                f"for a {n}-cell array: particles ({_um(2 * rp)}) and fibres ({_um(2 * rf)}) would come "
                f"closer than min_gap ({_um(gap)})"
            )
        for idx in itertools.product(range(n + 1), repeat=len(lines)):
            c = np.full(dim, params.size / 2)
            c[lines] = np.array(idx) * p
            out.append(Inclusion("fibre", c, rf, axis))
    return out


def inclusions(params: RveParams) -> list[Inclusion]:
    """Every particle and fibre of the RVE (m); fibres first. Raises ``ValueError`` naming the key
    when they cannot be placed."""
    if params.arrangement == "array":
        return _array(params)
    return list(_random_inclusions(params.model_dump_json()))


@functools.lru_cache(maxsize=32)
def _random_inclusions(params_json: str) -> tuple[Inclusion, ...]:
    params = RveParams.model_construct(**json.loads(params_json))  # already validated field by field
    dim = 2 if params.dimension == "2d" else 3
    rng = np.random.default_rng(params.seed)
    points = _grid(params)
    placed: list[Inclusion] = []
    fibres = ("fibre", "fibre_fraction", params.fibre_fraction, params.fibre_diameter, _fibre_axis(params))
    particles = ("particle", "particle_fraction", params.particle_fraction, params.particle_diameter, None)
    # Big or long inclusions first: strips / cylinders, then particles, then fibre discs.
    for kind, key, f, d, axis in ((fibres, particles) if fibres[4] is not None else (particles, fibres)):
        if f <= 0:
            continue
        r = d / 2
        if 2 * r + 2 * params.min_gap >= params.size and axis is not None:
            raise ValueError(f"{key}: fibres of diameter {_um(d)} do not fit in size {_um(params.size)}")
        _place(params, rng, kind, f, r, axis, placed, key, points)
    return tuple(placed)


def rve_names(params: RveParams) -> tuple[set[str], set[str]]:
    """Region and boundary names this parameter set produces (no Gmsh call)."""
    kinds = {inc.kind for inc in inclusions(params)}
    regions = {"matrix"} | {"particles" for k in kinds if k == "particle"} | {"fibres" for k in kinds if k == "fibre"}
    boundaries = {"left", "right", "bottom", "top"} | ({"front", "back"} if params.dimension == "3d" else set())
    return regions, boundaries


def _rve_wall_names(dim: int) -> list[tuple[str, str]]:
    """(low, high) boundary names per axis."""
    return [("left", "right"), ("bottom", "top")] if dim == 2 else [("left", "right"), ("front", "back"),
                                                                    ("bottom", "top")]


def build_rve(params: RveParams, options: MeshOptions) -> GeometryInfo:
    """Write the RVE geometry, physical groups and mesh into the current Gmsh model."""
    import gmsh

    gmsh.option.setNumber("General.NumThreads", 1)
    occ = gmsh.model.occ
    dim = 3 if params.dimension == "3d" else 2
    size = params.size / _UM
    reach = 1.0 + size  # strips / cylinders overshoot the box by this much at both ends

    box = (3, occ.addBox(0, 0, 0, size, size, size)) if dim == 3 else (2, occ.addRectangle(0, 0, 0, size, size))
    tools, kinds = [], []
    incs = inclusions(params)
    for inc in incs:
        c, r, axis = inc.centre / _UM, inc.radius / _UM, inc.axis
        if axis is None:
            tool = (2, occ.addDisk(c[0], c[1], 0, r, r)) if dim == 2 else (3, occ.addSphere(*c, r))
        elif dim == 2:
            lo = c - r
            lo[axis] = -reach
            ext = [2 * r, 2 * r]
            ext[axis] = size + 2 * reach
            tool = (2, occ.addRectangle(lo[0], lo[1], 0, *ext))
        else:
            start = c.copy()
            start[axis] = -reach
            direction = [0.0, 0.0, 0.0]
            direction[axis] = size + 2 * reach
            tool = (3, occ.addCylinder(*start, *direction, r))
        tools.append(tool)
        kinds.append("particles" if inc.kind == "particle" else "fibres")
    region_of: dict[tuple[int, int], str] = {}
    if tools:
        _, mapping = occ.fragment([box], tools)
        inside = set(mapping[0])
        for children, kind in zip(mapping[1:], kinds):
            for dt in children:
                if dt in inside:
                    region_of.setdefault(dt, kind)
        for dt in mapping[0]:
            region_of.setdefault(dt, "matrix")
        outside = [dt for dt in occ.getEntities(dim) if dt not in region_of]
        if outside:
            occ.remove(outside, recursive=True)
    else:
        region_of[box] = "matrix"
    occ.synchronize()

    regions: dict[str, list[int]] = {}
    for (_, tag), kind in sorted(region_of.items()):
        regions.setdefault(kind, []).append(tag)
    tol = 1e-6 * size
    walls = _rve_wall_names(dim)
    groups: dict[str, list[int]] = {name: [] for name in _RVE_BOUNDARIES}
    features: list[int] = []
    for _, tag in gmsh.model.getEntities(dim - 1):
        up, _ = gmsh.model.getAdjacencies(dim - 1, tag)
        box_ = gmsh.model.getBoundingBox(dim - 1, tag)
        low, high = box_[:3], box_[3:]
        name = None
        for i in range(dim):
            if high[i] - low[i] < tol:
                if abs(low[i]) < tol:
                    name = walls[i][0]
                elif abs(low[i] - size) < tol:
                    name = walls[i][1]
        if name is not None and len(up) == 1:
            groups[name].append(tag)
        elif len(up) == 2:
            features.append(tag)
        else:
            raise RuntimeError(f"film_rve: unclassified facet entity {tag} ({low}, {high})")
    boundaries = {name: tags for name, tags in groups.items() if tags}
    name_groups("film_rve", dim, regions, boundaries, rve_names(params), _RVE_REGIONS, _RVE_BOUNDARIES)
    fields = []
    if features:
        fields.append(_threshold(dim, features, options.size_feature / _UM, size, options))
    _mesh(dim, fields, options)
    return GeometryInfo(
        gdim=dim,
        axisymmetric=False,
        regions={name: _RVE_REGIONS[name] for name in regions},
        boundaries={name: _RVE_BOUNDARIES[name] for name in boundaries},
        projected_area=params.size ** (dim - 1),
        landmarks={
            "size": params.size,
            "particles": [[*map(float, i.centre), i.radius] for i in incs if i.kind == "particle"],
            "fibres": [[*map(float, i.centre), i.radius] for i in incs if i.kind == "fibre"],
            "fibre_axis": _fibre_axis(params),
        },
    )


register(Builder(name="sulfide_film", params=FilmParams, build=build_film, names=film_names))
register(Builder(name="film_rve", params=RveParams, build=build_rve, names=rve_names))
