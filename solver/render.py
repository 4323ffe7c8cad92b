"""Pictures of an output folder written by :mod:`solver.study` (pure post-processing).

``render_folder(folder)`` reads ``metrics.json``, ``scenario.resolved.yaml`` and, per case,
``fields.vtkhdf`` and ``electrode_current.csv``, and writes into ``<folder>/pictures/``:

``<case>_potential.png``
    electrolyte potential (mV) with current-density streamlines, the electrode surface (black:
    its own boundary facets, so overhanging branches and closed shells are drawn as they are),
    solids (grey: whatever the electrolyte mesh does not cover) and coating/electrolyte
    interfaces outlined. Axisymmetric results are mirrored about
    the axis; 3D results are shown on the vertical slice ``y = y_apex`` through the apex (of the
    folder's first case, so that all cases share the plane; kept off the side walls).
``<case>_current.png``
    current-density magnitude (mA/cm^2), zoomed on the (first) bud.
``electrode_current.png``
    plating current density along the electrode for every case (matplotlib); against the
    height above the foil instead when an electrode is not a graph over x (skeletons, shells).
``comparison.png`` (two or more cases)
    the current-density maps side by side with one colour scale and one zoom window.
``<case>_piezo.png`` (cases with a piezoelectric layer, ``layer.vtkhdf``)
    piezo potential psi (mV) in the layer, diverging colours centred on 0, same section.
``piezo_comparison.png`` (two or more such cases)
    the piezo maps side by side on one symmetric colour scale (poling up/down: opposite signs).

Every picture is drawn from the files alone (no DOLFINx, one process). A picture whose
inputs are missing is skipped; one that fails is skipped with a warning, so that a
rendering problem never costs the results of a run.
"""

from __future__ import annotations

import csv
import json
import math
import os
import textwrap
import warnings
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np

# Headless machines and cluster nodes: ask VTK for its EGL (off-screen) window first instead of
# an X server (which only prints a warning, then falls back to EGL or OSMesa).
if not os.environ.get("DISPLAY"):
    os.environ.setdefault("VTK_DEFAULT_OPENGL_WINDOW", "vtkEGLRenderWindow")

import pyvista as pv  # noqa: E402
import yaml
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.cm import ScalarMappable
from matplotlib.colors import Normalize
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.patches import Patch

from solver.arrays import distinct  # noqa: E402

pv.OFF_SCREEN = True

__all__ = ["render_folder"]

UM = 1e6  # micrometres per metre
A_M2_PER_MA_CM2 = 10.0  # 1 mA/cm^2 = 10 A/m^2

POTENTIAL_CMAP = "viridis"
CURRENT_CMAP = "turbo"
LI_COLOR = "#b8b8b8"  # solids: Li, alloy, Cu (everything that is not electrolyte)
ELECTRODE_COLOR = "black"
INTERFACE_COLOR = "white"
STREAM_COLOR = "white"
PIEZO_CMAP = "RdBu_r"  # diverging, white at psi = 0
LAYER_COLOR = "#404040"  # layer top on the piezo maps (white would vanish where psi ~ 0)


# --------------------------------------------------------------------------------------
# Reading an output folder
# --------------------------------------------------------------------------------------


@dataclass
class Electrode:
    """Electrode nodes from ``electrode_current.csv`` (SI units)."""

    xyz: np.ndarray  # (n, 3) m
    boundary: np.ndarray  # (n,) boundary names
    current: np.ndarray  # (n,) plating current density, A/m^2


@dataclass
class CaseFiles:
    name: str
    metrics: dict
    scenario: dict  # resolved scenario of this case ({} when unknown)
    fields: Path | None
    electrode: Electrode | None
    layer: Path | None = None  # layer.vtkhdf of a piezoelectric layer

    @property
    def geometry(self) -> dict:
        return self.scenario.get("geometry") or {}

    @property
    def dimension(self) -> str | None:
        return self.geometry.get("dimension")


def _read_cases(folder: Path) -> list[CaseFiles]:
    """The cases of an output folder, in the order of ``metrics.json``."""
    metrics = {}
    if (folder / "metrics.json").exists():
        metrics = json.loads((folder / "metrics.json").read_text()).get("cases") or {}
    if not metrics:  # no metrics: the fields files say which cases there are
        if (folder / "fields.vtkhdf").exists():
            metrics = {folder.name: {}}
        else:
            metrics = {p.parent.name: {} for p in sorted(folder.glob("*/fields.vtkhdf"))}
    resolved = {}
    path = folder / "scenario.resolved.yaml"
    if path.exists():
        resolved = yaml.safe_load(path.read_text()) or {}
    if not isinstance(resolved, dict):
        resolved = {}
    cases = []
    for name, m in metrics.items():
        if isinstance(resolved.get(name), dict) and "geometry" in resolved[name]:
            scenario = resolved[name]
        elif "geometry" in resolved:  # the one resolved scenario of a single case
            scenario = resolved
        else:
            scenario = {}
        sub = folder / name
        where = sub if (sub / "fields.vtkhdf").exists() or (sub / "metrics.json").exists() else folder
        fields = where / "fields.vtkhdf"
        layer = where / "layer.vtkhdf"
        cases.append(
            CaseFiles(
                name=name,
                metrics=m if isinstance(m, dict) else {},
                scenario=scenario,
                fields=fields if fields.exists() else None,
                electrode=_read_electrode(where / "electrode_current.csv"),
                layer=layer if layer.exists() else None,
            )
        )
    return cases


def _read_electrode(path: Path) -> Electrode | None:
    """Rows of ``electrode_current.csv``; None when the file is missing or empty."""
    if not path.exists():
        return None
    xyz, names, values = [], [], []
    with path.open(newline="") as fh:
        for row in csv.DictReader(fh):
            try:
                point = (float(row["x_m"]), float(row["y_m"]), float(row["z_m"]))
                value = float(row["plating_current_density_A_m2"])
            except (KeyError, TypeError, ValueError):
                continue
            xyz.append(point)
            values.append(value)
            names.append(row.get("boundary") or "")
    if not xyz:
        return None
    return Electrode(np.array(xyz, dtype=float), np.array(names), np.array(values, dtype=float))


# --------------------------------------------------------------------------------------
# Mesh helpers (numpy; P2 cells split into linear simplices that carry every nodal value)
# --------------------------------------------------------------------------------------

