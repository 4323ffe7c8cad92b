r"""HOMS membrane: hollow multishelled spheres on a Cu or Li electrode (``homs_membrane``).

After Wei et al., Adv. Energy Mater. 2024 (relocatable HOMS-based membrane): a membrane of one or
two rows of Cu hollow multishelled spheres (1-3 concentric shells, optionally coated by an ethyl
cellulose binder film) lies a small ``gap`` above a flat electrode; electrolyte fills the cell up
to the counter boundary. The control is the same arrangement of solid Cu nanoparticles.

Cell
----
A periodic cell whose side walls are symmetry planes. The electrode is the plane ``y = 0`` (2D)
or ``z = 0`` (3D); the electrolyte fills ``0 < y < height`` over ``-width/2 < x < width/2`` (3D:
the square box of side ``width``). With ``lithium_thickness > 0`` a Li slab (region ``lithium``)
of that thickness is meshed below the electrode plane::

        counter (y = height)
     +-----------------------------+
     |          electrolyte        |
    side                          side
     |(  )      (  )      (  )(    |   row 2 (offset by pitch/2; halves on the walls)
     |    (  )      (  )      (    |   row 1
     +-----------electrode---------+   y = 0  (electrode_surface)
     |           lithium           |   optional Li slab
     +-----------collector---------+   y = -lithium_thickness

Layout
------
``width`` must be a whole multiple ``n * pitch`` of ``pitch`` (validated; ``width`` is not
rounded). Row 1 has its centres at ``x = -width/2 + pitch * (i + 1/2)``, ``i = 0 .. n-1``, at
height ``gap + outer_diameter/2``. Row 2 (``rows = 2``) is offset by half a pitch, so its centres
are at ``x = -width/2 + pitch * i``, ``i = 0 .. n`` (the first and last are centred on the side
walls and cut in half by them: n sphere equivalents per row), a height ``sqrt(3)/2 * pitch``
higher (hexagonal packing). Both rows are symmetric about the side walls, so the walls are
exact symmetry planes of the infinite periodic membrane.

3D keeps it simple: each row is a square array of pitch ``pitch`` (``n x n`` spheres, centres at
``(-width/2 + pitch (i + 1/2), -width/2 + pitch (j + 1/2))``); row 2 is offset by half a pitch
along x *and* y (spheres on the walls are halves, on the vertical edges quarters) and lies
``sqrt(3)/2 * pitch`` higher, like in 2D (nearest centres of the two rows are then
``sqrt(1/2 + 3/4) * pitch`` apart).

Spheres
-------
Shell ``k`` is the annulus / spherical shell ``shell_radii[k] - shell_thickness < rho <
shell_radii[k]`` around the centre; ``shell_radii[0]`` is ``outer_diameter / 2``. ``binder`` (if
given) is a film ``outer_diameter/2 < rho < outer_diameter/2 + binder`` on the outer shell.
``openings``: ``"none"`` (closed shells; for a homogenised porous-shell conductivity, a physics
choice) or an angle ``alpha`` in degrees: every shell and the binder film lose the sector (2D) or
the cone (3D) of full angle ``alpha`` around the upward vertical through the centre, so each
sphere has a straight channel from the top down to its core (2D: a gap of arc ``alpha`` in every
ring, all at the top; 3D: a circular hole at the top of every shell). ``control:
"nanoparticles"``: solid particles of radius ``outer_diameter / 2`` (plus the binder film if
any); ``shell_radii``, ``shell_thickness`` and ``openings`` then do not apply.

``gap`` is the distance from the electrode to the bottom of the outer shells of row 1 (the binder,
if any, must stay above the electrode). ``membrane_top`` (landmark) is the top of row 2 (row 1
with ``rows = 1``), binder film included.

Names (the project's contract)
------------------------------
regions (cells):
    ``electrolyte`` (outside the outer shells, including the channels through the openings of
    the outer shell and binder); ``interior`` (HOMS only: everything inside the inner surface
    ``rho < shell_radii[0] - shell_thickness`` of the outer shells that is not a shell, i.e. the
    spaces between the shells and the cores, so that the current into the interiors can be
    measured); ``shells`` (``mesh_shells`` only: all shells, or the nanoparticles); ``binder``
    (when ``binder`` is given); ``lithium`` (when ``lithium_thickness > 0``).
boundaries (facets), each facet in exactly one group:
    ``counter`` (y/z = height); ``side`` (the side walls, every region); ``electrode_surface``
    (y/z = 0: the bottom boundary, or the lithium/electrolyte interface when the Li is meshed);
    ``collector`` (the Li's base, Li meshed only); ``shell_surface`` (all surfaces of the
    shells / nanoparticles except on the side walls: the boundary of the cut-out shells when
    ``mesh_shells`` is false, interfaces of the ``shells`` region when it is true);
    ``binder_surface`` (binder/electrolyte interface, binder only); ``opening`` (HOMS with
    openings: interior/electrolyte interface across the opening of each outer shell, on
    ``rho = shell_radii[0] - shell_thickness``; integrate the current over it to get the current
    into the interiors).

Mesh sizes
----------
``mesh.size_electrode`` on the electrode plane, ``mesh.size_far`` away from everything, growing
linearly over ``mesh.grading_distance`` (Distance + Threshold fields). On all sphere surfaces
(shell, binder, opening) the size is ``h = min(mesh.size_feature, outer_diameter / 8)``, and,
with ``mesh_shells``, also at most ``shell_thickness / shell_cells``, so that a meshed shell has
at least ``shell_cells`` (default 2) cells across its thickness whatever ``mesh.size_feature``
is; a binder film likewise gets ``h <= binder / shell_cells``. 3D meshes of 40 nm shells are
large; use ``shell_cells = 1`` and few spheres for quick 3D studies.

Landmarks: ``surface`` (0.0, the electrode plane), ``membrane_top`` (see above),
``sphere_centres`` (every centre, wall ones included, SI, ``[x, y]`` / ``[x, y, z]``).

Units: built in micrometres and scaled to metres after meshing (OCC tolerance, see ``bud.py``).
"""

