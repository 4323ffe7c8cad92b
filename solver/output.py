"""Writing results: VTKHDF fields, CSV/JSON metrics and provenance.

Fields are written as one VTKHDF UnstructuredGrid (ParaView >= 5.12 and
``pyvista.read`` open it) with its points in global DOF order: every rank writes
the rows it owns (a contiguous range of the global DOF numbers, and of the cells),
in turn, into one file (``write_fields``: no gather to rank 0, so neither the
time nor rank 0's memory grows with the number of ranks). Quadratic fields are
written on quadratic VTK cells, so a P2 solution is stored exactly. The file holds
the same mesh and values on any number of ranks (points and cells numbered as the
partition numbers them).

All writes go into a staging folder (``<out>.partial``) that is moved into place
only when every case of a run has finished: a failed run leaves no half-written
results behind.
"""

from __future__ import annotations

import datetime
import json
import os
import platform
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np

from solver._dolfinx import MPI, PETSc, dolfinx


def gather_grid(space, point_data: dict, cell_data: dict):
    """Gather a function space's VTK mesh and data to rank 0; a pyvista grid there, None elsewhere.

    For the transient frames (small 2D meshes whose grid rank 0 keeps); study fields go through
    ``write_fields``, which gathers nothing (and is tested against this function).

    ``point_data``: name -> Function on ``space`` (scalar or vector);
    ``cell_data``: name -> array over the owned cells (rows = cells).
    """
    import dolfinx.plot

    comm = space.mesh.comm
    topology, cell_types, x = dolfinx.plot.vtk_mesh(space)
    if comm.size == 1:  # already in global DOF order: no renumbering, no copies
        return _grid(topology, cell_types, x, {k: _nodal(f) for k, f in point_data.items()},
                     {k: np.asarray(v) for k, v in cell_data.items()})
    imap = space.dofmap.index_map
    n_local = imap.size_local + imap.num_ghosts
    l2g = imap.local_to_global(np.arange(n_local, dtype=np.int32))
    # VTK topology: [n, i0, ..., n, i0, ...] in local DOF numbers -> global
    nper = int(topology[0]) if topology.size else 0
    conn = topology.reshape(-1, nper + 1)[:, 1:] if nper else np.zeros((0, 0), dtype=np.int64)
    owned = imap.size_local
    pieces = {
        "conn": l2g[conn] if conn.size else conn.astype(np.int64),
        "types": cell_types,
        "gidx": l2g[:owned],
        "x": x[:owned],
        "points": {k: _nodal(f)[:owned] for k, f in point_data.items()},
        "cells": {k: np.asarray(v) for k, v in cell_data.items()},
    }
    gathered = comm.gather(pieces, root=0)
    if comm.rank != 0:
        return None
    n_global = imap.size_global
    pts = np.zeros((n_global, 3))
    for p in gathered:
        pts[p["gidx"]] = p["x"]
    conn = np.vstack([p["conn"] for p in gathered if p["conn"].size])
    types = np.concatenate([p["types"] for p in gathered])
    cells = np.hstack([np.full((conn.shape[0], 1), conn.shape[1]), conn]).ravel()
    points = {}
    for name in point_data:
        ncomp = gathered[0]["points"][name].shape[1]
        arr = np.zeros((n_global, ncomp))
        for p in gathered:
            arr[p["gidx"]] = p["points"][name]
        points[name] = arr
    return _grid(cells, types, pts, points, {k: np.concatenate([p["cells"][k] for p in gathered]) for k in cell_data})


VTKHDF_VERSION = (2, 0)  # UnstructuredGrid with field data (VTK's VTKHDF format, version 2.0)