# VTK cell type numbers: linear, quadratic and Lagrange triangles / tetrahedra
_TRI_TYPES = {5, 22, 69}
_TET_TYPES = {10, 24, 71}
# VTK node order of 6-node triangles: corners, then edges 01, 12, 20.
_TRI6_SPLIT = np.array([[0, 3, 5], [3, 1, 4], [5, 4, 2], [3, 4, 5]])
# 10-node tetrahedra: corners, then edges 01, 12, 02, 03, 13, 23; inner octahedron cut along 6-8.
_TET10_SPLIT = np.array(
    [[0, 4, 6, 7], [4, 1, 5, 8], [6, 5, 2, 9], [7, 8, 9, 3],
     [4, 6, 7, 8], [4, 5, 6, 8], [6, 7, 8, 9], [5, 6, 8, 9]]
)


def _linear_simplices(grid: pv.UnstructuredGrid) -> tuple[pv.UnstructuredGrid, int, np.ndarray]:
    """Linear triangles/tetrahedra on the same points (P2 cells split, so that every nodal value
    shows); returns (grid, topological dimension, corner connectivity of the original cells)."""
    types = distinct(np.asarray(grid.celltypes))
    if len(types) != 1:
        raise ValueError(f"mixed cell types {types.tolist()} are not supported")
    ctype = int(types[0])
    offsets = np.asarray(grid.cell_offsets if hasattr(grid, "cell_offsets") else grid.offset)
    per = np.diff(offsets)
    if per.size == 0 or np.any(per != per[0]):
        raise ValueError("cells with different node counts are not supported")
    conn = np.asarray(grid.cell_connectivity).reshape(-1, int(per[0]))
    if ctype in _TRI_TYPES:
        tdim, split, vtk_type = 2, _TRI6_SPLIT, pv.CellType.TRIANGLE
        corners = 3
    elif ctype in _TET_TYPES:
        tdim, split, vtk_type = 3, _TET10_SPLIT, pv.CellType.TETRA
        corners = 4
    else:
        raise ValueError(f"VTK cell type {ctype} is not supported")
    if conn.shape[1] == split.max() + 1:
        cells = conn[:, split].reshape(-1, corners)
        parent = np.repeat(np.arange(conn.shape[0]), len(split))
    else:  # linear cells, or higher order: corners only
        cells = conn[:, :corners]
        parent = np.arange(conn.shape[0])
    out = pv.UnstructuredGrid({vtk_type: cells}, np.asarray(grid.points, dtype=float))
    for name in grid.point_data.keys():
        out.point_data[name] = np.asarray(grid.point_data[name])
    for name in grid.cell_data.keys():
        out.cell_data[name] = np.asarray(grid.cell_data[name])[parent]
    return out, tdim, conn[:, :corners]


