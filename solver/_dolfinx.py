"""Import DOLFINx the same way on every install.

The PyPI wheel ``dolfinx-solver-real`` must be imported before ``dolfinx`` and
``petsc4py`` (it loads the MPI library first). Official installs (Docker
image, conda, Spack) have no such module; there the plain imports are right.
Every module of this project that needs DOLFINx imports it through here.
"""

try:  # pragma: no cover - depends on the install
    import dolfinx_solver  # noqa: F401
except ImportError:  # official DOLFINx install
    pass

import contextlib  # noqa: E402

import dolfinx  # noqa: E402
import dolfinx.fem.petsc  # noqa: E402,F401
import dolfinx.io  # noqa: E402,F401
from mpi4py import MPI  # noqa: E402
from petsc4py import PETSc  # noqa: E402

__all__ = ["dolfinx", "MPI", "PETSc", "fresh_options", "create_mesh", "create_mesh_in_file_order", "create_facets",
           "entity_threads", "fast_create_mesh", "lagrange_space"]

_LEFT: dict[str, set[str]] = {}  # prefix -> option names a solver put into PETSc's global database


def fresh_options(prefix: str, options: dict) -> dict:
    """Call before creating a dolfinx NonlinearProblem / LinearProblem with ``options`` under
    ``prefix``: removes what the previous solver with this prefix left in PETSc's global options
    database, and remembers what this one will leave; returns ``options``.

    dolfinx puts the options there, calls setFromOptions and deletes them with the prefix pushed,
    which this petsc4py leaves undone; the options stay, and the sub-solvers that read them at
    their set-up inside the solve (field-split blocks, multigrid levels) rely on that. But a
    previous solver's leftovers then reach the next one: a P2 case's ``pc_mg_levels`` made the
    next P1 case's GAMG refuse to start in the same run."""
    db = PETSc.Options()
    for key in _LEFT.pop(prefix, set()) - set(options):
        db.delValue(f"{prefix}{key}")
    _LEFT[prefix] = set(options)
    return options


class _WholeArray:
    """A numpy array that nanobind can take only as one array (through DLPack), not as a sequence.

    ``dolfinx.cpp.mesh.create_mesh`` is overloaded, and its mixed-topology overloads come first and
    take a list of cell arrays. nanobind tries them first and, a 2D array being a sequence, makes a
    view of every row of ``cells`` before the element argument rules the overload out; it does so
    twice (float32, float64). At 6.5M tetrahedra that was 12 of the 23 s of ``create_mesh``.
    Without ``__len__``/``__getitem__`` this object fails those overloads at once."""

    __slots__ = ("_array",)

    def __init__(self, array):
        self._array = array

    def __dlpack__(self, *args, **kwargs):
        return self._array.__dlpack__(*args, **kwargs)

    def __dlpack_device__(self):
        return self._array.__dlpack_device__()


def create_mesh(comm, cells, domain, x, partitioner=None, max_facet_to_cell_links: int = 2):
    """``dolfinx.mesh.create_mesh`` for one cell type (``cells``: one row of nodes per cell;
    ``domain``: the ufl.Mesh of the coordinate element), without the cost described in
    :class:`_WholeArray`. ``partitioner=None`` keeps the cells where they are (on one rank: no
    graph partition; in parallel: no ghost cells)."""
    import numpy as np

    cmap = dolfinx.fem.coordinate_element(domain.ufl_coordinate_element().basix_element)
    cells = np.ascontiguousarray(cells, dtype=np.int64)
    x = np.ascontiguousarray(x, dtype=np.dtype(cmap.dtype))
    create = dolfinx.cpp.mesh.create_mesh
    try:
        cpp_mesh = create(comm, _WholeArray(cells), cmap._cpp_object, x, partitioner, max_facet_to_cell_links)
    except TypeError:  # pragma: no cover - a nanobind that does not import through DLPack
        cpp_mesh = create(comm, cells, cmap._cpp_object, x, partitioner, max_facet_to_cell_links)
    return dolfinx.mesh.Mesh(cpp_mesh, domain)


