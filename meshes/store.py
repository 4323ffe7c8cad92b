"""Saving and reading distributed meshes: ``mesh.save`` / ``mesh.load`` as XDMF, and the mesh cache.

Kept apart from the builders: the cache key hashes the builders' source (``meshes/*.py`` but this
file), and a change to how meshes are stored is versioned by ``CACHE_VERSION`` instead.

An XDMF mesh comes with its tags twice: as XDMF MeshTags (what ParaView shows) and as two numpy
arrays indexed by the file's cell order (what is read back, see :func:`write_tag_arrays`).
"""

from __future__ import annotations

import dataclasses
import functools
import hashlib
import json
import os
import shutil
from pathlib import Path

from meshes.base import Builder, GeometryInfo, MeshOptions, _mismatch, _raise_on_all, _sidecar

CACHE_VERSION = 2  # 2: tag arrays by file cell index next to the XDMF


def cache_entry(builder: Builder, params_json: dict, options: MeshOptions) -> Path:
    """The cache folder of this geometry + mesh-size set: ``<cache>/<builder>-<hash>``."""
    key = json.dumps({"version": CACHE_VERSION, "code": meshing_code_digest(), "builder": builder.name,
                      "params": params_json, "mesh": options.sizes()}, sort_keys=True)
    return Path(options.cache) / f"{builder.name}-{hashlib.sha256(key.encode()).hexdigest()[:16]}"


@functools.lru_cache(maxsize=1)
def meshing_code_digest() -> str:
    """Digest of the geometry builders' source and the Gmsh version: editing a builder or
    upgrading Gmsh starts new cache entries instead of reading stale meshes."""
    import gmsh

    digest = hashlib.sha256(str(gmsh.__version__).encode())
    for path in sorted(Path(__file__).parent.glob("*.py")):
        if path.name != Path(__file__).name:
            digest.update(path.read_bytes())
    return digest.hexdigest()


def read_xdmf(path: Path, builder: Builder, params_json: dict, comm, source: str):
    """A mesh written by :func:`write_xdmf`, read and partitioned in parallel."""
    from solver._dolfinx import dolfinx
    from dolfinx.io import XDMFFile

    saved, problem = None, None
    if comm.rank == 0:
        try:
            saved = json.loads(_sidecar(path).read_text())
            if saved.get("builder") != builder.name or saved.get("params") != params_json:
                problem = _mismatch(path)
            elif not path.with_suffix(".h5").is_file():
                problem = f"mesh.load: {path.with_suffix('.h5')} (the data of {path}) is missing"
        except (OSError, ValueError, AttributeError) as err:
            problem = f"mesh.load: cannot read {_sidecar(path)} ({type(err).__name__}: {err})"
    _raise_on_all(comm, problem)
    saved = comm.bcast(saved, root=0)
    fast = comm.bcast(all(p.is_file() for p in tag_files(path)) if comm.rank == 0 else None, root=0)
    try:
        with XDMFFile(comm, str(path), "r") as f:
            mesh = read_mesh(f, comm)
            mesh.topology.create_connectivity(mesh.topology.dim - 1, mesh.topology.dim)
            if fast:
                cell_tags, facet_tags = read_tag_arrays(path, mesh)
            else:  # written before the tag arrays existed (or by another tool): the XDMF tags
                cell_tags = f.read_meshtags(mesh, name="cell_tags")
                facet_tags = f.read_meshtags(mesh, name="facet_tags")
    except (RuntimeError, ValueError, OSError) as err:
        from solver.errors import UserError

        raise UserError(f"mesh.load: {path} could not be read ({err})") from None
    info = GeometryInfo(**{**saved["info"], "source": source})
    return mesh, cell_tags, facet_tags, info


def read_mesh(f, comm):
    """The mesh of an open XDMFFile, as ``f.read_mesh`` reads it (cells with a shared facet
    ghosted, the file's cell index kept as ``original_cell_index``), at less than half the cost.

    The arrays come from the file as before; the mesh is built by :func:`solver._dolfinx.create_mesh`
    (which avoids nanobind's row-by-row trial of the mixed-topology overloads), and on one rank
    without the graph partition that ``read_mesh`` always runs. 6.5M tetrahedra, 1 rank: 33 s ->
    11 s (``bench/mesh_read.py``). Coordinate elements other than Lagrange (serendipity) go
    through ``f.read_mesh``."""
    import basix.ufl
    import ufl

    from solver._dolfinx import create_mesh, dolfinx

    CellType = dolfinx.mesh.CellType
    cell_type, degree = f.read_cell_type("mesh")
    cells = f.read_topology_data("mesh")
    if (cell_type, cells.shape[1]) in ((CellType.quadrilateral, 8), (CellType.hexahedron, 20)):
        return f.read_mesh(ghost_mode=dolfinx.mesh.GhostMode.shared_facet, name="mesh")
    x = f.read_geometry_data("mesh")
    element = basix.ufl.element("Lagrange", cell_type.name, degree, basix.LagrangeVariant.unset,
                                shape=(x.shape[1],))
    partitioner = (dolfinx.mesh.create_cell_partitioner(dolfinx.mesh.GhostMode.shared_facet, 2)
                   if comm.size > 1 else None)
    mesh = create_mesh(comm, cells, ufl.Mesh(element), x, partitioner)
    mesh.name = "mesh"
    return mesh


