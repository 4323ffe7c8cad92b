#!/usr/bin/env python3
"""Print the verification figures of the current-distribution core (for release notes).

    .venv/bin/python tools/verification_report.py

MMS convergence rates (P1/P2, planar/axisymmetric, potentio/galvanostatic), primary tip
ratios vs analytic values, the largest relative difference between serial and
`mpirun -n 2` metrics of the default scenario, the piezo slab voltage and strain vs
analytic values, the piezo MMS rates and the growth rate vs the hemisphere benchmark.
Uses the same code paths as the tests.
"""

import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.helpers import rate  # noqa: E402
from tests.test_benchmarks import PRIMARY, R, spheroid_beta  # noqa: E402
from tests.test_mms_potential import solve as mms_solve  # noqa: E402
from tests.util_scenarios import bud_scenario, solve  # noqa: E402


def mms():
    print("MMS, potential equation with a Butler-Volmer boundary (last two refinements):")
    for degree, ns in ((1, [8, 16, 32]), (2, [4, 8, 16])):
        for axi in (False, True):
            for control in ("potentiostatic", "galvanostatic"):
                res = [mms_solve(n, degree, axi, control) for n in ns]
                hs = [1 / n for n in ns]
                l2 = rate([r[0] for r in res], hs)
                h1 = rate([r[1] for r in res], hs)
                print(f"  P{degree} {'axisymmetric' if axi else 'planar      '} {control:15s} "
                      f"L2 rate {l2:.3f} (want {degree + 1}), H1 rate {h1:.3f} (want {degree})")


def tips():
    print("Primary tip_over_far vs analytic:")
    cases = [
        ("2d semicircle", ("2d", R, R, 60 * R, 30 * R, R / 20, R / 2, 4 * R), 2.0),
        ("2d semi-ellipse a=2b", ("2d", 2 * R, R, 80 * R, 40 * R, R / 20, R / 2, 4 * R), 3.0),
        ("axisymmetric hemisphere", ("axisymmetric", R, R, 20 * R, 20 * R, R / 20, R / 2, 2 * R), 3.0),
        ("axisymmetric spheroid a=2b", ("axisymmetric", 2 * R, R, 30 * R, 30 * R, R / 20, R / 2, 2 * R), spheroid_beta(2, 1)),
        ("3d hemisphere", ("3d", R, R, 30 * R, 15 * R, R / 6, R, 4 * R), 3.0),
    ]
    for label, args, exact in cases:
        m = solve(bud_scenario(*args, **PRIMARY))
        err = (m["tip_over_far"] - exact) / exact
        print(f"  {label:28s} {m['tip_over_far']:.4f} vs {exact:.4f}  ({err:+.2%}, {m['dofs']} DOFs)")


def serial_vs_mpi():
    with tempfile.TemporaryDirectory() as tmp:
        out = {}
        for ranks in (1, 2):
            cmd = [sys.executable, str(ROOT / "run.py"), "run", "scenarios/default.yaml", "-q",
                   "--no-pictures", "-o", f"{tmp}/n{ranks}"]
            if ranks > 1:
                cmd = [str(Path(sys.executable).parent / "mpirun"), "-n", str(ranks), *cmd]
            t = time.perf_counter()
            subprocess.run(cmd, cwd=ROOT, check=True)
            wall = time.perf_counter() - t
            out[ranks] = json.loads(Path(f"{tmp}/n{ranks}/metrics.json").read_text())["cases"]
            print(f"default scenario, {ranks} rank(s): wall time {wall:.1f} s (process start to end)")
        worst = 0.0
        for case, m in out[1].items():
            for key in ("electrode_potential_V", "tip_over_far", "total_current_A"):
                a, b = m[key], out[2][case][key]
                worst = max(worst, abs(a - b) / abs(a))
            print(f"  {case}: tip_over_far serial {m['tip_over_far']:.10f}, mpi {out[2][case]['tip_over_far']:.10f}; "
                  f"V serial {m['electrode_potential_V']:.10e}, mpi {out[2][case]['electrode_potential_V']:.10e}")
        print(f"  largest relative serial/MPI difference (V, tip_over_far, total current): {worst:.2e}")


