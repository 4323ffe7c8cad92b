"""Morphology metrics of the phase field's history (solver/deposition.py, ``Morphology``) on
synthetic order-parameter fields with known answers: a comb of upright teeth (fingers, no
overhangs) and a trunk with side arms (overhangs), serial and under ``mpirun -n 2``."""

import numpy as np
import pytest

from solver.deposition import Morphology
from solver.physics.phasefield import PhaseField, PhaseFieldParameters
from tests.helpers import rectangle

UM = 1e-6
SIZE = 20 * UM
BASE = 3.1 * UM  # the flat Li surface (not on a node of the 0.25 um grid)


def boxes(x, rects):
    """1 inside any of the rectangles (x0, x1, y0, y1) in um, 0 outside."""
    inside = x[1] < BASE
    for x0, x1, y0, y1 in rects:
        inside |= (x[0] > x0 * UM) & (x[0] < x1 * UM) & (x[1] > y0 * UM) & (x[1] < y1 * UM)
    return inside.astype(float)


def field(rects):
    # 0.3125 um grid: the P1 field crosses 1/2 half-way between nodes, never at a sample
    # (0.125 + 0.25 k um) and at least a cell from the vertical lines (0.5 + k um) next to a
    # feature's end
    d = rectangle(64, (SIZE, SIZE))
    d.regions = {"all": 1}
    d.projected_area = SIZE
    pf = PhaseField(d, PhaseFieldParameters(), lambda x: boxes(x, rects), ["y0"], ["y1"])
    return pf, Morphology(pf, vertical_lines=20)  # lines at x = 0.5, 1.5, ..., 19.5 um


# four teeth 2 um wide, 10 um high, on the base
TEETH = [(1.1, 3.1, 0, 13.1), (6.1, 8.1, 0, 13.1), (11.1, 13.1, 0, 13.1), (16.1, 18.1, 0, 13.1)]
# one trunk (x 9.1-11.1) with two arms to the right (up to x 15.1) and one to the left (down to 5.1)
TREE = [(9.1, 11.1, 0, 15.1), (11.1, 15.1, 7.1, 8.1), (11.1, 15.1, 11.1, 12.1), (5.1, 9.1, 9.1, 10.1)]


@pytest.mark.mpi
def test_comb_of_teeth_counts_fingers_and_no_overhangs():
    pf, morph = field(TEETH)
    m = morph.measure(BASE, BASE + 10 * UM)
    print("comb:", m)
    assert m["fingers"] == 4
    assert m["overhangs"] == 0.0
    # walls: 4 teeth x 2 sides x 10 um; faces: the base between the teeth (12 um), their tops (8 um)
    assert m["interface_normal_lateral"] == pytest.approx(80 * UM, rel=0.03)
    assert m["interface_normal_vertical"] == pytest.approx(20 * UM, rel=0.03)


@pytest.mark.mpi
def test_side_arms_count_as_overhangs():
    pf, morph = field(TREE)
    m = morph.measure(BASE, BASE + 11 * UM)
    print("tree:", m)
    # the vertical lines in 11.1-15.1 um (4 of them) cross two arms, those in 5.1-9.1 um (4) one
    assert m["overhangs"] == pytest.approx((4 * 2 + 4 * 1) / 20)
    assert m["fingers"] == 1  # the lateral lines (5.85, 8.6, 11.35 um) cross one connected tree
    # faces: the base beside the trunk (18 um), the trunk's top (2 um), 3 arms x 2 faces x 4 um
    assert m["interface_normal_vertical"] == pytest.approx((18 + 2 + 24) * UM, rel=0.03)
    # walls: the trunk's sides (2 x 12 um) less the arms' roots (3 x 1 um), the arms' ends (3 x 1 um)
    assert m["interface_normal_lateral"] == pytest.approx(24 * UM, rel=0.03)


def test_intervals_counts_runs():
    v = np.array([[1, 1, 0, 0, 1, 0, 1], [0, 0, 1, 0, 0, 0, 0]], dtype=float)
    assert list(Morphology.intervals(v)) == [3, 1]
    assert list(Morphology.intervals(v, first=False)) == [2, 1]
