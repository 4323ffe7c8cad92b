"""Sulfide-film study: the ``sulfide_film`` and ``film_rve`` builders (meshes/film.py), the RVE
homogenisation and the stack ASR (solver/homogenise.py), and the tools/film_rve.py command line.

Region and boundary measures are compared with closed forms; the ASR of a void-free stack with
the 1D value sum(t_i / sigma_i); the RVE with the Wiener bounds, laminates (which attain them) and
mesh refinement. Tests marked ``mpi`` also run in parallel::

    mpirun -n 2 python -m pytest -q -p no:cacheprovider -m mpi tests/test_film.py
"""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import ufl
from pydantic import ValidationError

from solver._dolfinx import MPI, dolfinx

import meshes
from meshes.base import MeshOptions
from meshes.film import FilmParams, RveParams, film_names, inclusions, layers, rve_names, void_centres
from solver.homogenise import (
    build_domain, film_asr, hashin_shtrikman_bounds, homogenise, wiener_bounds,
)

ROOT = Path(__file__).resolve().parents[1]
UM = 1e-6
OPTIONS_2D = MeshOptions(size_far="4 um", size_electrode="1 um", size_feature="0.25 um",
                         grading_distance="5 um", order=2)
OPTIONS_3D = MeshOptions(size_far="4 um", size_electrode="2 um", size_feature="1 um", grading_distance="4 um")
RVE_2D = MeshOptions(size_far="2 um", size_feature="0.5 um", grading_distance="2 um")
STACK_SIGMA = {"film": 0.11, "li3n": 0.12, "interphase": 0.03, "lithium": 1.08e7}


def _measure(mesh, tags, tag, measure) -> float:
    form = dolfinx.fem.form(1.0 * measure(domain=mesh, subdomain_data=tags, subdomain_id=tag))
    return mesh.comm.allreduce(dolfinx.fem.assemble_scalar(form), op=MPI.SUM)


# ----------------------------------------------------------------------------- closed forms
def _ellipse_area(a: float, b: float, y0: float, y1: float) -> float:
    """Area of the ellipse x^2/a^2 + y^2/b^2 < 1 between y0 and y1 (0 <= y0 < y1)."""
    def prim(y):
        t = math.asin(min(y, b) / b)
        return a * b * (t + math.sin(t) * math.cos(t))
    return prim(min(y1, b)) - prim(min(y0, b))


def _spheroid_volume(a: float, b: float, y0: float, y1: float) -> float:
    def prim(y):
        y = min(y, b)
        return math.pi * a * a * (y - y**3 / (3 * b * b))
    return prim(y1) - prim(y0)


def _half_ellipse_arc(a: float, b: float) -> float:
    t = np.linspace(0, math.pi, 200001)
    return float(np.trapezoid(np.sqrt((a * np.sin(t)) ** 2 + (b * np.cos(t)) ** 2), t))


def _half_spheroid_area(a: float, b: float) -> float:
    t = np.linspace(0, math.pi / 2, 200001)
    return float(np.trapezoid(2 * math.pi * a * np.cos(t) * np.sqrt((a * np.sin(t)) ** 2 + (b * np.cos(t)) ** 2), t))


def _expected_film(p: FilmParams) -> dict[str, float]:
    two_d = p.dimension == "2d"
    w, t_li = p.width, p.lithium_thickness
    height = p.li3n_thickness + p.interphase_thickness + p.film_thickness
    plane = w if two_d else w * w
    v = p.voids
    a = v.width / 2

    def void_part(y0, y1):  # measure of one void between heights y0 and y1
        lo, hi = max(y0, 0.0), min(y1, v.depth)
        if hi <= lo:
            return 0.0
        if v.shape == "ellipse":
            return _ellipse_area(a, v.depth, lo, hi) if two_d else _spheroid_volume(a, v.depth, lo, hi)
        return (2 * a if two_d else math.pi * a * a) * (hi - lo)

    def fil_part(y0, y1):
        if p.filament is None:
            return 0.0
        lo, hi = max(y0, 0.0), min(y1, p.filament.depth)
        r = p.filament.width / 2
        return max(0.0, hi - lo) * (2 * r if two_d else math.pi * r * r)

    e: dict[str, float] = {}
    for name, (y0, y1) in layers(p).items():
        if name == "lithium":
            e[name] = plane * (y1 - y0) + fil_part(0.0, height)
        else:
            e[name] = plane * (y1 - y0) - v.count * void_part(y0, y1) - fil_part(y0, y1)
    foot_void = 2 * a if two_d else math.pi * a * a
    fil = p.filament
    foot_fil = 0.0 if fil is None else (fil.width if two_d else math.pi * fil.width**2 / 4)
    e["li_top"] = plane
    e["side"] = (2 if two_d else 4 * w) * (height + t_li)
    if v.count:
        if v.shape == "ellipse":
            wall = _half_ellipse_arc(a, v.depth) if two_d else _half_spheroid_area(a, v.depth)
        else:
            wall = (2 * v.depth + 2 * a) if two_d else (2 * math.pi * a * v.depth + math.pi * a * a)
        e["void_surface"] = v.count * (wall + (foot_void if t_li else 0.0))
    if fil is not None:
        r = fil.width / 2
        e["filament_surface"] = (2 * fil.depth + 2 * r) if two_d else (2 * math.pi * r * fil.depth + math.pi * r * r)
    if t_li:
        e["li_bottom"] = plane
        e["li_contact"] = plane - v.count * foot_void - foot_fil
    else:
        e["li_bottom"] = plane - v.count * foot_void - foot_fil
    return e