def create_mesh_in_file_order(comm, cells, domain, x):
    """A mesh on a one-rank ``comm`` of degree-1 Lagrange cells, in the order given, with
    ``original_cell_index`` the row of ``cells``, for cells that are in a good order already (as a
    file written from a dolfinx mesh holds them: dolfinx reordered them when it made that mesh).

    Built from its parts by :func:`mesh_from_parts` (no ghosts): vertex ``i`` is node
    ``i``, row ``i`` of ``x``, and the cells' vertices are the nodes given. ``create_topology``
    would compute the dual graph, reorder the cells, find the boundary vertices and renumber the
    vertices, none of which one rank with cells in a good order needs. 6.5M tetrahedra: 8.0 ->
    0.4 s (docs/performance.md, change 25)."""
    import numpy as np

    element = domain.ufl_coordinate_element().basix_element
    cmap = dolfinx.fem.coordinate_element(element)
    if cmap.degree != 1 or comm.size != 1:
        raise ValueError("create_mesh_in_file_order takes degree-1 cells on one rank only")
    cells = np.asarray(cells)
    x = np.ascontiguousarray(x, dtype=np.dtype(cmap.dtype))
    if cells.size and (cells.min() < 0 or cells.max() >= len(x)):
        raise ValueError("create_mesh_in_file_order: a cell names a node that is not in x")
    if len(x) >= np.iinfo(np.int32).max or cells.size >= np.iinfo(np.int32).max:
        raise ValueError("create_mesh_in_file_order: too many cells or nodes for 32-bit indices")
    nodes = np.ascontiguousarray(cells, dtype=np.int32)
    none, no_owner = np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int32)
    parts = {"cells": nodes.reshape(-1), "original_index": np.arange(len(nodes), dtype=np.int64),
             "dofmap": nodes, "x": x, "input_global": np.arange(len(x), dtype=np.int64)}
    for name, size in (("vertex", len(x)), ("cell", len(nodes)), ("node", len(x))):
        parts.update({f"{name}_size": size, f"{name}_ghosts": none, f"{name}_owners": no_owner})
    return mesh_from_parts(comm, parts, domain)


_INDEX_MAP_TAG = 7301  # the MPI tag of the index maps built from kept parts


def mesh_parts(mesh) -> dict:
    """This rank's part of a degree-1 mesh as plain arrays (index maps by their owned size, ghosts
    and ghost owners; the cells in local vertex numbers; the file's cell index; the geometry's
    index map, dofmap, nodes and their file index), from which :func:`mesh_from_parts` builds the
    same distributed mesh again on as many ranks."""
    import numpy as np

    topology, geometry = mesh.topology, mesh.geometry
    tdim = topology.dim
    parts = {"gdim": np.int64(geometry.dim)}
    for name, imap in (("vertex", topology.index_map(0)), ("cell", topology.index_map(tdim)),
                       ("node", geometry.index_map())):
        parts[f"{name}_size"] = np.int64(imap.size_local)
        parts[f"{name}_ghosts"] = np.asarray(imap.ghosts, dtype=np.int64)
        parts[f"{name}_owners"] = np.asarray(imap.owners, dtype=np.int32)
    parts["cells"] = np.asarray(topology.connectivity(tdim, 0).array, dtype=np.int32)
    parts["original_index"] = np.asarray(topology.original_cell_index, dtype=np.int64)
    parts["dofmap"] = np.asarray(geometry.dofmaps[0], dtype=np.int32)
    parts["x"] = np.asarray(geometry.x[:, :geometry.dim])
    parts["input_global"] = np.asarray(geometry.input_global_indices, dtype=np.int64)
    return parts


def mesh_from_parts(comm, parts, domain):
    """The mesh whose parts :func:`mesh_parts` gave, on the same number of ranks, built from the
    ``Topology``, ``Geometry`` and ``Mesh`` constructors: no partition, dual graph, reordering or
    vertex numbering (what ``create_mesh`` spends its time on). Degree-1 Lagrange geometry only."""
    import numpy as np

    element = domain.ufl_coordinate_element().basix_element
    cmap = dolfinx.fem.coordinate_element(element)
    if cmap.degree != 1:
        raise ValueError("mesh_from_parts takes degree-1 cells only")
    common = dolfinx.cpp.common

    def index_map(name):
        return common.IndexMap(comm, int(parts[f"{name}_size"]), np.ascontiguousarray(parts[f"{name}_ghosts"]),
                               np.ascontiguousarray(parts[f"{name}_owners"]), _INDEX_MAP_TAG)

    vertices, cells_map, nodes = index_map("vertex"), index_map("cell"), index_map("node")
    cell_type = dolfinx.mesh.to_type(element.cell_type.name)
    per_cell = dolfinx.cpp.mesh.cell_num_vertices(cell_type)
    cells = np.ascontiguousarray(parts["cells"], dtype=np.int32)
    offsets = np.arange(0, cells.size + 1, per_cell, dtype=np.int32)
    adjacency = dolfinx.cpp.graph.AdjacencyList_int32(cells, offsets)
    topology = dolfinx.cpp.mesh.Topology(cell_type, vertices, cells_map, adjacency,
                                         np.ascontiguousarray(parts["original_index"], dtype=np.int64))
    x = np.ascontiguousarray(parts["x"], dtype=np.dtype(cmap.dtype))
    geometry_type = dolfinx.cpp.mesh.Geometry_float64 if x.dtype == np.float64 else dolfinx.cpp.mesh.Geometry_float32
    geometry = geometry_type(nodes, np.ascontiguousarray(parts["dofmap"], dtype=np.int32), cmap._cpp_object, x,
                             np.ascontiguousarray(parts["input_global"], dtype=np.int64))
    mesh_type = dolfinx.cpp.mesh.Mesh_float64 if x.dtype == np.float64 else dolfinx.cpp.mesh.Mesh_float32
    return dolfinx.mesh.Mesh(mesh_type(comm, topology, geometry), domain)


