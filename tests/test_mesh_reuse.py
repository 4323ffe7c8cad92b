"""Mesh reuse: mesh.save / mesh.load (.msh on rank 0, .xdmf in parallel), the mesh cache, and a
sweep that meshes its geometry once. Same results as meshing again; mismatches are refused."""

import json
import subprocess
import sys
from pathlib import Path

import pytest

import meshes.base
from solver import study
from solver._dolfinx import MPI
from solver.errors import UserError
from solver.scenario import cases_from_dict
from tests.util_scenarios import bud_scenario, solve

R = 1e-6
ROOT = Path(__file__).resolve().parents[1]


def _shared(tmp_path) -> Path:
    return Path(MPI.COMM_WORLD.bcast(str(tmp_path), root=0))


def _raw(order=1, degree=1, dimension="axisymmetric"):
    return bud_scenario(dimension, 2 * R, R, 10 * R, 10 * R, R / 4, R, 3 * R, order=order, degree=degree)


@pytest.mark.mpi
@pytest.mark.parametrize("suffix", [".msh", ".xdmf"])
def test_save_then_load_gives_same_metrics(tmp_path, suffix):
    path = str(_shared(tmp_path) / f"bud{suffix}")
    raw = _raw()
    raw["mesh"]["save"] = path
    first = solve(raw)
    raw["mesh"].pop("save")
    raw["mesh"]["load"] = path
    again = solve(raw)
    assert again["cells"] == first["cells"]
    assert again["tip_over_far"] == pytest.approx(first["tip_over_far"], rel=1e-10)
    assert again["apex_current_density_A_m2"] == pytest.approx(first["apex_current_density_A_m2"], rel=1e-10)

    raw["geometry"]["bud"]["height"] = 1.5 * R
    with pytest.raises(UserError, match="other geometry parameters"):
        solve(raw)


@pytest.mark.mpi
def test_xdmf_keeps_curved_cells_and_landmarks(tmp_path):
    """Order-2 geometry in 3D survives the parallel write / read: same cells, same landmarks, the
    same P2 solution's metrics."""
    path = str(_shared(tmp_path) / "bud3d.xdmf")
    raw = bud_scenario("3d", 2 * R, R, 8 * R, 8 * R, R / 2, 1.5 * R, 4 * R, order=2, degree=2)
    raw["mesh"]["save"] = path
    case = cases_from_dict(raw)[0]
    built = study.build_domain(case, MPI.COMM_WORLD)
    first = study.solve_case(case, built)[3]
    raw["mesh"].pop("save")
    raw["mesh"]["load"] = path
    case = cases_from_dict(raw)[0]
    loaded = study.build_domain(case, MPI.COMM_WORLD)
    assert loaded.source == f"loaded {path}"
    assert loaded.mesh.geometry.cmaps[0].degree == 2
    assert loaded.landmarks == built.landmarks
    assert loaded.num_cells_global() == built.num_cells_global()
    again = study.solve_case(case, loaded)[3]
    for key in ("tip_over_far", "apex_current_density_A_m2", "electrode_potential_V"):
        assert again[key] == pytest.approx(first[key], rel=1e-9), key


def _tag_keys(domain, tags, dim):
    """(midpoint, value) of every tagged entity on this rank: independent of local numbering."""
    import numpy as np
    from dolfinx.mesh import compute_midpoints

    mid = compute_midpoints(domain.mesh, dim, tags.indices)
    return sorted((tuple(np.round(m / R, 9)), int(v)) for m, v in zip(mid, tags.values))


