r"""Li bud: a flat lithium surface with protruding buds under an electrolyte.

Geometry
--------
The flat Li surface is the plane ``y = 0`` (2D, axisymmetric) or ``z = 0``
(3D). It is not meshed: it is the bottom boundary of the mesh. Buds sit on it
and protrude upward; they are removed from the domain, so their surface is a
boundary too. The electrolyte fills the space up to the counter boundary at
``y = height`` (``z = height`` in 3D)::

        counter (y = height)
     +---------------------------+
     |                           |
    side       electrolyte      side
     |            __             |
     |  coating  /  \  bud       |     (optional coating layer)
     +---flat---/    \---flat----+     y = 0

* ``2d``: rectangle ``[-width/2, width/2] x [0, height]`` minus the buds,
  which are laid along x (centred on 0, ``bud.spacing`` apart).
* ``axisymmetric``: the r-z half-plane ``[0, width] x [0, height]`` (x = r);
  at most one bud, on the axis. The segment(s) on ``x = 0`` are the axis.
* ``3d``: box ``[-width/2, width/2]^2 x [0, height]`` minus buds of
  revolution around vertical axes (see :func:`bud_centres` for the layout).

A bud of height ``a`` and base radius ``b`` is either a semi-ellipse /
semi-spheroid (semi-axis ``a`` vertical, ``b`` horizontal) or a rounded cone:
straight flanks from the base circle tangent to an apex round of radius
``bud.apex_radius`` whose top is the apex. The apex is always a geometry
point, hence a mesh vertex.

An optional coating layer of thickness ``t`` covers the Li: ``conformal``
follows the Li surface (flat part and buds), ``flat`` is a slab ``0 < y < t``
that buries the buds.

Names (the project's contract)
------------------------------
regions (cells):
    ``electrolyte``; ``coating`` when a coating exists.
boundaries (facets), each facet in exactly one group:
    ``flat`` (Li surface at y/z = 0 outside the buds), ``bud`` (all bud
    surfaces; absent when ``bud.count == 0``), ``counter`` (y/z = height),
    ``side`` (lateral outer walls), ``axis`` (axisymmetric only, x = 0) and
    ``coating_top`` (coating/electrolyte interface, when a coating exists).
    With a coating, ``flat`` and ``bud`` bound the coating region.

Units
-----
OpenCASCADE works with an absolute confusion tolerance of 1e-7 model units,
far too coarse for micrometre features expressed in metres. The geometry is
therefore built in micrometres and the mesh nodes are scaled to metres right
after meshing; everything this module returns is in SI units.
"""

from __future__ import annotations

import math
from typing import Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, model_validator

from meshes.base import Builder, GeometryInfo, MeshOptions, mesh_in_metres, name_groups, register
from solver.units import Length

__all__ = ["BudShape", "Coating", "BudParams", "bud_centres", "names", "build"]

_UM = 1e-6  # internal Gmsh length unit (metres per model unit)

# Fixed physical tags, stable across parameter sets.
_REGION_TAGS = {"electrolyte": 1, "coating": 2}
_BOUNDARY_TAGS = {"flat": 1, "bud": 2, "counter": 3, "side": 4, "axis": 5, "coating_top": 6}


class BudShape(BaseModel):
    """Shape, number and layout of the buds."""

    model_config = ConfigDict(extra="forbid")

    shape: Literal["semi_ellipsoid", "rounded_cone"] = Field(
        "semi_ellipsoid",
        description="bud profile: semi-ellipse/spheroid or cone with a rounded apex",
    )
    height: Length = Field(2e-6, gt=0, description="apex height above the flat Li")
    base_radius: Length = Field(
        2e-6, gt=0, description="half-width at the base (hemisphere when equal to height)"
    )
    apex_radius: Length = Field(
        0.25e-6, gt=0, description="rounded_cone only: radius of the apex round"
    )
    count: int = Field(1, ge=0, description="number of buds (0 = flat electrode)")
    spacing: Length = Field(
        10e-6, gt=0, description="centre-to-centre distance between neighbouring buds"
    )
    jitter: float = Field(
        0.0, ge=0, le=0.5, description="random displacement of each bud centre, fraction of spacing"
    )
    seed: int = Field(0, description="random seed of the jitter (numpy default_rng)")