def entity_threads(comm) -> int:
    """Threads for ``Topology.create_entities`` on each rank: the cores this process may run on,
    shared among the ranks of ``comm`` on the same node; 0 (no threads: dolfinx's one-thread radix
    sort, faster than its sample sort on one thread) where that leaves one core or fewer. Facets
    of 6.5M tetrahedra on 2 cores: 4.3 -> 3.7 s (docs/performance.md, change 25)."""
    import os

    try:
        cores = len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - not Linux
        cores = os.cpu_count() or 1
    node = comm.Split_type(MPI.COMM_TYPE_SHARED)
    try:
        ranks_here = node.size
    finally:
        node.Free()
    threads = cores // ranks_here
    return threads if threads > 1 else 0


def create_facets(mesh) -> None:
    """Create the facets of ``mesh`` and their facet-to-cell connectivity, the facets through
    ``Topology.create_entities`` on :func:`entity_threads` threads; ``create_connectivity`` alone
    creates them by the C++ default, a one-thread sample sort. 6.5M tetrahedra: 9.0 -> 7.1 s
    (docs/performance.md, change 22), 4.3 -> 3.7 s on two threads (change 25)."""
    tdim = mesh.topology.dim
    mesh.topology.create_entities(tdim - 1, entity_threads(mesh.comm))
    mesh.topology.create_connectivity(tdim - 1, tdim)


def lagrange_space(mesh, degree: int, shape: tuple | None = None):
    """``dolfinx.fem.functionspace(mesh, ("Lagrange", degree[, shape]))``, with the mesh entities
    that carry its DOFs below the cells (edges for P2 on tetrahedra; edges and faces for P3, or for
    Q2 on hexahedra) created first through ``Topology.create_entities`` on :func:`entity_threads` threads, as
    :func:`create_facets` does for facets. The dofmap builder would create them the slower way
    (one-thread sample sort). P2 on 2.2M tetrahedra: edges and space 3.5 -> 2.8-3.2 s
    (docs/performance.md, change 23). Entities that exist already are kept."""
    import basix.ufl

    element = basix.ufl.element("Lagrange", mesh.basix_cell(), degree, shape=shape,
                                dtype=mesh.geometry.x.dtype)
    tdim = mesh.topology.dim
    threads = None
    for dim, counts in enumerate(element.num_entity_dofs[:tdim]):
        if dim > 0 and any(counts):
            threads = entity_threads(mesh.comm) if threads is None else threads
            mesh.topology.create_entities(dim, threads)
    return dolfinx.fem.functionspace(mesh, element)


@contextlib.contextmanager
def fast_create_mesh(module):
    """Within this block, ``module.create_mesh`` (a module that imported dolfinx's ``create_mesh``,
    such as ``dolfinx.io.gmsh`` for ``model_to_mesh``) is :func:`create_mesh` for one cell type,
    and dolfinx's own for anything else (mixed topology, a basix element); it also creates the
    facets (:func:`create_facets`). 976k tetrahedra from Gmsh: ``create_mesh`` 4.07 -> 3.09 s
    (docs/performance.md, change 17)."""
    import ufl

    original = module.create_mesh

    def create(comm, cells, e, x, partitioner=None, max_facet_to_cell_links=2, *args, **kwargs):
        if isinstance(e, ufl.Mesh) and not args and not kwargs:
            mesh = create_mesh(comm, cells, e, x, partitioner, max_facet_to_cell_links)
            create_facets(mesh)  # which model_to_mesh's facet tags create next, the slower way
            return mesh
        return original(comm, cells, e, x, partitioner, max_facet_to_cell_links, *args, **kwargs)

    module.create_mesh = create
    try:
        yield
    finally:
        module.create_mesh = original
