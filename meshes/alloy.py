r"""Alloy skeleton: a dendritic Li3Mg7 alloy skeleton standing on a Li foil (``alloy_skeleton``).

After Zhang et al., Adv. Funct. Mater. 2021 ("Dendrite-free Li-metal anode enabled by dendritic
structure"): a Li foil carrying a ~15 um tall dendritic Li3Mg7 skeleton, electrolyte in its pores
and above. The cell is one period of the electrode: the side walls are symmetry planes.

Geometry
--------
The Li surface is the plane ``y = 0`` (2D) or ``z = 0`` (3D); "vertical" below means y (2D) or
z (3D). The cell is ``[-width/2, width/2]`` (2D) or ``[-width/2, width/2]^2`` (3D) laterally;
the electrolyte fills it up to the counter boundary at ``height``::

        counter (y = height)
     +-------------------------------+
     |  \|/       \|/                |
    side  |  electrolyte |           side
     | \ | /       \ | /   (bare Li  |
     |  \|/         \|/    if        |
     +---|-----------|--coverage < 1)+   y = 0: li_surface
     |          lithium (optional)   |
     +-------------------------------+   y = -lithium_thickness: collector

``layout: dendritic`` -- trees, one per pitch cell. ``n = round(width / pitch)`` cells per lateral
direction, each ``width / n`` wide (the tree spacing, so that the mirror walls repeat the pattern
periodically), tree trunks on the cell centres. ``coverage`` keeps trees in the first
``m = round(coverage * n)`` columns of cells from ``x = -width/2`` (all rows in 3D), so the trees
cover the fraction ``m / n`` of the width (2D) or area (3D) and the Li on the right is bare.

A tree is a set of straight segments, each a rectangle (2D) or a cylinder (3D, diameter = width):

* the trunk: from the Li surface straight up to ``tree_height``, width ``trunk_width``;
* generation ``g = 1 .. generations``: every segment of generation ``g - 1`` carries
  ``branch_sites`` attachment sites, at the fractions ``k / (branch_sites + 1)`` of its length.
  At a site a distance ``s`` along a parent of length ``L`` and direction ``d`` start, on the
  parent's axis, a pair of branches (2D) -- ``d`` turned by ``+-branch_angle`` in the plane -- or,
  in 3D, two perpendicular pairs: ``d`` turned by ``+-branch_angle`` towards ``e1`` and towards
  ``e2``, where ``e1`` is the unit vector perpendicular to ``d`` in the vertical plane through ``d``
  (``x`` for a vertical parent) and ``e2 = d x e1`` (so a trunk gets branches in the xz and yz
  planes). A branch is ``branch_length_ratio * (L - s)`` long, i.e. the ratio applies to the part
  of the parent beyond the site, so the trees taper like fir trees and no branch axis reaches
  farther from its parent's start than the parent's tip does; it is ``branch_width_ratio`` times
  as wide as its parent.
* ``jitter`` > 0 multiplies each branch's angle and length by ``1 + jitter * U(-1, 1)`` (two draws
  per branch, depth first, from ``numpy.random.default_rng(seed)``); trunks are not jittered.

``generations: 0`` gives straight posts. Where a generation-2 branch runs nearly parallel to the
trunk (it turns back by ``branch_angle``), a narrow electrolyte slot forms that the mesh must
resolve. Branches are *not* clipped: the parameters are validated
so that every tree stays strictly inside its pitch cell (trees never touch each other or the walls),
no branch goes down to the Li surface and none rises above ``tree_height`` (the trunk's top, so the
skeleton is exactly ``tree_height`` tall).

``layout: dense`` -- a dense alloy layer ``0 < y < dense_thickness`` (the 80 and 230 degC controls
of the study) over ``-width/2 < x < -width/2 + coverage * width`` (all of y in 3D); the tree
parameters are then ignored.

``lithium_thickness`` > 0 meshes a Li slab of that thickness below the surface (region
``lithium``); 0 leaves the Li out of the mesh (the surface is the bottom boundary).
``mesh_skeleton`` meshes the skeleton as region ``skeleton``; otherwise it is cut out of the domain
and its surface is a boundary (the alloy is then a conductor at the electrode potential).

Names (the project's contract)
------------------------------
regions (cells):
    ``electrolyte``; ``lithium`` when ``lithium_thickness > 0``; ``skeleton`` when ``mesh_skeleton``.
boundaries (facets), each boundary facet in exactly one group:
    ``counter`` (top), ``side`` (walls, all regions), ``skeleton_surface`` (skeleton/electrolyte:
    exterior when the skeleton is cut out, interior interface when it is meshed), ``li_surface``
    (Li/electrolyte at y/z = 0: exterior when the Li is not meshed, interior interface otherwise;
    absent when a dense layer covers all the Li), ``collector`` (bottom of the Li slab, when meshed)
    and ``skeleton_base`` (the skeleton/Li contact when exactly one of the two is meshed, so that it
    is an exterior facet: the skeleton's bottom on y = 0, or the Li top under a cut-out skeleton).
    With both meshed the skeleton/Li contact is an untagged interior interface.

Landmarks: ``skeleton_top`` (highest point of the skeleton), ``surface`` (0.0, the Li surface) and
``tree_centres`` (trunk centres on the Li surface, ``[x]`` or ``[x, y]`` each; empty when dense).

Mesh sizes: ``mesh.size_feature`` on the skeleton surface (dendritic; at most half the width of
the thinnest branch, so that thin branches and 3D cylinders stay resolved), ``mesh.size_electrode``
on the Li surface and on a dense layer's surface (at most a third of ``dense_thickness`` when the
layer is meshed), growing linearly to ``mesh.size_far`` over ``mesh.grading_distance``.

Units: as in :mod:`meshes.bud`, the Gmsh model is built in micrometres (OCC's absolute tolerance)
and scaled to metres after meshing; everything returned is SI.
"""

