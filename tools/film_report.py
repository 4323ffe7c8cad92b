#!/usr/bin/env python3
"""Print the figures of docs/film.md (sulfide-film study): RVE effective conductivities and stack ASRs.

    .venv/bin/python tools/film_report.py          # about three minutes on one core

Uses the same code paths as tests/test_film.py (meshes/film.py, solver/homogenise.py).
"""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from meshes.base import MeshOptions  # noqa: E402
from meshes.film import FilmParams, RveParams  # noqa: E402
from solver.homogenise import ASR_PAPER, build_domain, film_asr, film_value, homogenise  # noqa: E402

MS = 10.0  # S/m -> mS/cm
UM = 1e-6
PARTICLE = film_value("lpscl_powder")  # 4.8 mS/cm
MEASURED = film_value("e_lpscl_film")  # 1.1 mS/cm


def rve_options(h: float, ratio: float = 0.25, order: int = 1) -> MeshOptions:
    return MeshOptions(size_far=h * UM, size_feature=ratio * h * UM, size_electrode=h * UM,
                       grading_distance="2 um", order=order)


def rve_table(label: str, params: RveParams, sizes, matrices, ratio=0.25, order=1):
    print(f"\n{label}")
    print(f"  {'h um':>5} {'cells':>7} {'f_part':>7} {'f_fib':>7} {'matrix':>7} {'mixed':>8} {'linear':>8} "
          f"{'Wiener lo':>9} {'Wiener hi':>9} {'HS lo':>7} {'HS hi':>7}   (conductivities in mS/cm)")
    last = {}
    for h in sizes:
        domain = build_domain("film_rve", params, rve_options(h, ratio, order))
        for m in matrices:
            sigma = {"particles": PARTICLE, "fibres": 0.0, "matrix": m}
            mixed = homogenise(domain, sigma)
            linear = homogenise(domain, sigma, bc="linear")
            fr = mixed.fractions
            print(f"  {h:>5.3g} {mixed.num_cells:>7} {fr.get('particles', 0):>7.4f} {fr.get('fibres', 0):>7.4f} "
                  f"{m * MS:>7.3g} {mixed.sigma_eff * MS:>8.4f} {linear.sigma_eff * MS:>8.4f} "
                  f"{mixed.wiener[0] * MS:>9.4f} {mixed.wiener[1] * MS:>9.4f} "
                  f"{mixed.hashin_shtrikman[0] * MS:>7.4f} {mixed.hashin_shtrikman[1] * MS:>7.4f}")
            last[m] = mixed.sigma_eff
    return domain, last


def matrix_for(domain, target: float) -> float:
    """Matrix conductivity that gives sigma_eff = target (sigma_eff is monotone in it; secant on
    a log scale between 1e-4 and 1 times the particle value)."""
    def f(m):
        return homogenise(domain, {"particles": PARTICLE, "fibres": 0.0, "matrix": m}).sigma_eff - target

    lo, hi = 1e-4 * PARTICLE, PARTICLE
    for _ in range(60):
        mid = (lo * hi) ** 0.5
        if f(mid) > 0:
            hi = mid
        else:
            lo = mid
        if hi / lo < 1 + 1e-4:
            break
    return (lo * hi) ** 0.5


def main():
    print("Film RVE: particles 4.8 mS/cm (LPSCl powder), PEVA fibres 0, matrix as given; mixed BC "
          "(1 V bottom, 0 top, insulated sides) and the linear-potential (upper) bound")
    matrices = [0.0, 0.1 * PARTICLE, MEASURED, PARTICLE]
    p2 = RveParams()  # 2d random: 20 um, 5 um particles 0.4, 2 um fibre discs 0.126, seed 0
    d2, _ = rve_table("2D random (defaults: size 20 um, particles 5 um / 0.4, fibre discs 2 um / 0.126, seed 0)",
                      p2, [2.0, 1.0, 0.5], matrices, order=2)
    m2 = matrix_for(d2, MEASURED)
    print(f"  matrix conductivity giving sigma_eff = 1.1 mS/cm (finest mesh): {m2 * MS:.3f} mS/cm")
    for seed in (1, 2):
        d = build_domain("film_rve", RveParams(seed=seed), rve_options(0.5, order=2))
        r = homogenise(d, {"particles": PARTICLE, "fibres": 0.0, "matrix": PARTICLE})
        r0 = homogenise(d, {"particles": PARTICLE, "fibres": 0.0, "matrix": 0.1 * PARTICLE})
        print(f"  seed {seed}: f_part {r.fractions['particles']:.4f}, f_fib {r.fractions['fibres']:.4f}; "
              f"sigma_eff {r0.sigma_eff * MS:.4f} (matrix 0.48), {r.sigma_eff * MS:.4f} (matrix 4.8) mS/cm")

    p3 = RveParams(dimension="3d", arrangement="array", size="5 um", cells=1)
    d3, _ = rve_table("3D array unit cell (pitch 5 um, particle 0.4, fibres along x 0.126; exact for the "
                      "infinite lattice by symmetry)", p3, [1.0, 0.5, 0.25], matrices, ratio=0.5, order=2)
    m3 = matrix_for(d3, MEASURED)
    print(f"  matrix conductivity giving sigma_eff = 1.1 mS/cm (finest mesh): {m3 * MS:.3f} mS/cm")

    print("\nStack ASR (2D cell 20 um wide; Ohm cm^2 = 1e4 Ohm m^2); paper: "
          f"{ASR_PAPER[0] * 1e4:.2f} Ohm cm^2")
    film = MEASURED
    for li3n_name in ("li3n_single_crystal", "li3n_polycrystalline"):
        sig = {"film": film, "li3n": film_value(li3n_name)}
        cases = {
            "film only (no Li3N)": FilmParams(li3n_thickness=0),
            "Li3N 3 um + film 40 um": FilmParams(),
            "  + 2 voids 2 um x 1 um (20% contact loss)": FilmParams(voids={"count": 2}),
            "  + 4 voids 2 um x 1 um (40% contact loss)": FilmParams(voids={"count": 4}),
            "  + 4 voids 2 um x 3 um (through the Li3N)": FilmParams(voids={"count": 4, "depth": "3 um"}),
            "  + filament 0.5 um x 20 um": FilmParams(filament={"depth": "20 um"}),
        }
        print(f"  Li3N {sig['li3n'] * MS:g} mS/cm ({li3n_name}), film {film * MS:g} mS/cm:")
        for label, params in cases.items():
            r = film_asr(build_domain("sulfide_film", params, MeshOptions(size_feature="0.1 um")), sig)
            print(f"    {label:46s} ASR {r.asr * 1e4:7.4f} Ohm cm^2 (1D sum t/sigma {r.analytic * 1e4:.4f}; "
                  f"{r.num_cells} cells)")
    r3 = film_asr(build_domain("sulfide_film", FilmParams(dimension="3d", width="10 um"),
                               MeshOptions(size_far="4 um", size_electrode="2 um")),
                  {"film": film, "li3n": film_value("li3n_single_crystal")})
    print(f"  3D void-free check: ASR {r3.asr * 1e4:.6f} vs 1D {r3.analytic * 1e4:.6f} Ohm cm^2")


if __name__ == "__main__":
    main()