def _check_film(params: FilmParams, options: MeshOptions, rel: float):
    domain = build_domain("sulfide_film", params, options)
    mesh, cell_tags, facet_tags = domain.mesh, domain.cell_tags, domain.facet_tags
    regions, boundaries = film_names(params)
    assert set(domain.regions) == regions
    assert set(domain.boundaries) == boundaries
    assert len(np.unique(facet_tags.indices)) == len(facet_tags.indices)
    assert np.all(np.isin(dolfinx.mesh.exterior_facet_indices(mesh.topology), facet_tags.indices))
    interior = {"li_contact"} | ({"filament_surface"} if params.lithium_thickness else set())
    measured = {n: _measure(mesh, cell_tags, t, ufl.dx) for n, t in domain.regions.items()}
    for name, tag in domain.boundaries.items():
        measured[name] = _measure(mesh, facet_tags, tag, ufl.dS if name in interior else ufl.ds)
    expected = _expected_film(params)
    assert set(expected) == set(measured)
    for name, value in expected.items():
        assert measured[name] == pytest.approx(value, rel=rel), name
    assert domain.landmarks["top"] == pytest.approx(
        params.li3n_thickness + params.interphase_thickness + params.film_thickness)
    assert np.allclose(domain.landmarks["void_centres"], void_centres(params).tolist() or [])
    return domain


FILM_2D = {
    "default": {},
    "interphase_no_li3n": {"li3n_thickness": 0, "interphase_thickness": "0.5 um"},
    "three_voids_filament_all_layers": {"interphase_thickness": "0.5 um", "voids": {"count": 3},
                                        "filament": {"depth": "10 um", "position": "3.3 um"}},
    "random_deep_ellipses_li_meshed_filament": {
        "voids": {"count": 4, "seed": 1, "shape": "ellipse", "depth": "4 um", "width": "2.5 um"},
        "filament": {"depth": "12 um", "width": "0.4 um", "position": "-1 um"}, "lithium_thickness": "2 um"},
    "li_meshed_rectangles_no_li3n": {"li3n_thickness": 0, "lithium_thickness": "1 um",
                                     "voids": {"count": 2, "width": "4 um", "depth": "0.5 um"},
                                     "film_thickness": "10 um"},
}


@pytest.mark.mpi
@pytest.mark.parametrize("case", list(FILM_2D))
def test_film_2d_names_and_measures(case):
    _check_film(FilmParams(**FILM_2D[case]), OPTIONS_2D, rel=1e-4)


FILM_3D = {
    "cylinder_voids_filament": {"voids": {"count": 2, "width": "3 um"}, "filament": {"depth": "6 um", "width": "1 um"}},
    "li_meshed_random_spheroids": {"lithium_thickness": "2 um", "li3n_thickness": "2 um",
                                   "voids": {"count": 3, "width": "3 um", "seed": 2, "shape": "ellipse"},
                                   "filament": {"depth": "6 um", "width": "1 um"}},
}


@pytest.mark.mpi
@pytest.mark.parametrize("case", list(FILM_3D))
def test_film_3d_names_and_measures(case):
    params = FilmParams(dimension="3d", width="10 um", film_thickness="10 um", **FILM_3D[case])
    _check_film(params, OPTIONS_3D, rel=4e-2)