from __future__ import annotations

import math
from typing import Annotated, Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, model_validator

from meshes.base import Builder, GeometryInfo, MeshOptions, cell_slab, keep_owned, mesh_in_metres, name_groups, register
from meshes.bud import _um
from solver.units import Length

__all__ = ["HomsParams", "sphere_centres", "names", "build"]

_UM = 1e-6
_REGION_TAGS = {"electrolyte": 1, "interior": 2, "shells": 3, "binder": 4, "lithium": 5}
_BOUNDARY_TAGS = {"electrode_surface": 1, "counter": 2, "side": 3, "shell_surface": 4, "collector": 5,
                  "binder_surface": 6, "opening": 7}
_REL = 1e-6  # relative tolerance of the "equal" checks (width = n * pitch, shell_radii[0] = D/2)


class HomsParams(BaseModel):
    """Parameters of the ``homs_membrane`` geometry (see the module docstring)."""

    model_config = ConfigDict(extra="forbid")

    dimension: Literal["2d", "3d"] = Field("2d", description="2d (per metre of depth) or 3d")
    width: Length = Field(1.8e-6, gt=0, description="cell width (3d: box side); a whole multiple of pitch")
    height: Length = Field(10e-6, gt=0, description="counter height above the electrode")
    outer_diameter: Length = Field(0.8e-6, gt=0, description="outer diameter of the spheres")
    shell_thickness: Length = Field(40e-9, gt=0, description="thickness of each shell")
    shell_radii: list[Length] = Field(
        [400e-9, 270e-9, 140e-9], min_length=1, max_length=3,
        description="outer radii of the 1-3 concentric shells, outermost first (= outer_diameter / 2)",
    )
    rows: int = Field(2, ge=1, le=2, description="rows of spheres (2: hexagonal packing)")
    pitch: Length = Field(0.9e-6, gt=0, description="centre spacing of the spheres in a row")
    gap: Length = Field(0.1e-6, gt=0, description="electrode to the bottom of the first row")
    openings: Literal["none"] | Annotated[float, Field(gt=0, lt=180)] = Field(
        45.0, description="'none' (closed shells) or the full angle in degrees of the opening "
        "cut at the top of every shell and of the binder film",
    )
    binder: Length | None = Field(None, gt=0, description="thickness of a binder film on the outer shell")
    control: Literal["homs", "nanoparticles"] = Field(
        "homs", description="homs: hollow multishelled spheres; nanoparticles: solid particles (control)"
    )
    lithium_thickness: Length = Field(
        0.0, ge=0, description="0: electrode not meshed; > 0: Li slab 'lithium' below the electrode"
    )
    mesh_shells: bool = Field(
        False, description="false: shells cut out (boundary shell_surface); true: meshed region 'shells'"
    )
    shell_cells: int = Field(
        2, ge=1, description="minimum cells across a meshed shell (and the binder film)"
    )

    @model_validator(mode="after")
    def _check(self) -> HomsParams:
        d, t, p, b = self.outer_diameter, self.shell_thickness, self.pitch, self.binder or 0.0
        radius = d / 2
        if self.control == "homs":
            r = self.shell_radii
            if not math.isclose(r[0], radius, rel_tol=_REL):
                raise ValueError(
                    f"shell_radii[0] ({_um(r[0])}) must equal outer_diameter / 2 ({_um(radius)})"
                )
            for k in range(1, len(r)):
                if r[k] >= r[k - 1] - t:
                    raise ValueError(
                        f"shells overlap: shell_radii[{k}] ({_um(r[k])}) must be below "
                        f"shell_radii[{k - 1}] - shell_thickness ({_um(r[k - 1])} - {_um(t)})"
                    )
            if r[-1] <= t:
                raise ValueError(
                    f"the innermost shell has no hollow core: shell_radii[{len(r) - 1}] ({_um(r[-1])}) "
                    f"must exceed shell_thickness ({_um(t)})"
                )
        if p <= d + 2 * b:
            what = f"outer_diameter ({_um(d)})" + (f" + 2 * binder ({_um(2 * b)})" if b else "")
            raise ValueError(f"spheres overlap or touch: pitch ({_um(p)}) must exceed {what}")
        n = round(self.width / p)
        if n < 1 or abs(self.width - n * p) > _REL * p:
            raise ValueError(
                f"width ({_um(self.width)}) must be a whole multiple of pitch ({_um(p)}) for the "
                f"periodic layout (e.g. {_um(max(n, 1) * p)})"
            )
        if b and b >= self.gap:
            raise ValueError(
                f"the binder film would reach the electrode: binder ({_um(b)}) must be below gap "
                f"({_um(self.gap)})"
            )
        top = membrane_top(self)
        if top >= self.height:
            raise ValueError(
                f"the membrane reaches the counter: its top ({_um(top)} = gap + outer_diameter"
                f"{' + binder' if b else ''}{' + row spacing' if self.rows == 2 else ''}) must be "
                f"below height ({_um(self.height)})"
            )
        return self