def write_xdmf(path: Path, mesh, cell_tags, facet_tags, info: GeometryInfo, builder: Builder,
                params_json: dict) -> None:
    """The distributed mesh and its tags as XDMF + HDF5 (written in parallel), and the sidecar."""
    from dolfinx.io import XDMFFile

    comm = mesh.comm
    if comm.rank == 0:
        path.parent.mkdir(parents=True, exist_ok=True)
    comm.barrier()
    cell_tags.name, facet_tags.name = "cell_tags", "facet_tags"
    with XDMFFile(comm, str(path), "w") as f:
        f.write_mesh(mesh)
        f.write_meshtags(cell_tags, mesh.geometry)
        f.write_meshtags(facet_tags, mesh.geometry)
    write_tag_arrays(path, mesh, cell_tags, facet_tags)
    if comm.rank == 0:
        _sidecar(path).write_text(json.dumps(
            {"builder": builder.name, "params": params_json, "info": dataclasses.asdict(info)}, indent=1
        ))
    comm.barrier()


def tag_files(path: Path) -> tuple[Path, Path]:
    """The tag arrays next to an XDMF mesh: ``<stem>.cell_tags.npy`` (the region tag of every cell,
    in the file's cell order; -1 where untagged) and ``<stem>.facet_tags.npy`` (rows of file cell,
    local facet, tag)."""
    return path.with_suffix(".cell_tags.npy"), path.with_suffix(".facet_tags.npy")


def write_tag_arrays(path: Path, mesh, cell_tags, facet_tags) -> None:
    """The tags by file cell index, so that a read needs no entity matching.

    The XDMF tags (kept for ParaView) are read back by matching vertex lists across ranks: at 6.5M
    cells that took longer than the solve. A cell's index in the file is its global index (XDMF
    writes the owned cells rank by rank); a facet is named by each of its cells and its local index
    there (the file keeps each cell's vertices in order), so a rank reading any of them finds it.
    """
    import numpy as np

    comm = mesh.comm
    tdim = mesh.topology.dim
    cmap = mesh.topology.index_map(tdim)
    n_owned = cmap.size_local
    values = np.full(n_owned, -1, dtype=np.int32)
    mine = cell_tags.indices < n_owned
    values[cell_tags.indices[mine]] = cell_tags.values[mine]

    fmap = mesh.topology.index_map(tdim - 1)
    tag_of = np.full(fmap.size_local + fmap.num_ghosts, -1, dtype=np.int64)
    tag_of[facet_tags.indices] = facet_tags.values
    owned_facets = tag_of[_cell_facets(mesh)[:n_owned]]
    cell, local = np.nonzero(owned_facets >= 0)  # each (owned cell, tagged facet) once over all ranks
    rows = np.column_stack([cell + cmap.local_range[0], local, owned_facets[cell, local]]).astype(np.int64)

    all_values, all_rows = comm.gather(values, root=0), comm.gather(rows, root=0)
    if comm.rank == 0:
        cell_file, facet_file = tag_files(path)
        np.save(cell_file, np.concatenate(all_values))
        np.save(facet_file, np.concatenate(all_rows))


def _cell_facets(mesh):
    """The facets of every local cell, one row per cell, in the cell's local facet order."""
    tdim = mesh.topology.dim
    mesh.topology.create_connectivity(tdim, tdim - 1)
    c_to_f = mesh.topology.connectivity(tdim, tdim - 1)
    return c_to_f.array.reshape(-1, c_to_f.offsets[1] - c_to_f.offsets[0])


def read_tag_arrays(path: Path, mesh):
    """Cell and facet MeshTags from :func:`write_tag_arrays`' files, for this rank's cells."""
    import numpy as np
    from solver._dolfinx import dolfinx

    cell_file, facet_file = tag_files(path)
    tdim = mesh.topology.dim
    original = np.asarray(mesh.topology.original_cell_index, dtype=np.int64)
    n_local = original.size
    values = np.load(cell_file, mmap_mode="r")
    if values.shape != (mesh.topology.index_map(tdim).size_global,):
        raise ValueError(f"{cell_file.name} has {values.shape[0]} cells, the mesh "
                         f"{mesh.topology.index_map(tdim).size_global}")
    cell_values = np.asarray(values[original], dtype=np.int32)
    tagged = np.flatnonzero(cell_values >= 0).astype(np.int32)
    cell_tags = dolfinx.mesh.meshtags(mesh, tdim, tagged, cell_values[tagged])

    rows = np.load(facet_file, mmap_mode="r")
    order = np.argsort(original)
    at = np.searchsorted(original, rows[:, 0], sorter=order)
    at[at == n_local] = 0
    found = original[order[at]] == rows[:, 0]
    cells = order[at[found]]
    facets = _cell_facets(mesh)[cells, rows[found, 1]]
    facets, first = np.unique(facets, return_index=True)
    facet_tags = dolfinx.mesh.meshtags(mesh, tdim - 1, facets.astype(np.int32),
                                       np.asarray(rows[found, 2][first], dtype=np.int32))
    return cell_tags, facet_tags


def write_cache(entry: Path, mesh, cell_tags, facet_tags, info, builder, params_json) -> None:
    """Save into a private folder, then rename it into place: a run that stops half-way, or two
    runs meshing the same set at once, never leave a half-written entry."""
    comm = mesh.comm
    partial = Path(comm.bcast(f"{entry}.partial-{os.getpid()}" if comm.rank == 0 else None, root=0))
    write_xdmf(partial / "mesh.xdmf", mesh, cell_tags, facet_tags, info, builder, params_json)
    if comm.rank == 0:
        try:
            os.rename(partial, entry)
        except OSError:  # another run put the same entry in place first
            shutil.rmtree(partial, ignore_errors=True)
    comm.barrier()