from __future__ import annotations

import dataclasses
import math
from typing import Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, model_validator

from meshes.base import Builder, GeometryInfo, MeshOptions, cell_slab, keep_owned, mesh_in_metres, name_groups, register
from meshes.bud import _threshold, _um
from solver.units import Length

__all__ = ["AlloyParams", "Segment", "tree_centres", "skeleton_segments", "add_skeleton", "names", "build"]

_UM = 1e-6  # internal Gmsh length unit (metres per model unit)

# Fixed physical tags, stable across parameter sets.
_REGION_TAGS = {"electrolyte": 1, "lithium": 2, "skeleton": 3}
_BOUNDARY_TAGS = {
    "li_surface": 1, "skeleton_surface": 2, "counter": 3, "side": 4, "collector": 5, "skeleton_base": 6,
}


class AlloyParams(BaseModel):
    """Parameters of the ``alloy_skeleton`` geometry (see the module docstring).

    Lengths are in metres or quantity strings such as ``"15 um"``; ``branch_angle`` is in degrees.
    """

    model_config = ConfigDict(extra="forbid")

    dimension: Literal["2d", "3d"] = Field("2d", description="2d (per metre of depth) or 3d")
    width: Length = Field(20e-6, gt=0, description="cell width (2d) or side of the square cell (3d)")
    height: Length = Field(40e-6, gt=0, description="electrolyte height above the Li surface (counter)")
    layout: Literal["dendritic", "dense"] = Field(
        "dendritic", description="dendritic: trees of alloy; dense: a dense alloy layer on the Li"
    )
    tree_height: Length = Field(15e-6, gt=0, description="trunk height = skeleton height above the Li")
    pitch: Length = Field(
        10e-6, gt=0, description="trunk spacing; round(width / pitch) trees per direction, "
        "spaced width / round(width / pitch)"
    )
    trunk_width: Length = Field(1.5e-6, gt=0, description="trunk width (2d) or diameter (3d)")
    generations: int = Field(2, ge=0, le=4, description="branching generations (0 = straight posts)")
    branch_sites: int = Field(
        2, ge=1, le=4, description="branching sites along each parent (a pair of branches each in 2d, "
        "two perpendicular pairs in 3d)"
    )
    branch_length_ratio: float = Field(
        0.6, gt=0, le=1, description="branch length / length of the parent beyond the branching site"
    )
    branch_width_ratio: float = Field(0.6, gt=0, le=1, description="branch width / parent width")
    branch_angle: float = Field(40.0, gt=0, lt=90, description="angle of a branch from its parent's axis (deg)")
    jitter: float = Field(
        0.0, ge=0, le=0.5, description="random change of branch angles and lengths, fraction (0 = regular)"
    )
    seed: int = Field(0, description="random seed of the jitter (numpy default_rng)")
    coverage: float = Field(
        1.0, gt=0, le=1, description="fraction of the width (2d) / area (3d) with alloy, from x = -width/2; "
        "dendritic: round(coverage * trees per direction) columns of trees"
    )
    dense_thickness: Length = Field(5e-6, gt=0, description="layout dense: thickness of the alloy layer")
    lithium_thickness: Length = Field(
        0.0, ge=0, description="Li slab meshed below the surface (region 'lithium'); 0 = Li not meshed"
    )
    mesh_skeleton: bool = Field(
        False, description="mesh the alloy as region 'skeleton' (else it is cut out; its surface is a boundary)"
    )

    @model_validator(mode="after")
    def _check_geometry(self) -> AlloyParams:
        if self.layout == "dense":
            if self.dense_thickness >= self.height:
                raise ValueError(
                    f"dense_thickness ({_um(self.dense_thickness)}) must be below height ({_um(self.height)})"
                )
            return self
        if self.tree_height >= self.height:
            raise ValueError(f"tree_height ({_um(self.tree_height)}) must be below height ({_um(self.height)})")
        n = _tree_count(self)
        if n == 0:
            raise ValueError(
                f"no tree fits: round(width / pitch) = 0 (width {_um(self.width)}, pitch {_um(self.pitch)}); "
                "lower pitch or raise width"
            )
        spacing = self.width / n
        if self.trunk_width >= spacing:
            raise ValueError(
                f"trunk_width ({_um(self.trunk_width)}) must be below the pitch ({_um(spacing)} = width / "
                f"round(width / pitch)): the trunks would be wider than the pitch"
            )
        if round(self.coverage * n) == 0:
            raise ValueError(
                f"coverage ({self.coverage:g}) leaves no tree: round(coverage * {n} trees per direction) = 0; "
                "raise coverage or lower pitch"
            )
        vertical = 1 if self.dimension == "2d" else 2
        centres = tree_centres(self)
        for seg in skeleton_segments(self):
            if seg.generation == 0:
                continue
            low, high = seg.bounds()
            where = f"generation {seg.generation} branch of tree {seg.tree}"
            reseed = f" (or change seed, now {self.seed})" if self.jitter > 0 else ""
            if low[vertical] <= 0:
                raise ValueError(
                    f"a {where} reaches down to the Li surface (lowest point {_um(low[vertical])}); lower "
                    "branch_angle (generation 2 turns by 2 * branch_angle), branch_length_ratio or jitter" + reseed
                )
            if high[vertical] > self.tree_height * (1 + 1e-9):
                raise ValueError(
                    f"a {where} rises to {_um(high[vertical])}, above tree_height ({_um(self.tree_height)}); "
                    "lower branch_length_ratio, branch_width_ratio or jitter" + reseed
                )
            centre = centres[seg.tree]
            for axis in range(len(centre)):
                reach = max(centre[axis] - low[axis], high[axis] - centre[axis])
                if reach >= spacing / 2:
                    raise ValueError(
                        f"a {where} reaches {_um(reach)} from the trunk axis, outside its pitch cell "
                        f"(half pitch {_um(spacing / 2)}): lower branch_length_ratio, branch_angle or jitter, "
                        "or raise pitch" + reseed
                    )
        return self


