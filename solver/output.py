"""Writing results: VTKHDF fields, CSV/JSON metrics and provenance.

Fields are gathered to rank 0 by global DOF number and written as one VTKHDF
UnstructuredGrid (ParaView >= 5.12 and ``pyvista.read`` open it). Quadratic
fields are written on quadratic VTK cells, so a P2 solution is stored exactly.
The file is therefore independent of the number of MPI ranks.

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