def _row_spacing(params: HomsParams) -> float:
    return math.sqrt(3) / 2 * params.pitch


def membrane_top(params: HomsParams) -> float:
    """Height of the top of the upper row, binder film included (m)."""
    return (params.gap + params.outer_diameter + (params.binder or 0.0)
            + (params.rows - 1) * _row_spacing(params))


def sphere_centres(params: HomsParams) -> np.ndarray:
    """All sphere centres (m), shape ``(k, 2)`` or ``(k, 3)``, row 1 first; wall ones included."""
    p, w = params.pitch, params.width
    n = round(w / p)
    centres = []
    for row in range(params.rows):
        level = params.gap + params.outer_diameter / 2 + row * _row_spacing(params)
        xs = (-w / 2 + p * (np.arange(n) + 0.5)) if row == 0 else (-w / 2 + p * np.arange(n + 1))
        if params.dimension == "2d":
            centres += [(x, level) for x in xs]
        else:
            centres += [(x, y, level) for y in xs for x in xs]
    return np.array(centres, dtype=float)


def names(params: HomsParams) -> tuple[set[str], set[str]]:
    """Region and boundary names this parameter set produces (no Gmsh call)."""
    homs = params.control == "homs"
    regions = {"electrolyte"}
    boundaries = {"counter", "side", "electrode_surface", "shell_surface"}
    if homs:
        regions.add("interior")
        if params.openings != "none":
            boundaries.add("opening")
    if params.mesh_shells:
        regions.add("shells")
    if params.binder:
        regions.add("binder")
        boundaries.add("binder_surface")
    if params.lithium_thickness > 0:
        regions.add("lithium")
        boundaries.add("collector")
    return regions, boundaries


def feature_size(params: HomsParams, options: MeshOptions) -> float:
    """Element size on the sphere surfaces (m); see the module docstring."""
    h = min(options.size_feature, params.outer_diameter / 8)
    if params.mesh_shells and params.control == "homs":
        h = min(h, params.shell_thickness / params.shell_cells)
    if params.binder:
        h = min(h, params.binder / params.shell_cells)
    return h