def _tree_count(params: AlloyParams) -> int:
    """Trees per lateral direction (0 in the dense layout)."""
    return 0 if params.layout == "dense" else int(round(params.width / params.pitch))


def tree_centres(params: AlloyParams) -> np.ndarray:
    """Trunk centres on the Li surface in metres, shape ``(count, 1)`` (2d: x) or ``(count, 2)`` (3d).

    Cells of ``width / n`` with ``n = round(width / pitch)``, trunks on their centres; only the first
    ``round(coverage * n)`` columns (from ``x = -width/2``) hold trees. 3d order: x fastest.
    """
    n = _tree_count(params)
    if n == 0:
        return np.zeros((0, 1 if params.dimension == "2d" else 2))
    spacing = params.width / n
    axis = -params.width / 2 + spacing * (np.arange(n) + 0.5)
    xs = axis[: int(round(params.coverage * n))]
    if params.dimension == "2d":
        return xs[:, None].copy()
    return np.array([[x, y] for y in axis for x in xs]).reshape(-1, 2)


@dataclasses.dataclass(frozen=True)
class Segment:
    """One rectangle (2d) or cylinder (3d) of a tree, in metres."""

    tree: int  # index into tree_centres()
    generation: int  # 0 = trunk
    start: np.ndarray  # point on the axis where the segment starts, shape (gdim,)
    direction: np.ndarray  # unit vector along the axis
    length: float
    width: float  # 2d width or 3d diameter

    @property
    def end(self) -> np.ndarray:
        return self.start + self.length * self.direction

    def bounds(self) -> tuple[np.ndarray, np.ndarray]:
        """Axis-aligned bounding box ``(low, high)`` of the rectangle / cylinder."""
        d, r = self.direction, self.width / 2
        if len(d) == 2:
            offset = r * np.abs(np.array([d[1], d[0]]))  # half-width along the normal (d_y, -d_x)
        else:
            offset = r * np.sqrt(np.clip(1 - d * d, 0, None))  # end disks' extent along each axis
        ends = np.array([self.start, self.end])
        return ends.min(axis=0) - offset, ends.max(axis=0) + offset