def _facets(cells: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Facets of simplices: (boundary facets, interior facets, their two cells)."""
    k = cells.shape[1]
    local = np.array([[j for j in range(k) if j != i] for i in range(k)])
    facets = np.sort(cells[:, local].reshape(-1, k - 1), axis=1)
    owner = np.repeat(np.arange(cells.shape[0]), k)
    uniq, inverse, counts = np.unique(facets, axis=0, return_inverse=True, return_counts=True)
    inverse = inverse.ravel()
    boundary = uniq[counts == 1]
    order = np.argsort(inverse, kind="stable")
    inv_sorted = inverse[order]
    first = np.flatnonzero(np.r_[True, inv_sorted[1:] != inv_sorted[:-1]])
    pairs_at = first[counts[inv_sorted[first]] == 2]
    interior = uniq[inv_sorted[pairs_at]]
    owners = np.c_[owner[order[pairs_at]], owner[order[pairs_at + 1]]]
    return boundary, interior, owners


def _match_points(points: np.ndarray, targets: np.ndarray, tol: float) -> np.ndarray:
    """Mask over ``points``: within ``tol`` of some target point (vectorised, no scipy).

    Both sets are binned in cubes of side ``tol``; ``tol`` must not be below ~1e-6 of the
    extent of the points, so that the bin keys fit an int64.
    """
    mask = np.zeros(len(points), dtype=bool)
    if len(points) == 0 or len(targets) == 0:
        return mask
    origin = np.minimum(points.min(axis=0), targets.min(axis=0))
    kp = np.floor((points - origin) / tol).astype(np.int64)
    kt = np.floor((targets - origin) / tol).astype(np.int64)
    base = int(max(kp.max(), kt.max())) + 3
    enc = lambda k: (k[:, 0] * base + k[:, 1]) * base + k[:, 2]  # noqa: E731
    keys = enc(kt)
    order = np.argsort(keys)
    keys = keys[order]
    for dx in (-1, 0, 1):
        for dy in (-1, 0, 1):
            for dz in (-1, 0, 1):
                q = enc(kp + np.array([dx, dy, dz]))
                pos = np.clip(np.searchsorted(keys, q), 0, len(keys) - 1)
                hit = keys[pos] == q
                if np.any(hit):
                    near = np.linalg.norm(points[hit] - targets[order[pos[hit]]], axis=1) <= tol
                    idx = np.flatnonzero(hit)[near]
                    mask[idx] = True
    return mask


def _lines(points: np.ndarray, edges: np.ndarray) -> pv.PolyData:
    if len(edges) == 0:
        return pv.PolyData()
    return pv.PolyData(points, lines=np.hstack([np.full((len(edges), 1), 2), edges]).ravel())


def _triangles(points: np.ndarray, faces: np.ndarray) -> pv.PolyData:
    if len(faces) == 0:
        return pv.PolyData()
    return pv.PolyData(points, faces=np.hstack([np.full((len(faces), 1), 3), faces]).ravel())


# --------------------------------------------------------------------------------------
# A planar section of a case, in micrometres, in the z = 0 plane
# --------------------------------------------------------------------------------------


@dataclass
class Section:
    """What the map pictures show: a 2D dataset (x, y in um, z = 0) and its outlines.

    point data ``potential_mV``; cell data ``current`` (in-plane vector, A/m^2),
    ``magnitude`` (mA/cm^2, full 3D magnitude), ``region``.
    """

    name: str
    grid: pv.DataSet
    electrode_path: np.ndarray  # (n, 2) electrode vertices ordered along x, um
    interface: pv.PolyData  # region-boundary lines, z = 0, um
    apex: tuple[float, float]
    bud_size: float  # um, max(bud height, base radius); 0 without a bud
    coating: float  # um, coating thickness (0 without)
    xlabel: str
    ylabel: str
    note: str = ""  # e.g. the slice position
    interface_label: str = "region interface"
    interface_color: str = INTERFACE_COLOR
    metrics: dict = field(default_factory=dict)
    # the electrode's own boundary facets (2D: edges; 3D: their cut by the section plane), um;
    # None: not known, the ordered electrode_path is drawn instead
    electrode_lines: pv.PolyData | None = None
    # grey where the grid does not cover the window (cut-out solids); False: grey under the
    # electrode_path only (grids that cover part of the electrolyte, e.g. a layer)
    solid_fill: bool = True
    slice_y: float | None = None  # 3D: the section plane y = slice_y (m)


def _apex(points: np.ndarray, vertical: int) -> np.ndarray:
    """Highest electrode point; among (nearly) equal heights the one nearest the centre."""
    z = points[:, vertical]
    top = z >= z.max() - 1e-9 * max(1e-12, float(np.ptp(points)))
    horiz = [i for i in range(points.shape[1]) if i != vertical]
    cand = np.flatnonzero(top)
    r2 = (points[cand][:, horiz] ** 2).sum(axis=1)
    return points[cand[int(np.argmin(r2))]]


def _section(case: CaseFiles, y0: float | None = None) -> Section:
    """The planar section of a case: 2D / axisymmetric as they are; 3D on the vertical plane
    y = ``y0`` (m), by default through the apex (kept 1 % of the width off the side walls, where
    the cut would run along the wall's faces)."""
    raw = pv.read(str(case.fields))
    if isinstance(raw, pv.MultiBlock):
        raw = raw.combine()
    grid, tdim, corners = _linear_simplices(raw)
    dim = case.dimension or ("3d" if tdim == 3 else "2d")
    pts = np.asarray(grid.points, dtype=float)
    cells = np.asarray(grid.cell_connectivity).reshape(-1, tdim + 1)
    n = grid.n_cells
    vec = np.zeros((n, 3))
    if "current_density" in grid.cell_data:
        cd = np.asarray(grid.cell_data["current_density"], dtype=float).reshape(n, -1)[:, :3]
        vec[:, : cd.shape[1]] = cd
    mag = (np.asarray(grid.cell_data["current_density_magnitude"], dtype=float)
           if "current_density_magnitude" in grid.cell_data else np.linalg.norm(vec, axis=1))
    region = (np.asarray(grid.cell_data["region"]).astype(int) if "region" in grid.cell_data
              else np.zeros(n, dtype=int))
    phi = (np.asarray(grid.point_data["electrolyte_potential"], dtype=float)
           if "electrolyte_potential" in grid.point_data else np.zeros(len(pts)))

    # outlines on the original (corner) cells; the CSV holds the electrode vertices
    raw_region = (np.asarray(raw.cell_data["region"]).astype(int) if "region" in raw.cell_data
                  else np.zeros(raw.n_cells, dtype=int))
    boundary, interior, owners = _facets(corners)
    iface_label = _interface_label(raw, raw_region)
    iface = interior[raw_region[owners[:, 0]] != raw_region[owners[:, 1]]]

    geo = case.geometry
    bud = geo.get("bud") or {}
    coat = geo.get("coating") or {}
    bud_size = 0.0
    if bud and int(bud.get("count", 1) or 0) > 0:
        bud_size = max(float(bud.get("height") or 0), float(bud.get("base_radius") or 0)) * UM
    coating = float(coat.get("thickness") or 0) * UM if coat else 0.0

    if tdim == 2:
        out = pv.UnstructuredGrid({pv.CellType.TRIANGLE: cells}, np.c_[pts[:, :2] * UM, np.zeros(len(pts))])
        out.point_data["potential_mV"] = phi * 1e3
        out.cell_data["current"] = vec
        out.cell_data["magnitude"] = mag / A_M2_PER_MA_CM2
        out.cell_data["region"] = region
        iface_lines = _lines(out.points, iface)
        path = (case.electrode.xyz[:, :2] * UM) if case.electrode is not None else np.zeros((0, 2))
        elec_lines = _lines(out.points, _electrode_facets(pts, boundary, case.electrode, tdim))
        if dim == "axisymmetric":
            out, iface_lines = _mirror(out, iface_lines)
            elec_lines = _mirror_lines(elec_lines)
            path = np.vstack([path, path * [-1, 1]])
        if len(path):
            path = path[np.lexsort((path[:, 1], path[:, 0]))]
            apex = _apex(path, 1)
        else:
            apex = np.array([0.0, 0.0])
        labels = ("r (µm)", "z (µm)") if dim == "axisymmetric" else ("x (µm)", "y (µm)")
        return Section(case.name, out, path, iface_lines, (float(apex[0]), float(apex[1])), bud_size,
                       coating, *labels, metrics=case.metrics, interface_label=iface_label,
                       electrode_lines=elec_lines)

    # 3D: the vertical plane y = y_apex, shown as (x, z) -> (x, y)
    if case.electrode is not None:
        apex3 = _apex(case.electrode.xyz, 2)
    else:
        apex3 = np.array([0.0, 0.0, 0.0])
    if y0 is None:
        lo, hi = float(pts[:, 1].min()), float(pts[:, 1].max())
        inset = 0.01 * (hi - lo)
        y0 = float(np.clip(apex3[1], lo + inset, hi - inset))
    scale = float(np.ptp(pts, axis=0).max()) * UM
    grid.cell_data["current"] = vec
    grid.cell_data["magnitude"] = mag / A_M2_PER_MA_CM2
    grid.cell_data["region"] = region
    grid.point_data["potential_mV"] = phi * 1e3
    keep = ["current", "magnitude", "region", "potential_mV"]
    for name in list(grid.cell_data.keys()):
        if name not in keep:
            del grid.cell_data[name]
    for name in list(grid.point_data.keys()):
        if name not in keep:
            del grid.point_data[name]
    cut = grid.slice(normal=(0, 1, 0), origin=(0, y0, 0), generate_triangles=True)
    if cut.n_cells == 0:
        raise ValueError(f"the plane y = {y0 * UM:.3g} um does not cut the mesh")

    sec = _to_plane(cut).clean(tolerance=1e-9, absolute=False)  # the cut repeats points
    v = np.asarray(sec.cell_data["current"])
    sec.cell_data["current"] = np.c_[v[:, 0], v[:, 2], np.zeros(len(v))]
    # electrode faces: boundary faces whose vertices are all CSV rows (the mesh field is not
    # reliable off the electrode), cut by the plane into segments
    elec_faces = _electrode_facets(pts, boundary, case.electrode, tdim)
    path = np.zeros((0, 2))
    elec_lines = pv.PolyData()
    if len(elec_faces):
        ecut = _triangles(pts, elec_faces).slice(normal=(0, 1, 0), origin=(0, y0, 0))
        if ecut.n_points:
            p = np.asarray(ecut.points)
            path = np.c_[p[:, 0], p[:, 2]] * UM
            path = path[np.lexsort((path[:, 1], path[:, 0]))]
            elec_lines = _to_plane(ecut)
    iface_lines = pv.PolyData()
    if len(iface):
        iface_lines = _to_plane(_triangles(pts, iface).slice(normal=(0, 1, 0), origin=(0, y0, 0)))
    return Section(case.name, sec, path, iface_lines, (float(apex3[0] * UM), float(apex3[2] * UM)),
                   bud_size, coating, "x (µm)", "z (µm)", note=f"slice y = {_snap(y0 * UM, scale):.3g} µm",
                   metrics=case.metrics, interface_label=iface_label, electrode_lines=elec_lines, slice_y=y0)


def _electrode_facets(pts: np.ndarray, boundary: np.ndarray, electrode: Electrode | None, tdim: int) -> np.ndarray:
    """The mesh's boundary facets (rows of vertex indices into ``pts``, m) that lie on the electrode:
    every vertex is an electrode vertex of the CSV, and the facet is not on a side wall or the
    axis (a wall facet can join two electrode vertices, e.g. across a cut shell)."""
    if electrode is None or len(boundary) == 0:
        return np.zeros((0, tdim), dtype=int)
    verts = distinct(boundary)
    scale = max(float(np.ptp(pts, axis=0).max()), 1e-30)
    tol = 1e-6 * scale
    mask = np.zeros(len(pts), dtype=bool)
    mask[verts] = _match_points(pts[verts], electrode.xyz, tol)
    faces = boundary[mask[boundary].all(axis=1)]
    horizontal = range(tdim - 1)  # x (2D); x and y (3D): the side walls are planes of constant x or y
    lo, hi = pts.min(axis=0), pts.max(axis=0)
    on_wall = np.zeros(len(faces), dtype=bool)
    for a in horizontal:
        c = pts[faces][:, :, a]
        on_wall |= np.all(np.abs(c - lo[a]) <= tol, axis=1) | np.all(np.abs(c - hi[a]) <= tol, axis=1)
    return faces[~on_wall]


def _mirror_lines(lines: pv.PolyData) -> pv.PolyData:
    """Axisymmetric: lines and their reflection about r = 0."""
    if lines.n_points == 0:
        return lines
    lp = np.asarray(lines.points)
    return pv.PolyData(lp, lines=lines.lines) + pv.PolyData(lp * [-1, 1, 1], lines=lines.lines)


def _to_plane(poly: pv.PolyData) -> pv.PolyData:
    """A cut of a 3D mesh by a plane y = const (m) -> its (x, z) in um, in the z = 0 plane."""
    if poly.n_points == 0:
        return pv.PolyData()
    p = np.asarray(poly.points)
    poly = poly.copy()
    poly.points = np.c_[p[:, 0] * UM, p[:, 2] * UM, np.zeros(len(p))]
    return poly


def _interface_label(raw: pv.DataSet, region: np.ndarray) -> str:
    """'coating/electrolyte interface' from field data like ['1=electrolyte', '2=coating']."""
    names = {}
    if "region_names" in raw.field_data:
        for item in np.asarray(raw.field_data["region_names"]).ravel():
            tag, _, name = str(item).partition("=")
            if name and tag.strip().lstrip("-").isdigit():
                names[int(tag)] = name.strip()
    present = [names.get(int(t), f"region {int(t)}") for t in distinct(region)]
    if len(present) == 2:
        others = [n for n in present if n != "electrolyte"] or present[:1]
        rest = [n for n in present if n != others[0]]
        return f"{others[0]}/{rest[0]} interface"
    return "region interfaces"


def _mirror(grid: pv.UnstructuredGrid, lines: pv.PolyData) -> tuple[pv.UnstructuredGrid, pv.PolyData]:
    """Axisymmetric r-z section -> the full section, reflected about r = 0."""
    pts = np.asarray(grid.points).copy()
    scale = max(float(np.ptp(pts[:, :2])), 1e-30)
    on_axis = np.abs(pts[:, 0]) <= 1e-9 * scale
    pts[on_axis, 0] = 0.0
    n = len(pts)
    new_index = np.arange(n)
    off = np.flatnonzero(~on_axis)
    new_index[off] = n + np.arange(len(off))
    all_pts = np.vstack([pts, pts[off] * [-1, 1, 1]])
    cells = np.asarray(grid.cell_connectivity).reshape(-1, 3)
    mirrored = new_index[cells][:, [0, 2, 1]]  # keep the orientation
    out = pv.UnstructuredGrid({pv.CellType.TRIANGLE: np.vstack([cells, mirrored])}, all_pts)
    for name in grid.point_data.keys():
        a = np.asarray(grid.point_data[name])
        out.point_data[name] = np.concatenate([a, a[off]])
    for name in grid.cell_data.keys():
        a = np.asarray(grid.cell_data[name])
        b = a.copy()
        if b.ndim == 2:  # vectors: r-component changes sign
            b[:, 0] *= -1
        out.cell_data[name] = np.concatenate([a, b])
    if lines.n_points:
        lp = np.asarray(lines.points)
        both = pv.PolyData(lp, lines=lines.lines) + pv.PolyData(lp * [-1, 1, 1], lines=lines.lines)
        lines = both
    return out, lines


# --------------------------------------------------------------------------------------
# Maps: pyvista renders the scene inside a window, matplotlib adds axes, colour bar, titles
# --------------------------------------------------------------------------------------

RENDER_PIXELS = 1600  # long side of a rendered scene (shown smaller: smooth edges)


def _snap(value: float, scale: float) -> float:
    return 0.0 if abs(value) < 1e-9 * scale else float(value)


def _full_window(sec: Section) -> tuple[float, float, float, float]:
    b = sec.grid.bounds
    scale = max(b[1] - b[0], b[3] - b[2], 1e-30)
    return tuple(_snap(v, scale) for v in b[:4])


def _bud_window(sec: Section) -> tuple[float, float, float, float]:
    """Zoom window around the apex: ~3 bud sizes, taller when a coating is there."""
    xb0, xb1, yb0, yb1 = _full_window(sec)
    s = sec.bud_size or 0.1 * max(xb1 - xb0, yb1 - yb0)
    xa, ya = sec.apex
    top = ya + (max(2 * s, sec.coating + s) if sec.coating else 2 * s)
    half = max(3 * s, 0.75 * (top - yb0))
    return (max(xb0, xa - half), min(xb1, xa + half), yb0, min(yb1, top))


def _union(windows):
    w = np.array(windows, dtype=float)
    return (w[:, 0].min(), w[:, 1].max(), w[:, 2].min(), w[:, 3].max())


def _clip(data: pv.DataSet, window) -> pv.DataSet:
    x0, x1, y0, y1 = window
    b = data.bounds
    if x0 <= b[0] and x1 >= b[1] and y0 <= b[2] and y1 >= b[3]:
        return data
    return data.clip_box((x0, x1, y0, y1, -1.0, 1.0), invert=False)


def _li_fill(path: np.ndarray, x0: float, x1: float, bottom: float) -> pv.PolyData | None:
    """Grey Li: the area under the electrode outline down to ``bottom``."""
    if len(path) < 2:
        return None
    x, y = path[:, 0], path[:, 1]
    pts, quads = [], []
    for i in range(len(x) - 1):
        if x[i + 1] <= x0 or x[i] >= x1 or x[i + 1] - x[i] <= 0:
            continue
        k = len(pts)
        pts += [(x[i], y[i], 0), (x[i + 1], y[i + 1], 0), (x[i + 1], bottom, 0), (x[i], bottom, 0)]
        quads.append([4, k, k + 1, k + 2, k + 3])
    if not quads:
        return None
    return pv.PolyData(np.array(pts, dtype=float), faces=np.array(quads).ravel())


def _streamlines(sec: Section, window) -> pv.PolyData | None:
    """Current lines seeded evenly below the top of the window (vtkStreamTracer)."""
    grid = _clip(sec.grid, window)
    if grid.n_cells == 0:
        return None
    pd = grid.cell_data_to_point_data(pass_cell_data=False)
    x0, x1, y0, y1 = window
    size = max(x1 - x0, y1 - y0)
    n = 25
    dx = (x1 - x0) / n
    seeds = pv.PolyData(np.c_[np.linspace(x0 + dx / 2, x1 - dx / 2, n), np.full(n, y1 - 0.01 * (y1 - y0)),
                              np.zeros(n)])
    lines = pd.streamlines_from_source(
        seeds, vectors="current", integration_direction="both", max_steps=50000, step_unit="l",
        initial_step_length=size / 400, min_step_length=size / 4000, max_step_length=size / 300,
        max_length=20 * (x1 - x0 + y1 - y0),
        compute_vorticity=False, terminal_speed=1e-30,
        interpolator_type="cell",  # a cell locator: robust on the thin triangles of a 3D cut
    )
    return lines if lines.n_points else None


def _scene(sec: Section, window, scalars: str, cmap: str, clim, stream: bool = False):
    """Render the window (plus a thin Li band below it); returns (RGB image, its extent)."""
    x0, x1, y0, y1 = window
    pad = 0.025 * (y1 - y0)
    view = (x0, x1, y0 - pad, y1)
    w, h = x1 - x0, y1 - y0 + pad
    if w >= h:
        size = (RENDER_PIXELS, max(16, round(RENDER_PIXELS * h / w)))
    else:
        size = (max(16, round(RENDER_PIXELS * w / h)), RENDER_PIXELS)
    lw = RENDER_PIXELS / 400  # ~2 px once shown
    pl = pv.Plotter(off_screen=True, window_size=size, border=False)
    try:
        pl.set_background("white")
        grid = _clip(sec.grid, window)
        if grid.n_cells:
            pl.add_mesh(grid, scalars=scalars, cmap=cmap, clim=clim, lighting=False,
                        show_scalar_bar=False, interpolate_before_map=True)
        if stream:
            lines = _streamlines(sec, window)
            if lines is not None:
                pl.add_mesh(lines, color=STREAM_COLOR, line_width=0.7 * lw, lighting=False, opacity=0.9)
        if sec.solid_fill:  # grey behind the electrolyte: shows through cut-out solids and below
            back = pv.Plane(center=((x0 + x1) / 2, (view[2] + y1) / 2, -0.01 * max(w, h)), direction=(0, 0, 1),
                            i_size=1.02 * w, j_size=1.02 * h)
            pl.add_mesh(back, color=LI_COLOR, lighting=False)
        else:
            li = _li_fill(sec.electrode_path, x0, x1, y0 - 2 * pad)
            if li is not None:
                pl.add_mesh(li, color=LI_COLOR, lighting=False)
        if sec.electrode_lines is not None and sec.electrode_lines.n_points:
            pl.add_mesh(sec.electrode_lines, color=ELECTRODE_COLOR, line_width=1.2 * lw, lighting=False)
        elif len(sec.electrode_path) >= 2:
            line = pv.lines_from_points(np.c_[sec.electrode_path, np.zeros(len(sec.electrode_path))])
            pl.add_mesh(line, color=ELECTRODE_COLOR, line_width=1.2 * lw, lighting=False)
        if sec.interface.n_points:
            iface = _clip(sec.interface, window)
            if iface.n_points:
                pl.add_mesh(iface, color=sec.interface_color, line_width=1.5 * lw, lighting=False)
        cx, cy = (view[0] + view[1]) / 2, (view[2] + view[3]) / 2
        dist = 10 * max(w, h)
        pl.camera.parallel_projection = True
        pl.camera.focal_point = (cx, cy, 0.0)
        pl.camera.position = (cx, cy, dist)
        pl.camera.up = (0.0, 1.0, 0.0)
        pl.camera.parallel_scale = h / 2
        pl.camera.clipping_range = (0.5 * dist, 1.5 * dist)
        img = pl.screenshot(return_img=True)
    finally:
        pl.close()
    return img, view


def _show(ax, img, view, sec: Section, fontsize=12):
    ax.imshow(img, extent=view, origin="upper", interpolation="antialiased")
    ax.set_xlim(view[0], view[1])
    ax.set_ylim(view[2], view[3])
    ax.set_xlabel(sec.xlabel, fontsize=fontsize)
    ax.set_ylabel(sec.ylabel, fontsize=fontsize)
    ax.tick_params(labelsize=fontsize - 1)


def _legend(ax, sec: Section, stream: bool = False, fontsize=10):
    """Explain the lines drawn into the rendered scene (proxy artists)."""
    handles = []
    if len(sec.electrode_path) >= 2:
        handles.append(Line2D([], [], color=ELECTRODE_COLOR, lw=2, label="electrode surface"))
    if sec.solid_fill:
        handles.append(Patch(facecolor=LI_COLOR, edgecolor="none", label="solid (Li, alloy, Cu)"))
    if sec.interface.n_points:
        handles.append(Line2D([], [], color=sec.interface_color, lw=3, label=sec.interface_label))
    if stream:
        handles.append(Line2D([], [], color=STREAM_COLOR, lw=1, label="current lines"))
    if handles:  # mid-grey box: black and white lines both show
        leg = ax.legend(handles=handles, loc="upper right", fontsize=fontsize, framealpha=0.9,
                        facecolor="0.5", edgecolor="0.35")
        for text in leg.get_texts():
            text.set_color("white")


def _colorbar(fig, ax, cmap, clim, label, **kw):
    sm = ScalarMappable(norm=Normalize(*clim), cmap=cmap)
    cb = fig.colorbar(sm, ax=ax, **kw)
    cb.set_label(label, fontsize=12)
    cb.ax.tick_params(labelsize=11)
    cb.formatter.set_useOffset(False)
    cb.update_ticks()
    return cb


def _fmt(value, digits=4) -> str:
    if value is None or isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        return "n/a"
    if abs(value) < 100:
        return f"{value:.{digits}f}"
    return f"{value:.4g}"


def _caption(metrics: dict) -> str:
    parts = []
    if metrics.get("tip_over_far") is not None:
        parts.append(f"tip/far = {_fmt(metrics.get('tip_over_far'))}")
    mm = ((metrics.get("electrode") or {}).get("all") or {}).get("max_over_mean")
    if mm is not None:
        parts.append(f"max/mean = {_fmt(mm)}")
    wa = metrics.get("wagner_number")
    if isinstance(wa, (int, float)) and math.isfinite(wa) and metrics.get("model") != "primary":
        parts.append(f"Wa = {wa:.3g}")
    design = metrics.get("design") or {}
    if isinstance(design.get("current_fraction_top_band"), (int, float)):  # alloy skeleton
        parts.append(f"top {100 * design['current_fraction_top_band']:.1f} % of I")
    fractions = design.get("current_fraction") if isinstance(design.get("current_fraction"), dict) else {}
    if fractions:  # HoMS membrane
        parts.append(f"inside {100 * fractions.get('sphere_interiors', 0):.0f} %, "
                     f"top {100 * fractions.get('membrane_top', 0):.1f} % of I")
    return ", ".join(parts)


def _figure(width_in: float, height_in: float) -> Figure:
    fig = Figure(figsize=(width_in, height_in), dpi=100, layout="constrained", facecolor="white")
    FigureCanvasAgg(fig)
    return fig


def _single_height(view, width_in=10.0) -> float:
    aspect = (view[3] - view[2]) / (view[1] - view[0])
    return float(np.clip(7.4 * aspect + 1.7, 4.5, 10.0))


def _save(fig: Figure, path: Path) -> Path:
    fig.savefig(str(path), facecolor="white")
    fig.clear()
    return path


def _draw_potential(sec: Section, path: Path) -> Path:
    window = _full_window(sec)
    pot = np.asarray(sec.grid.point_data["potential_mV"], dtype=float)
    clim = _nonempty((float(pot.min()), float(pot.max())))
    img, view = _scene(sec, window, "potential_mV", POTENTIAL_CMAP, clim, stream=True)
    fig = _figure(10, _single_height(view))
    ax = fig.add_subplot()
    _show(ax, img, view, sec)
    _legend(ax, sec, stream=True)
    _colorbar(fig, ax, POTENTIAL_CMAP, clim, "electrolyte potential (mV)", shrink=0.9)
    fig.suptitle(f"{sec.name}: electrolyte potential (mV) and current lines", fontsize=14)
    ax.set_title(_caption(sec.metrics) + (f"; {sec.note}" if sec.note else ""), fontsize=11)
    return _save(fig, path)


def _window_range(sec: Section, window) -> tuple[float, float]:
    g = _clip(sec.grid, window)
    v = np.asarray((g if g.n_cells else sec.grid).cell_data["magnitude"], dtype=float)
    v = v[np.isfinite(v)]
    return (float(v.min()), float(v.max())) if v.size else (0.0, 1.0)


def _nonempty(clim):
    lo, hi = clim
    if hi - lo <= 1e-12 * max(abs(lo), abs(hi), 1e-30):
        pad = max(abs(lo), 1e-12) * 1e-3
        return (lo - pad, hi + pad)
    return (lo, hi)


def _draw_current(sec: Section, path: Path) -> Path:
    window = _bud_window(sec)
    clim = _nonempty(_window_range(sec, window))
    img, view = _scene(sec, window, "magnitude", CURRENT_CMAP, clim)
    fig = _figure(10, _single_height(view))
    ax = fig.add_subplot()
    _show(ax, img, view, sec)
    _legend(ax, sec)
    _colorbar(fig, ax, CURRENT_CMAP, clim, "current density magnitude (mA/cm²)", shrink=0.9)
    where = "near the bud" if sec.bud_size else "near the electrode"
    fig.suptitle(f"{sec.name}: current density magnitude (mA/cm²) {where}", fontsize=14)
    ax.set_title(_caption(sec.metrics) + (f"; {sec.note}" if sec.note else ""), fontsize=11)
    return _save(fig, path)


def _panels(sections: list[Section], scenes, titles: list[str]):
    """Rendered scenes (same window) with shared axes, one row (up to 4) or rows of 3: (figure, axes)."""
    n = len(sections)
    cols = n if n <= 4 else 3
    rows = math.ceil(n / cols)
    view = scenes[0][1]
    aspect = (view[3] - view[2]) / (view[1] - view[0])
    width = min(16.0, 7.0 * cols + 1.5) if cols <= 3 else 24.0
    panel = (width - 1.5) / cols
    height = float(np.clip(panel * 0.85 * aspect + 2.2, 4.5, 9.0))
    height = min(15.5, rows * height)
    fig = _figure(width, height)
    grid = fig.subplots(rows, cols, sharex=True, sharey=True, squeeze=False)
    axes = list(grid.ravel()[:n])
    for ax in grid.ravel()[n:]:
        ax.set_visible(False)
    chars = max(30, int(panel * 10))  # characters per title line at fontsize 12
    for k, (ax, sec, (img, v), title) in enumerate(zip(axes, sections, scenes, titles)):
        _show(ax, img, v, sec)
        head, _, rest = title.partition("\n")
        wrapped = textwrap.fill(rest, chars) if rest else ""
        ax.set_title(head + ("\n" + wrapped if wrapped else ""), fontsize=12)
        if sec.interface.n_points:  # the black Li outline explains itself
            _legend(ax, sec, fontsize=9)
        if k % cols:
            ax.set_ylabel("")
        if k + cols < n:
            ax.set_xlabel("")
    return fig, axes


def _draw_comparison(sections: list[Section], path: Path) -> Path:
    window = _union([_bud_window(s) for s in sections])
    ranges = np.array([_window_range(s, window) for s in sections])
    clim = _nonempty((float(ranges[:, 0].min()), float(ranges[:, 1].max())))
    scenes = [_scene(s, window, "magnitude", CURRENT_CMAP, clim) for s in sections]
    fig, axes = _panels(sections, scenes, [f"{s.name}\n{_caption(s.metrics)}" for s in sections])
    _colorbar(fig, list(axes), CURRENT_CMAP, clim, "current density magnitude (mA/cm²)", shrink=0.9)
    note = f" ({sections[0].note})" if sections[0].note else ""
    where = "near the bud" if any(sec.bud_size for sec in sections) else "near the electrode"
    fig.suptitle(f"Current density magnitude {where}, same colour scale{note}", fontsize=14)
    return _save(fig, path)


# --------------------------------------------------------------------------------------
# Piezo potential in the layer (layer.vtkhdf), cut and mirrored like the case's section
# --------------------------------------------------------------------------------------


def _layer_section(case: CaseFiles, sec: Section) -> Section:
    """``sec`` with the layer mesh as its grid (point data ``psi_mV``); outlines kept, the layer
    top drawn dark. Field data ``psi_range_mV``: min/max of psi over the whole layer."""
    raw = pv.read(str(case.layer))
    if isinstance(raw, pv.MultiBlock):
        raw = raw.combine()
    grid, tdim, _ = _linear_simplices(raw)
    pts = np.asarray(grid.points, dtype=float)
    psi = np.asarray(grid.point_data["piezo_potential"], dtype=float) * 1e3
    cells = np.asarray(grid.cell_connectivity).reshape(-1, tdim + 1)
    if tdim == 2:
        out = pv.UnstructuredGrid({pv.CellType.TRIANGLE: cells}, np.c_[pts[:, :2] * UM, np.zeros(len(pts))])
        out.point_data["psi_mV"] = psi
        if case.dimension == "axisymmetric":
            out, _ = _mirror(out, pv.PolyData())
    else:  # the plane y = y_apex of _section
        y0 = float(_apex(case.electrode.xyz, 2)[1]) if case.electrode is not None else 0.0
        vol = pv.UnstructuredGrid({pv.CellType.TETRA: cells}, pts)
        vol.point_data["psi_mV"] = psi
        out = _to_plane(vol.slice(normal=(0, 1, 0), origin=(0, y0, 0), generate_triangles=True))
        if out.n_cells == 0:
            raise ValueError(f"the plane y = {y0 * UM:.3g} um does not cut the layer")
        out = out.clean(tolerance=1e-9, absolute=False)
    out.field_data["psi_range_mV"] = [float(psi.min()), float(psi.max())]
    return replace(sec, grid=out, interface_color=LAYER_COLOR, interface_label="layer top", solid_fill=False)


def _layer_window(sec: Section) -> tuple[float, float, float, float]:
    """The layer's extent, with some electrolyte above its top."""
    x0, x1, y0, y1 = _full_window(sec)
    return (x0, x1, y0, y1 + 0.4 * (y1 - y0))


def _psi_clim(sections: list[Section]) -> tuple[float, float]:
    """Symmetric about 0: +- the largest |psi| (mV) shown."""
    m = max(float(np.abs(s.grid.point_data["psi_mV"]).max(initial=0.0)) for s in sections)
    m = max(m, 1e-9)
    return (-m, m)


def _piezo_caption(sec: Section) -> str:
    lo, hi = np.asarray(sec.grid.field_data["psi_range_mV"], dtype=float)
    text = f"ψ min {lo:.3g} mV, max {hi:.3g} mV"
    above = (sec.metrics.get("piezo") or {}).get("piezo_potential_above_apex_V")
    if isinstance(above, (int, float)) and not isinstance(above, bool) and math.isfinite(above):
        text += f", above apex {above * 1e3:.3g} mV"
    return text


def _draw_piezo(sec: Section, path: Path) -> Path:
    clim = _psi_clim([sec])
    img, view = _scene(sec, _layer_window(sec), "psi_mV", PIEZO_CMAP, clim)
    fig = _figure(10, _single_height(view))
    ax = fig.add_subplot()
    _show(ax, img, view, sec)
    _legend(ax, sec)
    _colorbar(fig, ax, PIEZO_CMAP, clim, "piezo potential ψ (mV)", shrink=0.9)
    fig.suptitle(f"{sec.name}: piezo potential ψ in the layer (mV)", fontsize=14)
    ax.set_title(_piezo_caption(sec) + (f"; {sec.note}" if sec.note else ""), fontsize=11)
    return _save(fig, path)


def _draw_piezo_comparison(sections: list[Section], path: Path) -> Path:
    window = _union([_layer_window(s) for s in sections])
    clim = _psi_clim(sections)
    scenes = [_scene(s, window, "psi_mV", PIEZO_CMAP, clim) for s in sections]
    fig, axes = _panels(sections, scenes, [f"{s.name}\n{_piezo_caption(s)}" for s in sections])
    _colorbar(fig, list(axes), PIEZO_CMAP, clim, "piezo potential ψ (mV)", shrink=0.9)
    note = f" ({sections[0].note})" if sections[0].note else ""
    fig.suptitle(f"Piezo potential ψ in the layer, same colour scale{note}", fontsize=14)
    return _save(fig, path)

# --------------------------------------------------------------------------------------
# Plating current density along the electrode (matplotlib)
# --------------------------------------------------------------------------------------


def _is_host(case: CaseFiles) -> bool:
    """An electrode that is not a graph over the foil (skeleton, shells): any boundary other than
    the Li-bud builder's, with some height."""
    e = case.electrode
    vertical = 2 if (case.dimension == "3d" or np.ptp(e.xyz[:, 2]) > 0) else 1
    return bool(set(e.boundary.tolist()) - {"bud", "flat"}) and np.ptp(e.xyz[:, vertical]) > 0


def _draw_height_profile(cases: list[CaseFiles], path: Path) -> Path:
    """Plating current density at every electrode vertex against its height (skeletons, shells)."""
    fig = _figure(10, 6)
    ax = fig.add_subplot()
    three_d = False
    for k, c in enumerate(cases):
        e = c.electrode
        vertical = 2 if (c.dimension == "3d" or np.ptp(e.xyz[:, 2]) > 0) else 1
        three_d |= vertical == 2
        ax.scatter(e.current / A_M2_PER_MA_CM2, e.xyz[:, vertical] * UM, s=7, alpha=0.6, color=f"C{k}",
                   edgecolors="none", label=f"{c.name}: {_caption(c.metrics)}")
    ax.set_xlabel("plating current density (mA/cm²)", fontsize=12)
    ax.set_ylabel(("z" if three_d else "y") + " (µm), height above the electrode plane", fontsize=12)
    ax.ticklabel_format(axis="x", useOffset=False)
    ax.tick_params(labelsize=11)
    ax.grid(True, alpha=0.3)
    name = cases[0].scenario.get("name")
    ax.set_title("Plating current density at every electrode vertex vs height" + (f" ({name})" if name else ""),
                 fontsize=13)
    fig.legend(fontsize=9, frameon=False, loc="outside lower center", ncol=1, markerscale=2.5)
    return _save(fig, path)


def _draw_electrode_profile(cases: list[CaseFiles], path: Path) -> Path | None:
    cases = [c for c in cases if c.electrode is not None and len(c.electrode.current)]
    if not cases:
        return None
    if any(_is_host(c) for c in cases):
        return _draw_height_profile(cases, path)
    dims = {c.dimension for c in cases}
    dim = dims.pop() if len(dims) == 1 else None
    if dim is None:
        dim = "3d" if any(np.ptp(c.electrode.xyz[:, 2]) > 0 for c in cases) else "2d"
    fig = _figure(10, 6)
    ax = fig.add_subplot()
    shaded = False
    for k, c in enumerate(cases):
        e = c.electrode
        i = e.current / A_M2_PER_MA_CM2
        label = f"{c.name}: {_caption(c.metrics)}"
        color = f"C{k}"
        if dim == "3d":
            apex = _apex(e.xyz, 2)
            r = np.hypot(e.xyz[:, 0] - apex[0], e.xyz[:, 1] - apex[1]) * UM
            ax.scatter(r, i, s=6, alpha=0.6, color=color, label=label, edgecolors="none")
            b = float((c.geometry.get("bud") or {}).get("base_radius") or 0) * UM
            if not shaded and b > 0 and np.any(e.boundary == "bud"):
                ax.axvspan(0, b, color="0.85", zorder=0, label="bud (r < base radius)")
                shaded = True
        else:
            x = e.xyz[:, 0] * UM
            order = np.lexsort((e.xyz[:, 1], x))
            ax.plot(x[order], i[order], "-", lw=1.6, color=color, label=label)
            if not shaded:
                b = float((c.geometry.get("bud") or {}).get("base_radius") or 0) * UM
                spans = _bud_spans(x[order], e.xyz[order, 1] * UM, e.boundary[order], b)
                if dim == "axisymmetric":
                    spans = [(max(a, 0.0), bb) for a, bb in spans]
                for j, (a, bb) in enumerate(spans):
                    ax.axvspan(a, bb, color="0.85", zorder=0, label="bud" if j == 0 else None)
                shaded = bool(spans)
    xlabel = {"axisymmetric": "r (µm)", "3d": "horizontal distance from the apex (µm)"}.get(dim, "x (µm)")
    ax.set_xlabel(xlabel, fontsize=12)
    ax.set_ylabel("plating current density (mA/cm²)", fontsize=12)
    ax.ticklabel_format(axis="y", useOffset=False)
    ax.tick_params(labelsize=11)
    ax.grid(True, alpha=0.3)
    scen = cases[0].scenario
    where = {"axisymmetric": "axisymmetric", "3d": "3D", "2d": "2D"}.get(dim, dim)
    name = scen.get("name")
    what = f"{name}, {where}" if name else where
    ax.set_title(f"Plating current density along the electrode ({what})", fontsize=13)
    handles, labels = ax.get_legend_handles_labels()
    order = sorted(range(len(labels)), key=lambda j: labels[j].startswith("bud"))
    fig.legend([handles[j] for j in order], [labels[j] for j in order], fontsize=10, frameon=False,
               loc="outside lower center", ncol=2 if len(labels) > 2 else len(labels))
    if dim in ("2d", "axisymmetric"):
        ax.set_xlim(min(c.electrode.xyz[:, 0].min() for c in cases) * UM,
                    max(c.electrode.xyz[:, 0].max() for c in cases) * UM)
    else:
        ax.set_xlim(left=0)
    return _save(fig, path)


def _bud_spans(x: np.ndarray, y: np.ndarray, names: np.ndarray, base_radius: float):
    """x-ranges of the buds along the ordered electrode: apex x +- base radius (um).

    A bud is a run of consecutive 'bud' nodes; without a known base radius the run's extent.
    """
    spans = []
    is_bud = names == "bud"
    k = 0
    while k < len(x):
        if not is_bud[k]:
            k += 1
            continue
        j = k
        while j + 1 < len(x) and is_bud[j + 1]:
            j += 1
        if base_radius > 0:
            xa = x[k + int(np.argmax(y[k: j + 1]))]
            spans.append((float(xa - base_radius), float(xa + base_radius)))
        else:
            spans.append((float(x[k]), float(x[j])))
        k = j + 1
    return spans


# --------------------------------------------------------------------------------------


def attempter(written: list[Path]):
    """``attempt(what, fn, *args)``: draw one picture; a failure is a warning, not an error (a
    failed picture must not cost the run); the files drawn are appended to ``written``."""

    def attempt(what: str, fn, *args):
        try:
            result = fn(*args)
        except Exception as err:  # noqa: BLE001 - a failed picture must not cost the run
            warnings.warn(f"render: {what} skipped ({type(err).__name__}: {err})", stacklevel=3)
            return None
        if isinstance(result, Path) and result.exists():
            written.append(result)
        return result

    return attempt


def render_folder(folder: Path | str) -> list[Path]:
    """Draw every picture of an output folder into ``<folder>/pictures``; the written paths."""
    folder = Path(folder)
    cases = _read_cases(folder)
    if any(c.metrics.get("model") == "mixed_conduction" for c in cases):  # its own pictures
        from solver import render_mixed

        return render_mixed.render(folder, cases)
    out = folder / "pictures"
    existed = out.exists()
    out.mkdir(parents=True, exist_ok=True)
    written: list[Path] = []
    attempt = attempter(written)

    sections, layers = [], []
    plane = None  # 3D: every case on the first case's plane, so that the comparison compares like with like
    for case in cases:
        if case.fields is None:
            continue
        sec = attempt(f"{case.name} fields", _section, case, plane)
        if sec is None:
            continue
        if plane is None and sec.slice_y is not None:
            plane = sec.slice_y
        sections.append(sec)
        attempt(f"{case.name}_potential.png", _draw_potential, sec, out / f"{case.name}_potential.png")
        attempt(f"{case.name}_current.png", _draw_current, sec, out / f"{case.name}_current.png")
        if case.layer is not None:
            layer = attempt(f"{case.name} layer", _layer_section, case, sec)
            if layer is not None:
                layers.append(layer)
                attempt(f"{case.name}_piezo.png", _draw_piezo, layer, out / f"{case.name}_piezo.png")
    attempt("electrode_current.png", _draw_electrode_profile, cases, out / "electrode_current.png")
    if len(sections) >= 2:
        attempt("comparison.png", _draw_comparison, sections, out / "comparison.png")
    if len(layers) >= 2:
        attempt("piezo_comparison.png", _draw_piezo_comparison, layers, out / "piezo_comparison.png")
    if not existed and not any(out.iterdir()):
        out.rmdir()  # nothing to draw (e.g. outputs.fields: false)
    return written