# ----------------------------------------------------------------------------- geometry (um)
def _ball(occ, dim: int, c, r: float) -> tuple[int, int]:
    if dim == 2:
        return 2, occ.addDisk(c[0], c[1], 0, r, r)
    return 3, occ.addSphere(c[0], c[1], c[2], r)


def _opening_tool(occ, dim: int, c, angle: float, reach: float) -> tuple[int, int]:
    """Sector (2D) or cone (3D) of full angle ``angle`` (deg) with apex ``c``, pointing up."""
    half = math.radians(angle) / 2
    if dim == 3:
        return 3, occ.addCone(c[0], c[1], c[2], 0, 0, reach, 0, reach * math.tan(half))
    apex = occ.addPoint(c[0], c[1], 0)
    ends = [occ.addPoint(c[0] + reach * math.cos(math.pi / 2 + s * half),
                         c[1] + reach * math.sin(math.pi / 2 + s * half), 0) for s in (-1, 1)]
    loop = [occ.addLine(apex, ends[0]), occ.addCircleArc(ends[0], apex, ends[1]), occ.addLine(ends[1], apex)]
    return 2, occ.addPlaneSurface([occ.addCurveLoop(loop)])


def _layer(occ, dim: int, c, r_out: float, r_in: float, tool) -> list[tuple[int, int]]:
    """Spherical shell / annulus ``r_in < rho < r_out`` around ``c``, minus ``tool`` (kept)."""
    out = occ.cut([_ball(occ, dim, c, r_out)], [_ball(occ, dim, c, r_in)])[0]
    if tool is not None:
        out = occ.cut(out, [tool], removeTool=False)[0]
    return out


def _sphere(occ, dim: int, params: HomsParams, c) -> dict[str, list[tuple[int, int]]]:
    """The pieces of one sphere (model units): shells, binder, interior."""
    radius = params.outer_diameter / 2 / _UM
    t = params.shell_thickness / _UM
    b = (params.binder or 0.0) / _UM
    homs = params.control == "homs"
    tool = None
    if homs and params.openings != "none":
        tool = _opening_tool(occ, dim, c, float(params.openings), 2 * (radius + b))
    pieces: dict[str, list[tuple[int, int]]] = {"shells": [], "binder": [], "interior": []}
    if homs:
        for r in params.shell_radii:
            pieces["shells"] += _layer(occ, dim, c, r / _UM, r / _UM - t, tool)
        pieces["interior"] = [_ball(occ, dim, c, radius - t)]
    else:
        pieces["shells"] = [_ball(occ, dim, c, radius)]
    if b:
        pieces["binder"] = _layer(occ, dim, c, radius + b, radius, tool)
    if tool is not None:
        occ.remove([tool], recursive=True)
    return pieces


def _classify(params: HomsParams, dim: int, region_of: dict[int, str]) -> dict[str, list[int]]:
    """Sort the facet entities of the synchronised model into boundary names."""
    import gmsh

    width, height, t_li = params.width / _UM, params.height / _UM, params.lithium_thickness / _UM
    tol = 1e-6 * max(width, height)
    v = dim - 1
    groups: dict[str, list[int]] = {name: [] for name in _BOUNDARY_TAGS}
    for _, tag in gmsh.model.getEntities(dim - 1):
        up, _ = gmsh.model.getAdjacencies(dim - 1, tag)
        if len(up) == 0:
            raise RuntimeError(f"homs_membrane: stray facet entity {tag}")
        box = gmsh.model.getBoundingBox(dim - 1, tag)
        low, high = box[:3], box[3:]
        on_wall = any(high[i] - low[i] < tol and abs(abs(low[i]) - width / 2) < tol for i in range(dim - 1))
        if t_li > 0 and high[v] < -t_li + tol:
            name = "collector"
        elif on_wall:
            name = "side"
        elif low[v] > height - tol:
            name = "counter"
        elif abs(low[v]) < tol and abs(high[v]) < tol:
            name = "electrode_surface"
        else:
            regions = {region_of[u] for u in up}
            if len(up) == 1 or "shells" in regions:
                name = "shell_surface"  # boundary of the cut-out shells, or interface of 'shells'
            elif regions == {"binder", "electrolyte"}:
                name = "binder_surface"
            elif regions == {"interior", "electrolyte"}:
                name = "opening"
            elif len(regions) == 1:
                continue  # between two pieces of one region: not a boundary
            else:
                raise RuntimeError(f"homs_membrane: unexpected interface between {sorted(regions)}")
        groups[name].append(tag)
    return {name: tags for name, tags in groups.items() if tags}