class Coating(BaseModel):
    """Coating layer (artificial SEI, protective film) on the Li surface."""

    model_config = ConfigDict(extra="forbid")

    thickness: Length = Field(..., gt=0, description="coating thickness")
    mode: Literal["conformal", "flat"] = Field(
        "conformal",
        description="conformal: follows flat Li and buds; flat: slab 0 < y < thickness over buds",
    )


class BudParams(BaseModel):
    """Parameters of the ``li_bud`` geometry.

    ``width`` is the domain width in 2D, the side of the square box in 3D
    and the domain radius in axisymmetric mode. Lengths are in metres or
    quantity strings such as ``"8 um"``.

    Conformal coating: the outer surface of a coated rounded cone is its
    exact offset (same flank angle, apex round of radius ``apex_radius +
    thickness`` with the same centre). For a semi-ellipsoid it is
    approximated by the semi-ellipsoid of semi-axes ``height + thickness``
    and ``base_radius + thickness``, which is exact only for a hemisphere
    (``height == base_radius``); the layer is then slightly thinner at the
    flanks of a tall bud and at the apex of a flat one.
    """

    model_config = ConfigDict(extra="forbid")

    dimension: Literal["2d", "axisymmetric", "3d"] = Field(
        "axisymmetric", description="2d (per metre of depth), axisymmetric (r-z) or 3d"
    )
    width: Length = Field(
        40e-6, gt=0, description="2d: domain width; 3d: box side; axisymmetric: domain radius"
    )
    height: Length = Field(
        40e-6, gt=0, description="electrolyte height above the flat Li (counter boundary)"
    )
    bud: BudShape = Field(default_factory=BudShape, description="bud shape and layout")
    coating: Coating | None = Field(None, description="optional coating layer on the Li")

    @model_validator(mode="after")
    def _check_geometry(self) -> BudParams:
        bud, coat, height = self.bud, self.coating, self.height
        if coat is not None and coat.thickness >= height:
            raise ValueError(
                f"coating.thickness ({_um(coat.thickness)}) must be below height ({_um(height)})"
            )
        if bud.count == 0:
            return self
        if self.dimension == "axisymmetric" and bud.count > 1:
            raise ValueError(
                "dimension 'axisymmetric' holds a single bud on the axis: "
                f"bud.count must be 0 or 1 (got {bud.count})"
            )
        if bud.shape == "rounded_cone":
            if bud.apex_radius >= bud.base_radius:
                raise ValueError(
                    f"bud.apex_radius ({_um(bud.apex_radius)}) must be below "
                    f"bud.base_radius ({_um(bud.base_radius)}) for shape 'rounded_cone'"
                )
            if bud.apex_radius > bud.height:
                raise ValueError(
                    f"the apex round does not fit under the apex: bud.apex_radius "
                    f"({_um(bud.apex_radius)}) must not exceed bud.height ({_um(bud.height)})"
                )
        if bud.height >= height:
            raise ValueError(
                f"bud.height ({_um(bud.height)}) must be below height ({_um(height)})"
            )
        if coat is not None and coat.mode == "conformal" and bud.height + coat.thickness >= height:
            raise ValueError(
                f"bud.height ({_um(bud.height)}) + coating.thickness ({_um(coat.thickness)}) "
                f"must be below height ({_um(height)})"
            )
        if coat is not None and coat.mode == "flat" and bud.height >= coat.thickness:
            raise ValueError(
                f"coating.mode 'flat' buries the buds: bud.height ({_um(bud.height)}) "
                f"must be below coating.thickness ({_um(coat.thickness)})"
            )
        if bud.count > 1 and 2 * bud.base_radius >= bud.spacing:
            raise ValueError(
                f"buds overlap: 2 * bud.base_radius ({_um(2 * bud.base_radius)}) "
                f"must be below bud.spacing ({_um(bud.spacing)})"
            )
        centres = bud_centres(self)
        for i in range(len(centres)):
            for j in range(i):
                gap = float(np.linalg.norm(centres[i] - centres[j]))
                if gap <= 2 * bud.base_radius:
                    raise ValueError(
                        f"buds {j} and {i} overlap after jitter: centres {_um(gap)} apart, "
                        f"not more than 2 * bud.base_radius ({_um(2 * bud.base_radius)}); "
                        "lower bud.jitter or change bud.seed"
                    )
        footprint, what = bud.base_radius, f"bud.base_radius ({_um(bud.base_radius)})"
        if coat is not None and coat.mode == "conformal":
            footprint = _offset_profile(bud, coat.thickness)[1]
            what = f"base radius {_um(footprint)} with coating.thickness"
        half = self.width if self.dimension == "axisymmetric" else self.width / 2
        for i, centre in enumerate(centres):
            if np.any(np.abs(centre) + footprint >= half):
                raise ValueError(
                    f"bud {i} (centre {', '.join(_um(c) for c in centre)}; {what}) reaches "
                    f"the side wall of the domain (width {_um(self.width)}); check width, "
                    "bud.count, bud.spacing and bud.jitter"
                )
        return self