def _perpendiculars(d: np.ndarray) -> list[np.ndarray]:
    """Unit vectors towards which a branch turns from its parent's direction ``d``."""
    if len(d) == 2:
        return [np.array([d[1], -d[0]])]
    up = np.array([0.0, 0.0, 1.0])
    e1 = up - (up @ d) * d
    norm = np.linalg.norm(e1)
    e1 = np.array([1.0, 0.0, 0.0]) if norm < 1e-9 else e1 / norm
    return [e1, np.cross(d, e1)]


def skeleton_segments(params: AlloyParams) -> list[Segment]:
    """All segments of all trees (metres), trunks first within each tree, then branches depth first.

    Empty in the dense layout. Pure geometry: no Gmsh call.
    """
    gdim = 2 if params.dimension == "2d" else 3
    rng = np.random.default_rng(params.seed)
    angle0 = math.radians(params.branch_angle)
    segments: list[Segment] = []

    def grow(parent: Segment) -> None:
        if parent.generation >= params.generations:
            return
        sites = params.branch_sites
        for k in range(1, sites + 1):
            s = parent.length * k / (sites + 1)
            at = parent.start + s * parent.direction
            for e in _perpendiculars(parent.direction):
                for sign in (1.0, -1.0):
                    u_angle, u_length = rng.uniform(-1.0, 1.0, size=2)
                    angle = angle0 * (1 + params.jitter * u_angle)
                    length = params.branch_length_ratio * (parent.length - s) * (1 + params.jitter * u_length)
                    d = math.cos(angle) * parent.direction + sign * math.sin(angle) * e
                    child = Segment(parent.tree, parent.generation + 1, at, d / np.linalg.norm(d), length,
                                    parent.width * params.branch_width_ratio)
                    segments.append(child)
                    grow(child)

    up = np.zeros(gdim)
    up[-1] = 1.0
    for i, centre in enumerate(tree_centres(params)):
        trunk = Segment(i, 0, np.array([*centre, 0.0]), up, params.tree_height, params.trunk_width)
        segments.append(trunk)
        grow(trunk)
    return segments


