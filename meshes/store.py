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
    from solver._dolfinx import create_facets
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
            mesh = read_mesh(f, comm, path)
            create_facets(mesh)
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


def read_mesh(f, comm, path: Path | None = None):
    """The mesh of an open XDMFFile, as ``f.read_mesh`` reads it (cells with a shared facet
    ghosted, the file's cell index kept as ``original_cell_index``), at less than half the cost.

    The arrays come from the file as before; the mesh is built by :func:`solver._dolfinx.create_mesh`
    (which avoids nanobind's row-by-row trial of the mixed-topology overloads), and on one rank
    without the graph partition that ``read_mesh`` always runs. 6.5M tetrahedra, 1 rank: 33 s ->
    11 s (``bench/mesh_read.py``). In parallel, with ``path`` (the file ``f`` reads), the partition
    and each rank's part of a degree-1 mesh are kept next to the file, and the next read on as
    many ranks builds the mesh from those parts (:class:`KeptPartition`). On one rank, a degree-1
    mesh is built in the file's cell order
    (:func:`solver._dolfinx.create_mesh_in_file_order`: no dual graph, no reordering), which is
    dolfinx's order for a file written from a dolfinx mesh (``write_xdmf``). Coordinate elements
    other than Lagrange (serendipity) go through ``f.read_mesh``."""
    import basix.ufl
    import ufl

    from solver._dolfinx import create_mesh, create_mesh_in_file_order, dolfinx

    CellType = dolfinx.mesh.CellType
    cell_type, degree = f.read_cell_type("mesh")

    def domain_of(gdim: int):
        return ufl.Mesh(basix.ufl.element("Lagrange", cell_type.name, degree, basix.LagrangeVariant.unset,
                                          shape=(gdim,)))

    kept = KeptPartition(path, comm) if comm.size > 1 and path is not None else None
    if kept is not None and degree == 1:
        mesh = kept.read_mesh(comm, domain_of)
        if mesh is not None:
            mesh.name = "mesh"
            return mesh
    cells = f.read_topology_data("mesh")
    if (cell_type, cells.shape[1]) in ((CellType.quadrilateral, 8), (CellType.hexahedron, 20)):
        return f.read_mesh(ghost_mode=dolfinx.mesh.GhostMode.shared_facet, name="mesh")
    x = f.read_geometry_data("mesh")
    domain = domain_of(x.shape[1])
    if comm.size == 1 and degree == 1:
        mesh = create_mesh_in_file_order(comm, cells, domain, x)
    else:
        partitioner = kept if kept is not None else (_shared_facet_partitioner() if comm.size > 1 else None)
        mesh = create_mesh(comm, cells, domain, x, partitioner)
        if kept is not None:
            kept.keep(comm)
            if degree == 1:
                kept.keep_mesh(comm, mesh)
    mesh.name = "mesh"
    return mesh


def _shared_facet_partitioner():
    from solver._dolfinx import dolfinx

    return dolfinx.mesh.create_cell_partitioner(dolfinx.mesh.GhostMode.shared_facet, 2)


