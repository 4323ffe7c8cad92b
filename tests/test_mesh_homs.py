"""Tests of the ``homs_membrane`` geometry builder (meshes/homs.py).

Region and boundary measures are compared with closed forms (order-2 meshes, so the polygonal
error on the curved shells is small). Every test also runs in parallel::

    mpirun -n 2 python -m pytest -q -p no:cacheprovider -m mpi tests/test_mesh_homs.py
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import ufl
from pydantic import ValidationError

from solver._dolfinx import MPI, dolfinx

import meshes
from meshes.base import MeshOptions
from meshes.homs import HomsParams, feature_size, membrane_top, names, sphere_centres

pytestmark = pytest.mark.mpi  # the whole file also runs under mpirun -n 2

UM = 1e-6
OPTIONS_2D = MeshOptions(size_far="2 um", size_electrode="0.5 um", size_feature="0.05 um",
                         grading_distance="4 um", order=2)
OPTIONS_3D = MeshOptions(size_far="1 um", size_electrode="0.5 um", size_feature="0.1 um",
                         grading_distance="2 um", order=2)
INTERFACES = {"opening", "binder_surface"}  # always between two regions (dS)


def _generate(params: HomsParams, options: MeshOptions):
    return meshes.generate(meshes.BUILDERS["homs_membrane"], params, options, MPI.COMM_WORLD)


def _measure(mesh, tags, tag, measure) -> float:
    form = dolfinx.fem.form(1.0 * measure(domain=mesh, subdomain_data=tags, subdomain_id=tag))
    return mesh.comm.allreduce(dolfinx.fem.assemble_scalar(form), op=MPI.SUM)


def _expected(p: HomsParams) -> dict[str, float]:
    """Closed-form measure of every region and boundary."""
    w, h, t_li, t = p.width, p.height, p.lithium_thickness, p.shell_thickness
    radius, b = p.outer_diameter / 2, p.binder or 0.0
    n = round(w / p.pitch)
    homs = p.control == "homs"
    opened = homs and p.openings != "none"
    beta = math.radians(float(p.openings)) / 2 if opened else 0.0
    radii = p.shell_radii if homs else []
    two_d = p.dimension == "2d"
    n_sph = p.rows * (n if two_d else n * n)  # sphere equivalents (wall halves/quarters summed)
    if two_d:
        keep = 1 - beta / math.pi  # part of a ring left by the opening sector
        ball = lambda r: math.pi * r * r  # noqa: E731
        sphere = lambda r: 2 * math.pi * r  # noqa: E731
        cut_face = lambda r0, r1: 2 * (r0 - r1)  # noqa: E731 - the two end faces of a cut ring
        cap = lambda r: 2 * beta * r  # noqa: E731 - arc across the opening
        plane, lateral = w, 2 * (h + t_li)
    else:
        keep = (1 + math.cos(beta)) / 2  # part of a spherical shell left by the opening cone
        ball = lambda r: 4 / 3 * math.pi * r**3  # noqa: E731
        sphere = lambda r: 4 * math.pi * r * r  # noqa: E731
        cut_face = lambda r0, r1: math.pi * math.sin(beta) * (r0 * r0 - r1 * r1)  # noqa: E731 - cone band
        cap = lambda r: 2 * math.pi * r * r * (1 - math.cos(beta))  # noqa: E731
        plane, lateral = w * w, 4 * w * (h + t_li)
    if not opened:
        cut_face = lambda r0, r1: 0.0  # noqa: E731
    e = {"counter": plane, "electrode_surface": plane}
    if homs:
        shell = [keep * (ball(r) - ball(r - t)) for r in radii]
        e["shells"] = n_sph * sum(shell)
        e["interior"] = n_sph * (ball(radius - t) - sum(shell[1:]))
        e["shell_surface"] = n_sph * sum(keep * (sphere(r) + sphere(r - t)) + cut_face(r, r - t) for r in radii)
        if opened:
            e["opening"] = n_sph * cap(radius - t)
    else:
        e["shells"] = n_sph * ball(radius)
        e["shell_surface"] = n_sph * sphere(radius)
    if b:
        k = keep if homs else 1.0
        e["binder"] = n_sph * k * (ball(radius + b) - ball(radius))
        e["binder_surface"] = n_sph * (k * sphere(radius + b) + cut_face(radius + b, radius))
    e["electrolyte"] = plane * h - sum(e.get(k, 0.0) for k in ("shells", "interior", "binder"))
    if not p.mesh_shells:
        del e["shells"]
    if t_li:
        e["lithium"] = plane * t_li
        e["collector"] = plane
    # Side walls, less what the cut-out shells of the wall spheres (row 2) take from them. A wall
    # through row-2 centres holds n discs of the sphere section (2D: 2 walls x 1 chord each).
    e["side"] = lateral
    if p.rows == 2 and not p.mesh_shells:
        if two_d:
            section = sum((1 if opened else 2) * t for _ in radii) if homs else 2 * radius
            e["side"] -= 2 * section
        else:
            ring = (1 - beta / math.pi) if opened else 1.0
            section = sum(ring * math.pi * (r * r - (r - t) ** 2) for r in radii) if homs else math.pi * radius**2
            e["side"] -= 4 * n * section
    return e


def _check(params: HomsParams, options: MeshOptions, rel: float):
    """Generate, then check names, tagging, measures, landmarks and the shell resolution."""
    mesh, cell_tags, facet_tags, info = _generate(params, options)
    regions, boundaries = names(params)
    assert set(info.regions) == regions
    assert set(info.boundaries) == boundaries
    assert info.gdim == (2 if params.dimension == "2d" else 3) and not info.axisymmetric
    assert info.projected_area == pytest.approx(params.width ** (info.gdim - 1))

    # Each facet in one group; every exterior facet in one.
    assert len(np.unique(facet_tags.indices)) == len(facet_tags.indices)
    assert np.all(np.isin(dolfinx.mesh.exterior_facet_indices(mesh.topology), facet_tags.indices))

    interior = INTERFACES | ({"shell_surface"} if params.mesh_shells else set())
    interior |= {"electrode_surface"} if params.lithium_thickness else set()
    measured = {n: _measure(mesh, cell_tags, t, ufl.dx) for n, t in info.regions.items()}
    for name, tag in info.boundaries.items():
        measured[name] = _measure(mesh, facet_tags, tag, ufl.dS if name in interior else ufl.ds)
    expected = _expected(params)
    assert set(expected) == set(measured)
    for name, value in expected.items():
        assert measured[name] == pytest.approx(value, rel=rel), name

    # Landmarks.
    assert info.landmarks["surface"] == 0.0
    assert info.landmarks["membrane_top"] == pytest.approx(membrane_top(params))
    assert np.allclose(info.landmarks["sphere_centres"], sphere_centres(params))

    # A meshed shell has no cell reaching across its thickness: every edge is shorter than it.
    if params.mesh_shells and params.control == "homs":
        tdim = mesh.topology.dim
        cells = cell_tags.find(info.regions["shells"])
        cells = cells[cells < mesh.topology.index_map(tdim).size_local]
        corners = mesh.geometry.x[mesh.geometry.dofmaps[0][cells, : tdim + 1]]  # (cells, tdim + 1, 3)
        edges = [np.linalg.norm(corners[:, i] - corners[:, j], axis=1)
                 for i in range(tdim + 1) for j in range(i)]
        longest = float(np.max(edges, initial=0.0))
        assert mesh.comm.allreduce(longest, op=MPI.MAX) < params.shell_thickness * 2 / params.shell_cells
    return mesh, cell_tags, facet_tags, info


CASES_2D = {
    "default": {},
    "closed_3_shells_meshed": {"openings": "none", "mesh_shells": True},
    "open_meshed_binder_li": {"openings": 60, "mesh_shells": True, "binder": "40 nm",
                              "lithium_thickness": "1 um", "pitch": "1 um", "width": "2 um"},
    "1_shell_1_row_binder": {"shell_radii": ["400 nm"], "rows": 1, "openings": 90, "binder": "40 nm"},
    "2_shells_closed_li": {"shell_radii": ["400 nm", "200 nm"], "openings": "none",
                           "lithium_thickness": "0.5 um", "width": "0.9 um"},
    "nanoparticles_meshed_binder": {"control": "nanoparticles", "mesh_shells": True, "binder": "40 nm",
                                    "pitch": "1 um", "width": "3 um"},
    "nanoparticles_cut_out_li": {"control": "nanoparticles", "lithium_thickness": "1 um", "height": "5 um"},
}


@pytest.mark.parametrize("case", list(CASES_2D))
def test_2d_names_and_measures(case):
    _check(HomsParams(dimension="2d", **CASES_2D[case]), OPTIONS_2D, rel=1e-4)


CASES_3D = {
    "1_shell_open_cut_out": {"shell_radii": ["400 nm"]},
    "2_shells_open_meshed_li": {"shell_radii": ["400 nm", "250 nm"], "shell_thickness": "0.1 um",
                                "openings": 60, "mesh_shells": True, "shell_cells": 1,
                                "lithium_thickness": "0.3 um"},
    "3_shells_closed_cut_out_1_row": {"openings": "none", "rows": 1},
    "nanoparticles_binder_1_row": {"control": "nanoparticles", "rows": 1, "binder": "0.1 um",
                                   "gap": "0.2 um", "pitch": "1.1 um", "width": "1.1 um", "shell_cells": 1},
}


@pytest.mark.parametrize("case", list(CASES_3D))
def test_3d_names_and_measures(case):
    params = HomsParams(**{"dimension": "3d", "width": "0.9 um", "height": "2.5 um", **CASES_3D[case]})
    _check(params, OPTIONS_3D, rel=3e-3)


def test_layout_and_sizes():
    params = HomsParams()
    n = 2  # default width 1.8 um / pitch 0.9 um
    centres = sphere_centres(params) / UM
    row2 = 0.1 + 0.4 + math.sqrt(3) / 2 * 0.9
    assert np.allclose(centres, [[-0.45, 0.5], [0.45, 0.5], [-0.9, row2], [0.0, row2], [0.9, row2]])
    assert membrane_top(params) == pytest.approx((row2 + 0.4) * UM)
    cube = sphere_centres(params.model_copy(update={"dimension": "3d"}))
    assert len(cube) == n * n + (n + 1) ** 2
    # Size on the spheres: 2 cells across a meshed shell whatever mesh.size_feature is.
    assert feature_size(params, MeshOptions()) == pytest.approx(0.1 * UM)
    meshed = params.model_copy(update={"mesh_shells": True})
    assert feature_size(meshed, MeshOptions()) == pytest.approx(20e-9)
    assert feature_size(meshed, MeshOptions(size_feature="10 nm")) == pytest.approx(10e-9)
    # The control ignores the shell parameters.
    HomsParams(control="nanoparticles", outer_diameter="1 um", pitch="1.2 um", width="2.4 um")


def test_default_2d_mesh_is_small():
    mesh, *_ = _generate(HomsParams(), MeshOptions())
    assert 300 < mesh.topology.index_map(2).size_global < 3000


@pytest.mark.parametrize(
    "kwargs, words",
    [
        ({"shell_radii": ["390 nm", "270 nm"]}, ["shell_radii[0] (0.39 um)", "outer_diameter / 2 (0.4 um)"]),
        ({"shell_radii": ["400 nm", "380 nm"]}, ["shells overlap", "shell_radii[1] (0.38 um)", "shell_thickness"]),
        ({"shell_radii": ["400 nm", "140 nm", "270 nm"]}, ["shells overlap", "shell_radii[2]"]),
        ({"shell_radii": ["400 nm", "30 nm"]}, ["shell_radii[1] (0.03 um)", "shell_thickness (0.04 um)"]),
        ({"shell_radii": ["400 nm", "300 nm", "200 nm", "100 nm"]}, ["shell_radii", "at most 3"]),
        ({"shell_radii": []}, ["shell_radii", "at least 1"]),
        ({"pitch": "0.8 um", "width": "1.6 um"}, ["overlap", "pitch (0.8 um)", "outer_diameter (0.8 um)"]),
        ({"binder": "60 nm"}, ["overlap", "pitch (0.9 um)", "2 * binder (0.12 um)"]),
        ({"width": "2 um"}, ["width (2 um)", "multiple of pitch (0.9 um)"]),
        ({"width": "0.5 um"}, ["width (0.5 um)", "pitch"]),
        ({"gap": 0}, ["gap", "greater than 0"]),
        ({"binder": "0.1 um", "pitch": "1.2 um", "width": "2.4 um"}, ["binder (0.1 um)", "gap (0.1 um)"]),
        ({"height": "1.5 um"}, ["membrane reaches the counter", "height (1.5 um)"]),
        ({"rows": 1, "height": "0.8 um"}, ["height (0.8 um)", "0.9 um"]),
        ({"openings": 180}, ["openings", "less than 180"]),
        ({"openings": "half"}, ["openings", "'none'"]),
        ({"rows": 3}, ["rows", "less than or equal to 2"]),
        ({"lithium_thickness": "-1 um"}, ["lithium_thickness", "greater than or equal to 0"]),
        ({"dimension": "axisymmetric"}, ["dimension", "'2d'"]),
        ({"shell_cells": 0}, ["shell_cells"]),
        ({"binder": "-5 nm"}, ["binder", "greater than 0"]),
        ({"control": "spheres"}, ["control", "'nanoparticles'"]),
    ],
)
def test_invalid_parameters_name_the_key(kwargs, words):
    with pytest.raises(ValidationError) as error:
        HomsParams(**kwargs)
    for word in words:
        assert word in str(error.value)


def test_parallel_distribution():
    """The mesh is built on rank 0 and spread over all ranks; the measures do not change."""
    params = HomsParams(openings=30, mesh_shells=True, lithium_thickness="1 um")
    mesh, *_ = _check(params, OPTIONS_2D, rel=1e-4)
    local = mesh.topology.index_map(mesh.topology.dim).size_local
    assert mesh.comm.allreduce(local > 0, op=MPI.LAND)