def test_void_layout():
    even = void_centres(FilmParams(voids={"count": 4}))
    assert np.allclose(even[:, 0] / UM, [-7.5, -2.5, 2.5, 7.5])
    grid = void_centres(FilmParams(dimension="3d", voids={"count": 3}))
    assert np.allclose(grid / UM, [[-5, -5], [5, -5], [-5, 5]])
    rand = void_centres(FilmParams(voids={"count": 5, "seed": 7}, filament={"depth": "5 um"}))
    assert len(rand) == 5
    gaps = np.abs(rand[:, 0][:, None] - rand[:, 0][None, :]) + np.eye(5) * 1.0
    assert gaps.min() >= 2.2 * UM - 1e-12 and np.all(np.abs(rand[:, 0]) >= (1 + 0.25 + 0.2) * UM - 1e-12)
    assert np.allclose(rand, void_centres(FilmParams(voids={"count": 5, "seed": 7}, filament={"depth": "5 um"})))


@pytest.mark.parametrize(
    "kwargs, words",
    [
        ({"voids": {"count": 2, "depth": "43 um"}}, ["voids.depth (43 um)", "stack thickness", "(43 um)"]),
        ({"voids": {"count": 1, "width": "19 um"}}, ["voids.width (19 um)", "width (20 um)"]),
        ({"voids": {"count": 10}}, ["voids.count", "10 voids", "voids.width 2 um"]),
        ({"voids": {"count": 9, "seed": 1}}, ["voids.count", "could not place 9 voids", "voids.seed"]),
        ({"voids": {"count": 1}, "filament": {"depth": "5 um"}}, ["overlaps the filament", "filament.position"]),
        ({"filament": {"depth": "50 um"}}, ["filament.depth (50 um)", "short the cell"]),
        ({"filament": {"depth": "5 um", "position": "9.9 um"}}, ["filament.position 9.9 um", "inside the cell"]),
        ({"filament": {"width": "1 um"}}, ["filament.depth", "Field required"]),
        ({"li3n_thickness": "-1 um"}, ["li3n_thickness", "greater than or equal to 0"]),
        ({"film_thickness": 0}, ["film_thickness", "greater than 0"]),
        ({"voids": {"count": 1, "shape": "sphere"}}, ["voids.shape", "'ellipse'"]),
        ({"voids": {"count": -1}}, ["voids.count", "greater than or equal to 0"]),
        ({"layer_cells": 0}, ["layer_cells"]),
        ({"dimension": "axisymmetric"}, ["dimension", "'3d'"]),
        ({"void": {"count": 1}}, ["void", "Extra inputs are not permitted"]),
        ({"width": "1 mA"}, ["width", "length"]),
    ],
)
def test_film_rejections_name_the_key(kwargs, words):
    with pytest.raises(ValidationError) as error:
        FilmParams(**kwargs)
    for word in words:
        assert word in str(error.value)


# ----------------------------------------------------------------------------- ASR
@pytest.mark.mpi
@pytest.mark.parametrize("case", [
    ("2d", {"interphase_thickness": "0.5 um"}),
    ("2d", {"lithium_thickness": "2 um", "li3n_thickness": "1 um", "film_thickness": "20 um"}),
    ("3d", {"width": "10 um", "film_thickness": "10 um", "interphase_thickness": "1 um"}),
])
def test_asr_void_free_is_the_1d_value(case):
    dimension, kwargs = case
    params = FilmParams(dimension=dimension, **kwargs)
    options = OPTIONS_3D if dimension == "3d" else MeshOptions()
    result = film_asr(build_domain("sulfide_film", params, options), STACK_SIGMA)
    exact = sum((y1 - y0) / STACK_SIGMA[name] for name, (y0, y1) in layers(params).items())
    assert result.analytic == pytest.approx(exact, rel=1e-12)
    assert result.asr == pytest.approx(exact, rel=1e-6)
    assert result.current * result.asr == pytest.approx(result.voltage * result.area, rel=1e-12)


@pytest.mark.mpi
def test_asr_grows_with_voids_and_drops_with_a_filament():
    base = {"film_thickness": "20 um"}
    asr = {}
    for label, extra in {"none": {}, "one": {"voids": {"count": 1, "width": "3 um"}},
                         "three": {"voids": {"count": 3, "width": "3 um"}},
                         "filament": {"filament": {"depth": "10 um"}}}.items():
        domain = build_domain("sulfide_film", FilmParams(**base, **extra), MeshOptions(size_feature="0.25 um"))
        asr[label] = film_asr(domain, STACK_SIGMA).asr
    analytic = 3e-6 / 0.12 + 20e-6 / 0.11
    assert asr["none"] == pytest.approx(analytic, rel=1e-6)
    assert analytic < asr["one"] < asr["three"]
    assert asr["three"] - analytic > 2 * (asr["one"] - analytic)  # each void adds to the constriction
    assert asr["filament"] < analytic * (1 - 0.2)  # a 10 um filament in 23 um shortens the path


