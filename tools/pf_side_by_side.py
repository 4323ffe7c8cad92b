"""Side-by-side picture of the last order-parameter frame of phase-field runs (2D), with the
xi = 1/2 contour and the history's morphology metrics in the titles.

    python tools/pf_side_by_side.py OUT.png NAME=RUN_FOLDER [NAME=RUN_FOLDER ...] [--xlim A B] [--ylim A B]

RUN_FOLDER is a case's output folder (with frames/ and history.csv), e.g.
results/pf_side_branches/anisotropic; limits in um (default: the whole mesh).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))


def main(argv=None) -> int:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.tri import Triangulation

    from solver.render_transient import _frames, _history

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("out")
    ap.add_argument("runs", nargs="+", help="NAME=RUN_FOLDER")
    ap.add_argument("--xlim", nargs=2, type=float)
    ap.add_argument("--ylim", nargs=2, type=float)
    args = ap.parse_args(argv)
    runs = [r.split("=", 1) for r in args.runs]
    fig, axes = plt.subplots(1, len(runs), figsize=(3.6 * len(runs), 5.6), squeeze=False, constrained_layout=True)
    artist = None
    for ax, (name, folder) in zip(axes[0], runs):
        points, tri, frames = _frames(Path(folder))
        time_s, data = frames[-1]
        h = _history(Path(folder))
        k = int(abs(h["time_s"] - time_s).argmin())
        T = Triangulation(points[:, 0] * 1e6, points[:, 1] * 1e6, tri)
        artist = ax.tripcolor(T, data["order_parameter"], shading="gouraud", vmin=0, vmax=1, cmap="viridis")
        ax.tricontour(T, data["order_parameter"], levels=[0.5], colors="w", linewidths=0.6)
        ax.set_aspect("equal")
        ax.set_xlim(*(args.xlim or (T.x.min(), T.x.max())))
        ax.set_ylim(*(args.ylim or (T.y.min(), T.y.max())))
        metrics = ""
        if "overhangs" in h:
            metrics = (f"\nfingers {h['fingers'][k]:.0f}, overhangs {h['overhangs'][k]:.3f}\n"
                       f"interface |n_x| {h['interface_normal_lateral'][k] * 1e6:.1f}, "
                       f"|n_y| {h['interface_normal_vertical'][k] * 1e6:.1f} um")
        ax.set_title(f"{name}, t = {time_s:.3g} s{metrics}", fontsize=9)
        ax.set_xlabel("x (um)")
    axes[0][0].set_ylabel("y (um)")
    fig.colorbar(artist, ax=list(axes[0]), label="xi (1 = Li)", shrink=0.7)
    fig.savefig(args.out, dpi=110)
    print(args.out)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