def write_fields(path: Path, space, point_data: dict, cell_data: dict, field_data: dict | None = None,
                 coordinates=None) -> None:
    """One VTKHDF UnstructuredGrid of ``space``'s VTK mesh with its data, written by all ranks.

    ``point_data``: name -> Function on ``space`` (scalar or vector); ``cell_data``: name ->
    array over the owned cells (rows = cells); ``field_data``: name -> list of strings.
    Rank 0 creates the datasets at their global sizes; then each rank in turn writes its
    owned points at their global DOF numbers and its owned cells after those of the lower
    ranks (serial HDF5 one rank at a time: no collective I/O is needed, and nothing is
    gathered). Collective: every rank must call it. ``coordinates``: ``space``'s
    ``tabulate_dof_coordinates()`` where the caller has it already.
    """
    import h5py

    comm = space.mesh.comm
    conn, cell_types, x = _vtk_cells(space, coordinates)
    imap = space.dofmap.index_map
    owned = imap.size_local
    first = imap.local_range[0]
    n_points = imap.size_global
    nper = conn.shape[1]
    if comm.size > 1:  # local -> global DOF numbers (the identity on one rank)
        conn = imap.local_to_global(np.arange(owned + imap.num_ghosts, dtype=np.int32))[conn]
    conn = conn.ravel()  # int32 on one rank: HDF5 widens it to the file's int64 while writing
    n_cells = len(cell_types)
    cell_start = comm.exscan(n_cells) or 0
    conn_start = comm.exscan(conn.size) or 0
    n_cells_total = comm.allreduce(n_cells)
    n_conn_total = comm.allreduce(conn.size)
    offsets = conn_start + nper * np.arange(n_cells, dtype=np.int64)
    points = {k: _nodal(f)[:owned] for k, f in point_data.items()}
    cells = {k: np.asarray(v) for k, v in cell_data.items()}
    # dataset layout from rank 0's arrays (every rank has the same names, components and types)
    layout = comm.bcast({
        "points": {k: (a.shape[1], a.dtype.str) for k, a in points.items()},
        "cells": {k: (a.shape[1:], a.dtype.str) for k, a in cells.items()},
    } if comm.rank == 0 else None, root=0)

    def dataset(group, name, shape, dtype):
        # no fill values: every entry is written once, by its owner (HDF5 would write zeros first)
        return group.create_dataset(name, shape, dtype=dtype, fill_time="never")

    def create():
        with h5py.File(path, "w", locking=False) as h:
            root = h.create_group("VTKHDF")
            root.attrs["Version"] = np.array(VTKHDF_VERSION, dtype=np.int64)
            root.attrs.create("Type", np.bytes_(b"UnstructuredGrid"))  # a fixed-length ASCII string
            root["NumberOfPoints"] = np.array([n_points], dtype=np.int64)
            root["NumberOfCells"] = np.array([n_cells_total], dtype=np.int64)
            root["NumberOfConnectivityIds"] = np.array([n_conn_total], dtype=np.int64)
            dataset(root, "Points", (n_points, 3), np.float64)
            dataset(root, "Connectivity", (n_conn_total,), np.int64)
            dataset(root, "Offsets", (n_cells_total + 1,), np.int64)[n_cells_total] = n_conn_total
            dataset(root, "Types", (n_cells_total,), np.uint8)
            pd, cd, fd = (root.create_group(g) for g in ("PointData", "CellData", "FieldData"))
            for k, (ncomp, dtype) in layout["points"].items():
                dataset(pd, k, (n_points,) if ncomp == 1 else (n_points, ncomp), dtype)
            for k, (shape, dtype) in layout["cells"].items():
                dataset(cd, k, (n_cells_total, *shape), dtype)
            for k, values in (field_data or {}).items():
                # variable-length ASCII strings, as VTK itself writes them (its reader has no UTF-8 path)
                fd.create_dataset(k, data=np.array([str(v).encode("ascii", "replace") for v in values], dtype=object),
                                  dtype=h5py.string_dtype(encoding="ascii"))

    def write_own():
        with h5py.File(path, "r+", locking=False) as h:
            root = h["VTKHDF"]
            root["Points"][first:first + owned] = x[:owned]
            for k, a in points.items():
                root["PointData"][k][first:first + owned] = a[:, 0] if a.shape[1] == 1 else a
            if n_cells:
                root["Connectivity"][conn_start:conn_start + conn.size] = conn
                root["Offsets"][cell_start:cell_start + n_cells] = offsets
                root["Types"][cell_start:cell_start + n_cells] = cell_types
                for k, a in cells.items():
                    root["CellData"][k][cell_start:cell_start + n_cells] = a

    _in_turn(comm, [create] + [write_own] * comm.size, path)


def _vtk_cells(space, coordinates=None):
    """The owned cells as VTK cells of ``space``'s nodes: (cells x nodes) local DOF numbers in VTK's
    node order, the VTK cell type of each, the node coordinates. What ``dolfinx.plot.vtk_mesh``
    returns, without its per-cell Python indexing (1.5 s at 6.5M cells)."""
    from dolfinx.cpp.io import get_vtk_cell_type, perm_vtk

    mesh = space.mesh
    tdim = mesh.topology.dim
    n_cells = mesh.topology.index_map(tdim).size_local
    cell_type = mesh.topology.cell_type
    dofs = space.dofmap.list[:n_cells]
    perm = np.argsort(perm_vtk(cell_type, dofs.shape[1]))
    degree = space.ufl_element().degree
    first_order = {"interval": 3, "triangle": 5, "quadrilateral": 9, "tetrahedron": 10, "hexahedron": 12}
    vtk_type = first_order[cell_type.name] if degree == 1 else get_vtk_cell_type(cell_type, tdim)
    if np.any(perm != np.arange(perm.size)):  # (P1: VTK's order already)
        dofs = dofs.take(perm, axis=1)  # rows stay contiguous (dofs[:, perm] would be column-major)
    x = space.tabulate_dof_coordinates() if coordinates is None else coordinates
    return dofs, np.full(n_cells, vtk_type, dtype=np.uint8), x