# ----------------------------------------------------------------------------- RVE geometry
def _check_rve(params: RveParams, options: MeshOptions, rel: float):
    domain = build_domain("film_rve", params, options)
    mesh, cell_tags, facet_tags = domain.mesh, domain.cell_tags, domain.facet_tags
    regions, boundaries = rve_names(params)
    assert set(domain.regions) == regions and set(domain.boundaries) == boundaries
    assert len(np.unique(facet_tags.indices)) == len(facet_tags.indices)
    assert np.all(np.isin(dolfinx.mesh.exterior_facet_indices(mesh.topology), facet_tags.indices))
    dim = 2 if params.dimension == "2d" else 3
    volume = params.size**dim
    for name, tag in domain.boundaries.items():
        assert _measure(mesh, facet_tags, tag, ufl.ds) == pytest.approx(params.size ** (dim - 1), rel=1e-9), name
    fractions = {n: _measure(mesh, cell_tags, t, ufl.dx) / volume for n, t in domain.regions.items()}
    assert sum(fractions.values()) == pytest.approx(1.0, rel=1e-9)
    if params.arrangement == "array":  # exact on the lattice
        assert fractions.get("particles", 0.0) == pytest.approx(params.particle_fraction, rel=rel)
        assert fractions.get("fibres", 0.0) == pytest.approx(params.fibre_fraction, rel=rel)
    else:  # aimed at on a sampling grid, to about half an inclusion
        r = params.particle_diameter / 2
        one = math.pi * r * r / volume if dim == 2 else 4 / 3 * math.pi * r**3 / volume
        assert abs(fractions.get("particles", 0.0) - params.particle_fraction) < 0.6 * one + 0.01
    return domain


RVE_CASES = {
    "2d_random_discs": ("2d", {}, RVE_2D),
    "2d_random_strips_y": ("2d", {"fibre_orientation": "y", "particle_fraction": 0.3, "seed": 4}, RVE_2D),
    "2d_array": ("2d", {"arrangement": "array"}, RVE_2D.model_copy(update={"order": 2})),
    "2d_array_strips": ("2d", {"arrangement": "array", "fibre_orientation": "x", "particle_fraction": 0.3,
                               "cells": 3}, RVE_2D.model_copy(update={"order": 2})),
    "3d_array_x": ("3d", {"arrangement": "array", "size": "10 um", "cells": 1, "particle_fraction": 0.3},
                   MeshOptions(size_far="2 um", size_feature="1 um", grading_distance="2 um", order=2)),
    "3d_random_y": ("3d", {"size": "10 um", "particle_fraction": 0.15, "fibre_fraction": 0.08,
                           "fibre_diameter": "2 um", "fibre_orientation": "y", "seed": 1},
                    MeshOptions(size_far="2 um", size_feature="1 um", grading_distance="2 um")),
}


@pytest.mark.mpi
@pytest.mark.parametrize("case", list(RVE_CASES))
def test_rve_names_and_fractions(case):
    dimension, kwargs, options = RVE_CASES[case]
    _check_rve(RveParams(dimension=dimension, **kwargs), options, rel=2e-3 if dimension == "3d" else 1e-4)


def test_rve_placement():
    params = RveParams(seed=3)
    incs = inclusions(params)

    def flat(items):
        return np.concatenate([[*i.centre, i.radius] for i in items])

    assert np.array_equal(flat(incs), flat(inclusions(RveParams(seed=3))))
    assert not np.array_equal(flat(incs)[:3], flat(inclusions(RveParams(seed=4)))[:3])
    gap = params.min_gap
    for i, a in enumerate(incs):
        for b in incs[:i]:
            assert np.linalg.norm(a.centre - b.centre) >= a.radius + b.radius + gap - 1e-15
    # array: 5 um particles at 0.4 have the ideal pitch 5 sqrt(pi / 1.6) = 7.0 um -> 3 cells of 20/3 um
    array = inclusions(RveParams(arrangement="array"))
    particles = [i for i in array if i.kind == "particle"]
    fibres = [i for i in array if i.kind == "fibre"]
    assert len(particles) == 9 and len(fibres) == 16
    pitch = 20 * UM / 3
    assert particles[0].radius == pytest.approx(pitch * math.sqrt(0.4 / math.pi))
    assert np.allclose(particles[0].centre, [pitch / 2, pitch / 2])
    assert fibres[0].radius == pytest.approx(pitch * math.sqrt(0.126 / math.pi))
    assert np.allclose(fibres[-1].centre, [20 * UM, 20 * UM])