@pytest.mark.mpi
@pytest.mark.parametrize("order", [1, 2])
def test_tag_arrays_read_back_as_the_xdmf_tags(tmp_path, order):
    """The tags read from the arrays next to a saved .xdmf are the XDMF MeshTags, entity for
    entity on every rank (cells and facets, interfaces included, ghosts included); without the
    arrays (a file from an older version) the XDMF tags are read instead."""
    from dolfinx.io import XDMFFile

    path = _shared(tmp_path) / "bud3d.xdmf"
    raw = bud_scenario("3d", 2 * R, R, 8 * R, 8 * R, R / 2, 1.5 * R, 4 * R, order=order, degree=1)
    raw["geometry"]["coating"] = {"thickness": R}
    raw["materials"] = {"electrolyte": {"type": "electrolyte", "preset": "lipf6_ec_emc", "regions": ["electrolyte"]},
                        "layer": {"type": "porous_layer", "electrolyte": "electrolyte", "porosity": 0.5,
                                  "regions": ["coating"]}}
    raw["mesh"]["save"] = str(path)
    study.build_domain(cases_from_dict(raw)[0], MPI.COMM_WORLD)
    assert all(p.is_file() for p in (path.with_suffix(".cell_tags.npy"), path.with_suffix(".facet_tags.npy")))
    raw["mesh"].pop("save")
    raw["mesh"]["load"] = str(path)
    loaded = study.build_domain(cases_from_dict(raw)[0], MPI.COMM_WORLD)
    tdim = loaded.mesh.topology.dim
    with XDMFFile(MPI.COMM_WORLD, str(path), "r") as f:
        want_cells = f.read_meshtags(loaded.mesh, name="cell_tags")
        want_facets = f.read_meshtags(loaded.mesh, name="facet_tags")
    assert len(set(want_cells.values)) >= 2 and len(set(want_facets.values)) >= 4
    assert _tag_keys(loaded, loaded.cell_tags, tdim) == _tag_keys(loaded, want_cells, tdim)
    assert _tag_keys(loaded, loaded.facet_tags, tdim - 1) == _tag_keys(loaded, want_facets, tdim - 1)

    MPI.COMM_WORLD.barrier()
    if MPI.COMM_WORLD.rank == 0:
        path.with_suffix(".cell_tags.npy").unlink()
        path.with_suffix(".facet_tags.npy").unlink()
    MPI.COMM_WORLD.barrier()
    old = study.build_domain(cases_from_dict(raw)[0], MPI.COMM_WORLD)
    assert _tag_keys(old, old.cell_tags, tdim) == _tag_keys(loaded, want_cells, tdim)
    assert _tag_keys(old, old.facet_tags, tdim - 1) == _tag_keys(loaded, want_facets, tdim - 1)


def _cells_by_file_index(mesh):
    """{file cell index: rounded node coordinates} of every owned cell, gathered over the ranks."""
    import numpy as np

    n_owned = mesh.topology.index_map(mesh.topology.dim).size_local
    nodes = mesh.geometry.x[mesh.geometry.dofmaps[0][:n_owned]]
    original = mesh.topology.original_cell_index[:n_owned]
    mine = {int(c): tuple(np.round(xs.ravel() / R, 9)) for c, xs in zip(original, nodes)}
    merged = {}
    for part in MPI.COMM_WORLD.allgather(mine):
        merged.update(part)
    return merged


@pytest.mark.mpi
@pytest.mark.parametrize("dimension, order", [("3d", 1), ("3d", 2), ("2d", 2)])
def test_read_mesh_builds_the_mesh_dolfinx_read_mesh_builds(tmp_path, dimension, order):
    """meshes.store.read_mesh (the fast read) against dolfinx's XDMFFile.read_mesh: the same
    coordinate element, every file cell with the same nodes, and cells that share a facet with
    another rank ghosted."""
    import numpy as np
    from dolfinx.io import XDMFFile

    from meshes.store import read_mesh
    from solver._dolfinx import dolfinx

    path = _shared(tmp_path) / "bud.xdmf"
    raw = bud_scenario(dimension, 2 * R, R, 8 * R, 8 * R, R / 2, 1.5 * R, 4 * R, order=order, degree=1)
    raw["mesh"]["save"] = str(path)
    study.build_domain(cases_from_dict(raw)[0], MPI.COMM_WORLD)
    with XDMFFile(MPI.COMM_WORLD, str(path), "r") as f:
        ours = read_mesh(f, MPI.COMM_WORLD)
        theirs = f.read_mesh(name="mesh")
    tdim = theirs.topology.dim
    assert ours.geometry.cmaps[0].degree == theirs.geometry.cmaps[0].degree == order
    assert ours.ufl_domain().ufl_coordinate_element() == theirs.ufl_domain().ufl_coordinate_element()
    assert ours.topology.index_map(tdim).size_global == theirs.topology.index_map(tdim).size_global
    assert _cells_by_file_index(ours) == _cells_by_file_index(theirs)
    ghosts = ours.topology.index_map(tdim).num_ghosts
    assert (ghosts > 0) == (MPI.COMM_WORLD.size > 1)
    for mesh in (ours, theirs):
        mesh.topology.create_entities(tdim - 1)
        mesh.topology.create_connectivity(tdim - 1, tdim)
    for dim in (0, tdim - 1):
        assert ours.topology.index_map(dim).size_global == theirs.topology.index_map(dim).size_global
    exterior = [MPI.COMM_WORLD.allreduce(int(np.sum(dolfinx.mesh.exterior_facet_indices(m.topology)
                                                    < m.topology.index_map(tdim - 1).size_local)))
                for m in (ours, theirs)]
    assert exterior[0] == exterior[1] > 0
    if MPI.COMM_WORLD.size == 1 and order == 1:  # built in the file's cell order (create_mesh_in_file_order)
        assert np.array_equal(ours.topology.original_cell_index, np.arange(len(ours.topology.original_cell_index)))


