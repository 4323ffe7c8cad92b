"""Pictures of a mixed ionic-electronic conduction folder (``physics.model: mixed_conduction``).

``render(folder, cases)`` (called by :func:`solver.render.render_folder`) writes into
``<folder>/pictures/``:

``deposition_comparison.png``
    one panel per case, side by side on one logarithmic colour scale: the Li deposition rate
    inside the stack (cell data ``deposition_rate`` of ``fields.vtkhdf``, A/cm^3; cells without
    deposition in white), the lower part of the stack (where the layers, voids and filament are),
    region interfaces in grey and the mesh boundary (Li surfaces, voids, filament) in black; the
    title gives the internal share of the plating current, where its maximum is and the cell
    voltage. Below, the deposition rate averaged over the width against the height, every case.
``<case>_potentials.png``
    ionic and electronic potentials (mV) of one case over the whole stack.

3D results are shown on the plane y = 0 (a section through the filament axis; cut 1e-4 of the
width off it). Drawn from the
files alone (matplotlib; pyvista reads the file and cuts 3D grids).
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pyvista as pv
from matplotlib.colors import LogNorm, Normalize
from matplotlib.tri import Triangulation

from solver.render import _figure, _linear_simplices, _save

UM = 1e6
WINDOW_TOP = 12e-6  # m: the maps show the stack up to this height (or the whole stack if lower)


def _section(path: Path):
    """(points (n, 2) in m, triangles (m, 3), cell data dict) of a 2D grid or the y = 0 cut of a 3D one."""
    raw = pv.read(str(path))
    grid, tdim, _ = _linear_simplices(raw)
    if tdim == 3:
        # just off y = 0: a cut along mesh faces would give each face twice (overlapping triangles)
        off = 1e-4 * (grid.bounds[3] - grid.bounds[2])
        cut = grid.slice(normal="y", origin=(0.0, off, 0.0)).triangulate().clean().cast_to_unstructured_grid()
        is_tri = np.asarray(cut.celltypes) == pv.CellType.TRIANGLE
        cut = cut.extract_cells(np.flatnonzero(is_tri))
        faces = np.asarray(cut.cells_dict[pv.CellType.TRIANGLE])
        pts = np.asarray(cut.points)[:, [0, 2]]
        p = pts[faces]
        area = np.abs((p[:, 1, 0] - p[:, 0, 0]) * (p[:, 2, 1] - p[:, 0, 1])
                      - (p[:, 2, 0] - p[:, 0, 0]) * (p[:, 1, 1] - p[:, 0, 1]))
        good = area > 1e-12 * float(area.max(initial=0.0))
        faces = faces[good]
        data = {k: np.asarray(cut.cell_data[k])[good] for k in cut.cell_data.keys()}
        pdata = {k: np.asarray(cut.point_data[k]).reshape(len(pts), -1)[:, 0] for k in cut.point_data.keys()}
        return pts, faces, data, pdata
    cells = np.asarray(grid.cells_dict[pv.CellType.TRIANGLE])
    pts = np.asarray(grid.points)[:, :2]
    data = {k: np.asarray(grid.cell_data[k]) for k in grid.cell_data.keys()}
    pdata = {k: np.asarray(grid.point_data[k]).reshape(len(pts), -1)[:, 0] for k in grid.point_data.keys()}
    return pts, cells, data, pdata


def _edges(tri: np.ndarray, region: np.ndarray):
    """Edges between two regions and edges on the boundary (each (k, 2) point pairs)."""
    e = np.sort(np.concatenate([tri[:, [0, 1]], tri[:, [1, 2]], tri[:, [2, 0]]]), axis=1)
    owner = np.tile(region, 3)
    order = np.lexsort((e[:, 1], e[:, 0]))
    e, owner = e[order], owner[order]
    same = np.all(e[1:] == e[:-1], axis=1)
    pair = np.flatnonzero(same)
    interface = e[pair[owner[pair] != owner[pair + 1]]]
    single = np.ones(len(e), dtype=bool)
    single[pair] = False
    single[pair + 1] = False
    return interface, e[single]


def _lines(ax, pts, edges, **kw):
    from matplotlib.collections import LineCollection

    if len(edges):
        ax.add_collection(LineCollection(pts[edges] * UM, **kw))


def render(folder: Path, cases) -> list[Path]:
    out = folder / "pictures"
    out.mkdir(parents=True, exist_ok=True)
    written: list[Path] = []
    from solver.render import attempter

    attempt = attempter(written)

    loaded = []
    for case in cases:
        if case.fields is None:
            continue
        section = attempt(f"{case.name} fields", _section, case.fields)
        if section is not None:
            loaded.append((case, *section))
    if loaded:
        attempt("deposition_comparison.png", _comparison, loaded, out / "deposition_comparison.png")
    for item in loaded:
        attempt(f"{item[0].name}_potentials.png", _potentials, item, out / f"{item[0].name}_potentials.png")
    return written


def _window(case, height: float) -> float:
    """Top of a case's map: twice its thin layers or voids, 1.2 times its filament, at least 2 um."""
    g = case.geometry
    layers = float(g.get("li3n_thickness") or 0.0) + float(g.get("interphase_thickness") or 0.0)
    voids = g.get("voids") or {}
    fil = g.get("filament") or {}
    top = max(2e-6, 2 * layers, 2 * float(voids.get("depth") or 0.0) * bool(voids.get("count")),
              1.2 * float(fil.get("depth") or 0.0))
    return min(height, top) if g else min(height, WINDOW_TOP)


