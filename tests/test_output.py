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


@pytest.mark.mpi
@pytest.mark.parametrize("degree", [1, 2])
def test_written_plating_current_is_the_recovered_one_on_the_boundaries(tmp_path, degree):
    """fields.vtkhdf's plating_current_density is the recovered boundary current (a copy of it on
    a P1 problem, interpolated on P2): the electrode_current.csv values at the electrode vertices, zero
    away from the recovered boundaries."""
    import pyvista as pv

    from solver import study
    from solver.scenario import cases_from_dict
    from tests.util_scenarios import bud_scenario

    R = 1e-6
    raw = bud_scenario("2d", 2 * R, R, 8 * R, 8 * R, R / 2, 1.5 * R, 4 * R, order=1, degree=degree)
    case = cases_from_dict(raw)[0]
    domain = study.build_domain(case, MPI.COMM_WORLD)
    problem, _, current, metrics, layer = study.solve_case(case, domain)
    folder = _shared(tmp_path)
    study.write_case(folder, case, problem, current, metrics, True, layer)
    if MPI.COMM_WORLD.rank != 0:
        return
    grid = pv.read(str(folder / "fields.vtkhdf"))
    table = np.genfromtxt(folder / "electrode_current.csv", delimiter=",", names=True, dtype=None, encoding=None)
    field = grid.point_data["plating_current_density"]
    at = {tuple(np.round(p / R, 6)): v for p, v in zip(grid.points, field)}
    csv = [at[tuple(np.round(np.array([r["x_m"], r["y_m"], r["z_m"]]) / R, 6))] for r in table]
    assert np.allclose(csv, table["plating_current_density_A_m2"], rtol=1e-8, atol=0)  # CSV: 10 digits
    assert np.abs(table["plating_current_density_A_m2"]).min() > 0
    assert np.count_nonzero(field) < field.size / 2  # zero inside
    assert np.count_nonzero(field) >= len(table)