@pytest.mark.mpi
@pytest.mark.parametrize("dimension, order", [("3d", 1), ("2d", 2)])
def test_gmsh_meshes_made_through_the_fast_create_mesh_are_dolfinx_s(monkeypatch, dimension, order):
    """A mesh made from Gmsh in the run goes through solver._dolfinx.create_mesh (swapped into
    dolfinx.io.gmsh during model_to_mesh, and swapped back after); the mesh, ghosts and tags are
    the ones dolfinx's own create_mesh makes from the same model."""
    import contextlib

    import numpy as np
    from dolfinx.io import gmsh as gmshio

    import solver._dolfinx

    calls = []
    fast = solver._dolfinx.create_mesh
    monkeypatch.setattr(solver._dolfinx, "create_mesh", lambda *a: calls.append(1) or fast(*a))
    original = gmshio.create_mesh
    case = cases_from_dict(bud_scenario(dimension, 2 * R, R, 8 * R, 8 * R, R / 2, 1.5 * R, 4 * R,
                                        order=order, degree=1))[0]
    ours = study.build_domain(case, MPI.COMM_WORLD)
    assert calls == [1] and gmshio.create_mesh is original
    monkeypatch.setattr(solver._dolfinx, "fast_create_mesh", lambda module: contextlib.nullcontext())
    theirs = study.build_domain(case, MPI.COMM_WORLD)
    assert calls == [1]
    a, b = ours.mesh, theirs.mesh
    tdim = a.topology.dim
    assert a.ufl_domain().ufl_coordinate_element() == b.ufl_domain().ufl_coordinate_element()
    for dim in (tdim, tdim - 1):
        assert a.topology.index_map(dim).size_local == b.topology.index_map(dim).size_local
        assert a.topology.index_map(dim).num_ghosts == b.topology.index_map(dim).num_ghosts
    assert np.array_equal(a.geometry.x, b.geometry.x)
    assert np.array_equal(a.geometry.dofmaps[0], b.geometry.dofmaps[0])
    assert (a.topology.index_map(tdim).num_ghosts > 0) == (MPI.COMM_WORLD.size > 1)
    assert _tag_keys(ours, ours.cell_tags, tdim) == _tag_keys(theirs, theirs.cell_tags, tdim)
    assert _tag_keys(ours, ours.facet_tags, tdim - 1) == _tag_keys(theirs, theirs.facet_tags, tdim - 1)


