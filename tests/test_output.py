"""The VTKHDF field file written by every rank in turn (solver.output.write_fields)."""

from pathlib import Path

import numpy as np
import pytest

from solver._dolfinx import MPI, dolfinx


def _shared(tmp_path) -> Path:
    return Path(MPI.COMM_WORLD.bcast(str(tmp_path), root=0))


def _fields(degree):
    comm = MPI.COMM_WORLD
    mesh = dolfinx.mesh.create_unit_cube(comm, 5, 4, 3)
    V = dolfinx.fem.functionspace(mesh, ("Lagrange", degree))
    u = dolfinx.fem.Function(V)
    u.interpolate(lambda x: x[0] + 2 * x[1] ** 2 - x[2] * x[0])  # exact in P2, not in P1
    W = dolfinx.fem.functionspace(mesh, ("Lagrange", degree, (3,)))
    w = dolfinx.fem.Function(W)
    w.interpolate(lambda x: np.vstack([x[0], -x[1], x[2] * x[0]]))
    n = mesh.topology.index_map(3).size_local
    first = mesh.topology.index_map(3).local_range[0]
    cells = {"region": np.full(n, 1 + comm.rank, dtype=np.int32),
             "vector": np.column_stack([np.arange(first, first + n), np.zeros(n), np.ones(n)]).astype(float)}
    return V, {"u": u, "w": w}, cells


@pytest.mark.mpi
@pytest.mark.parametrize("degree", [1, 2])
def test_fields_written_by_every_rank_equal_the_gathered_grid(tmp_path, degree):
    """Every rank writes its owned rows into one file: the same points, cells (P2 on quadratic
    cells), point, cell and field data as the grid gathered to rank 0 and saved by VTK, read back
    by pyvista; the P2 field is exact at the quadratic nodes."""
    import pyvista as pv

    from solver.output import gather_grid, write_fields

    comm = MPI.COMM_WORLD
    folder = _shared(tmp_path)
    V, points, cells = _fields(degree)
    names = ["1=electrolyte", "2=layer", "3=bud"]
    write_fields(folder / "new.vtkhdf", V, points, cells, {"region_names": names})
    grid = gather_grid(V, points, cells)
    if comm.rank == 0:
        grid.save(str(folder / "old.vtkhdf"))
    comm.barrier()
    new, old = pv.read(str(folder / "new.vtkhdf")), pv.read(str(folder / "old.vtkhdf"))
    assert new.n_points == old.n_points == V.dofmap.index_map.size_global
    assert new.n_cells == old.n_cells == V.mesh.topology.index_map(3).size_global
    assert np.array_equal(new.celltypes, old.celltypes)
    assert np.array_equal(new.cell_connectivity, old.cell_connectivity)
    assert np.array_equal(new.cell_offsets, old.cell_offsets)
    assert np.array_equal(new.points, old.points)
    for k in ("u", "w"):
        assert np.array_equal(new.point_data[k], old.point_data[k])
    for k in ("region", "vector"):
        assert new.cell_data[k].dtype == cells[k].dtype
        assert np.array_equal(new.cell_data[k], old.cell_data[k])
    assert sorted(new.cell_data["vector"][:, 0]) == list(range(new.n_cells))  # every cell once
    assert list(new.field_data["region_names"]) == names
    x = new.points
    exact = x[:, 0] + 2 * x[:, 1] ** 2 - x[:, 2] * x[:, 0]
    assert np.abs(new.point_data["u"] - exact).max() < 1e-12  # nodal values (P2: at the mid-edge nodes too)
    assert np.abs(new.point_data["w"] - np.column_stack([x[:, 0], -x[:, 1], x[:, 2] * x[:, 0]])).max() < 1e-12


@pytest.mark.mpi
def test_unwritable_fields_file_is_one_clear_error_on_every_rank(tmp_path):
    from solver.errors import UserError
    from solver.output import write_fields

    V, points, cells = _fields(1)
    missing = _shared(tmp_path) / "no" / "such" / "folder" / "fields.vtkhdf"
    with pytest.raises(UserError, match="cannot write .*fields.vtkhdf"):
        write_fields(missing, V, points, cells)