def add_skeleton(params: AlloyParams, origin=(0.0, 0.0, 0.0), unit: float = _UM) -> list[tuple[int, int]]:
    """Create the alloy (trees or dense layer) in the current Gmsh OCC model; return its dimTags.

    Model coordinates are in units of ``unit`` metres (default micrometres, as the builders here
    use); the cell's Li surface centre is at ``origin`` (model units): 2d ``(x, y[, 0])``, 3d
    ``(x, y, z)``. The pieces are fused (one entity per connected tree or the layer); the model is
    not synchronised. No physics and no physical groups.
    """
    import gmsh

    occ = gmsh.model.occ
    dim = 2 if params.dimension == "2d" else 3
    o = np.zeros(3)
    o[: len(origin)] = origin
    o = o[:dim]
    if params.layout == "dense":
        w, t = params.width / unit, params.dense_thickness / unit
        cov = params.coverage * w
        if dim == 2:
            return [(2, occ.addRectangle(o[0] - w / 2, o[1], 0, cov, t))]
        return [(3, occ.addBox(o[0] - w / 2, o[1] - w / 2, o[2], cov, w, t))]
    shapes = []
    for seg in skeleton_segments(params):
        start, d, length, r = seg.start / unit + o, seg.direction, seg.length / unit, seg.width / unit / 2
        if dim == 3:
            shapes.append((3, occ.addCylinder(*start, *(length * d), r)))
            continue
        normal = np.array([d[1], -d[0]])
        end = start + length * d
        corners = [start + r * normal, end + r * normal, end - r * normal, start - r * normal]
        points = [occ.addPoint(float(c[0]), float(c[1]), 0.0) for c in corners]
        lines = [occ.addLine(points[i], points[(i + 1) % 4]) for i in range(4)]
        shapes.append((2, occ.addPlaneSurface([occ.addCurveLoop(lines)])))
    if len(shapes) > 1:
        shapes = occ.fuse(shapes[:1], shapes[1:])[0]
    return list(shapes)


def names(params: AlloyParams) -> tuple[set[str], set[str]]:
    """Region and boundary names this parameter set produces (no Gmsh call)."""
    li_meshed = params.lithium_thickness > 0
    regions = {"electrolyte"}
    if li_meshed:
        regions.add("lithium")
    if params.mesh_skeleton:
        regions.add("skeleton")
    boundaries = {"counter", "side", "skeleton_surface"}
    if params.layout == "dendritic" or params.coverage < 1:
        boundaries.add("li_surface")
    if li_meshed:
        boundaries.add("collector")
    if li_meshed != params.mesh_skeleton:
        boundaries.add("skeleton_base")
    return regions, boundaries


def _classify_boundaries(params: AlloyParams, dim: int, owner: dict[int, str]) -> dict[str, list[int]]:
    """Sort the facet entities of the synchronised model into boundary names.

    ``owner``: region name of each cell entity tag. Interior facets between two regions are the
    interfaces (skeleton/Li contact: untagged); exterior facets are placed by position and owner.
    """
    import gmsh

    width, height, t_li = params.width / _UM, params.height / _UM, params.lithium_thickness / _UM
    tol = 1e-6 * max(width, height)
    vertical = dim - 1
    groups: dict[str, list[int]] = {name: [] for name in _BOUNDARY_TAGS}
    for _, tag in gmsh.model.getEntities(dim - 1):
        upward, _ = gmsh.model.getAdjacencies(dim - 1, tag)
        sides = {owner[int(t)] for t in upward}
        if len(upward) == 2:
            if sides == {"electrolyte", "lithium"}:
                groups["li_surface"].append(tag)
            elif sides == {"electrolyte", "skeleton"}:
                groups["skeleton_surface"].append(tag)
            continue  # skeleton/lithium contact, or between pieces of one region
        if len(upward) != 1:
            continue  # not a facet of the mesh (left-over entity)
        (region,) = sides
        box = gmsh.model.getBoundingBox(dim - 1, tag)
        low, high = box[:3], box[3:]
        if low[vertical] > height - tol:
            name = "counter"
        elif any(low[i] > width / 2 - tol or high[i] < -width / 2 + tol for i in range(dim - 1)):
            name = "side"
        elif t_li > 0 and high[vertical] < -t_li + tol:
            name = "collector"
        elif region == "lithium" or (region == "skeleton" and high[vertical] < tol):
            name = "skeleton_base"
        elif region == "electrolyte" and high[vertical] < tol:
            name = "li_surface"
        elif region == "electrolyte":
            name = "skeleton_surface"
        else:
            raise RuntimeError(f"alloy_skeleton: cannot name facet {tag} of region {region} (box {box})")
        groups[name].append(tag)
    return {name: tags for name, tags in groups.items() if tags}