@pytest.mark.mpi
def test_a_parallel_read_keeps_its_partition_for_the_next(tmp_path, monkeypatch):
    """On more than one rank the first read of a file keeps its partition next to it; the next read
    on as many ranks uses it and builds the same distributed mesh (cells, ghosts, nodes); a
    partition older than the file is not used; one rank keeps nothing."""
    import os

    import numpy as np
    from dolfinx.io import XDMFFile

    import meshes.store
    from meshes.store import KeptPartition, read_mesh

    comm = MPI.COMM_WORLD
    partitioned = []  # dolfinx's partitioner run
    default = meshes.store._shared_facet_partitioner
    monkeypatch.setattr(meshes.store, "_shared_facet_partitioner", lambda: partitioned.append(1) or default())
    path = _shared(tmp_path) / "bud.xdmf"
    raw = bud_scenario("3d", 2 * R, R, 8 * R, 8 * R, R / 2, 1.5 * R, 4 * R, order=1, degree=1)
    raw["mesh"]["save"] = str(path)
    study.build_domain(cases_from_dict(raw)[0], comm)
    kept = path.with_name(f"bud.partition-{comm.size}")

    def read():
        with XDMFFile(comm, str(path), "r") as f:
            usable = KeptPartition(path, comm).usable
            partitioned.clear()
            mesh = read_mesh(f, comm, path)
        assert len(partitioned) == (1 if comm.size > 1 and not usable else 0)
        tdim = mesh.topology.dim
        imap = mesh.topology.index_map(tdim)
        n = imap.size_local + imap.num_ghosts
        cells = {int(c): tuple(np.round(mesh.geometry.x[d].ravel() / R, 9))
                 for c, d in zip(mesh.topology.original_cell_index[:n], mesh.geometry.dofmaps[0][:n])}
        return usable, (imap.size_local, imap.num_ghosts, cells)

    usable, first = read()
    assert not usable
    assert kept.is_dir() == (comm.size > 1)
    usable, again = read()
    assert usable == (comm.size > 1)
    assert again == first
    if comm.size > 1:
        assert first[1] > 0
        comm.barrier()
        if comm.rank == 0:
            h5 = path.with_suffix(".h5")
            os.utime(h5, ns=(h5.stat().st_atime_ns, h5.stat().st_mtime_ns + 10**9))
        comm.barrier()
        usable, third = read()
        assert not usable and third == first
        study.build_domain(cases_from_dict(raw)[0], comm)  # mesh.save again: the kept one goes
        assert not kept.exists()


def test_load_missing_file_is_a_validation_error(tmp_path):
    raw = bud_scenario("2d", R, R, 10 * R, 10 * R, R / 4, R, 3 * R)
    raw["mesh"]["load"] = str(tmp_path / "nope.msh")
    with pytest.raises(UserError, match="mesh: load: no such file"):
        cases_from_dict(raw)


@pytest.mark.parametrize("options, message", [
    ({"save": "bud.vtk"}, "must end in .msh"),
    ({"load": "x.xdmf", "cache": "c"}, "give one of them"),
])
def test_bad_mesh_file_options_are_refused(tmp_path, options, message):
    raw = _raw()
    (tmp_path / "x.xdmf").write_text("")
    (tmp_path / "x.xdmf.json").write_text("{}")
    raw["mesh"].update({k: str(tmp_path / v) for k, v in options.items()})
    with pytest.raises(UserError, match=message):
        cases_from_dict(raw)


def test_unreadable_xdmf_is_one_clear_message(tmp_path):
    raw = _raw()
    path = tmp_path / "m.xdmf"
    path.write_text("not xml")
    (tmp_path / "m.xdmf.json").write_text("not json")
    raw["mesh"]["load"] = str(path)
    with pytest.raises(UserError, match="cannot read .*m.xdmf.json"):
        solve(raw)
    case = cases_from_dict(raw)[0]
    meta = {"builder": "li_bud", "params": case.geometry.model_dump(mode="json"), "info": {}}
    (tmp_path / "m.xdmf.json").write_text(json.dumps(meta))
    with pytest.raises(UserError, match="m.h5 .* is missing"):
        solve(raw)


@pytest.mark.mpi
def test_cache_meshes_once_and_reads_back(tmp_path, monkeypatch):
    cache = _shared(tmp_path) / "cache"
    raw = _raw()
    raw["mesh"]["cache"] = str(cache)
    calls = []
    real = meshes.base._from_gmsh
    monkeypatch.setattr(meshes.base, "_from_gmsh", lambda *a: calls.append(1) or real(*a))
    case = cases_from_dict(raw)[0]
    first = study.build_domain(case, MPI.COMM_WORLD)
    assert first.source == "gmsh" and calls == [1]
    entries = sorted(p.name for p in cache.iterdir())
    assert len(entries) == 1 and entries[0].startswith("li_bud-"), entries  # no partial folder left
    again = study.build_domain(case, MPI.COMM_WORLD)
    assert calls == [1] and again.source.startswith("cached ")
    m1, m2 = study.solve_case(case, first)[3], study.solve_case(case, again)[3]
    assert m2["tip_over_far"] == pytest.approx(m1["tip_over_far"], rel=1e-10)
    # another mesh size is another entry
    raw["mesh"]["size_feature"] = R / 5
    study.build_domain(cases_from_dict(raw)[0], MPI.COMM_WORLD)
    assert calls == [1, 1] and len(list(cache.iterdir())) == 2


