#!/usr/bin/env python3
"""Effective conductivity of a sulfide-film RVE at a few mesh refinements (also under mpirun).

    .venv/bin/python tools/film_rve.py                        # default 2D RVE, 3 levels
    .venv/bin/python tools/film_rve.py --particle-fraction 0.35 --seed 3 --bc linear
    .venv/bin/python tools/film_rve.py --yaml rve.yaml --json out.json
    .venv/bin/mpirun -n 2 .venv/bin/python tools/film_rve.py --dimension 3d --size "10 um" ...

Geometry: every ``film_rve`` parameter is an option (``--particle-fraction``, ``--size "20 um"``,
...) and may also come from a YAML file (``--yaml``) with the keys of the builder and optionally
``conductivity: {region: value}`` and ``levels``/``h``/``feature_ratio``; options override the
file. Conductivities: ``--sigma particles="4.8 mS/cm"`` (repeatable; plain numbers are S/m).
Defaults: particles 4.8 mS/cm (LPSCl powder), fibres 0 (PEVA), matrix 1.0 mS/cm (an assumption).

Level ``k`` meshes with ``size_far = h / 2^k`` and ``size_feature = feature_ratio * h / 2^k``.
Prints a table (cells, DOFs, sigma_eff, relative change, Wiener and Hashin-Shtrikman bounds) and
then one JSON object (also written to ``--json``).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from solver._dolfinx import MPI  # noqa: E402
from meshes.base import MeshOptions  # noqa: E402
from meshes.film import RveParams  # noqa: E402
from solver.homogenise import build_domain, homogenise  # noqa: E402
from solver.units import to_si  # noqa: E402

DEFAULT_SIGMA = {"particles": "4.8 mS/cm", "fibres": 0.0, "matrix": "1.0 mS/cm"}


def parse(argv=None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--yaml", type=Path, help="YAML file with RVE parameters (and conductivity, levels, h)")
    for name, field in RveParams.model_fields.items():
        p.add_argument("--" + name.replace("_", "-"), dest=name, default=None,
                       help=f"{field.description} (default {field.default})")
    p.add_argument("--sigma", action="append", default=[], metavar="REGION=VALUE",
                   help="conductivity of a region, e.g. particles='4.8 mS/cm' (repeatable)")
    p.add_argument("--levels", type=int, default=None, help="refinement levels (default 3)")
    p.add_argument("--h", default=None, help="size_far of the coarsest level (default '2 um')")
    p.add_argument("--feature-ratio", type=float, default=None,
                   help="size_feature / size_far on every level (default 0.25)")
    p.add_argument("--grading", default="2 um", help="grading distance of the sizes (default '2 um')")
    p.add_argument("--order", type=int, default=1, choices=(1, 2), help="geometric order of the mesh")
    p.add_argument("--degree", type=int, default=1, choices=(1, 2), help="Lagrange degree")
    p.add_argument("--bc", default="mixed", choices=("mixed", "linear", "flux"))
    p.add_argument("--direction", default=None, choices=("x", "y", "z"), help="default: y (2d), z (3d)")
    p.add_argument("--json", type=Path, help="also write the JSON result here")
    return p.parse_args(argv)


def main(argv=None) -> int:
    args = parse(argv)
    comm = MPI.COMM_WORLD
    config: dict = {}
    if args.yaml:
        import yaml

        config = yaml.safe_load(args.yaml.read_text()) or {}
    sigma_in = {**DEFAULT_SIGMA, **config.pop("conductivity", {})}
    for item in args.sigma:
        region, _, value = item.partition("=")
        sigma_in[region.strip()] = value.strip()
    sigma = {r: to_si(v, "conductivity") if isinstance(v, str) else float(v) for r, v in sigma_in.items()}
    levels = args.levels or int(config.pop("levels", 3))
    h = to_si(args.h or config.pop("h", "2 um"), "length")
    ratio = args.feature_ratio or float(config.pop("feature_ratio", 0.25))
    geometry = {**config, **{k: getattr(args, k) for k in RveParams.model_fields if getattr(args, k) is not None}}
    for key in ("particle_fraction", "fibre_fraction"):
        if isinstance(geometry.get(key), str):
            geometry[key] = float(geometry[key])
    for key in ("seed", "cells"):
        if isinstance(geometry.get(key), str):
            geometry[key] = None if geometry[key].lower() in ("none", "null") else int(geometry[key])
    params = RveParams.model_validate(geometry)

    rows = []
    for k in range(levels):
        size = h / 2**k
        options = MeshOptions(size_far=size, size_feature=ratio * size, size_electrode=size,
                              grading_distance=to_si(args.grading, "length"), order=args.order)
        t0 = time.perf_counter()
        domain = build_domain("film_rve", params, options, comm)
        res = homogenise(domain, sigma, direction=args.direction, bc=args.bc, degree=args.degree)
        row = res.as_dict() | {"level": k, "size_far": size, "size_feature": ratio * size,
                               "seconds": time.perf_counter() - t0}
        rows.append(row)
    for i, row in enumerate(rows):
        row["relative_change"] = None if i == 0 else abs(row["sigma_eff"] / rows[i - 1]["sigma_eff"] - 1)
    order = None
    if len(rows) >= 3:
        import math

        d1 = abs(rows[-2]["sigma_eff"] - rows[-3]["sigma_eff"])
        d2 = abs(rows[-1]["sigma_eff"] - rows[-2]["sigma_eff"])
        order = math.log(d1 / d2, 2) if d1 > 0 and d2 > 0 else None
    result = {"params": params.model_dump(mode="json"), "conductivity": sigma, "bc": args.bc,
              "degree": args.degree, "ranks": comm.size, "levels": rows, "observed_order": order}
    if comm.rank == 0:
        ms = 10.0  # S/m -> mS/cm
        print(f"film_rve {params.dimension}, size {params.size * 1e6:g} um, bc {args.bc}, P{args.degree}, "
              f"direction {rows[0]['direction']}; conductivities (mS/cm): "
              + ", ".join(f"{r} {s * ms:g}" for r, s in sigma.items()))
        print(f"{'level':>5} {'h_far um':>9} {'cells':>9} {'dofs':>9} {'sigma_eff mS/cm':>16} {'rel.change':>11} "
              f"{'Wiener lo':>10} {'Wiener hi':>10} {'HS lo':>10} {'HS hi':>10}  fractions")
        for row in rows:
            change = "" if row["relative_change"] is None else f"{row['relative_change']:.2e}"
            fr = ", ".join(f"{r} {f:.4f}" for r, f in sorted(row["fractions"].items()))
            print(f"{row['level']:>5} {row['size_far'] * 1e6:>9.4g} {row['num_cells']:>9} {row['num_dofs']:>9} "
                  f"{row['sigma_eff'] * ms:>16.8g} {change:>11} {row['wiener'][0] * ms:>10.4g} "
                  f"{row['wiener'][1] * ms:>10.4g} {row['hashin_shtrikman'][0] * ms:>10.4g} "
                  f"{row['hashin_shtrikman'][1] * ms:>10.4g}  {fr}")
        if order is not None:
            print(f"observed order of convergence (last three levels): {order:.2f}")
        text = json.dumps(result)
        print(text)
        if args.json:
            args.json.write_text(json.dumps(result, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