def _threshold(dim: int, tags: list[int], size: float, extent: float, options: MeshOptions) -> int:
    """Size ``size`` on the facet entities, growing linearly to size_far (model units)."""
    import gmsh

    field = gmsh.model.mesh.field
    cap = 2000 if dim == 2 else 200
    distance = field.add("Distance")
    field.setNumbers(distance, "CurvesList" if dim == 2 else "SurfacesList", tags)
    field.setNumber(distance, "Sampling", min(cap, max(20, math.ceil(2 * extent / size) + 1)))
    threshold = field.add("Threshold")
    field.setNumber(threshold, "InField", distance)
    field.setNumber(threshold, "SizeMin", size)
    field.setNumber(threshold, "SizeMax", options.size_far / _UM)
    field.setNumber(threshold, "DistMin", 0.0)
    field.setNumber(threshold, "DistMax", options.grading_distance / _UM)
    return threshold


def build(params: HomsParams, options: MeshOptions) -> GeometryInfo:
    """Write the membrane geometry, physical groups and mesh into the current Gmsh model."""
    import gmsh

    gmsh.option.setNumber("General.NumThreads", 1)
    occ = gmsh.model.occ
    dim = 3 if params.dimension == "3d" else 2
    width, height, t_li = params.width / _UM, params.height / _UM, params.lithium_thickness / _UM

    boxes = [cell_slab(dim, width, 0.0, height)] + ([cell_slab(dim, width, -t_li, 0.0)] if t_li > 0 else [])
    kinds = ["electrolyte"] + (["lithium"] if t_li > 0 else [])
    tools: list[tuple[int, int]] = []
    for c in sphere_centres(params) / _UM:
        for kind, pieces in _sphere(occ, dim, params, c).items():
            tools += pieces
            kinds += [kind] * len(pieces)
    _, mapping = occ.fragment(boxes, tools)
    inside = {dt for children in mapping[: len(boxes)] for dt in children}  # the rest is beyond the walls
    region_of: dict[tuple[int, int], str] = {}
    for kind in ("shells", "binder", "interior", "lithium", "electrolyte"):  # first claim wins
        for children, k in zip(mapping, kinds):
            if k == kind:
                for dt in children:
                    if dt in inside:
                        region_of.setdefault(dt, kind)
    if not params.mesh_shells:  # cut the shells out
        region_of = {dt: k for dt, k in region_of.items() if k != "shells"}
    regions = keep_owned(dim, region_of)
    boundaries = _classify(params, dim, {tag: kind for (_, tag), kind in region_of.items()})
    name_groups("homs_membrane", dim, regions, boundaries, names(params), _REGION_TAGS, _BOUNDARY_TAGS)

    field = gmsh.model.mesh.field
    radius = params.outer_diameter / 2 / _UM + (params.binder or 0.0) / _UM
    features = [t for n in ("shell_surface", "binder_surface", "opening") for t in boundaries.get(n, [])]
    fields = [
        _threshold(dim, boundaries["electrode_surface"], options.size_electrode / _UM, width, options),
        _threshold(dim, features, feature_size(params, options) / _UM,
                   2 * math.pi * radius if dim == 2 else math.pi * radius, options),
    ]
    smallest = field.add("Min")
    field.setNumbers(smallest, "FieldsList", fields)
    field.setAsBackgroundMesh(smallest)
    for option in ("MeshSizeFromPoints", "MeshSizeFromCurvature", "MeshSizeExtendFromBoundary"):
        gmsh.option.setNumber(f"Mesh.{option}", 0)
    mesh_in_metres(dim, options.order, _UM)

    return GeometryInfo(
        gdim=dim,
        axisymmetric=False,
        regions={name: _REGION_TAGS[name] for name in regions},
        boundaries={name: _BOUNDARY_TAGS[name] for name in boundaries},
        projected_area=params.width if dim == 2 else params.width**2,
        landmarks={
            "surface": 0.0,
            "membrane_top": membrane_top(params),
            "sphere_centres": [[float(x) for x in c] for c in sphere_centres(params)],
        },
    )


register(Builder(name="homs_membrane", params=HomsParams, build=build, names=names))