@pytest.mark.parametrize(
    "kwargs, words",
    [
        ({"dimension": "3d", "fibre_orientation": "disc"}, ["fibre_orientation", "2d only"]),
        ({"particle_fraction": 0.6, "fibre_fraction": 0.4}, ["particle_fraction + fibre_fraction", "below 1"]),
        ({"particle_fraction": 0.6}, ["particle_fraction", "could not place", "seed"]),
        ({"fibre_fraction": 0.5, "particle_fraction": 0.1, "fibre_orientation": "x"}, ["fibre_fraction"]),
        ({"arrangement": "array", "particle_fraction": 0.75}, ["particle_fraction (0.75)", "too high", "pitch"]),
        ({"arrangement": "array", "particle_fraction": 0.5, "fibre_fraction": 0.3},
         ["particle_fraction + fibre_fraction", "min_gap"]),
        ({"particle_fraction": 1.0}, ["particle_fraction", "less than 1"]),
        ({"min_gap": 0}, ["min_gap", "greater than 0"]),
        ({"cells": 0}, ["cells", "greater than or equal to 1"]),
        ({"arrangement": "grid"}, ["arrangement", "'array'"]),
        ({"size": "-2 um"}, ["size", "greater than 0"]),
    ],
)
def test_rve_rejections_name_the_key(kwargs, words):
    with pytest.raises(ValidationError) as error:
        RveParams(**kwargs)
    for word in words:
        assert word in str(error.value)


# ----------------------------------------------------------------------------- homogenisation
def test_bounds_formulae():
    f, s = {"a": 0.3, "b": 0.7}, {"a": 1.0, "b": 10.0}
    lo, hi = wiener_bounds(f, s)
    assert hi == pytest.approx(0.3 + 7.0) and lo == pytest.approx(1 / (0.3 + 0.07))
    # Two phases: the classic Hashin-Shtrikman formulae (d = 3), inside the Wiener bounds.
    hs_lo, hs_hi = hashin_shtrikman_bounds(f, s, 3)
    assert hs_lo == pytest.approx(1.0 + 0.7 / (1 / 9.0 + 0.3 / 3.0))
    assert hs_hi == pytest.approx(10.0 + 0.3 / (1 / -9.0 + 0.7 / 30.0))
    assert lo < hs_lo < hs_hi < hi
    assert wiener_bounds({"a": 0.5, "b": 0.5}, {"a": 0.0, "b": 1.0}) == (0.0, 0.5)
    assert hashin_shtrikman_bounds({"a": 0.5, "b": 0.5}, {"a": 0.0, "b": 1.0}, 2)[0] == 0.0


@pytest.mark.mpi
def test_sigma_eff_within_the_bounds_and_ordered_by_the_boundary_conditions():
    domain = build_domain("film_rve", RveParams(seed=2), RVE_2D)
    sigma = {"particles": 0.48, "fibres": 0.001, "matrix": 0.1}
    res = {bc: homogenise(domain, sigma, bc=bc) for bc in ("flux", "mixed", "linear")}
    lo, hi = res["mixed"].wiener
    for r in res.values():
        assert lo <= r.sigma_eff <= hi
    assert res["flux"].sigma_eff <= res["mixed"].sigma_eff <= res["linear"].sigma_eff
    assert res["mixed"].current == pytest.approx(res["mixed"].sigma_eff * res["mixed"].volume / res["mixed"].length**2)
    # along x the same RVE gives another (finite) value, also within the bounds
    along_x = homogenise(domain, sigma, direction="x")
    assert lo <= along_x.sigma_eff <= hi and along_x.sigma_eff != pytest.approx(res["mixed"].sigma_eff, rel=1e-6)


