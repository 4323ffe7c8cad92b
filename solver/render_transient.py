"""Pictures of a transient run (``solver.transient``), from its files alone (one process).

Written into ``<case folder>/pictures/``:

``voltage_vs_time.png``
    cell voltage and current density, electrode surface concentration (min/max) and, with a
    bud, tip_over_far against time (history.csv).
``concentration_profiles.png``
    salt concentration along the vertical line through the flat electrode far from the bud,
    and through the bud's apex (2D/axisymmetric), at every output time (frames).
``concentration.gif`` and ``concentration_last.png`` (2D and axisymmetric)
    the concentration field near the bud at every output time, one colour scale (the order
    parameter, ``order_parameter.gif`` / ``_last.png``, for the phase field).

With variants, ``compare`` writes ``<run folder>/pictures/comparison.png``: the last frame of each
variant side by side on one colour scale, and their histories on common axes.
"""

from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np


def _history(folder: Path) -> dict[str, np.ndarray]:
    with open(folder / "history.csv") as fh:
        rows = list(csv.DictReader(fh))
    keys = rows[0].keys() if rows else []
    return {k: np.array([float(r[k]) if r[k] not in ("", None) else np.nan for r in rows]) for k in keys}


def _frames(folder: Path):
    """(points, corner triangles or None, [(time, point arrays)]) from frames/."""
    import pyvista as pv

    mesh = pv.read(str(folder / "frames" / "mesh.vtkhdf"))
    frames = []
    for f in sorted((folder / "frames").glob("frame_*.npz")):
        data = np.load(f)
        frames.append((float(data["time"]), {k[6:]: data[k] for k in data.files if k.startswith("point/")}))
    tri = None
    points = np.asarray(mesh.points)
    if np.allclose(points[:, 2], 0.0):
        cells = mesh.cells_dict
        for vtk_type in (5, 22):  # linear and quadratic triangles: the corners
            if vtk_type in cells:
                tri = np.asarray(cells[vtk_type])[:, :3]
    return points, tri, frames


def _time_axis(t: np.ndarray) -> tuple[np.ndarray, str]:
    end = float(np.nanmax(t)) if t.size else 0.0
    if end > 2 * 3600:
        return t / 3600, "time (h)"
    if end > 120:
        return t / 60, "time (min)"
    return t, "time (s)"