def _um(value: float) -> str:
    """Format a length in metres as micrometres for messages."""
    return f"{value / _UM:.4g} um"


def bud_centres(params: BudParams) -> np.ndarray:
    """In-plane bud centres in metres, shape ``(count, 1)`` (x) or ``(count, 2)`` (3D: x, y).

    2D: ``count`` buds along x, ``bud.spacing`` apart, centred on 0.
    3D: rows of ``ceil(sqrt(count))`` buds along x, rows ``bud.spacing``
    apart along y; each row and the set of rows are centred on 0, so a
    perfect square gives a square grid and the last row may be shorter.
    Axisymmetric: the single bud sits on the axis and is not jittered.
    Otherwise each centre moves by ``jitter * spacing * U(-1, 1)`` along
    each in-plane axis, drawn from ``numpy.random.default_rng(bud.seed)``.
    """
    bud = params.bud
    n, s = bud.count, bud.spacing
    if params.dimension == "axisymmetric":
        return np.zeros((n, 1))
    if params.dimension == "2d":
        nominal = ((np.arange(n) - (n - 1) / 2) * s)[:, None]
    else:
        cols = math.ceil(math.sqrt(n)) if n else 1
        rows = math.ceil(n / cols)
        nominal = np.zeros((n, 2))
        for k in range(n):
            row, col = divmod(k, cols)
            in_row = min(cols, n - row * cols)
            nominal[k] = (col - (in_row - 1) / 2) * s, (row - (rows - 1) / 2) * s
    rng = np.random.default_rng(bud.seed)
    return nominal + bud.jitter * s * rng.uniform(-1.0, 1.0, size=nominal.shape)


def _cone_tangent(a: float, b: float, r: float) -> tuple[float, float]:
    """Point where the flank from ``(b, 0)`` touches the apex round.

    The round has radius ``r`` and centre ``(0, a - r)``; the result is in the
    bud's own frame (axis at x = 0) and lies on the side of the positive x.
    """
    hc = a - r
    d = math.hypot(b, hc)
    angle = math.atan2(-hc, b) + math.acos(r / d)
    return r * math.cos(angle), hc + r * math.sin(angle)


def _offset_profile(bud: BudShape, t: float) -> tuple[float, float, float]:
    """``(height, base_radius, apex_radius)`` of the bud grown outward by ``t``.

    Exact for the rounded cone (the flank moves by ``t`` along its normal, the
    apex round keeps its centre); semi-axes grown by ``t`` for the
    semi-ellipse, which is exact only for a circle.
    """
    a, b, r = bud.height, bud.base_radius, bud.apex_radius
    if bud.shape == "semi_ellipsoid":
        return a + t, b + t, r
    tx, _ = _cone_tangent(a, b, r)
    return a + t, b + t * r / tx, r + t  # tx / r: x component of the flank's normal