def test_cache_written_on_one_rank_is_read_on_two(tmp_path):
    """An entry made by a serial run serves a 2-rank run (and the other way): the tips agree."""
    scenario = tmp_path / "s.yaml"
    scenario.write_text(f"""name: reuse
geometry: {{dimension: axisymmetric, width: 10 um, height: 10 um, bud: {{height: 2 um, base_radius: 1 um}}}}
mesh: {{size_far: 3 um, size_electrode: 1 um, size_feature: 0.25 um, grading_distance: 10 um,
       cache: {tmp_path / 'cache'}}}
solver: {{degree: 1}}
outputs: {{fields: false, pictures: false}}
""")
    from tests.util_scenarios import run_on_ranks

    serial, parallel = (m["cases"]["reuse"] for m in run_on_ranks(["run", str(scenario)], tmp_path))
    assert len(list((tmp_path / "cache").iterdir())) == 1
    assert serial["mesh_source"] == "gmsh" and parallel["mesh_source"].startswith("cached "), parallel["mesh_source"]
    for key in ("tip_over_far", "apex_current_density_A_m2", "electrode_potential_V"):
        assert parallel[key] == pytest.approx(serial[key], rel=1e-9), key


def test_sweep_meshes_its_geometry_once(tmp_path, monkeypatch):
    """A sweep over the exchange current meshes once; a sweep point that changes the geometry
    meshes again."""
    raw = _raw()
    raw["name"] = "sweep"
    raw["outputs"] = {"fields": False, "pictures": False, "directory": str(tmp_path / "out")}
    raw["sweep"] = {"parameters": {
        "physics.electrode.kinetics.exchange_current_density": ["1 mA/cm^2", "3 mA/cm^2", "9 mA/cm^2"]}}
    calls = []
    real = meshes.base._from_gmsh
    monkeypatch.setattr(meshes.base, "_from_gmsh", lambda *a: calls.append(1) or real(*a))
    from solver.scenario import plan_from_dict

    results = study.run(plan_from_dict(raw), quiet=True)
    assert len(calls) == 1, calls
    tips = [m["tip_over_far"] for m in results.values()]
    assert tips[0] != pytest.approx(tips[1], rel=1e-6)  # the cases did differ
    # the first case solved on a freshly meshed domain gives the same as in the sweep
    single = _raw()
    single["physics"] = {"electrode": {"kinetics": {"exchange_current_density": 10.0}}}
    assert solve(single)["tip_over_far"] == pytest.approx(tips[0], rel=1e-10)


@pytest.mark.mpi
@pytest.mark.parametrize("cell, degree, shape, made", [
    ("tetrahedron", 1, None, []), ("tetrahedron", 2, None, [1]), ("tetrahedron", 3, (3,), [1, 2]),
    ("triangle", 2, (2,), [1]), ("hexahedron", 2, None, [1, 2]),
])
def test_lagrange_space_creates_the_dof_entities_first_and_gives_dolfinx_space(cell, degree, shape, made, monkeypatch):
    """solver._dolfinx.lagrange_space creates exactly the entities that carry DOFs below the
    cells (none for P1) before the space, and the space is dolfinx's own: same global size, same
    cell DOFs as functionspace on an identical mesh, and the same interpolant."""
    import numpy as np

    from solver._dolfinx import dolfinx, lagrange_space

    comm = MPI.COMM_WORLD
    CellType = dolfinx.mesh.CellType

    def mesh():
        if cell == "triangle":
            return dolfinx.mesh.create_unit_square(comm, 5, 4)
        return dolfinx.mesh.create_unit_cube(comm, 3, 3, 2, getattr(CellType, cell))

    def made_dims(m):
        out = []
        for d in range(1, m.topology.dim):
            try:
                m.topology.index_map(d)
            except RuntimeError:  # "Missing IndexMap in Topology"
                continue
            out.append(d)
        return out

    ours, theirs = mesh(), mesh()
    before = made_dims(ours)
    original, seen = dolfinx.fem.functionspace, []

    def functionspace(m, element):  # what exists when dolfinx builds the dofmap
        seen.append(made_dims(m))
        return original(m, element)

    monkeypatch.setattr(dolfinx.fem, "functionspace", functionspace)
    V = lagrange_space(ours, degree, shape)
    monkeypatch.undo()
    assert seen == [sorted(set(before) | set(made))]  # created before, not by the dofmap builder
    assert made_dims(ours) == seen[0]
    W = dolfinx.fem.functionspace(theirs, ("Lagrange", degree, shape) if shape else ("Lagrange", degree))
    assert V.dofmap.index_map.size_global == W.dofmap.index_map.size_global
    assert V.dofmap.index_map_bs == W.dofmap.index_map_bs
    assert np.array_equal(V.dofmap.list, W.dofmap.list)
    f, g = dolfinx.fem.Function(V), dolfinx.fem.Function(W)
    n = int(np.prod(shape)) if shape else 1

    def expr(x):
        values = x[0] ** degree + x[1] * x[-1]
        return np.tile(values, (n, 1)) if shape else values

    f.interpolate(expr)
    g.interpolate(expr)
    assert np.allclose(f.x.array, g.x.array, rtol=0, atol=1e-14)


