"""Print the measured figures of the mixed ionic-electronic model (docs/film.md, "Mixed conduction").

    python tools/mixed_report.py            # verification + sensitivity of the sulfide_film study (~20 s)
    python tools/mixed_report.py --quick    # verification only

Verification: the 1D transmission-line closed form (linear kinetics, P1 and P2; Butler-Volmer at a
small current), the sigma_e -> 0 limit against sum(t / sigma), the MMS errors and observed rates.
Sensitivity: the MIEC-interphase variants of scenarios/sulfide_film.yaml against the specific
interface area a_v and the mesh (layer_cells, size_electrode).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from solver._dolfinx import MPI  # noqa: E402
from tests import test_mixed_conduction as t  # noqa: E402
from tests.helpers import rate  # noqa: E402


def verification() -> None:
    print("1D Li | MIEC 2 um | film 10 um | Li, linear kinetics vs the transmission-line closed form")
    ref = t.transmission_line(t.L1, t.L, t.SI, t.SE, t.SF, t.AV, t.r_ct(t.I0_RXN), t.r_ct(t.I0_SURF),
                              t.r_ct(t.I0_SURF), 10.0)
    print(f"  closed form: internal fraction {ref['internal_fraction']:.10f}, V {ref['cell_voltage'] * 1e3:.8f} mV, "
          f"lambda {ref['lambda'] * 1e6:.4f} um, nu {ref['nu']:.4f}")
    for degree, n in ((1, 60), (1, 120), (2, 60), (2, 120)):
        _, res, m = t._one_d("linear", 10.0, degree=degree, n=n)
        print(f"  P{degree} n={n:4d}: rel. error internal fraction {abs(m['internal_fraction'] / ref['internal_fraction'] - 1):.2e}, "
              f"V {abs(res.cell_voltage / ref['cell_voltage'] - 1):.2e}, balance {m['balance_error']:.1e}")
    small = 1e-3 * t.I0_SURF
    ref_s = t.transmission_line(t.L1, t.L, t.SI, t.SE, t.SF, t.AV, t.r_ct(t.I0_RXN), t.r_ct(t.I0_SURF),
                                t.r_ct(t.I0_SURF), small)
    _, res, m = t._one_d("butler_volmer", small)
    print(f"  Butler-Volmer at 1e-3 i0: rel. difference internal fraction "
          f"{abs(m['internal_fraction'] / ref_s['internal_fraction'] - 1):.2e}, V {abs(res.cell_voltage / ref_s['cell_voltage'] - 1):.2e}")
    print("sigma_e -> 0 (2D stack Li3N 3 um + film 20 um, linear kinetics): ASR - 2 R_ct vs sum(t/sigma)")
    from solver.homogenise import build_domain, film_asr
    from meshes.base import MeshOptions
    from meshes.film import FilmParams
    from solver.physics.mixed_conduction import Kinetics, MixedConduction, MixedRegion

    params = FilmParams(film_thickness="20 um", li3n_thickness="3 um", width="10 um")
    domain = build_domain("sulfide_film", params, MeshOptions(size_far="3 um", size_electrode="1 um"))
    analytic = film_asr(domain, t.SIGMA).analytic
    for sigma_e in (0.0, 1e-14, 1e-10):
        p = MixedConduction(domain, {k: MixedRegion(s, sigma_e, 1e6) for k, s in t.SIGMA.items()}, ["li_bottom"],
                            ["li_top"], Kinetics(10.0, form="linear"), Kinetics(10.0, form="linear"), degree=1)
        res = p.solve()
        m = p.metrics()
        asr = res.cell_voltage / 10.0 - 2 * t.r_ct(10.0)
        print(f"  sigma_e {sigma_e:7.1e} S/m: ASR {asr * 1e4:.8f} Ohm cm^2 (sum t/sigma {analytic * 1e4:.8f}), rel. "
              f"{abs(asr / analytic - 1):.1e}; internal fraction {m['internal_fraction']:.1e}")
    print("MMS (coupled nonlinear, unit square, Butler-Volmer volume and surfaces): L2 errors, observed rates")
    for degree, ns in ((1, (8, 16, 32)), (2, (4, 8, 16))):
        errs = [t._mms_errors(n, degree) for n in ns]
        hs = [1.0 / n for n in ns]
        print(f"  P{degree} n={ns}: phi_i {[f'{e[0]:.2e}' for e in errs]} rate {rate([e[0] for e in errs], hs):.3f}; "
              f"phi_e {[f'{e[1]:.2e}' for e in errs]} rate {rate([e[1] for e in errs], hs):.3f}")


def sensitivity() -> None:
    from solver import mixed_study, study
    from solver.scenario import load

    print("scenarios/sulfide_film.yaml, MIEC interphase variants: a_v and mesh")
    rows = [("a_v 1e4 1/m", ["physics.mixed_conduction.specific_interface_area=1e4 1/m"]),
            ("a_v 1e5 1/m (default)", []),
            ("a_v 1e6 1/m", ["physics.mixed_conduction.specific_interface_area=1e6 1/m"]),
            ("a_v 1e5, layer_cells 20, size_electrode 0.25 um", ["geometry.layer_cells=20", "mesh.size_electrode=0.25 um"])]
    for label, sets in rows:
        for variant in ("miec_interphase", "miec_ionic"):
            case = next(c for c in load("scenarios/sulfide_film.yaml", sets) if c.name == variant)
            domain = study.build_domain(case, MPI.COMM_WORLD)
            p = mixed_study.make_problem(case, domain)
            res = p.solve()
            m = mixed_study.compute_metrics(case, p, res)
            tl = m["transmission_line"]["interphase"]
            print(f"  {label:48s} {variant:16s} cells {m['cells']:6d}: V {res.cell_voltage * 1e3:8.2f} mV, inside "
                  f"{100 * m['internal_fraction']:6.2f} %, upper half {100 * m['mixed']['regions']['interphase']['upper_half_deposition_fraction']:5.1f} %, "
                  f"max at {m['max_deposition_height_m'] * 1e6:.3f} um, lambda {tl['reaction_length_m'] * 1e6:.3f} um, "
                  f"nu {tl['transmission_line_number']:.2f}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="verification only")
    args = parser.parse_args()
    verification()
    if not args.quick:
        sensitivity()