def _comparison(loaded, path: Path) -> Path:
    n = len(loaded)
    rates = [np.clip(np.asarray(d["deposition_rate"], dtype=float), 0, None) * 1e-6 for _, _, _, d, _ in loaded]
    top = max((float(r.max()) for r in rates), default=0.0)
    norm = LogNorm(vmin=top * 1e-4, vmax=top) if top > 0 else None
    panel_w = 2.6
    fig = _figure(max(8.0, panel_w * n + 1.5), 8.0)
    grid = fig.add_gridspec(2, n, height_ratios=[1.3, 1.0])
    mappable = None
    for k, ((case, pts, tri, data, _), rate) in enumerate(zip(loaded, rates)):
        ax = fig.add_subplot(grid[0, k])
        t = Triangulation(pts[:, 0] * UM, pts[:, 1] * UM, tri)
        if norm is not None:
            shown = np.where(rate > norm.vmin, rate, np.nan)
            mappable = ax.tripcolor(t, facecolors=np.ma.masked_invalid(shown), norm=norm, cmap="inferno_r")
        region = np.asarray(data.get("region", np.zeros(len(tri))), dtype=int)
        interface, boundary = _edges(tri, region)
        _lines(ax, pts, interface, colors="0.55", linewidths=0.8)
        _lines(ax, pts, boundary, colors="black", linewidths=1.2)
        ax.set_xlim(pts[:, 0].min() * UM, pts[:, 0].max() * UM)
        window = _window(case, float(pts[:, 1].max()))
        ax.set_ylim(min(0.0, pts[:, 1].min() * UM) - 0.02 * window * UM, window * UM)
        ax.set_xlabel("x (um)")
        if k == 0:
            ax.set_ylabel("height above the plated Li (um)")
        m = case.metrics
        frac = m.get("internal_fraction")
        h = m.get("max_deposition_height_m")
        v = m.get("cell_voltage_V")
        lines = [case.name,
                 f"inside {100 * frac:.3g} %" if isinstance(frac, float) and math.isfinite(frac) else "inside n/a"]
        if isinstance(frac, float) and frac > 1e-3 and isinstance(h, float) and math.isfinite(h):
            lines[-1] += f", max at {h * UM:.2f} um"
        if isinstance(v, float):
            lines.append(f"V = {v * 1e3:.1f} mV")
        ax.set_title("\n".join(lines), fontsize=10)
    if mappable is not None:
        cb = fig.colorbar(mappable, ax=[fig.axes[i] for i in range(n)], shrink=0.9, pad=0.02)
        cb.set_label("Li deposition rate inside (A/cm^3)")
    ax = fig.add_subplot(grid[1, :])
    reach = [float(p[tri][:, :, 1].max(axis=1)[r > 0].max()) for (_, p, tri, _, _), r in zip(loaded, rates) if np.any(r > 0)]
    height = max(float(p[:, 1].max()) for _, p, _, _, _ in loaded)
    window = min(height, 1.5 * max(reach)) if reach else min(height, WINDOW_TOP)
    ys = np.linspace(0.0, window, 301)[1:-1]
    for (case, pts, tri, data, _), rate in zip(loaded, rates):
        t = Triangulation(pts[:, 0], pts[:, 1], tri)
        xs = np.linspace(pts[:, 0].min(), pts[:, 0].max(), 402)[1:-1]
        X, Y = np.meshgrid(xs, ys)
        idx = t.get_trifinder()(X, Y)
        sample = np.where(idx >= 0, rate[np.maximum(idx, 0)], 0.0)
        mean = sample.mean(axis=1)  # voids and the filament count as zero
        if np.any(mean > 0):
            ax.plot(np.where(mean > 0, mean, np.nan), ys * UM, label=case.name, lw=1.5)
        else:
            ax.plot([], [], label=f"{case.name} (none inside)")
    ax.set_xscale("log")
    if top > 0:
        ax.set_xlim(top * 1e-5, top * 2)
    ax.set_ylim(0, window * UM)
    ax.set_xlabel("deposition rate averaged over the width (A/cm^3)")
    ax.set_ylabel("height (um)")
    ax.legend(fontsize=9, loc="upper right")
    ax.grid(alpha=0.3)
    fig.suptitle("Li deposition inside the stack (mixed ionic-electronic model), same colour scale", fontsize=13)
    return _save(fig, path)


def _potentials(item, path: Path) -> Path:
    case, pts, tri, data, pdata = item
    names = [k for k in ("ionic_potential", "electronic_potential") if k in pdata]
    fig = _figure(4.2 * len(names) + 1.0, 6.0)
    t = Triangulation(pts[:, 0] * UM, pts[:, 1] * UM, tri)
    for k, name in enumerate(names):
        ax = fig.add_subplot(1, len(names), k + 1)
        values = pdata[name] * 1e3
        if name == "electronic_potential":  # only meaningful where electrons conduct
            sigma_e = np.asarray(data.get("electronic_conductivity", np.ones(len(tri))))
            mask = sigma_e <= 0
            t.set_mask(mask)
        else:
            t.set_mask(None)
        lim = Normalize(float(values.min()), float(values.max()) + 1e-12)
        c = ax.tripcolor(t, values, norm=lim, cmap="viridis", shading="gouraud")
        fig.colorbar(c, ax=ax, shrink=0.9).set_label(f"{name.replace('_', ' ')} (mV)")
        ax.set_aspect("equal")
        ax.set_xlabel("x (um)")
        ax.set_ylabel("height (um)")
        ax.set_title(name.replace("_", " ") + (" (electron-conducting regions)" if k else ""), fontsize=10)
    t.set_mask(None)
    fig.suptitle(f"{case.name}: potentials, V = {case.metrics.get('cell_voltage_V', float('nan')) * 1e3:.1f} mV",
                 fontsize=12)
    return _save(fig, path)
