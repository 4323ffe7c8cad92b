"""Tests of the ``sse_anode`` geometry builder (meshes/sse.py).

Region and boundary measures are compared with closed forms (segments and caps of the particles,
patches, cracks; order-2 meshes), the LPSCl fraction of the Li surface is measured on the mesh
and compared with ``loading``, the weak patches with ``weak_fraction``. Every test also runs in
parallel::

    mpirun -n 2 python -m pytest -q -p no:cacheprovider -m mpi tests/test_mesh_sse.py
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
from meshes.sse import (SseParams, names, particle_centres, particle_count, patch_bounds, patch_count,
                        section_radius, sizes, weak_patches)

pytestmark = pytest.mark.mpi  # the whole file also runs under mpirun -n 2

UM = 1e-6
OPTIONS_2D = MeshOptions(size_far="2 um", size_electrode="0.5 um", size_feature="0.05 um",
                         grading_distance="3 um", order=2)
OPTIONS_3D = MeshOptions(size_far="0.6 um", size_electrode="0.4 um", size_feature="0.1 um",
                         grading_distance="1 um", order=2)


def _generate(params: SseParams, options: MeshOptions):
    return meshes.generate(meshes.BUILDERS["sse_anode"], params, options, MPI.COMM_WORLD)


def _measure(mesh, tags, tag, measure, integrand=1.0) -> float:
    form = dolfinx.fem.form(integrand * measure(domain=mesh, subdomain_data=tags, subdomain_id=tag))
    return mesh.comm.allreduce(dolfinx.fem.assemble_scalar(form), op=MPI.SUM)


# ----------------------------------------------------------------------------- closed forms
def _above(r: float, d: float, two_d: bool) -> tuple[float, float, float]:
    """Part of a disc / ball of radius r beyond the plane at signed distance d from its centre:
    (area / volume, arc length / cap area, chord / section area of the plane)."""
    d = min(max(d, -r), r)
    if two_d:
        return (r * r * math.acos(d / r) - d * math.sqrt(r * r - d * d), 2 * r * math.acos(d / r),
                2 * math.sqrt(r * r - d * d))
    cap = r - d
    return math.pi * cap * cap * (3 * r - cap) / 3, 2 * math.pi * r * cap, math.pi * (r * r - d * d)


def _patch_of(p: SseParams, centre) -> int:
    m = patch_count(p)
    pw = p.width / m
    ij = [int((c + p.width / 2) // pw) for c in centre[:-1]]
    return ij[0] + (m * ij[1] if len(ij) == 2 else 0)


def _expected(p: SseParams) -> dict[str, float]:
    """Closed-form measure of every region and boundary."""
    two_d = p.dimension == "2d"
    w, h, t, t_li, r, cw = p.width, p.height, p.sei_thickness, p.lithium_thickness, p.particle_radius, p.crack_width
    plane, lateral = (w, 2 * (h + t_li)) if two_d else (w * w, 4 * w * (h + t_li))
    m = patch_count(p)
    pw = w / m
    centres = particle_centres(p)
    n = len(centres)
    weak = weak_patches(p)
    whole, surface, _ = _above(r, -2 * r, two_d)
    if n:
        yc = centres[0, -1]
        above_top, cap_top, chord_top = _above(r, t - yc, two_d)
        above_li, cap_li, chord_li = _above(r, -yc, two_d)
    else:
        above_top = cap_top = chord_top = above_li = cap_li = chord_li = 0.0
    in_band = above_li - above_top  # particle part inside the SEI film
    depth = 1 if two_d else pw  # crack extent along y (3D)
    crack_cells = cw * t * depth  # crack measure
    n_cracks = len(weak) if cw > 0 else 0
    in_weak = sum(_patch_of(p, c) in weak for c in centres)
    e = {
        "counter": plane,
        "side": lateral,
        "electrolyte": plane * (h - t) - n * above_top + n_cracks * crack_cells,
        "sei_top": plane - n * chord_top - n_cracks * cw * depth + n_cracks * 2 * t * depth,
        "li_surface": plane - n * chord_li + n * (surface - cap_li),
    }
    patch = pw * t * depth if two_d else pw * pw * t
    sei = plane * t - n * in_band - n_cracks * crack_cells
    if p.sei_mode == "heterogeneous":
        e["sei_weak"] = len(weak) * patch - n_cracks * crack_cells - in_weak * in_band
        sei -= e["sei_weak"]
        if not two_d and cw > 0:  # crack ends against a sound patch (or a weak one with its crack elsewhere)
            for k in weak:
                i, j = k % m, k // m
                for jj in (j - 1, j + 1):
                    if 0 <= jj < m and i + m * jj not in weak:
                        e["sei_top"] += cw * t
    e["sei"] = sei
    if n:
        e["particles"] = n * whole
        e["particle_surface"] = n * cap_top
    if t_li:
        e["lithium"] = plane * t_li - n * (whole - above_li)
        e["collector"] = plane
    return e


def _li_section(mesh, cell_tags, info, vertical: int) -> float:
    """Measured area (2D: length) of the particles' section by the Li surface plane: interior
    facets on y/z = 0 with particle cells on both sides."""
    tdim = mesh.topology.dim
    space = dolfinx.fem.functionspace(mesh, ("DG", 0))
    chi = dolfinx.fem.Function(space)
    chi.x.array[:] = 0.0
    chi.x.array[cell_tags.find(info.regions["particles"])] = 1.0
    chi.x.scatter_forward()
    facets = dolfinx.mesh.locate_entities(mesh, tdim - 1, lambda x: np.isclose(x[vertical], 0.0, atol=1e-12))
    tags = dolfinx.mesh.meshtags(mesh, tdim - 1, np.sort(facets), np.ones(len(facets), dtype=np.int32))
    return _measure(mesh, tags, 1, ufl.dS, chi("+") * chi("-"))


def _check(params: SseParams, options: MeshOptions, rel: float):
    """Generate, then check names, tagging, measures, loading, weak patches, landmarks, SEI cells."""
    mesh, cell_tags, facet_tags, info = _generate(params, options)
    two_d = params.dimension == "2d"
    regions, boundaries = names(params)
    assert set(info.regions) == regions
    assert set(info.boundaries) == boundaries
    assert info.gdim == (2 if two_d else 3) and not info.axisymmetric
    assert info.projected_area == pytest.approx(params.width ** (info.gdim - 1))

    # Each facet in one group; every exterior facet in one.
    assert len(np.unique(facet_tags.indices)) == len(facet_tags.indices)
    assert np.all(np.isin(dolfinx.mesh.exterior_facet_indices(mesh.topology), facet_tags.indices))

    interior = {"sei_top", "particle_surface"} | ({"li_surface"} if params.lithium_thickness else set())
    measured = {n: _measure(mesh, cell_tags, t, ufl.dx) for n, t in info.regions.items()}
    for name, tag in info.boundaries.items():
        measured[name] = _measure(mesh, facet_tags, tag, ufl.dS if name in interior else ufl.ds)
    expected = _expected(params)
    assert set(expected) == set(measured)
    for name, value in expected.items():
        assert measured[name] == pytest.approx(value, rel=rel), name

    # LPSCl fraction of the Li surface, measured, against loading (discreteness: one particle).
    n = particle_count(params)
    plane = params.width ** (info.gdim - 1)
    one = (2 * section_radius(params) if two_d else math.pi * section_radius(params) ** 2) / plane
    if n:
        fraction = _li_section(mesh, cell_tags, info, info.gdim - 1) / plane
        assert fraction == pytest.approx(n * one, rel=rel)
        assert abs(fraction - params.loading) <= one / 2 * (1 + rel)
        assert info.landmarks["area_fraction"] == pytest.approx(fraction, rel=rel)
    else:
        assert info.landmarks["area_fraction"] == 0.0

    # Weak patches: their count against weak_fraction, their measure (the sei_weak area) above.
    total = patch_count(params) ** (info.gdim - 1)
    weak = weak_patches(params)
    if params.sei_mode == "heterogeneous":
        assert abs(len(weak) / total - params.weak_fraction) <= 0.5 / total + 1e-12
        sound_and_weak = measured["sei"] + measured["sei_weak"]
        assert sound_and_weak == pytest.approx(expected["sei"] + expected["sei_weak"], rel=rel)
    assert np.allclose(info.landmarks["weak_patches"], [patch_bounds(params, k) for k in weak])

    # Landmarks.
    assert info.landmarks["surface"] == 0.0
    assert info.landmarks["sei_top"] == pytest.approx(params.sei_thickness)
    landmark = np.reshape(info.landmarks["particle_centres"], (-1, info.gdim))
    assert np.allclose(landmark, particle_centres(params))

    # At least two cells across the SEI: no SEI cell spans the film thickness vertically, and the
    # cells are about thickness / sei_cells.
    tdim = mesh.topology.dim
    cells = np.concatenate([cell_tags.find(info.regions[k]) for k in ("sei", "sei_weak") if k in info.regions])
    cells = cells[cells < mesh.topology.index_map(tdim).size_local]
    corners = mesh.geometry.x[mesh.geometry.dofmaps[0][cells, : tdim + 1]]  # (cells, tdim + 1, 3)
    vertical = corners[:, :, tdim - 1]
    tallest = float(np.max(vertical.max(axis=1) - vertical.min(axis=1), initial=0.0))
    assert mesh.comm.allreduce(tallest, op=MPI.MAX) < params.sei_thickness * (1 - 1e-6)
    edges = [np.linalg.norm(corners[:, i] - corners[:, j], axis=1) for i in range(tdim + 1) for j in range(i)]
    median = np.median(np.concatenate(edges)) if len(cells) else 0.0
    assert median < 1.5 * params.sei_thickness / params.sei_cells
    return mesh, cell_tags, facet_tags, info


CASES_2D = {
    "bare_uniform": {"particles": "none"},
    "loading_0_heterogeneous": {"loading": 0, "sei_mode": "heterogeneous"},
    "1.7_uniform": {"loading": "1.7 %"},
    "3.5_heterogeneous_li": {"loading": "3.5 %", "sei_mode": "heterogeneous", "lithium_thickness": "1 um"},
    "7.5_heterogeneous_cracks": {"loading": "7.5 %", "sei_mode": "heterogeneous", "crack_width": "50 nm",
                                 "weak_fraction": 0.5, "seed": 3},
    "7.5_cracks_li_deep": {"loading": "7.5 %", "sei_mode": "heterogeneous", "crack_width": "0.1 um",
                           "exposure": "0.05 um", "lithium_thickness": "0.5 um", "width": "12 um",
                           "patch_size": "1.5 um", "seed": 7},
    "high_particles_thick_sei": {"loading": 0.2, "sei_thickness": "0.2 um", "exposure": "0.25 um",
                                 "particle_radius": "0.3 um", "width": "8 um", "patch_size": "1 um"},
}


@pytest.mark.parametrize("case", list(CASES_2D))
def test_2d_names_and_measures(case):
    _check(SseParams(**{"height": "5 um", **CASES_2D[case]}), OPTIONS_2D, rel=1e-5)


CASE_3D = {"dimension": "3d", "width": "2 um", "height": "1.2 um", "patch_size": "1 um", "sei_thickness": "0.2 um",
           "particle_radius": "0.3 um", "exposure": "0.1 um"}
CASES_3D = {
    "7.5_uniform": {"loading": "7.5 %"},
    "bare_heterogeneous_li": {"particles": "none", "sei_mode": "heterogeneous", "lithium_thickness": "0.3 um"},
    "heterogeneous_cracks_li": {"width": "2.4 um", "patch_size": "1.2 um", "loading": 0.04,
                                "sei_mode": "heterogeneous", "weak_fraction": 0.5, "crack_width": "0.16 um",
                                "particle_radius": "0.2 um", "lithium_thickness": "0.3 um",
                                "seed": 2},  # weak patches 2 and 3: crack ends against sound patches
}


@pytest.mark.parametrize("case", list(CASES_3D))
def test_3d_names_and_measures(case):
    _check(SseParams(**{**CASE_3D, **CASES_3D[case]}), OPTIONS_3D, rel=1e-3)


def test_counts_layout_and_sizes():
    p = SseParams()
    # Default cell: 30 um wide, particles centred on the Li surface (rho_0 = r): n 2r ~ loading * width.
    assert section_radius(p) == pytest.approx(p.particle_radius)
    assert [particle_count(p.model_copy(update={"loading": f})) for f in (0.017, 0.035, 0.075)] == [1, 2, 5]
    assert particle_count(p.model_copy(update={"particles": "none"})) == 0
    cube = SseParams(dimension="3d", width="4 um", loading=0.075)  # n pi r^2 = loading * width^2
    assert particle_count(cube) == round(0.075 * 16 / (math.pi * 0.25**2))
    # Placement rules: gap between particles, half a gap to patch edges, clear of the crack lines.
    q = SseParams(loading=0.075, sei_mode="heterogeneous", crack_width="0.1 um", seed=5)
    c = particle_centres(q)[:, 0]
    r, g, pw = q.particle_radius, q.particle_gap, q.width / patch_count(q)
    assert np.min(np.diff(np.sort(c))) >= 2 * r + g
    offset = np.mod(c + q.width / 2, pw)
    assert np.all(np.minimum(offset, pw - offset) >= r + g / 2)
    assert np.all(np.abs(offset - pw / 2) >= q.crack_width / 2 + r + g / 2)
    # For one seed: the particles do not depend on the SEI; weak patches are nested in weak_fraction.
    u = q.model_copy(update={"sei_mode": "uniform", "crack_width": 0.0})
    h = u.model_copy(update={"sei_mode": "heterogeneous"})
    assert np.allclose(particle_centres(u), particle_centres(h))
    assert set(weak_patches(h.model_copy(update={"weak_fraction": 0.2}))) <= set(weak_patches(h))
    assert weak_patches(h.model_copy(update={"particles": "none"})) == weak_patches(h)
    assert weak_patches(u) == []
    # Sizes: >= 2 cells across the SEI whatever mesh.size_feature; cracks two cells across.
    s = sizes(q, MeshOptions())
    assert s["sei"] == pytest.approx(0.05 * UM) and s["crack"] == pytest.approx(0.05 * UM)
    assert s["particles"] == pytest.approx(0.0625 * UM)
    assert sizes(q, MeshOptions(size_feature="20 nm"))["sei"] == pytest.approx(20e-9)


def test_default_2d_mesh_is_small():
    mesh, *_ = _generate(SseParams(), MeshOptions())
    assert 3000 < mesh.topology.index_map(2).size_global < 15000


@pytest.mark.parametrize(
    "kwargs, words",
    [
        ({"sei_thickness": "10 um"}, ["sei_thickness (10 um)", "height (10 um)"]),
        ({"patch_size": "40 um"}, ["patch_size (40 um)", "width (30 um)"]),
        ({"sei_mode": "heterogeneous", "weak_fraction": 0.01}, ["weak_fraction (0.01)", "0 weak patches of 15"]),
        ({"sei_mode": "heterogeneous", "weak_fraction": 0.99}, ["weak_fraction (0.99)", "15 weak patches of 15"]),
        ({"weak_fraction": 1.0}, ["weak_fraction", "less than 1"]),
        ({"crack_width": "0.1 um"}, ["crack_width", "'heterogeneous' only"]),
        ({"sei_mode": "heterogeneous", "crack_width": "2 um"}, ["crack_width (2 um)", "patch width (2 um ="]),
        ({"sei_mode": "heterogeneous", "crack_width": "1 um"}, ["crack_width (1 um)", "no room"]),
        ({"crack_width": "-1 um"}, ["crack_width", "greater than or equal to 0"]),
        ({"loading": "0.5 %"}, ["loading (0.005)", "no particle", "particles: none"]),
        ({"loading": 0.3}, ["loading", "less than 0.3"]),
        ({"loading": "-1 %"}, ["loading", "greater than or equal to 0"]),
        ({"dimension": "3d", "width": "4 um", "patch_size": "1 um", "loading": 0.29},
         ["loading (0.29)", "could not place particle", "2000 tries"]),
        ({"particle_radius": "1 um"}, ["particle_radius (1 um)", "patch width (2 um ="]),
        ({"exposure": "0.4 um"}, ["particles do not reach into the Li", "2 * particle_radius (0.5 um)"]),
        ({"exposure": "10 um"}, ["particles reach the counter", "height (10 um)"]),
        ({"exposure": 0}, ["exposure", "greater than 0"]),
        ({"lithium_thickness": "0.2 um"}, ["lithium_thickness (0.2 um)", "depth", "particle_gap"]),
        ({"particle_gap": 0}, ["particle_gap", "greater than 0"]),
        ({"sei_cells": 1}, ["sei_cells", "greater than or equal to 2"]),
        ({"sei_mode": "cracked"}, ["sei_mode", "'heterogeneous'"]),
        ({"particles": "buried"}, ["particles", "'none'"]),
        ({"dimension": "axisymmetric"}, ["dimension", "'2d'"]),
        ({"width": "3 mA"}, ["width"]),
    ],
)
def test_invalid_parameters_name_the_key(kwargs, words):
    with pytest.raises(ValidationError) as error:
        SseParams(**kwargs)
    for word in words:
        assert word in str(error.value)


def test_bare_control_accepts_a_small_cell():
    """particles: none (or loading 0) skips the particle checks."""
    SseParams(particles="none", width="5 um", loading="1 %", exposure="1 um")
    SseParams(loading=0, width="5 um", particle_radius="10 um")


def test_parallel_distribution():
    """The mesh is built on rank 0 and spread over all ranks; the measures do not change."""
    params = SseParams(loading="7.5 %", sei_mode="heterogeneous", crack_width="50 nm", lithium_thickness="1 um",
                       width="12 um", height="4 um")
    mesh, *_ = _check(params, OPTIONS_2D, rel=1e-5)
    local = mesh.topology.index_map(mesh.topology.dim).size_local
    assert mesh.comm.allreduce(local > 0, op=MPI.LAND)