class KeptPartition:
    """A cell partitioner for ``create_mesh`` that reuses the partition of an earlier parallel read
    of the same file on as many ranks, and otherwise runs dolfinx's (graph partition, cells that
    share a facet ghosted) and keeps its result for the next read.

    Kept in ``<stem>.partition-<ranks>/`` next to the file: for every file cell, in file order, its
    destination ranks (owner first, then the ranks that ghost it), with the number of cells each
    rank read and the size and modification time of the ``.h5`` it was made from; a partition that
    does not match the file or the way it is read is not used. Written into a private folder and
    renamed into place; where the folder cannot be written, nothing is kept. At 6.5M tetrahedra on
    2 ranks the reuse skips the distributed dual graph and SCOTCH (docs/performance.md, change 18).
    The same folder holds each rank's part of the mesh built from it (``mesh-<rank>.npz``,
    :meth:`keep_mesh`), which the next read builds the mesh from (:meth:`read_mesh`, change 27).
    """

    def __init__(self, path: Path, comm):
        self.folder = path.with_name(f"{path.stem}.partition-{comm.size}")
        stamp, usable = None, False
        if comm.rank == 0:
            try:
                h5 = path.with_suffix(".h5").stat()
                stamp = {"h5_bytes": h5.st_size, "h5_mtime_ns": h5.st_mtime_ns, "ranks": comm.size}
                usable = json.loads((self.folder / "kept.json").read_text()) == stamp
            except (OSError, ValueError):
                usable = False
        self.stamp, self.usable = comm.bcast((stamp, usable), root=0)
        self.computed = None  # (destinations, offsets) of this rank's cells when partitioned here

    def __call__(self, comm, nparts, cell_types, cells):
        import numpy as np

        from solver._dolfinx import dolfinx

        n = cells[0].size // dolfinx.cpp.mesh.cell_num_vertices(cell_types[0])
        start = comm.exscan(n) or 0
        if self.usable and nparts == comm.size:
            kept = self._read(comm, start, n)
            if kept is not None:
                return dolfinx.cpp.graph.AdjacencyList_int32(*kept)
        result = _shared_facet_partitioner()(comm, nparts, cell_types, cells)
        self.computed = (np.array(result.array, dtype=np.int32), np.array(result.offsets, dtype=np.int64))
        return result

    def _read(self, comm, start: int, n: int):
        """This rank's destinations and offsets from the kept partition, or None on every rank."""
        import numpy as np

        from solver._dolfinx import MPI

        kept = None
        try:
            counts = np.load(self.folder / "counts.npy")
            ok = counts.shape == (comm.size,) and int(counts[comm.rank]) == n
            if ok:
                offsets = np.load(self.folder / "offsets.npy", mmap_mode="r")[start:start + n + 1]
                dest = np.load(self.folder / "destinations.npy", mmap_mode="r")[offsets[0]:offsets[-1]]
                kept = (np.array(dest, dtype=np.int32), np.array(offsets - offsets[0], dtype=np.int32))
                ok = kept[0].size == kept[1][-1] and bool(np.all((kept[0] >= 0) & (kept[0] < comm.size)))
        except (OSError, ValueError, IndexError):
            ok = False
        return kept if comm.allreduce(ok, op=MPI.LAND) else None

    def _mesh_file(self, rank: int) -> Path:
        return self.folder / f"mesh-{rank}.npz"

    def read_mesh(self, comm, domain_of):
        """The distributed mesh kept by an earlier read on as many ranks (:meth:`keep_mesh`), or
        None on every rank where any rank's part is missing or was made from another file."""
        import numpy as np

        from solver._dolfinx import MPI, mesh_from_parts

        parts = None
        if self.usable:
            try:
                with np.load(self._mesh_file(comm.rank), allow_pickle=False) as data:
                    parts = {key: data[key] for key in data.files}
                if json.loads(str(parts.pop("stamp"))) != dict(self.stamp, rank=comm.rank):
                    parts = None
            except (OSError, ValueError, KeyError):
                parts = None
        if not comm.allreduce(parts is not None, op=MPI.LAND):
            return None
        return mesh_from_parts(comm, parts, domain_of(int(parts["gdim"])))

    def keep_mesh(self, comm, mesh) -> None:
        """After :meth:`keep` (collective): each rank's part of the mesh goes into the kept
        partition's folder, for :meth:`read_mesh` (6.5M tetrahedra on 2 ranks: the read with facets
        and tags 11.2 -> 3.4 s, docs/performance.md, change 27)."""
        import numpy as np

        from solver._dolfinx import MPI, mesh_parts

        comm.barrier()  # rank 0 has put the folder in place
        ok = self.stamp is not None and (self.folder / "kept.json").is_file()
        if not comm.allreduce(ok, op=MPI.LAND):
            return
        target = self._mesh_file(comm.rank)
        partial = target.with_name(f"{target.stem}.partial-{os.getpid()}.npz")
        try:
            np.savez(partial, stamp=json.dumps(dict(self.stamp, rank=comm.rank)), **mesh_parts(mesh))
            os.replace(partial, target)
        except OSError:  # a read-only folder: the next read builds the mesh again
            partial.unlink(missing_ok=True)
        comm.barrier()

    def keep(self, comm) -> None:
        """After ``create_mesh`` (collective): a partition computed in this read goes next to the file."""
        import numpy as np

        if self.computed is None or self.stamp is None:
            return
        parts = comm.gather(self.computed, root=0)
        if comm.rank != 0:
            return
        counts = np.array([offsets.size - 1 for _, offsets in parts], dtype=np.int64)
        lengths = np.concatenate([np.diff(offsets) for _, offsets in parts])  # destinations per file cell
        all_offsets = np.concatenate([[0], np.cumsum(lengths)])
        partial = self.folder.with_name(f"{self.folder.name}.partial-{os.getpid()}")
        try:
            partial.mkdir(parents=True)
            np.save(partial / "counts.npy", counts)
            np.save(partial / "offsets.npy", all_offsets.astype(np.int64))
            np.save(partial / "destinations.npy", np.concatenate([dest for dest, _ in parts]))
            (partial / "kept.json").write_text(json.dumps(self.stamp))
            shutil.rmtree(self.folder, ignore_errors=True)
            os.rename(partial, self.folder)
        except OSError:  # a read-only folder, or another run kept it first: nothing is lost
            shutil.rmtree(partial, ignore_errors=True)


def write_xdmf(path: Path, mesh, cell_tags, facet_tags, info: GeometryInfo, builder: Builder,
                params_json: dict) -> None:
    """The distributed mesh and its tags as XDMF + HDF5 (written in parallel), and the sidecar."""
    from dolfinx.io import XDMFFile

    comm = mesh.comm
    if comm.rank == 0:
        path.parent.mkdir(parents=True, exist_ok=True)
        for kept in path.parent.glob(f"{path.stem}.partition-*"):  # made from the file this replaces
            shutil.rmtree(kept, ignore_errors=True)
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
