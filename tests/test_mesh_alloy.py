"""Tests of the ``alloy_skeleton`` geometry builder (meshes/alloy.py).

Measures of the meshed regions and boundaries are compared with analytic values where the
geometry is made of straight pieces (2D posts, dense layers), and the meshed / cut-out skeleton
variants are compared with each other for branched trees. Meshes are coarse. Every test also runs
in parallel::

    mpirun -n 2 python -m pytest -q -p no:cacheprovider -m mpi tests/test_mesh_alloy.py
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import ufl
from pydantic import ValidationError

from solver._dolfinx import MPI, dolfinx

import meshes
from meshes.alloy import AlloyParams, add_skeleton, names, skeleton_segments, tree_centres
from meshes.base import MeshOptions

pytestmark = pytest.mark.mpi  # the whole file also runs under mpirun -n 2

UM = 1e-6
OPTIONS_2D = MeshOptions(size_far="4 um", size_electrode="2 um", size_feature="0.5 um", grading_distance="6 um")
OPTIONS_3D = MeshOptions(size_far="5 um", size_electrode="3 um", size_feature="1 um", grading_distance="5 um")
INTERFACES = {"li_surface", "skeleton_surface"}  # interior facets when the neighbour region is meshed


def _generate(params: AlloyParams, options: MeshOptions | None = None):
    options = options or (OPTIONS_2D if params.dimension == "2d" else OPTIONS_3D)
    return meshes.generate(meshes.BUILDERS["alloy_skeleton"], params, options, MPI.COMM_WORLD)


def _measure(mesh, tags, tag, measure) -> float:
    form = dolfinx.fem.form(1.0 * measure(domain=mesh, subdomain_data=tags, subdomain_id=tag))
    return mesh.comm.allreduce(dolfinx.fem.assemble_scalar(form), op=MPI.SUM)


def _mesh_and_measures(params: AlloyParams, options: MeshOptions | None = None):
    """Mesh, check names and facet tagging; return (info, {name: measure}) in SI."""
    mesh, cell_tags, facet_tags, info = _generate(params, options)
    regions, boundaries = names(params)
    assert set(info.regions) == regions
    assert set(info.boundaries) == boundaries
    assert info.gdim == (2 if params.dimension == "2d" else 3) and not info.axisymmetric
    # Each facet in at most one group, every outer facet in one.
    assert len(np.unique(facet_tags.indices)) == len(facet_tags.indices)
    assert np.all(np.isin(dolfinx.mesh.exterior_facet_indices(mesh.topology), facet_tags.indices))
    measured = {name: _measure(mesh, cell_tags, tag, ufl.dx) for name, tag in info.regions.items()}
    for name, tag in info.boundaries.items():
        interior = name in INTERFACES and (
            (name == "li_surface" and "lithium" in regions) or (name == "skeleton_surface" and "skeleton" in regions)
        )
        measured[name] = _measure(mesh, facet_tags, tag, ufl.dS if interior else ufl.ds)
    for name, value in measured.items():
        assert value > 0, name
    return mesh, info, measured


def _check(measured: dict[str, float], expected: dict[str, float], rel: float = 1e-9) -> None:
    assert set(expected) <= set(measured)
    for name, value in expected.items():
        assert measured[name] == pytest.approx(value, rel=rel), name


# --- 2D posts (generations 0): exact measures ------------------------------------------


@pytest.mark.parametrize("mesh_skeleton", [False, True])
@pytest.mark.parametrize("lithium", [0.0, 3.0])
def test_posts_2d_measures(lithium, mesh_skeleton):
    params = AlloyParams(
        dimension="2d", width="20 um", height="25 um", tree_height="12 um", pitch="10 um",
        trunk_width="2 um", generations=0, lithium_thickness=lithium * UM, mesh_skeleton=mesh_skeleton,
    )
    w, h, H, tw, t = 20 * UM, 25 * UM, 12 * UM, 2 * UM, lithium * UM
    n = 2
    _, info, measured = _mesh_and_measures(params)
    expected = {
        "electrolyte": w * h - n * tw * H,
        "skeleton_surface": n * (2 * H + tw),
        "li_surface": w - n * tw,
        "counter": w,
        "side": 2 * h + 2 * t,
    }
    if mesh_skeleton:
        expected["skeleton"] = n * tw * H
    if t:
        expected.update(lithium=w * t, collector=w)
    if bool(t) != mesh_skeleton:
        expected["skeleton_base"] = n * tw
    _check(measured, expected)
    assert np.allclose(info.landmarks["tree_centres"], [[-5 * UM], [5 * UM]])
    assert info.landmarks["skeleton_top"] == pytest.approx(H)
    assert info.landmarks["surface"] == 0.0
    assert info.projected_area == pytest.approx(w)


# --- dense layout: exact measures --------------------------------------------------------


@pytest.mark.parametrize(
    "dimension, coverage, mesh_skeleton, lithium",
    [("2d", 1.0, False, 0.0), ("2d", 0.5, True, 2.0), ("2d", 0.25, False, 2.0), ("3d", 0.5, False, 0.0)],
)
def test_dense_layout_measures(dimension, coverage, mesh_skeleton, lithium):
    params = AlloyParams(
        dimension=dimension, layout="dense", width="8 um", height="10 um", dense_thickness="3 um",
        coverage=coverage, mesh_skeleton=mesh_skeleton, lithium_thickness=lithium * UM,
    )
    w, h, td, t = 8 * UM, 10 * UM, 3 * UM, lithium * UM
    plane = w if dimension == "2d" else w * w  # Li surface (per metre depth in 2D)
    depth = 1.0 if dimension == "2d" else w
    _, info, measured = _mesh_and_measures(params)
    expected = {
        "electrolyte": plane * h - coverage * plane * td,
        "skeleton_surface": coverage * plane + (td * depth if coverage < 1 else 0.0),
        "counter": plane,
    }
    if coverage < 1:
        expected["li_surface"] = (1 - coverage) * plane
    if mesh_skeleton:
        expected["skeleton"] = coverage * plane * td
    if t:
        expected.update(lithium=plane * t, collector=plane)
    if bool(t) != mesh_skeleton:
        expected["skeleton_base"] = coverage * plane
    _check(measured, expected)
    assert info.landmarks["skeleton_top"] == pytest.approx(td)
    assert info.landmarks["tree_centres"] == []
    if coverage == 1 and not t:
        assert "li_surface" not in info.boundaries  # the layer covers all the Li


# --- branched trees: meshed skeleton = what the cut-out skeleton removes -------------------


@pytest.mark.parametrize(
    "kwargs",
    [
        {"generations": 1, "coverage": 0.5, "lithium_thickness": "2 um"},
        {"generations": 2},
        {"generations": 2, "jitter": 0.2, "seed": 3, "branch_sites": 1, "lithium_thickness": "2 um"},
    ],
)
def test_trees_2d_meshed_and_cut(kwargs):
    base = {"dimension": "2d", "width": "20 um", "height": "22 um", **kwargs}
    cut = AlloyParams(**base)
    meshed = AlloyParams(**base, mesh_skeleton=True)
    w, h = cut.width, cut.height
    _, info, hole = _mesh_and_measures(cut)
    _, info_m, full = _mesh_and_measures(meshed)
    # Fragment and cut give the same electrolyte and the same skeleton outline.
    assert full["electrolyte"] == pytest.approx(hole["electrolyte"], rel=1e-9)
    assert full["skeleton"] == pytest.approx(w * h - hole["electrolyte"], rel=1e-9)
    assert full["skeleton_surface"] == pytest.approx(hole["skeleton_surface"], rel=1e-9)
    assert full["li_surface"] == pytest.approx(hole["li_surface"], rel=1e-9)
    trees = len(tree_centres(cut))
    assert trees == round(cut.coverage * 2) == len(info.landmarks["tree_centres"])
    assert hole["li_surface"] == pytest.approx(w - trees * cut.trunk_width, rel=1e-9)
    # Branches add outline: more than the posts' outline, and the skeleton is a union of its segments.
    posts = trees * (2 * cut.tree_height + cut.trunk_width)
    assert hole["skeleton_surface"] > posts
    pieces = sum(s.length * s.width for s in skeleton_segments(cut))
    assert trees * cut.trunk_width * cut.tree_height < full["skeleton"] < pieces
    assert info.landmarks["skeleton_top"] == pytest.approx(cut.tree_height)
    assert info_m.landmarks == info.landmarks


# --- 3D --------------------------------------------------------------------------------------


def test_posts_3d_measures():
    """Four cylinders; order-2 cells make the polygonal error on the cylinders small."""
    params = AlloyParams(
        dimension="3d", width="10 um", height="10 um", tree_height="5 um", pitch="5 um",
        trunk_width="2 um", generations=0,
    )
    w, h, H, r, n = 10 * UM, 10 * UM, 5 * UM, 1 * UM, 4
    options = OPTIONS_3D.model_copy(update={"order": 2})
    _, info, measured = _mesh_and_measures(params, options)
    post = math.pi * r * r * H
    assert measured["electrolyte"] == pytest.approx(w * w * h - n * post, abs=0.02 * post)
    assert measured["li_surface"] == pytest.approx(w * w - n * math.pi * r * r, abs=0.02 * math.pi * r * r)
    lateral = n * (2 * math.pi * r * H + math.pi * r * r)
    assert measured["skeleton_surface"] == pytest.approx(lateral, rel=0.02)
    _check(measured, {"counter": w * w, "side": 4 * w * h})
    assert np.allclose(info.landmarks["tree_centres"], np.array([[-2.5, -2.5], [2.5, -2.5], [-2.5, 2.5], [2.5, 2.5]]) * UM)
    assert info.projected_area == pytest.approx(w * w)


@pytest.mark.parametrize(
    "kwargs",
    [
        {"generations": 1, "mesh_skeleton": True, "lithium_thickness": "2 um"},
        {"generations": 2, "branch_sites": 1, "coverage": 0.5, "width": "16 um", "pitch": "8 um",
         "trunk_width": "2.5 um", "branch_width_ratio": 0.8},
    ],
)
def test_trees_3d(kwargs):
    params = AlloyParams(**{"dimension": "3d", "width": "10 um", "height": "18 um", **kwargs})
    w, h, t = params.width, params.height, params.lithium_thickness
    _, info, measured = _mesh_and_measures(params)
    solid = measured.get("skeleton", 0.0) + measured["electrolyte"]
    if params.mesh_skeleton:
        assert solid == pytest.approx(w * w * h, rel=1e-9)
    else:
        assert solid < w * w * h
    if t:
        _check(measured, {"lithium": w * w * t, "collector": w * w})
    _check(measured, {"counter": w * w, "side": 4 * w * (h + t)})
    assert len(info.landmarks["tree_centres"]) == len(tree_centres(params))
    assert info.landmarks["skeleton_top"] == pytest.approx(params.tree_height)


# --- pure geometry -------------------------------------------------------------------------


def test_segments_layout_and_jitter():
    params = AlloyParams(generations=2, branch_sites=2)
    segments = skeleton_segments(params)
    assert len(segments) == 2 * (1 + 4 + 16)  # two trees: trunk, 2 sites x 2 branches, then 4 x 4
    trunk, first = segments[0], segments[1]
    assert trunk.generation == 0 and np.allclose(trunk.start, [-5 * UM, 0])
    assert first.generation == 1
    assert np.allclose(first.start, [-5 * UM, params.tree_height / 3])
    assert first.length == pytest.approx(params.branch_length_ratio * params.tree_height * 2 / 3)
    assert math.degrees(math.acos(first.direction[1])) == pytest.approx(params.branch_angle)
    assert first.width == pytest.approx(params.trunk_width * params.branch_width_ratio)

    def jittered(seed):
        return skeleton_segments(AlloyParams(jitter=0.2, seed=seed))

    a, again, other = jittered(1), jittered(1), jittered(2)
    assert all(np.array_equal(s.end, t.end) for s, t in zip(a, again))
    assert not all(np.allclose(s.end, t.end) for s, t in zip(a, other))
    assert np.allclose(a[0].end, segments[0].end)  # trunks are not jittered

    square = AlloyParams(dimension="3d", width="30 um", pitch="10 um", coverage=0.7)
    assert tree_centres(square).shape == (6, 2)  # round(0.7 * 3) = 2 columns of 3 trees
    assert np.allclose(np.unique(tree_centres(square)[:, 0]), [-10 * UM, 0])


def test_add_skeleton_in_another_model():
    """The skeleton can be added to any Gmsh model, at any origin and in any model unit."""
    import gmsh

    params = AlloyParams(width="20 um", pitch="10 um", trunk_width="2 um", tree_height="12 um", generations=0)
    initialised = gmsh.isInitialized()
    if not initialised:
        gmsh.initialize(interruptible=False)
    gmsh.option.setNumber("General.Terminal", 0)
    gmsh.model.add("reuse")
    try:
        entities = add_skeleton(params, origin=(100.0, 50.0), unit=1e-7)  # model unit 0.1 um
        gmsh.model.occ.synchronize()
        assert len(entities) == 2 and {d for d, _ in entities} == {2}
        area = sum(gmsh.model.occ.getMass(d, t) for d, t in entities)
        assert area == pytest.approx(2 * 20 * 120)
        box = np.array([gmsh.model.getBoundingBox(d, t) for d, t in entities])
        assert np.allclose(box[:, [0, 1, 3, 4]], [[40, 50, 60, 170], [140, 50, 160, 170]])
    finally:
        gmsh.model.remove()
        if not initialised:
            gmsh.finalize()


# --- rejections ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "kwargs, fields",
    [
        ({"trunk_width": "10 um"}, ["trunk_width (10 um)", "pitch (10 um"]),
        ({"tree_height": "40 um"}, ["tree_height (40 um)", "height (40 um)"]),
        ({"width": "4 um", "pitch": "10 um"}, ["round(width / pitch) = 0", "pitch"]),
        ({"coverage": 0.2}, ["coverage (0.2)", "no tree"]),
        ({"branch_length_ratio": 1.0, "branch_angle": 60}, ["pitch cell", "branch_length_ratio"]),
        ({"generations": 1, "branch_sites": 1, "branch_length_ratio": 1.0, "branch_angle": 5},
         ["above tree_height (15 um)", "branch_length_ratio"]),
        ({"width": "40 um", "pitch": "40 um", "branch_sites": 4, "branch_length_ratio": 1.0,
          "branch_angle": 80}, ["Li surface", "branch_angle"]),
        ({"jitter": 0.5, "seed": 1}, ["pitch cell", "jitter", "seed"]),
        ({"layout": "dense", "dense_thickness": "40 um"}, ["dense_thickness (40 um)", "height (40 um)"]),
        ({"branch_angle": 90}, ["branch_angle"]),
        ({"coverage": 0}, ["coverage"]),
        ({"generations": 5}, ["generations"]),
        ({"lithium_thickness": "-1 um"}, ["lithium_thickness"]),
        ({"dimension": "axisymmetric"}, ["dimension"]),
        ({"tree_heigth": "5 um"}, ["tree_heigth"]),
    ],
)
def test_invalid_combinations_name_the_fields(kwargs, fields):
    with pytest.raises(ValidationError) as error:
        AlloyParams(**kwargs)
    for field in fields:
        assert field in str(error.value)


def test_dense_ignores_tree_parameters():
    """Tree parameters that would be rejected for trees do not matter in the dense layout."""
    params = AlloyParams(layout="dense", trunk_width="30 um", tree_height="50 um")
    assert skeleton_segments(params) == [] and len(tree_centres(params)) == 0


def test_registered_and_in_schema():
    from solver.scenario import json_schema

    assert meshes.BUILDERS["alloy_skeleton"].params is AlloyParams
    consts = [b["properties"]["builder"].get("const") for b in json_schema()["$defs"]["Geometry"]["anyOf"]]
    assert "alloy_skeleton" in consts
