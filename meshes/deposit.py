"""Deposition cell: Li metal *and* electrolyte meshed, for the phase-field model (``deposition_cell``).

A Li slab of thickness ``lithium_thickness`` below y = 0 (z = 0 in 3D), nuclei (the ``li_bud``
bud shapes: semi-ellipsoids or rounded cones) on it, electrolyte up to ``height``, and an optional
flat layer ``coating`` (0 < y < thickness, around the nuclei). Unlike ``li_bud``, the Li is a
region, so a phase field can move its surface; the mesh is uniform (``mesh.size_electrode``) in the
growth zone, from the Li's base to ``growth_zone`` above its surface, and coarsens to
``mesh.size_far`` above over ``mesh.grading_distance``.

Regions: ``lithium``, ``electrolyte``, ``coating`` (optional). Boundaries: ``collector`` (the Li's
base), ``counter`` (top), ``side`` (the walls; 2D/3D) and ``axis`` (axisymmetric); with a coating
also its interfaces (interior facets): ``coating_bottom`` (on the flat Li), ``coating_nuclei`` (on
the nuclei's surface under it; absent when no nucleus touches it) and ``coating_top`` (against the
electrolyte).
Landmarks: ``apex`` (tops of the nuclei), ``far`` (the Li surface farthest from them),
``surface`` (y of the flat Li surface, 0).
"""

from __future__ import annotations

import math
from typing import Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, model_validator

from meshes.base import Builder, GeometryInfo, MeshOptions, cell_slab, mesh_in_metres, name_groups, register
from meshes.bud import BudShape, _bud, _um, bud_centres
from solver.units import Length

_UM = 1e-6
_REGION_TAGS = {"lithium": 1, "electrolyte": 2, "coating": 3}
_BOUNDARY_TAGS = {"collector": 1, "counter": 2, "side": 3, "axis": 4, "coating_bottom": 5, "coating_nuclei": 6,
                  "coating_top": 7}


class FlatLayer(BaseModel):
    model_config = ConfigDict(extra="forbid")

    thickness: Length = Field(..., gt=0, description="layer thickness on the flat Li (0 < y < thickness)")


class DepositParams(BaseModel):
    """Parameters of the ``deposition_cell`` geometry (see the module docstring)."""

    model_config = ConfigDict(extra="forbid")

    dimension: Literal["2d", "axisymmetric", "3d"] = Field("2d", description="2d, axisymmetric (r-z) or 3d")
    width: Length = Field(40e-6, gt=0, description="2d: domain width; 3d: box side; axisymmetric: radius")
    height: Length = Field(40e-6, gt=0, description="electrolyte height above the flat Li (counter boundary)")
    lithium_thickness: Length = Field(5e-6, gt=0, description="Li slab below the flat surface")
    growth_zone: Length = Field(15e-6, gt=0, description="uniformly fine mesh up to this height above the Li")
    nuclei: BudShape = Field(default_factory=BudShape, description="Li nuclei on the slab (count 0: flat)")
    coating: FlatLayer | None = Field(None, description="optional flat layer on the Li (region 'coating')")

    @model_validator(mode="after")
    def _check(self) -> DepositParams:
        n = self.nuclei
        if self.growth_zone > self.height:
            raise ValueError(f"growth_zone ({_um(self.growth_zone)}) must not exceed height ({_um(self.height)})")
        if self.coating is not None and self.coating.thickness >= self.height:
            raise ValueError(f"coating.thickness ({_um(self.coating.thickness)}) must be below height")
        if n.count == 0:
            return self
        if self.dimension == "axisymmetric" and n.count > 1:
            raise ValueError("dimension 'axisymmetric' holds a single nucleus on the axis (nuclei.count 0 or 1)")
        if n.shape == "rounded_cone" and not (n.apex_radius < n.base_radius and n.apex_radius <= n.height):
            raise ValueError("nuclei.apex_radius must be below base_radius and not above height")
        if n.height >= self.height:
            raise ValueError(f"nuclei.height ({_um(n.height)}) must be below height ({_um(self.height)})")
        if n.count > 1 and 2 * n.base_radius >= n.spacing:
            raise ValueError(f"nuclei overlap: 2 * base_radius ({_um(2 * n.base_radius)}) >= spacing "
                             f"({_um(n.spacing)})")
        half = self.width if self.dimension == "axisymmetric" else self.width / 2
        for i, c in enumerate(bud_centres(self)):
            if np.any(np.abs(c) + n.base_radius >= half):
                raise ValueError(f"nucleus {i} reaches the side wall (width {_um(self.width)})")
        return self

    @property
    def bud(self) -> BudShape:  # bud_centres() reads params.bud
        return self.nuclei


def names(params: DepositParams) -> tuple[set[str], set[str]]:
    regions = {"lithium", "electrolyte"} | ({"coating"} if params.coating else set())
    boundaries = {"collector", "counter"} | ({"axis", "side"} if params.dimension == "axisymmetric" else {"side"})
    if params.coating:
        boundaries |= {"coating_bottom", "coating_top"} | ({"coating_nuclei"} if params.nuclei.count else set())
    return regions, boundaries


