"""Tests of the ``li_bud`` geometry builder (meshes/bud.py).

Measures of the meshed regions and boundaries are compared with analytic
values; order-2 meshes make the polygonal error on the curved bud negligible.
Every test also runs in parallel, e.g.::

    mpirun -n 2 python -m pytest tests/test_mesh_bud.py -q -k parallel
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
from meshes.bud import BudParams, bud_centres, names

pytestmark = pytest.mark.mpi  # the whole file also runs under mpirun -n 2 in CI

UM = 1e-6
OPTIONS = MeshOptions(
    size_far="4 um", size_electrode="2 um", size_feature="0.4 um", grading_distance="6 um", order=2
)


def _generate(params: BudParams, options: MeshOptions = OPTIONS):
    return meshes.generate(meshes.BUILDERS["li_bud"], params, options, MPI.COMM_WORLD)


def _measure(mesh, tags, tag, measure, weight=1.0) -> float:
    """Assembled measure of the entities tagged ``tag``, summed over ranks."""
    form = dolfinx.fem.form(weight * measure(domain=mesh, subdomain_data=tags, subdomain_id=tag))
    return mesh.comm.allreduce(dolfinx.fem.assemble_scalar(form), op=MPI.SUM)


# --- analytic bud profiles ----------------------------------------------------------


def _cone_touch(a: float, b: float, r: float) -> tuple[float, float]:
    """Tangent point of the flank from (b, 0) on the apex round (centre (0, a - r))."""
    foot, centre = np.array([b, 0.0]), np.array([0.0, a - r])
    to_centre = centre - foot
    d = np.linalg.norm(to_centre)
    tilt = math.asin(r / d)  # flank = foot->centre turned away from the axis by `tilt`
    rot = np.array([[math.cos(tilt), math.sin(tilt)], [-math.sin(tilt), math.cos(tilt)]])
    touch = foot + math.sqrt(d * d - r * r) * rot @ (to_centre / d)
    assert np.isclose(np.linalg.norm(touch - centre), r)
    return float(touch[0]), float(touch[1])


def _radius(shape: str, a: float, b: float, r: float, z: np.ndarray) -> np.ndarray:
    """Bud half-width (radius) at height z above the flat Li."""
    if shape == "semi_ellipsoid":
        return b * np.sqrt(np.clip(1 - (z / a) ** 2, 0, None))
    tx, ty = _cone_touch(a, b, r)
    flank = b + (tx - b) * z / ty
    cap = np.sqrt(np.clip(r * r - (z - (a - r)) ** 2, 0, None))
    return np.where(z < ty, flank, cap)


def _offset(shape: str, a: float, b: float, r: float, t: float) -> tuple[float, float, float]:
    """Coated bud profile: semi-axes + t (semi-ellipse), exact offset (rounded cone)."""
    if shape == "semi_ellipsoid":
        return a + t, b + t, r
    tx, ty = _cone_touch(a, b, r)
    normal_x = ty / math.hypot(tx - b, ty)  # x part of the flank's outward unit normal
    return a + t, b + t / normal_x, r + t


def _bud_measure(dimension: str, shape: str, a, b, r, z0: float = 0.0) -> float:
    """Area (2d, full bud) or volume (axi, 3d) of the bud part above z = z0."""
    z = np.linspace(z0, a, 200_001)
    if dimension == "2d":
        return float(np.trapezoid(2 * _radius(shape, a, b, r, z), z))
    return float(np.trapezoid(math.pi * _radius(shape, a, b, r, z) ** 2, z))


def _bud_length_2d(shape: str, a: float, b: float, r: float) -> float:
    """Length of the 2d bud outline (both flanks)."""
    if shape == "semi_ellipsoid":
        theta = np.linspace(0, math.pi, 200_001)
        return float(np.trapezoid(np.hypot(b * np.sin(theta), a * np.cos(theta)), theta))
    tx, ty = _cone_touch(a, b, r)
    arc = math.pi / 2 - math.atan2(ty - (a - r), tx)
    return 2 * (math.hypot(tx - b, ty) + r * arc)


# --- geometry of each case ------------------------------------------------------------

BUD = {"height": "3 um", "base_radius": "2 um", "apex_radius": "0.5 um"}
DOMAIN = {
    "2d": {"width": "20 um", "height": "10 um", "count": 2},
    "axisymmetric": {"width": "10 um", "height": "10 um", "count": 1},
    "3d": {"width": "10 um", "height": "8 um", "count": 1},
}
COATINGS = {
    "bare": None,
    "conformal": {"thickness": "2 um"},
    "flat": {"thickness": "4 um", "mode": "flat"},
}


def _params(dimension: str, shape: str, coating: str) -> BudParams:
    domain = DOMAIN[dimension]
    return BudParams(
        dimension=dimension,
        width=domain["width"],
        height=domain["height"],
        bud={**BUD, "shape": shape, "count": domain["count"], "spacing": "9 um"},
        coating=COATINGS[coating],
    )


def _expected(params: BudParams) -> dict[str, float]:
    """Analytic measure of each region and of the simple boundaries."""
    dimension, bud, coat = params.dimension, params.bud, params.coating
    w, h, n = params.width, params.height, bud.count
    a, b, r = bud.height, bud.base_radius, bud.apex_radius
    plane = {"2d": w, "axisymmetric": math.pi * w * w, "3d": w * w}[dimension]
    base = {"2d": 2 * b, "axisymmetric": math.pi * b * b, "3d": math.pi * b * b}[dimension]
    lateral = {"2d": 2 * h, "axisymmetric": 2 * math.pi * w * h, "3d": 4 * w * h}[dimension]
    bud_measure = _bud_measure(dimension, bud.shape, a, b, r)
    expected = {"flat": plane - n * base, "counter": plane, "side": lateral}
    if dimension == "2d":
        expected["bud"] = n * _bud_length_2d(bud.shape, a, b, r)
    if dimension == "axisymmetric":
        expected["axis"] = h - a
    fluid = plane * h - n * bud_measure
    if coat is None:
        expected["electrolyte"] = fluid
        return expected
    t = coat.thickness
    coating = plane * t - n * bud_measure
    if coat.mode == "conformal":
        grown = _offset(bud.shape, a, b, r, t)
        coating += n * _bud_measure(dimension, bud.shape, *grown, z0=t)
    else:
        expected["coating_top"] = plane
    expected["coating"] = coating
    expected["electrolyte"] = fluid - coating
    return expected


@pytest.mark.parametrize("coating", list(COATINGS))
@pytest.mark.parametrize("shape", ["semi_ellipsoid", "rounded_cone"])
@pytest.mark.parametrize("dimension", ["2d", "axisymmetric", "3d"])
def test_names_measures_and_apex(dimension, shape, coating):
    params = _params(dimension, shape, coating)
    mesh, cell_tags, facet_tags, info = _generate(params)
    regions, boundaries = names(params)
    assert set(info.regions) == regions
    assert set(info.boundaries) == boundaries
    assert info.gdim == (3 if dimension == "3d" else 2)
    assert info.axisymmetric == (dimension == "axisymmetric")

    # Each facet in exactly one boundary group, every outer facet in one.
    assert len(np.unique(facet_tags.indices)) == len(facet_tags.indices)
    assert np.all(np.isin(dolfinx.mesh.exterior_facet_indices(mesh.topology), facet_tags.indices))

    # Measures (axisymmetric: volumes and areas of revolution, except the axis).
    x = ufl.SpatialCoordinate(mesh)
    revolve = 2 * math.pi * x[0] if dimension == "axisymmetric" else 1.0
    measured = {n: _measure(mesh, cell_tags, t, ufl.dx, revolve) for n, t in info.regions.items()}
    for name, tag in info.boundaries.items():
        measure = ufl.dS if name == "coating_top" else ufl.ds
        weight = 1.0 if name == "axis" else revolve
        measured[name] = _measure(mesh, facet_tags, tag, measure, weight)
    bud_scale = _bud_measure(dimension, shape, params.bud.height, params.bud.base_radius,
                             params.bud.apex_radius)
    for name, value in _expected(params).items():
        if name not in measured:
            continue
        if name in info.regions:  # curved boundaries: error relative to the bud size
            assert measured[name] == pytest.approx(value, abs=2e-3 * bud_scale), name
        else:
            assert measured[name] == pytest.approx(value, rel=1e-3), name

    # Landmarks: the apices are mesh vertices, the far point is on the flat Li corner.
    apex = np.array(info.landmarks["apex"])
    assert apex.shape == (params.bud.count, info.gdim)
    points = mesh.geometry.x[:, : info.gdim]
    for point in [*apex, np.array(info.landmarks["far"])]:
        gap = np.min(np.linalg.norm(points - point, axis=1)) if len(points) else np.inf
        assert mesh.comm.allreduce(gap, op=MPI.MIN) < 1e-9 * params.width
    assert info.landmarks["far"][-1] == 0.0
    assert info.landmarks["bud_height"] == params.bud.height


@pytest.mark.parametrize("shape", ["semi_ellipsoid", "rounded_cone"])
@pytest.mark.parametrize("a, b", [(1.0, 3.0), (2.0, 2.0), (4.0, 1.0)])
def test_aspect_ratios_2d(shape, a, b):
    """Flat, round and tall buds (the ellipse arc's major axis flips with a/b)."""
    params = BudParams(
        dimension="2d", width="12 um", height="8 um",
        bud={"shape": shape, "height": a * UM, "base_radius": b * UM, "apex_radius": "0.3 um"},
    )
    mesh, cell_tags, facet_tags, info = _generate(params)
    expected = _expected(params)
    area = _measure(mesh, cell_tags, info.regions["electrolyte"], ufl.dx)
    length = _measure(mesh, facet_tags, info.boundaries["bud"], ufl.ds)
    bud_area = _bud_measure("2d", shape, a * UM, b * UM, 0.3 * UM)
    assert area == pytest.approx(expected["electrolyte"], abs=1e-3 * bud_area)
    assert length == pytest.approx(expected["bud"], rel=1e-3)


def test_flat_electrode_without_bud():
    params = BudParams(dimension="2d", width="10 um", height="5 um", bud={"count": 0})
    mesh, cell_tags, facet_tags, info = _generate(params)
    assert set(info.boundaries) == {"flat", "counter", "side"} == names(params)[1]
    assert info.landmarks["apex"] == []
    assert _measure(mesh, cell_tags, info.regions["electrolyte"], ufl.dx) == pytest.approx(5e-11)
    assert _measure(mesh, facet_tags, info.boundaries["flat"], ufl.ds) == pytest.approx(10e-6)


def test_3d_row_by_row_layout():
    params = BudParams(
        dimension="3d", width="16 um", height="6 um",
        bud={"count": 3, "spacing": "6 um", "height": "2 um", "base_radius": "2 um"},
    )
    centres = bud_centres(params) / UM
    assert np.allclose(centres, [[-3, -3], [3, -3], [0, 3]])  # 2 + 1 buds, rows centred
    coarse = MeshOptions(size_far="4 um", size_electrode="3 um", size_feature="1 um", order=2)
    mesh, cell_tags, _, info = _generate(params, coarse)
    assert np.allclose(np.array(info.landmarks["apex"])[:, :2] / UM, centres)
    volume = _measure(mesh, cell_tags, info.regions["electrolyte"], ufl.dx)
    hemisphere = 2 / 3 * math.pi * 2e-6**3
    assert volume == pytest.approx(16e-6**2 * 6e-6 - 3 * hemisphere, abs=0.01 * 3 * hemisphere)


def _coordinate_sum(params: BudParams) -> float:
    mesh, *_ = _generate(params, MeshOptions(size_far="5 um", size_feature="1 um", order=1))
    imap = mesh.geometry.index_map()
    return mesh.comm.allreduce(float(mesh.geometry.x[: imap.size_local].sum()), op=MPI.SUM)


def test_jitter_is_reproducible():
    def params(seed: int) -> BudParams:
        return BudParams(
            dimension="2d", width="40 um", height="10 um",
            bud={"count": 3, "spacing": "10 um", "jitter": 0.3, "seed": seed},
        )

    first, again, other = params(7), params(7), params(8)
    assert np.array_equal(bud_centres(first), bud_centres(again))
    assert not np.allclose(bud_centres(first), bud_centres(other))
    assert not np.allclose(bud_centres(first)[:, 0], [-10e-6, 0, 10e-6])
    assert _coordinate_sum(first) == _coordinate_sum(again)
    assert _coordinate_sum(first) != pytest.approx(_coordinate_sum(other))


@pytest.mark.parametrize(
    "kwargs, fields",
    [
        ({"dimension": "2d", "bud": {"count": 2, "base_radius": "3 um", "spacing": "5 um"}},
         ["bud.base_radius", "bud.spacing"]),
        ({"height": "2 um"}, ["bud.height", "height"]),
        ({"height": "4 um", "coating": {"thickness": "2 um"}},
         ["bud.height (2 um) + coating.thickness (2 um) must be below height (4 um)"]),
        ({"bud": {"count": 2}}, ["axisymmetric", "bud.count"]),
        ({"coating": {"thickness": "1 um", "mode": "flat"}}, ["bud.height", "coating.thickness"]),
        ({"coating": {"thickness": "-1 um"}}, ["coating.thickness"]),
        ({"bud": {"shape": "rounded_cone", "apex_radius": "2 um"}},
         ["bud.apex_radius", "bud.base_radius"]),
        ({"bud": {"shape": "rounded_cone", "height": "0.5 um", "apex_radius": "1 um"}},
         ["bud.apex_radius", "bud.height"]),
        ({"dimension": "2d", "width": "10 um", "bud": {"count": 2, "spacing": "8 um"}},
         ["side wall", "width"]),
        ({"dimension": "2d", "bud": {"count": 3, "spacing": "4.5 um", "jitter": 0.5, "seed": 1}},
         ["overlap", "bud.jitter"]),
    ],
)
def test_invalid_combinations_name_the_fields(kwargs, fields):
    with pytest.raises(ValidationError) as error:
        BudParams(**kwargs)
    for field in fields:
        assert field in str(error.value)


def test_parallel_distribution():
    """The mesh is built on rank 0 and spread over all ranks."""
    params = _params("2d", "semi_ellipsoid", "conformal")
    mesh, cell_tags, _, info = _generate(params)
    local = mesh.topology.index_map(mesh.topology.dim).size_local
    assert mesh.comm.allreduce(local > 0, op=MPI.LAND)
    area = sum(_measure(mesh, cell_tags, tag, ufl.dx) for tag in info.regions.values())
    bud = _bud_measure("2d", "semi_ellipsoid", 3e-6, 2e-6, 0.0)
    assert area == pytest.approx(20e-6 * 10e-6 - 2 * bud, abs=2e-3 * bud)