def piezo():
    import numpy as np

    from tests import test_piezo as tp

    print("Piezoelectric slab (BaTiO3, 8 um, 1 MPa) vs analytic:")
    for dim in ("axisymmetric", "3d"):
        _, V, _ = tp._slab(dim, tp.BTO)
        exact = -tp.BTO.g33 * tp.T * tp.THICK
        volts = 10.0
        _, _, uz = tp._slab(dim, tp.BTO, load=volts)
        strain = tp.BTO.d_voigt[2, 2] * (-volts / tp.THICK)
        print(f"  {dim:12s} V = {V:.6e} V vs g33 T t = {exact:.6e} V ({V / exact - 1:+.1e}); "
              f"free strain {uz / tp.THICK:.6e} vs d33 E = {strain:.6e} ({uz / tp.THICK / strain - 1:+.1e})")
    print("MMS, coupled (u, psi) (rates over n = 4, 8, 16):")
    for degree in (1, 2):
        for axi in (False, True):
            ns = [4, 8, 16]
            errs = np.array([tp.mms_errors(n, degree, axi) for n in ns])
            r = [rate(errs[:, k], [1 / n for n in ns]) for k in range(4)]
            print(f"  P{degree} {'axisymmetric' if axi else 'plane strain'}: L2 u {r[0]:.3f}, L2 psi {r[1]:.3f} "
                  f"(want {degree + 1}); H1 u {r[2]:.3f}, H1 psi {r[3]:.3f} (want {degree})")


def electrode_extensions():
    from tests import test_electrode_film as tf

    print("Film resistance and floating conductors (tests/test_electrode_film.py):")
    for degree in (1, 2):
        want = -tf.eta_bv(tf.I_APP) - tf.I_APP * tf.R_F - tf.I_APP / tf.KAPPA
        got = tf.flat_problem("galvanostatic", degree=degree).solve().electrode_potential
        print(f"  flat film P{degree}: V = {got:.12e} V vs closed form {want:.12e} V ({got / want - 1:+.1e})")
    for degree, ns in ((1, [8, 16, 32]), (2, [4, 8, 16])):
        for control in ("potentiostatic", "galvanostatic"):
            res = [tf._mms(n, degree, control) for n in ns]
            hs = [1 / n for n in ns]
            print(f"  MMS filmed BV P{degree} {control:15s} L2 rate {rate([r[0] for r in res], hs):.3f} "
                  f"(want {degree + 1}), film drop rate {rate([r[1] for r in res], hs):.3f}")
    for film in (0.0, tf.R_F):
        p = tf.bipolar_problem("galvanostatic", film)
        got = p.solve().electrode_potential
        want = -3 * tf.eta_bv(tf.I_APP) - tf.I_APP * (tf.A_LOW + 1 - tf.B_HIGH) / tf.KAPPA - 2 * tf.I_APP * film
        m = p.floating_metrics()["plate"]
        print(f"  bipolar plate (film {film} Ohm m^2): V = {got:.12e} vs {want:.12e} ({got / want - 1:+.1e}); "
              f"net current {m['net_current_A']:.1e} A/m, plating {m['plating_current_A']:.10f} A/m")


def growth():
    from tests import test_growth as tg

    _, _, info = tg.grow(tg.hemisphere(duration="10 min", steps=1))
    got = info["steps"][0]["growth_rate_m_s"]
    want = 2 * tg.I_APP * tg.VM / tg.growth.FARADAY
    print(f"Growth: hemisphere apex rise rate {got:.6e} m/s vs (beta - 1) i Vm / F = {want:.6e} m/s "
          f"({got / want - 1:+.2%})")


if __name__ == "__main__":
    mms()
    tips()
    serial_vs_mpi()
    piezo()
    growth()
    electrode_extensions()