def render(folder: Path | str) -> list[Path]:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    folder = Path(folder)
    out = folder / "pictures"
    out.mkdir(exist_ok=True)
    written = []
    h = _history(folder)
    metrics = json.loads((folder / "metrics.json").read_text()) if (folder / "metrics.json").exists() else {}
    t, tlabel = _time_axis(h["time_s"])
    panels = 3 if "tip_over_far" in h else 2
    field = "order_parameter" if "deposit_height_m" in h else "concentration"
    fig, axes = plt.subplots(panels, 1, figsize=(8, 2.6 * panels), sharex=True, constrained_layout=True)
    ax = axes[0]
    ax.plot(t, h["cell_voltage_V"] * 1e3, color="C0")
    ax.set_ylabel("cell voltage (mV)", color="C0")
    twin = ax.twinx()
    twin.plot(t, h["current_density_A_m2"] / 10, color="C1", lw=1)
    twin.set_ylabel("current density (mA/cm$^2$)", color="C1")
    title = metrics.get("case", folder.name)
    if metrics.get("status") == "sand":
        title += f" - Sand's time {metrics['sand_time_s']:.4g} s"
    elif metrics.get("status") == "failed":
        title += " - stopped: step failed"
    ax.set_title(title)
    ax = axes[1]
    if "surface_concentration_min_mol_m3" in h:
        ax.plot(t, h["surface_concentration_min_mol_m3"], label="min")
        ax.plot(t, h["surface_concentration_max_mol_m3"], label="max", ls="--")
        ax.set_ylabel("c at electrode (mol/m$^3$)")
        ax.axhline(0, color="k", lw=0.5)
        ax.legend()
    else:  # phase field
        ax.plot(t, h["deposit_height_m"] * 1e6)
        ax.set_ylabel("deposit height (um)")
    if panels == 3:
        axes[2].plot(t, h["tip_over_far"], color="C3")
        axes[2].set_ylabel("tip_over_far")
    axes[-1].set_xlabel(tlabel)
    path = out / "voltage_vs_time.png"
    fig.savefig(path, dpi=120)
    plt.close(fig)
    written.append(path)

    if not (folder / "frames" / "mesh.vtkhdf").exists():
        return written
    points, tri, frames = _frames(folder)
    if not frames:
        return written
    import pyvista as pv

    mesh = pv.read(str(folder / "frames" / "mesh.vtkhdf"))
    vertical = 1 if tri is not None else 2
    lo, hi = points[:, vertical].min(), points[:, vertical].max()
    x_lo, x_hi = points[:, 0].min(), points[:, 0].max()
    width = x_hi - x_lo
    mid_y = 0.5 * (points[:, 1].min() + points[:, 1].max())
    lines = {"far from the bud": x_lo + 0.98 * width}
    if tri is not None:
        lines["through the apex"] = x_lo + (0.0 if x_lo >= 0 else 0.5 * width) + 1e-6 * width
    fig, axes = plt.subplots(1, len(lines), figsize=(5 * len(lines), 4), constrained_layout=True, squeeze=False)
    cmap = plt.get_cmap("viridis")
    for ax, (name, x0) in zip(axes[0], lines.items()):
        a, b = np.zeros(3), np.zeros(3)
        a[0] = b[0] = x0
        if tri is None:
            a[1] = b[1] = mid_y
        a[vertical], b[vertical] = lo, hi
        for j, (time_s, data) in enumerate(frames):
            grid = mesh.copy()
            grid.point_data["c"] = data["concentration"]
            line = grid.sample_over_line(a, b, resolution=400)
            valid = np.asarray(line["vtkValidPointMask"]).astype(bool)
            z = np.asarray(line.points[:, vertical])[valid]
            ax.plot((z - lo) * 1e6, np.asarray(line["c"])[valid], color=cmap(j / max(1, len(frames) - 1)), lw=1)
        ax.set_xlabel("height above the electrode base (um)")
        ax.set_ylabel("c (mol/m$^3$)")
        ax.set_title(f"concentration {name}")
    sm = plt.cm.ScalarMappable(cmap=cmap, norm=plt.Normalize(frames[0][0], frames[-1][0]))
    fig.colorbar(sm, ax=axes[0, -1], label="time (s)")
    path = out / "concentration_profiles.png"
    fig.savefig(path, dpi=120)
    plt.close(fig)
    written.append(path)

    if tri is None:
        return written
    from matplotlib.animation import FuncAnimation, PillowWriter
    from matplotlib.tri import Triangulation

    x, y = points[:, 0], points[:, 1]
    span = min(0.5 * (hi - lo), 1.5 * (x.max() - x.min()))
    window = y <= lo + span  # the electrode's neighbourhood (at most 1.5 domain widths high)
    tri_w = tri[np.any(window[tri], axis=1)]  # cropped by the axis limits below
    triang = Triangulation(x * 1e6, y * 1e6, tri_w)
    values = [data[field] for _, data in frames]
    vmin = min(float(v[window].min()) for v in values)
    vmax = max(float(v[window].max()) for v in values)
    fig, ax = plt.subplots(figsize=(7, 4.5), constrained_layout=True)
    artist = ax.tripcolor(triang, values[0], shading="gouraud", vmin=vmin, vmax=vmax, cmap="viridis")
    fig.colorbar(artist, ax=ax, label="xi (1 = Li)" if field == "order_parameter" else "c (mol/m$^3$)")
    ax.set_aspect("equal")
    ax.set_xlim(x.min() * 1e6, x.max() * 1e6)
    ax.set_ylim(lo * 1e6, (lo + span) * 1e6)
    ax.set_xlabel("x / r (um)")
    ax.set_ylabel("y / z (um)")

    def draw(j):
        artist.set_array(values[j])
        ax.set_title(f"{'order parameter' if field == 'order_parameter' else 'salt concentration'}, "
                     f"t = {frames[j][0]:.4g} s")
        return (artist,)

    draw(len(frames) - 1)
    path = out / f"{field}_last.png"
    fig.savefig(path, dpi=120)
    written.append(path)
    if len(frames) > 1:
        anim = FuncAnimation(fig, draw, frames=len(frames), blit=False)
        path = out / f"{field}.gif"
        anim.save(path, writer=PillowWriter(fps=4), dpi=80)
        written.append(path)
    plt.close(fig)
    return written