@pytest.mark.mpi
@pytest.mark.parametrize("dimension", ["2d", "3d"])
def test_a_parallel_read_keeps_the_distributed_mesh_for_the_next(tmp_path, monkeypatch, dimension):
    """On more than one rank the first read also keeps each rank's part of the mesh; the next read
    builds the mesh from those parts without create_mesh, the same distributed mesh (every part,
    facets, volume and boundary area, the same P1 stiffness matrix); a part that cannot be read
    on any rank sends every rank back to create_mesh."""
    import numpy as np
    import ufl
    from dolfinx.io import XDMFFile

    import solver._dolfinx
    from meshes.store import KeptPartition, read_mesh
    from solver._dolfinx import create_facets, dolfinx, mesh_parts

    comm = MPI.COMM_WORLD
    created = []
    original = solver._dolfinx.create_mesh
    monkeypatch.setattr(solver._dolfinx, "create_mesh", lambda *a, **k: created.append(1) or original(*a, **k))
    path = _shared(tmp_path) / "bud.xdmf"
    raw = bud_scenario(dimension, 2 * R, R, 8 * R, 8 * R, R / 2, 1.5 * R, 4 * R, order=1, degree=1)
    raw["mesh"]["save"] = str(path)
    study.build_domain(cases_from_dict(raw)[0], comm)

    def read():
        created.clear()
        with XDMFFile(comm, str(path), "r") as f:
            mesh = read_mesh(f, comm, path)
        tdim = mesh.topology.dim
        parts = mesh_parts(mesh)
        create_facets(mesh)
        V = dolfinx.fem.functionspace(mesh, ("Lagrange", 1))
        u, v = ufl.TrialFunction(V), ufl.TestFunction(V)
        A = dolfinx.fem.assemble_matrix(dolfinx.fem.form(ufl.inner(ufl.grad(u), ufl.grad(v)) * ufl.dx))
        A.scatter_reverse()
        one = dolfinx.fem.Constant(mesh, 1.0)
        sums = [comm.allreduce(dolfinx.fem.assemble_scalar(dolfinx.fem.form(one * m)), op=MPI.SUM)
                for m in (ufl.dx(domain=mesh), ufl.ds(domain=mesh))]
        facets = mesh.topology.index_map(tdim - 1).size_global
        exterior = comm.allreduce(int(np.sum(dolfinx.mesh.exterior_facet_indices(mesh.topology)
                                             < mesh.topology.index_map(tdim - 1).size_local)))
        frobenius = np.sqrt(comm.allreduce(A.squared_norm(), op=MPI.SUM))
        return len(created), parts, (facets, exterior, V.dofmap.index_map.size_global), sums, frobenius

    first = read()
    assert first[0] == (1 if comm.size > 1 else 0)  # one rank: create_mesh_in_file_order
    again = read()
    assert again[0] == 0
    assert set(again[1]) == set(first[1])
    for key in first[1]:
        assert np.array_equal(again[1][key], first[1][key]), key
    assert again[2] == first[2] and first[2][1] > 0
    assert np.allclose(again[3], first[3], rtol=1e-14) and first[3][1] > 0
    assert np.isclose(again[4], first[4], rtol=1e-14)
    if comm.size > 1:
        kept = KeptPartition(path, comm)
        comm.barrier()
        if comm.rank == comm.size - 1:
            kept._mesh_file(comm.rank).write_bytes(b"not a kept mesh")
        comm.barrier()
        third = read()
        assert third[0] == 1 and third[2] == first[2]