def _in_turn(comm, steps, path) -> None:
    """Step 0 on rank 0, then step r + 1 on rank r, one rank after the other; an error on one
    rank stops all of them (raised everywhere as one UserError naming ``path``: a full disk, a
    missing permission)."""
    from solver.errors import UserError

    for turn, step in enumerate(steps):
        rank = 0 if turn == 0 else turn - 1
        error = None
        if comm.rank == rank:
            try:
                step()
            except (OSError, ValueError, TypeError) as err:
                error = f"{type(err).__name__}: {err}"
        error = comm.bcast(error, root=rank)
        if error:
            raise UserError(f"cannot write {path} (rank {rank}): {error}")


def _nodal(f) -> np.ndarray:
    """A Lagrange function's DOF values as rows (one per node)."""
    return f.x.array.reshape(-1, f.function_space.dofmap.index_map_bs)


def _grid(cells, types, points, point_data: dict, cell_data: dict):
    import pyvista as pv

    grid = pv.UnstructuredGrid(cells, types, points)
    for name, arr in point_data.items():
        grid.point_data[name] = arr[:, 0] if arr.shape[1] == 1 else arr
    for name, arr in cell_data.items():
        grid.cell_data[name] = arr
    return grid


def write_json(path: Path, data) -> None:
    path.write_text(json.dumps(data, indent=2, sort_keys=False, default=_jsonable) + "\n")


def _jsonable(value):
    if isinstance(value, (np.floating, np.integer)):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    raise TypeError(f"not JSON serialisable: {type(value)}")


def provenance(comm, wall_time: float | None = None) -> dict:
    """Versions, git commit, ranks and host: what is needed to reproduce a run."""
    import basix
    import ufl

    root = Path(__file__).resolve().parents[1]
    commit = None
    try:
        commit = subprocess.run(
            ["git", "-C", str(root), "rev-parse", "HEAD"], capture_output=True, text=True, timeout=5
        ).stdout.strip() or None
        dirty = subprocess.run(
            ["git", "-C", str(root), "status", "--porcelain", "--untracked-files=no"],
            capture_output=True, text=True, timeout=5,
        ).stdout.strip()
        if commit and dirty:
            commit += "+dirty"
    except (OSError, subprocess.SubprocessError):
        pass
    from importlib import metadata

    def version(dist):
        try:
            return metadata.version(dist)
        except metadata.PackageNotFoundError:
            return None

    import gmsh

    return {
        "package": "lianode",
        "package_version": version("lianode"),
        "git_commit": commit,
        "dolfinx": dolfinx.__version__,
        "petsc": ".".join(map(str, PETSc.Sys.getVersion())),
        "basix": basix.__version__,
        "ufl": ufl.__version__,
        "gmsh": gmsh.__version__,
        "mpi_ranks": comm.size,
        "mpi_library": MPI.Get_library_version().splitlines()[0].strip(),
        "python": sys.version.split()[0],
        "platform": platform.platform(),
        "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "wall_time_s": wall_time,
        "command": " ".join(sys.argv),
    }


class Staging:
    """An output folder that appears only when the run succeeds (rank 0 does the file work)."""

    def __init__(self, final: Path, comm):
        self.final = Path(final)
        self.path = self.final.with_name(self.final.name + ".partial")
        self.comm = comm

    def __enter__(self) -> Path:
        if self.comm.rank == 0:
            if self.path.exists():
                shutil.rmtree(self.path)
            self.path.mkdir(parents=True)
        self.comm.barrier()
        return self.path

    def __exit__(self, exc_type, exc, tb):
        self.comm.barrier()
        if self.comm.rank == 0:
            if exc_type is None:
                if self.final.exists():
                    shutil.rmtree(self.final)
                os.replace(self.path, self.final)
            else:
                shutil.rmtree(self.path, ignore_errors=True)
        self.comm.barrier()
        return False