def compare(folders: dict[str, Path], out: Path) -> Path | None:
    """Side-by-side picture of the variants of one run (2D / axisymmetric frames): each variant's
    last frame (order parameter or concentration) on one colour scale, then deposit height and
    protrusion against charge passed (phase field) or cell voltage against time (tertiary)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.tri import Triangulation

    shown = {}
    for name, folder in folders.items():
        if not (folder / "frames" / "mesh.vtkhdf").exists():
            continue
        points, tri, frames = _frames(folder)
        if tri is None or not frames:
            return None  # 3D: no flat picture
        shown[name] = (points, tri, frames[-1], _history(folder))
    if len(shown) < 2:
        return None
    phase_field = all("deposit_height_m" in h for *_, h in shown.values())
    field = "order_parameter" if phase_field else "concentration"
    n = len(shown)
    fig = plt.figure(figsize=(3.6 * n, 7.2), constrained_layout=True)
    grid = fig.add_gridspec(2, n)
    lows = [p[:, 1].min() for p, *_ in shown.values()]
    span = min(min(0.5 * np.ptp(p[:, 1]), 1.5 * np.ptp(p[:, 0])) for p, *_ in shown.values())
    vmin = min(float(f[1][field].min()) for _, _, f, _ in shown.values())
    vmax = max(float(f[1][field].max()) for _, _, f, _ in shown.values())
    artist = None
    for k, (name, (points, tri, (time_s, data), _)) in enumerate(shown.items()):
        ax = fig.add_subplot(grid[0, k])
        x, y = points[:, 0] * 1e6, points[:, 1] * 1e6
        artist = ax.tripcolor(Triangulation(x, y, tri), data[field], shading="gouraud", vmin=vmin, vmax=vmax,
                              cmap="viridis")
        ax.set_aspect("equal")
        ax.set_xlim(x.min(), x.max())
        ax.set_ylim(lows[k] * 1e6, (lows[k] + span) * 1e6)
        ax.set_title(f"{name}, t = {time_s:.4g} s")
        ax.set_xlabel("x / r (um)")
        if k == 0:
            ax.set_ylabel("y / z (um)")
    fig.colorbar(artist, ax=fig.axes[:n], label="xi (1 = Li)" if phase_field else "c (mol/m$^3$)", shrink=0.8)
    if phase_field:
        ax1, ax2 = fig.add_subplot(grid[1, : max(1, n // 2)]), fig.add_subplot(grid[1, max(1, n // 2):])
        for name, (*_, h) in shown.items():
            q = h["charge_passed_C"]
            ax1.plot(q, h["deposit_height_m"] * 1e6, label=name)
            ax2.plot(q, h["protrusion_m"] * 1e6, label=name)
        ax1.set_ylabel("deposit height (um)")
        ax2.set_ylabel("protrusion above the mean rise (um)")
        for ax in (ax1, ax2):
            ax.set_xlabel("charge passed (C; 2D: per metre of depth)")
            ax.legend()
    else:
        ax1 = fig.add_subplot(grid[1, :])
        for name, (*_, h) in shown.items():
            t, label = _time_axis(h["time_s"])
            ax1.plot(t, h["cell_voltage_V"] * 1e3, label=name)
        ax1.set_xlabel(label)
        ax1.set_ylabel("cell voltage (mV)")
        ax1.legend()
    out.mkdir(parents=True, exist_ok=True)
    path = out / "comparison.png"
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path