def names(params: BudParams) -> tuple[set[str], set[str]]:
    """Region and boundary names this parameter set produces (no Gmsh call)."""
    regions = {"electrolyte"}
    boundaries = {"flat", "counter", "side"}
    if params.bud.count > 0:
        boundaries.add("bud")
    if params.dimension == "axisymmetric":
        boundaries.add("axis")
    if params.coating is not None:
        regions.add("coating")
        boundaries.add("coating_top")
    return regions, boundaries


def _flank(occ, xc: float, sign: int, apex: int, shape: str, a: float, b: float, r: float):
    """Curves from the base point ``(xc + sign*b, 0)`` up to the point ``apex``.

    Returns ``(base point tag, [curve tags in order])``. Works in the xy plane.
    """
    foot = occ.addPoint(xc + sign * b, 0, 0)
    if shape == "semi_ellipsoid":
        centre = occ.addPoint(xc, 0, 0)
        if math.isclose(a, b):
            curves = [occ.addCircleArc(foot, centre, apex)]
        else:  # OCC wants the major axis point on the longer semi-axis
            curves = [occ.addEllipseArc(foot, centre, foot if b > a else apex, apex)]
    else:
        tx, ty = _cone_tangent(a, b, r)
        touch = occ.addPoint(xc + sign * tx, ty, 0)
        centre = occ.addPoint(xc, a - r, 0)
        curves = [occ.addLine(foot, touch), occ.addCircleArc(touch, centre, apex)]
    occ.remove([(0, centre)])
    return foot, curves


def _bud_surface(occ, xc: float, shape: str, a: float, b: float, r: float, half: bool) -> int:
    """Plane surface of a bud standing on y = 0, centred at x = xc.

    ``half``: only the part ``x >= xc`` (profile for the axis / revolution).
    """
    apex = occ.addPoint(xc, a, 0)
    right_foot, right = _flank(occ, xc, +1, apex, shape, a, b, r)
    if half:
        axis_foot = occ.addPoint(xc, 0, 0)
        loop = [occ.addLine(axis_foot, right_foot), *right, occ.addLine(apex, axis_foot)]
    else:
        left_foot, left = _flank(occ, xc, -1, apex, shape, a, b, r)
        loop = [occ.addLine(left_foot, right_foot), *right, *reversed(left)]
    return occ.addPlaneSurface([occ.addCurveLoop(loop)])


def _bud(occ, dimension: str, centre: np.ndarray, shape: str, a: float, b: float, r: float):
    """Bud entity (dimTag) standing on the flat Li at ``centre`` (model units).

    2d: full profile surface; axisymmetric: the half profile ``x >= 0``;
    3d: the half profile revolved around the vertical axis through ``centre``
    (the apex is then the pole of the revolved surface, a geometry point).
    """
    if dimension == "2d":
        return 2, _bud_surface(occ, float(centre[0]), shape, a, b, r, half=False)
    profile = _bud_surface(occ, 0.0, shape, a, b, r, half=True)
    if dimension == "axisymmetric":
        return 2, profile
    occ.rotate([(2, profile)], 0, 0, 0, 1, 0, 0, math.pi / 2)  # xy plane -> xz plane
    revolved = occ.revolve([(2, profile)], 0, 0, 0, 0, 0, 1, 2 * math.pi)
    volume = next(dim_tag for dim_tag in revolved if dim_tag[0] == 3)
    occ.remove([(2, profile)], recursive=True)
    occ.translate([volume], float(centre[0]), float(centre[1]), 0)
    return volume


