"""Helpers to run small studies from dicts inside tests."""

from __future__ import annotations

from solver import study
from solver._dolfinx import MPI
from solver.scenario import cases_from_dict


def bud_scenario(dimension, height, base_radius, width, domain_height, feature, electrode, far,
                 order=2, degree=2, grading=None, **sections) -> dict:
    raw = {
        "geometry": {
            "dimension": dimension, "width": width, "height": domain_height,
            "bud": {"height": height, "base_radius": base_radius},
        },
        "mesh": {"size_far": far, "size_electrode": electrode, "size_feature": feature,
                 "grading_distance": grading or 5 * height, "order": order},
        "solver": {"degree": degree},
    }
    for key, value in sections.items():
        raw.setdefault(key, {}).update(value)
    return raw


def solve(raw: dict, comm=MPI.COMM_WORLD) -> dict:
    """Mesh, solve and return the metrics of the first case of a scenario dict."""
    case = cases_from_dict(raw)[0]
    domain = study.build_domain(case, comm)
    return study.solve_case(case, domain)[3]
