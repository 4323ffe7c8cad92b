"""Mesh refinement of the HoMS membrane study: do the design metrics converge on the 40 nm shells?

Solves the conducting-shell and insulating-shell variants of scenarios/homs_membrane.yaml (2D,
secondary, P2) with ``mesh.size_feature`` (the element size on the shells) halved from 80 nm to
10 nm, and prints one row per level: cells, DOFs, electrode potential, the current fractions of
the conducting membrane, and the evenness of the current on the electrode under the insulating
membrane (coefficient of variation, min/mean). Serial, about a minute:

    python bench/homs_refinement.py
    python bench/homs_refinement.py --sizes 0.08 0.04 0.02 --set mesh.order=2

Not part of the test suite; the table is in docs/designs.md.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def solve(variant: str, size_um: float, overrides: list[str]) -> dict:
    from solver._dolfinx import MPI
    from solver.scenario import load
    from solver.study import build_domain, solve_case

    cases = {c.name: c for c in load(ROOT / "scenarios" / "homs_membrane.yaml",
                                      [f"mesh.size_feature={size_um} um", *overrides])}
    case = cases[variant]
    t0 = time.perf_counter()
    domain = build_domain(case, MPI.COMM_WORLD)
    metrics = solve_case(case, domain)[3]
    metrics["wall_s"] = time.perf_counter() - t0
    return metrics


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=float, nargs="+", default=[0.08, 0.04, 0.02, 0.01],
                        help="mesh.size_feature levels in um")
    parser.add_argument("--set", action="append", default=[], help="more scenario overrides (KEY=VALUE)")
    args = parser.parse_args(argv)
    head = (f"{'size_feature':>12} {'cells':>7} {'DOFs':>7} {'V (mV)':>9} {'interiors':>9} {'electrode':>9} "
            f"{'top':>8} {'outer':>8} | {'cells':>7} {'V (mV)':>9} {'elec. cv':>9} {'min/mean':>10} {'time (s)':>8}")
    print("conducting shells (current fractions) | insulating shells (current on the electrode)")
    print(head)
    for size in args.sizes:
        c = solve("homs_conducting", size, args.set)
        i = solve("homs_insulating", size, args.set)
        f = c["design"]["current_fraction"]
        di = i["design"]
        print(f"{size * 1000:>9.0f} nm {c['cells']:>7} {c['dofs']:>7} {c['electrode_potential_V'] * 1e3:>9.4f} "
              f"{f['sphere_interiors']:>9.5f} {f['electrode_under_membrane']:>9.5f} {f['membrane_top']:>8.5f} "
              f"{f['membrane_outer_below_top']:>8.5f} | {i['cells']:>7} {i['electrode_potential_V'] * 1e3:>9.4f} "
              f"{di['electrode_cv']:>9.3e} {di['electrode_min_over_mean']:>10.7f} "
              f"{c['wall_s'] + i['wall_s']:>8.1f}", flush=True)


if __name__ == "__main__":
    main()