def _classify_boundaries(params: BudParams, dim: int) -> dict[str, list[int]]:
    """Sort the facet entities of the synchronised model into boundary names."""
    import gmsh

    axi = params.dimension == "axisymmetric"
    width, height = params.width / _UM, params.height / _UM
    tol = 1e-6 * max(width, height)
    vertical = dim - 1  # index of y (2D) or z (3D) in a bounding box corner
    wall_low, wall_high = (0.0, width) if axi else (-width / 2, width / 2)
    groups: dict[str, list[int]] = {name: [] for name in _BOUNDARY_TAGS}
    for _, tag in gmsh.model.getEntities(dim - 1):
        upward, _ = gmsh.model.getAdjacencies(dim - 1, tag)
        box = gmsh.model.getBoundingBox(dim - 1, tag)
        low, high = box[:3], box[3:]
        if len(upward) == 2:
            name = "coating_top"
        elif high[vertical] < tol:
            name = "flat"
        elif low[vertical] > height - tol:
            name = "counter"
        elif axi and high[0] < tol:
            name = "axis"
        elif any(
            low[i] > wall_high - tol or (not axi and high[i] < wall_low + tol)
            for i in range(dim - 1)
        ):
            name = "side"
        else:
            name = "bud"
        groups[name].append(tag)
    return {name: tags for name, tags in groups.items() if tags}


def _threshold(dim: int, tags: list[int], size: float, extent: float, options: MeshOptions) -> int:
    """Size field: ``size`` on the entities, growing linearly to size_far (model units)."""
    import gmsh

    field = gmsh.model.mesh.field
    size_far = options.size_far / _UM
    # The Distance field samples the entities; keep samples about size/2 apart.
    cap = 2000 if dim == 2 else 300
    sampling = min(cap, max(20, math.ceil(2 * extent / size) + 1))
    distance = field.add("Distance")
    field.setNumbers(distance, "CurvesList" if dim == 2 else "SurfacesList", tags)
    field.setNumber(distance, "Sampling", sampling)
    threshold = field.add("Threshold")
    field.setNumber(threshold, "InField", distance)
    field.setNumber(threshold, "SizeMin", size)
    field.setNumber(threshold, "SizeMax", size_far)
    field.setNumber(threshold, "DistMin", 0.0)
    field.setNumber(threshold, "DistMax", options.grading_distance / _UM)
    return threshold


def _set_sizes(params: BudParams, options: MeshOptions, dim: int, regions, boundaries) -> None:
    """Background mesh size: fine on the Li (buds finest), coarse far away."""
    import gmsh

    field = gmsh.model.mesh.field
    width = params.width / _UM
    size_electrode = options.size_electrode / _UM
    fields = []
    electrode = list(boundaries["flat"])
    feature = list(boundaries.get("bud", []))
    if params.coating is not None:
        thickness = params.coating.thickness / _UM
        size_electrode = min(size_electrode, thickness / 3)
        tol = 1e-6 * width
        for tag in boundaries["coating_top"]:  # the plane y = t, or the coated bud
            box = gmsh.model.getBoundingBox(dim - 1, tag)
            planar = box[dim - 1] > thickness - tol and box[dim + 2] < thickness + tol
            (electrode if planar else feature).append(tag)
        inside = field.add("Constant")
        field.setNumbers(inside, "SurfacesList" if dim == 2 else "VolumesList", regions["coating"])
        field.setNumber(inside, "VIn", size_electrode)
        field.setNumber(inside, "VOut", options.size_far / _UM)
        field.setNumber(inside, "IncludeBoundary", 1)
        fields.append(inside)
    fields.append(_threshold(dim, electrode, size_electrode, width, options))
    if feature:
        bud = params.bud
        extent = 2 * max(bud.height, bud.base_radius) / _UM
        fields.append(_threshold(dim, feature, options.size_feature / _UM, extent, options))
    smallest = field.add("Min")
    field.setNumbers(smallest, "FieldsList", fields)
    field.setAsBackgroundMesh(smallest)
    for option in ("MeshSizeFromPoints", "MeshSizeFromCurvature", "MeshSizeExtendFromBoundary"):
        gmsh.option.setNumber(f"Mesh.{option}", 0)