def _landmarks(params: DepositParams) -> dict:
    n = params.nuclei
    centres = bud_centres(params)
    w = params.width
    if params.dimension == "axisymmetric":
        far = [w, 0.0]
    elif params.dimension == "2d":
        far = [w / 2 if not len(centres) or centres[:, 0].mean() <= 0 else -w / 2, 0.0]
    else:
        far = [w / 2, w / 2, 0.0]
    return {"apex": [[*map(float, c), n.height] for c in centres], "far": far, "surface": 0.0,
            "bud_height": n.height if n.count else 0.0}


def build(params: DepositParams, options: MeshOptions) -> GeometryInfo:
    import gmsh

    gmsh.option.setNumber("General.NumThreads", 1)
    occ = gmsh.model.occ
    dim = 3 if params.dimension == "3d" else 2
    n = params.nuclei
    width, height, t_li = params.width / _UM, params.height / _UM, params.lithium_thickness / _UM
    axi = params.dimension == "axisymmetric"
    x0 = 0.0 if axi else -width / 2

    lithium = [cell_slab(dim, width, -t_li, 0.0, x0)]
    nuclei = [_bud(occ, params.dimension, c, n.shape, n.height / _UM, n.base_radius / _UM, n.apex_radius / _UM)
              for c in bud_centres(params) / _UM]
    if nuclei:
        lithium = occ.fuse(lithium, nuclei)[0]
    pieces = [cell_slab(dim, width, 0.0, height, x0)]
    if params.coating is not None:
        t = params.coating.thickness / _UM
        pieces = [cell_slab(dim, width, 0.0, t, x0), cell_slab(dim, width, t, height, x0)]
    _, mapping = occ.fragment(lithium, pieces)
    li = sorted({dt for children in mapping[: len(lithium)] for dt in children})
    rest = [sorted({dt for dt in children if dt not in li}) for children in mapping[len(lithium):]]
    used = set(li) | {dt for r in rest for dt in r}
    stray = [dt for dt in occ.getEntities(dim) if dt not in used]  # left over by the fuse
    if stray:
        occ.remove(stray, recursive=True)
    occ.synchronize()
    regions = {"lithium": [t for _, t in li]}
    if params.coating is not None:
        regions["coating"] = [t for _, t in rest[0]]
        regions["electrolyte"] = [t for _, t in rest[1]]
    else:
        regions["electrolyte"] = [t for _, t in rest[0]]

    tol = 1e-6 * max(width, height)
    vertical = dim - 1
    groups: dict[str, list[int]] = {k: [] for k in _BOUNDARY_TAGS}
    region_of = {t: name for name, tags in regions.items() for t in tags}
    for _, tag in gmsh.model.getEntities(dim - 1):
        upward, _ = gmsh.model.getAdjacencies(dim - 1, tag)
        box = gmsh.model.getBoundingBox(dim - 1, tag)
        low, high = box[:3], box[3:]
        if len(upward) != 1:  # an interior interface: only the coating's are named
            sides = {region_of.get(t) for t in upward}
            if sides == {"coating", "lithium"}:
                flat = high[vertical] < tol and low[vertical] > -tol
                groups["coating_bottom" if flat else "coating_nuclei"].append(tag)
            elif sides == {"coating", "electrolyte"}:
                groups["coating_top"].append(tag)
            continue
        if high[vertical] < -t_li + tol:
            groups["collector"].append(tag)
        elif low[vertical] > height - tol:
            groups["counter"].append(tag)
        elif axi and high[0] < tol:
            groups["axis"].append(tag)
        else:
            groups["side"].append(tag)
    groups = {k: v for k, v in groups.items() if v}
    name_groups("deposition_cell", dim, regions, groups, names(params), _REGION_TAGS, _BOUNDARY_TAGS)

    field = gmsh.model.mesh.field
    fine, far = options.size_electrode / _UM, options.size_far / _UM
    box = field.add("Box")
    field.setNumber(box, "VIn", fine)
    field.setNumber(box, "VOut", far)
    field.setNumber(box, "XMin", x0 - 1)
    field.setNumber(box, "XMax", x0 + width + 1)
    lo_key, hi_key = ("ZMin", "ZMax") if dim == 3 else ("YMin", "YMax")
    if dim == 3:
        field.setNumber(box, "YMin", -width)
        field.setNumber(box, "YMax", width)
    else:
        field.setNumber(box, "ZMin", -1)
        field.setNumber(box, "ZMax", 1)
    field.setNumber(box, lo_key, -t_li - 1)
    field.setNumber(box, hi_key, params.growth_zone / _UM)
    field.setNumber(box, "Thickness", options.grading_distance / _UM)
    field.setAsBackgroundMesh(box)
    for option in ("MeshSizeFromPoints", "MeshSizeFromCurvature", "MeshSizeExtendFromBoundary"):
        gmsh.option.setNumber(f"Mesh.{option}", 0)
    mesh_in_metres(dim, options.order, _UM)
    return GeometryInfo(
        gdim=dim, axisymmetric=axi,
        regions={k: _REGION_TAGS[k] for k in regions},
        boundaries={k: _BOUNDARY_TAGS[k] for k in groups},
        projected_area={"2d": params.width, "axisymmetric": math.pi * params.width**2, "3d": params.width**2}[
            params.dimension],
        landmarks=_landmarks(params),
    )


register(Builder(name="deposition_cell", params=DepositParams, build=build, names=names))