@pytest.mark.mpi
@pytest.mark.parametrize("degree", [1, 2])
def test_laminate_attains_the_wiener_bounds(degree):
    """Strips along x: a field along x sees layers in parallel (arithmetic mean), along y in series
    (harmonic mean); the P1 solution is exact (piecewise linear in one variable)."""
    params = RveParams(arrangement="array", fibre_orientation="x", particle_fraction=0, cells=4)
    domain = build_domain("film_rve", params, MeshOptions(size_far="2 um", size_feature="1 um"))
    sigma = {"matrix": 0.11, "fibres": 0.0048}
    parallel = homogenise(domain, sigma, direction="x", degree=degree)
    series = homogenise(domain, sigma, direction="y", degree=degree)
    assert parallel.fractions["fibres"] == pytest.approx(0.126, rel=1e-12)
    assert parallel.sigma_eff == pytest.approx(parallel.wiener[1], rel=1e-6)
    assert series.sigma_eff == pytest.approx(series.wiener[0], rel=1e-6)
    # The uniform-flux condition is exact in series, the linear potential in parallel (the other
    # one of each pair is a strict bound there).
    flux = homogenise(domain, sigma, direction="y", bc="flux", degree=degree)
    linear = homogenise(domain, sigma, direction="x", bc="linear", degree=degree)
    assert flux.sigma_eff == pytest.approx(series.wiener[0], rel=1e-6)
    assert linear.sigma_eff == pytest.approx(parallel.wiener[1], rel=1e-6)
    assert homogenise(domain, sigma, direction="y", bc="linear", degree=degree).sigma_eff > series.sigma_eff * 1.01


def test_sigma_eff_converges_under_refinement():
    params = RveParams(arrangement="array", cells=1, size="10 um")
    sigma = {"particles": 0.48, "fibres": 0.01, "matrix": 0.1}
    values = []
    for h in (2.0, 1.0, 0.5):
        options = MeshOptions(size_far=h * UM, size_feature=h * UM / 4, grading_distance="2 um", order=2)
        values.append(homogenise(build_domain("film_rve", params, options), sigma).sigma_eff)
    d1, d2 = abs(values[1] - values[0]), abs(values[2] - values[1])
    assert d2 < d1
    assert math.log2(d1 / d2) > 0.5
    assert d2 / values[2] < 2e-3
    assert values[2] == pytest.approx(0.1397, rel=2e-3)  # see docs/film.md


@pytest.mark.mpi
def test_parallel_equals_serial():
    """sigma_eff and the ASR on all ranks of COMM_WORLD equal those on one rank (COMM_SELF): the
    same mesh, distributed or not (under mpirun -n 2 this compares 2 ranks with 1)."""
    params = RveParams(seed=5, particle_fraction=0.35)
    sigma = {"particles": 0.48, "fibres": 0.0, "matrix": 0.1}
    film = FilmParams(voids={"count": 2}, filament={"depth": "8 um", "position": "1 um"}, film_thickness="20 um")
    out = {}
    for label, comm in (("world", MPI.COMM_WORLD), ("self", MPI.COMM_SELF)):
        rve = homogenise(build_domain("film_rve", params, RVE_2D, comm), sigma)
        asr = film_asr(build_domain("sulfide_film", film, MeshOptions(), comm), STACK_SIGMA)
        out[label] = (rve.sigma_eff, rve.fractions["particles"], asr.asr)
    assert out["world"] == pytest.approx(out["self"], rel=1e-10)


def test_cli_prints_table_and_json(tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PMI_", "MPI", "HYDRA", "OMPI"))}
    (tmp_path / "rve.yaml").write_text("arrangement: array\ncells: 1\nsize: 10 um\nconductivity:\n  matrix: 1 mS/cm\n")
    proc = subprocess.run(
        [sys.executable, str(ROOT / "tools" / "film_rve.py"), "--yaml", str(tmp_path / "rve.yaml"),
         "--levels", "2", "--h", "2 um", "--fibre-fraction", "0.1", "--json", str(tmp_path / "out.json")],
        cwd=ROOT, capture_output=True, text=True, timeout=300, env=env,
    )
    assert proc.returncode == 0, proc.stderr
    assert "sigma_eff mS/cm" in proc.stdout and "Wiener" in proc.stdout
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    assert result == json.loads((tmp_path / "out.json").read_text())
    assert result["params"]["fibre_fraction"] == 0.1 and result["conductivity"]["matrix"] == pytest.approx(0.1)
    assert len(result["levels"]) == 2
    for row in result["levels"]:
        assert row["wiener"][0] <= row["sigma_eff"] <= row["wiener"][1]


def test_builders_are_registered():
    assert meshes.BUILDERS["sulfide_film"].params is FilmParams
    assert meshes.BUILDERS["film_rve"].params is RveParams