def _landmarks(params: BudParams) -> dict:
    """Apex of each bud and the point of the flat Li farthest from the buds (SI)."""
    bud = params.bud
    width = params.width
    centres = bud_centres(params)
    if params.dimension == "axisymmetric":
        corners = np.array([[width]])
    elif params.dimension == "2d":
        corners = np.array([[width / 2], [-width / 2]])
    else:
        corners = np.array([[s * width / 2, t * width / 2] for s in (1, -1) for t in (1, -1)])
    if len(centres):
        clearance = np.min(np.linalg.norm(corners[:, None] - centres[None], axis=2), axis=1)
        far = corners[int(np.argmax(clearance))]
    else:
        far = corners[0]
    # All buds have the same height, so "tallest first" is the bud order.
    apex = [[*map(float, c), bud.height] for c in centres]
    return {
        "apex": apex,
        "far": [*map(float, far), 0.0],
        "bud_height": bud.height if bud.count else 0.0,
        "bud_base_radius": bud.base_radius if bud.count else 0.0,
    }


def build(params: BudParams, options: MeshOptions) -> GeometryInfo:
    """Write the bud geometry, physical groups and mesh into the current Gmsh model."""
    import gmsh

    gmsh.option.setNumber("General.NumThreads", 1)
    occ = gmsh.model.occ
    dim = 3 if params.dimension == "3d" else 2
    bud, coat = params.bud, params.coating
    width, height = params.width / _UM, params.height / _UM
    a, b, r = bud.height / _UM, bud.base_radius / _UM, bud.apex_radius / _UM
    centres = bud_centres(params) / _UM

    def slab(top: float) -> tuple[int, int]:
        """The domain cut at y (z) = top, without buds."""
        if dim == 3:
            return 3, occ.addBox(-width / 2, -width / 2, 0, width, width, top)
        x0 = 0.0 if params.dimension == "axisymmetric" else -width / 2
        return 2, occ.addRectangle(x0, 0, 0, width, top)

    buds = [_bud(occ, params.dimension, c, bud.shape, a, b, r) for c in centres]
    fluid = [slab(height)]
    if buds:
        fluid = occ.cut(fluid, buds, removeTool=coat is None)[0]
    coating: list[tuple[int, int]] = []
    if coat is not None:
        layer = [slab(coat.thickness / _UM)]
        if coat.mode == "conformal" and buds:
            ao, bo, ro = (v / _UM for v in _offset_profile(bud, coat.thickness))
            grown = [_bud(occ, params.dimension, c, bud.shape, ao, bo, ro) for c in centres]
            layer = occ.fuse(layer, grown)[0]
        if buds:
            layer = occ.cut(layer, buds)[0]
        _, mapping = occ.fragment(fluid, layer)
        coating = sorted({dt for children in mapping[len(fluid):] for dt in children})
        fluid = sorted({dt for children in mapping[: len(fluid)] for dt in children} - set(coating))
    occ.synchronize()

    regions = {"electrolyte": [t for _, t in fluid], "coating": [t for _, t in coating]}
    regions = {name: tags for name, tags in regions.items() if tags}
    boundaries = _classify_boundaries(params, dim)
    name_groups("li_bud", dim, regions, boundaries, names(params), _REGION_TAGS, _BOUNDARY_TAGS)

    _set_sizes(params, options, dim, regions, boundaries)
    mesh_in_metres(dim, options.order, _UM)

    return GeometryInfo(
        gdim=dim,
        axisymmetric=params.dimension == "axisymmetric",
        regions={name: _REGION_TAGS[name] for name in regions},
        boundaries={name: _BOUNDARY_TAGS[name] for name in boundaries},
        projected_area={
            "2d": params.width,
            "axisymmetric": math.pi * params.width**2,
            "3d": params.width**2,
        }[params.dimension],
        landmarks=_landmarks(params),
    )


register(Builder(name="li_bud", params=BudParams, build=build, names=names))
