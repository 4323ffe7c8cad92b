"""Boundary statistics of a recovered current: values, and forms that do not change with the data."""

import math

import numpy as np
import pytest

from helpers import unit_square
from solver._dolfinx import dolfinx
from solver.postprocess import RecoveredCurrent, boundary_stats


def _current(domain, scale):
    V = dolfinx.fem.functionspace(domain.mesh, ("Lagrange", 1))
    field = dolfinx.fem.Function(V)
    field.interpolate(lambda x: scale * (1.0 + x[0]))
    owned = V.dofmap.index_map.size_local
    return RecoveredCurrent(field, np.zeros(owned), owned, domain)


@pytest.mark.mpi
def test_boundary_stats_values_and_forms_that_do_not_depend_on_the_mean(monkeypatch):
    domain = unit_square(8)
    signatures = []
    form = dolfinx.fem.form

    def recording(expr, *args, **kwargs):
        signatures.append(expr.signature())
        return form(expr, *args, **kwargs)

    monkeypatch.setattr(dolfinx.fem, "form", recording)
    first = boundary_stats(_current(domain, 1.0), ["electrode"])
    seen = set(signatures)
    signatures.clear()
    second = boundary_stats(_current(domain, 3.0), ["electrode"])
    # i = s (1 + x) on y = 0: mean 1.5 s, variance s^2 / 12 (P1 is exact for a linear field)
    for stats, s in ((first, 1.0), (second, 3.0)):
        assert stats["mean"] == pytest.approx(1.5 * s, rel=1e-12)
        assert stats["max"] == pytest.approx(2.0 * s) and stats["min"] == pytest.approx(s)
        assert stats["cv"] == pytest.approx(math.sqrt(1 / 12) / 1.5, rel=1e-10)
    # a new mean must not make a new form (a float literal in the form: a JIT compile per case)
    assert set(signatures) <= seen