def _set_sizes(params: AlloyParams, options: MeshOptions, dim: int, boundaries: dict[str, list[int]]) -> None:
    """Background size: size_feature on the trees (at most half the thinnest branch width),
    size_electrode on the flat Li and the dense layer, growing to size_far over grading_distance."""
    import gmsh

    field = gmsh.model.mesh.field
    width = params.width / _UM
    electrode = options.size_electrode / _UM
    fields = []
    if "li_surface" in boundaries:
        fields.append(_threshold(dim, boundaries["li_surface"], electrode, width, options))
    if params.layout == "dense":
        size = electrode
        if params.mesh_skeleton:
            size = min(size, params.dense_thickness / _UM / 3)
        fields.append(_threshold(dim, boundaries["skeleton_surface"], size, width, options))
    else:
        # At least two cells across the thinnest branch (a cylinder's circle needs ~6 segments).
        thinnest = min(seg.width for seg in skeleton_segments(params))
        size = min(options.size_feature, thinnest / 2) / _UM
        extent = max(params.tree_height, params.width / max(_tree_count(params), 1)) / _UM
        fields.append(_threshold(dim, boundaries["skeleton_surface"], size, extent, options))
    smallest = field.add("Min")
    field.setNumbers(smallest, "FieldsList", fields)
    field.setAsBackgroundMesh(smallest)
    for option in ("MeshSizeFromPoints", "MeshSizeFromCurvature", "MeshSizeExtendFromBoundary"):
        gmsh.option.setNumber(f"Mesh.{option}", 0)


def _landmarks(params: AlloyParams) -> dict:
    if params.layout == "dense":
        top = params.dense_thickness
    else:
        vertical = 1 if params.dimension == "2d" else 2
        top = max(float(seg.bounds()[1][vertical]) for seg in skeleton_segments(params))
    return {
        "skeleton_top": top,
        "surface": 0.0,
        "tree_centres": [[float(v) for v in c] for c in tree_centres(params)],
    }


def build(params: AlloyParams, options: MeshOptions) -> GeometryInfo:
    """Write the alloy-skeleton geometry, physical groups and mesh into the current Gmsh model."""
    import gmsh

    gmsh.option.setNumber("General.NumThreads", 1)
    occ = gmsh.model.occ
    dim = 3 if params.dimension == "3d" else 2
    width, height, t_li = params.width / _UM, params.height / _UM, params.lithium_thickness / _UM

    skeleton = add_skeleton(params)
    fluid = [cell_slab(dim, width, 0.0, height)]
    if not params.mesh_skeleton:
        fluid = occ.cut(fluid, skeleton)[0]
    inputs = [("electrolyte", fluid)]
    if params.mesh_skeleton:
        inputs.append(("skeleton", skeleton))
    if t_li > 0:
        inputs.append(("lithium", [cell_slab(dim, width, -t_li, 0.0)]))
    owner: dict[tuple[int, int], str] = {}
    if len(inputs) > 1:
        flat = [(name, dt) for name, dts in inputs for dt in dts]
        _, mapping = occ.fragment([flat[0][1]], [dt for _, dt in flat[1:]])
        for priority in ("skeleton", "lithium", "electrolyte"):  # the skeleton overlaps the box
            for (name, _), children in zip(flat, mapping):
                if name == priority:
                    for child in children:
                        owner.setdefault(child, name)
    else:
        owner = {dt: "electrolyte" for dt in fluid}
    regions = keep_owned(dim, owner)
    boundaries = _classify_boundaries(params, dim, {tag: name for (_, tag), name in owner.items()})
    name_groups("alloy_skeleton", dim, regions, boundaries, names(params), _REGION_TAGS, _BOUNDARY_TAGS)

    _set_sizes(params, options, dim, boundaries)
    mesh_in_metres(dim, options.order, _UM)

    return GeometryInfo(
        gdim=dim,
        axisymmetric=False,
        regions={name: _REGION_TAGS[name] for name in regions},
        boundaries={name: _BOUNDARY_TAGS[name] for name in boundaries},
        projected_area=params.width if dim == 2 else params.width**2,
        landmarks=_landmarks(params),
    )


register(Builder(name="alloy_skeleton", params=AlloyParams, build=build, names=names))
