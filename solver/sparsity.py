"""Matrices for bilinear forms, preallocated from the dofmap instead of dolfinx's
``SparsityPattern``.

dolfinx creates a form's PETSc matrix by building its whole sparsity pattern (every cell's DOF
pairs pushed into per-row lists, then each row sorted and made unique) only to count the
non-zeros of each row: the matrix is preallocated with those counts and its entries are set by
the first assembly. For a form whose two arguments share one function space and whose integrals
are over cells and exterior facets (a facet's DOF pairs are its cell's), the counts follow from
the distinct DOF pairs of the integrated cells: here each cell's pairs (i < j) are encoded as one
64-bit key, sorted and counted, and pairs that touch another rank's rows are sent to that rank
first (docs/performance.md, change 25). P1 and P2 on every cell of a simplex mesh need no sort
(but at the partition's interface): each row's count follows from the numbers of cells and
boundary facets at its vertex, or of cells around its edge (:func:`_vertex_link_counts`, change
26; 6.5M tetrahedra, 1.14M DOFs, one rank: 3.6-3.8 s -> 0.16 s).

The matrix is then made as ``dolfinx.la.petsc.create_matrix`` makes it (type from the options
database, block size, local-to-global map, new non-zeros an error after exact counts, the
pattern kept). Any other form (two spaces, interior facets, mixed-domain forms) goes to dolfinx.
"""

from __future__ import annotations

import contextlib

import numpy as np

from solver._dolfinx import MPI, PETSc, create_facets, dolfinx
from solver.arrays import distinct

_FALLBACK = None  # dolfinx.fem.petsc.create_matrix, while fast_create_matrix is active


def row_counts(V, cells: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(diagonal-block, off-diagonal-block) non-zeros of every owned block row of a matrix on
    ``V`` x ``V`` (a C++ FunctionSpace) with the DOF couplings of the local ``cells`` (and every
    diagonal entry): by :func:`_vertex_link_counts` where that applies, else by the sort."""
    return _counts(V, cells)[:2]


def _counts(V, cells: np.ndarray) -> tuple[np.ndarray, np.ndarray, bool]:
    """:func:`row_counts`, and whether they are exact on any mesh (False: from the vertex links)."""
    counted = _vertex_link_counts(V, cells)
    if counted is not None:
        return (*counted, False)
    return (*sorted_row_counts(V, cells), True)


def sorted_row_counts(V, cells: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """:func:`row_counts` by the sort of the DOF pairs (any element, any number of ranks)."""
    comm = V.mesh.comm
    imap = V.dofmap.index_map
    n_owned = imap.size_local
    first = imap.local_range[0]
    size = imap.size_global
    glob = np.asarray(imap.local_to_global(np.arange(n_owned + imap.num_ghosts, dtype=np.int32)), dtype=np.int64)
    dofmap = np.asarray(V.dofmap.map())
    per_cell = dofmap.shape[1]
    # the global DOFs of each cell, one row per local DOF of the cell (numpy's temporaries of this
    # size cost more than its sort: the keys are written into one buffer, pair by pair)
    ends = np.empty((per_cell, cells.size), dtype=np.int64)
    for k in range(per_cell):
        np.take(glob, dofmap[cells, k], out=ends[k])
    pairs = list(zip(*np.triu_indices(per_cell, 1)))
    keys = np.empty(len(pairs) * cells.size, dtype=np.int64)
    larger = np.empty(cells.size, dtype=np.int64)
    for p, (i, j) in enumerate(pairs):  # one undirected pair per key; i != j within a cell
        key = keys[p * cells.size:(p + 1) * cells.size]
        np.minimum(ends[i], ends[j], out=key)
        key *= size
        np.maximum(ends[i], ends[j], out=larger)
        key += larger
    del ends, larger
    keys = distinct(keys, overwrite=True)
    if comm.size > 1:  # every pair to the ranks that own either end, when that is not this rank
        keys = distinct(np.concatenate([keys, _exchange(comm, keys, imap, size)]), overwrite=True)
    lo = keys // size
    keys -= lo * size  # now the larger end
    hi = keys
    if comm.size == 1:
        diagonal = 1 + np.bincount(lo, minlength=n_owned) + np.bincount(hi, minlength=n_owned)
        return diagonal, np.zeros(n_owned, dtype=np.int64)
    diagonal = np.ones(n_owned, dtype=np.int64)  # the diagonal entry of every row
    off = np.zeros(n_owned, dtype=np.int64)
    for row, col in ((lo, hi), (hi, lo)):
        mine = (row >= first) & (row < first + n_owned)
        row, col = row[mine] - first, col[mine]
        inside = (col >= first) & (col < first + n_owned)
        diagonal += np.bincount(row[inside], minlength=n_owned)
        off += np.bincount(row[~inside], minlength=n_owned)
    return diagonal, off


def _vertex_link_counts(V, cells: np.ndarray) -> tuple[np.ndarray, np.ndarray] | None:
    """(diagonal-block, off-diagonal-block) non-zeros of every owned row of a P1 or P2 matrix on
    all cells of a simplex mesh, without sorting the DOF pairs: from the numbers of cells and of
    boundary facets at each vertex (and, for P2, of cells at each edge), by Euler's formula for
    the vertex's link (the vertices and edges opposite to it in its cells).

    In a mesh that is a manifold (with boundary) the link of an interior vertex of a tetrahedral
    mesh is a triangulated sphere with one triangle per cell at the vertex (``c`` triangles), so it
    has ``V = c/2 + 2`` vertices and ``E = 3c/2`` edges; a boundary vertex's link is a triangulated
    disk whose rim has one edge per boundary facet at the vertex (``b``), ``V = 1 + (c + b)/2`` and
    ``E = (3c + b)/2``. On triangles the link is a cycle (``V = E = c``) or a path (``V = c + 1``,
    ``E = c``). A P1 row holds its vertex and ``V`` others; a P2 vertex row its vertex, ``V``
    vertices, the ``V`` edges to them and the ``E`` link edges; a P2 edge row with ``k`` cells
    around the edge holds ``3 + 4k`` DOFs inside (the cycle of opposite vertices), ``6 + 4k`` on the
    boundary (a path), ``3 + 3k`` on triangles. The counts ``c``, ``b``, ``k`` are summed over the
    ranks; rows near the partition's interface (whose couplings may be another rank's DOFs) are
    counted by the sort, over the few cells around them. None (all by the sort) for a subset of
    the cells, other elements or cells.

    A mesh that is not a manifold (two regions that touch at a vertex or along an edge only) gets
    wrong counts; the matrix made from them then allows new non-zeros (PETSc allocates them on
    the first assembly and frees unused entries: slower, never a wrong matrix). 6.5M tetrahedra,
    1.14M P1 DOFs, one rank: 3.9 s by the sort -> 0.12-0.15 s (docs/performance.md, change 26)."""
    mesh = V.mesh
    comm = mesh.comm
    topology = mesh.topology
    tdim = topology.dim
    degree = _link_degree(V, cells)
    if not comm.allreduce(degree is not None, op=MPI.LAND):
        return None
    cell_type = topology.cell_type
    imap = V.dofmap.index_map
    n, local_size = imap.size_local, imap.size_local + imap.num_ghosts
    nv = tdim + 1  # vertices of a cell
    ne = nv * tdim // 2  # edges of a cell
    cell_dofs = np.asarray(V.dofmap.map())  # owned and ghost cells
    dofmap = cell_dofs[:topology.index_map(tdim).size_local]  # the owned cells

    def summed(local: np.ndarray) -> np.ndarray:
        """Per owned DOF, the sum over the ranks of a count made per local DOF."""
        if comm.size == 1:
            return np.asarray(local[:n], dtype=np.int64)
        vector = dolfinx.la.vector(imap, 1, dtype=np.float64)
        vector.array[:] = local
        vector.scatter_reverse(dolfinx.la.InsertMode.add)
        return np.rint(vector.array[:n]).astype(np.int64)

    links = summed(np.bincount(dofmap[:, :nv].reshape(-1), minlength=local_size))  # cells at each vertex
    if tdim == 1:
        counts = links + 1
    else:
        if comm.allreduce(topology.connectivity(tdim - 1, tdim) is None
                          or topology.connectivity(tdim, tdim - 1) is None, op=MPI.LOR):
            create_facets(mesh)
            topology.create_connectivity(tdim, tdim - 1)
        offsets = np.asarray(topology.connectivity(tdim - 1, tdim).offsets)
        exterior = dolfinx.cpp.mesh.exterior_facet_indices(topology)  # owned, not the partition's interface
        cell = np.asarray(topology.connectivity(tdim - 1, tdim).array)[offsets[exterior]]  # maybe a ghost
        local = np.argmax(np.asarray(topology.connectivity(tdim, tdim - 1).array).reshape(-1, nv)[cell]
                          == exterior[:, None], axis=1)  # the facet's index in its cell
        facet_vertices = dolfinx.cpp.mesh.get_entity_vertices(cell_type, tdim - 1)
        facet_vertices = np.array([facet_vertices.links(k) for k in range(nv)])  # local facet -> local vertices
        boundary = summed(np.bincount(cell_dofs[cell[:, None], facet_vertices[local]].reshape(-1),
                                      minlength=local_size))  # boundary facets at each vertex
        if tdim == 2:
            link_vertices, link_edges = links + boundary // 2, links
        else:
            link_vertices = (links + boundary + 1) // 2 + np.where(boundary > 0, 1, 2)
            link_edges = (3 * links + boundary + 1) // 2
        if degree == 1:
            counts = 1 + link_vertices
        else:
            counts = 1 + 2 * link_vertices + link_edges  # edge rows are overwritten below
            edge_vertices = dolfinx.cpp.mesh.get_entity_vertices(cell_type, 1)
            edge_vertices = [set(edge_vertices.links(j)) for j in range(ne)]
            facet_edges = np.array([[j for j, e in enumerate(edge_vertices) if e <= set(f)] for f in facet_vertices])
            edge_dofs = dofmap[:, nv:]
            around = summed(np.bincount(edge_dofs.reshape(-1), minlength=local_size))  # cells at each edge
            on_boundary = summed(np.bincount(cell_dofs[:, nv:][cell[:, None], facet_edges[local]].reshape(-1),
                                             minlength=local_size)) > 0  # edges of the boundary facets
            edge = around > 0
            if tdim == 2:
                counts[edge] = 3 + 3 * around[edge]
            else:
                counts[edge] = np.where(on_boundary[edge], 6, 3) + 4 * around[edge]
    if comm.size == 1:
        return counts, np.zeros(n, dtype=np.int64)
    # In parallel a row couples to other ranks' DOFs only near the partition's interface: rows with
    # cells on another rank or in a cell with a ghost DOF. Those rows are counted by the sort, over
    # the cells that hold them or a ghost DOF (on every rank, so every cell at such a row is there);
    # every other row's DOFs are all owned here.
    at_local = np.bincount(dofmap.reshape(-1), minlength=local_size)
    touched = np.zeros(local_size, dtype=bool)
    touched[dofmap[(dofmap >= n).any(axis=1)].reshape(-1)] = True
    interface = touched[:n] | (at_local[:n] != summed(at_local))
    marked = np.ones(local_size, dtype=bool)
    marked[:n] = interface
    near = np.flatnonzero(marked[dofmap].any(axis=1)).astype(np.int32)
    diagonal, off = sorted_row_counts(V, near)
    diagonal[~interface] = counts[~interface]
    off[~interface] = 0
    return diagonal, off


def _link_degree(V, cells: np.ndarray) -> int | None:
    """1 or 2 where :func:`_vertex_link_counts` applies on this rank (a P1 or P2 Lagrange space on a
    simplex mesh of one cell type, ``cells`` all the owned cells), else None."""
    topology = V.mesh.topology
    tdim = topology.dim
    kinds = dolfinx.mesh.CellType
    if len(topology.entity_types[-1]) != 1 or topology.cell_type not in (kinds.interval, kinds.triangle,
                                                                          kinds.tetrahedron):
        return None
    n_cells = topology.index_map(tdim).size_local
    if cells.size != n_cells or (cells.size and int(cells.max()) >= n_cells):
        return None
    imap, vertices = V.dofmap.index_map, topology.index_map(0)
    per_cell = np.asarray(V.dofmap.map()).shape[1]
    nv = tdim + 1
    if per_cell == nv and (imap.size_local, imap.num_ghosts) == (vertices.size_local, vertices.num_ghosts):
        return 1
    edges = topology.index_map(1) if tdim > 1 else None
    if (edges is not None and per_cell == nv + nv * tdim // 2
            and (imap.size_local, imap.num_ghosts) == (vertices.size_local + edges.size_local,
                                                       vertices.num_ghosts + edges.num_ghosts)):
        return 2  # a DOF at every vertex and every edge (a cell's vertex DOFs first, then its edges')
    return None


def _exchange(comm, keys: np.ndarray, imap, size: int) -> np.ndarray:
    """The pairs other ranks made that have an end owned by this rank."""
    first = imap.local_range[0]
    ranges = np.array(comm.allgather(first) + [imap.size_global], dtype=np.int64)
    sends = []
    for end in (keys // size, keys % size):
        owner = np.searchsorted(ranges, end, side="right") - 1
        sends.append((owner, keys))
    owner = np.concatenate([sends[0][0], sends[1][0]])
    data = np.concatenate([sends[0][1], sends[1][1]])
    away = owner != comm.rank
    owner, data = owner[away], data[away]
    order = np.argsort(owner, kind="stable")
    owner, data = owner[order], data[order]
    counts = np.bincount(owner, minlength=comm.size).astype(np.int64)
    incoming = np.empty(comm.size, dtype=np.int64)
    comm.Alltoall(counts, incoming)
    received = np.empty(int(incoming.sum()), dtype=np.int64)
    comm.Alltoallv([data, (counts, np.concatenate([[0], np.cumsum(counts)[:-1]])), MPI.INT64_T],
                   [received, (incoming, np.concatenate([[0], np.cumsum(incoming)[:-1]])), MPI.INT64_T])
    return received


def integrated_cells(form) -> np.ndarray | None:
    """The local cells whose DOFs a bilinear form couples, or None where this module does not make
    its matrix (other than cell and exterior-facet integrals, two function spaces, a sub-space, a
    mesh other than the spaces', mixed topology)."""
    cpp = form._cpp_object
    if cpp.rank != 2:
        return None
    V0, V1 = cpp.function_spaces
    if V0.component() or V1.component() or _address(V0.dofmap.map()) != _address(V1.dofmap.map()):
        return None
    kinds = dolfinx.fem.IntegralType
    if not set(cpp.integral_types) <= {kinds.cell, kinds.exterior_facet}:
        return None
    if _address(cpp.mesh.geometry.x) != _address(V0.mesh.geometry.x):
        return None  # integrated over another mesh than the spaces' (mixed-domain forms)
    if len(V0.mesh.topology.entity_types[-1]) != 1:
        return None
    size = V0.dofmap.index_map.size_global
    if size > 1 and size > np.iinfo(np.int64).max // size:
        return None  # the pair keys would overflow
    parts = []
    for kind in (kinds.cell, kinds.exterior_facet):
        if kind in cpp.integral_types:
            for i in range(cpp.num_integrals(kind, 0)):
                entities = np.asarray(cpp.domains(kind, i))
                parts.append(entities.reshape(-1) if kind == kinds.cell else entities.reshape(-1, 2)[:, 0])
    if len(parts) == 1:
        return parts[0]
    cell_map = V0.mesh.topology.index_map(V0.mesh.topology.dim)
    integrated = np.zeros(cell_map.size_local + cell_map.num_ghosts, dtype=bool)  # not np.unique: see distinct
    for part in parts:
        integrated[part] = True
    return np.flatnonzero(integrated).astype(np.int32)


def _address(array) -> int:
    """Where a numpy view's data starts (two views of one C++ array share it)."""
    return np.asarray(array).__array_interface__["data"][0]


def create_matrix(form, kind: str | None = None):
    """The PETSc matrix of one bilinear form, preallocated as described in the module docstring,
    or dolfinx's where that does not apply."""
    cells = integrated_cells(form)
    if cells is None:
        return dolfinx.cpp.fem.petsc.create_matrix(form._cpp_object, kind)
    V = form._cpp_object.function_spaces[0]
    comm = V.mesh.comm
    diagonal, off, exact = _counts(V, cells)
    imap, bs = V.dofmap.index_map, V.dofmap.index_map_bs
    A = PETSc.Mat().create(comm=comm)
    if kind is not None:
        A.setType(kind)
    n, N = bs * imap.size_local, bs * imap.size_global
    A.setSizes(((n, N), (n, N)), bsize=bs)
    A.setFromOptions()
    if "baij" not in A.getType():  # petsc4py takes AIJ counts per row, (S)BAIJ counts per block row
        diagonal, off = np.repeat(bs * diagonal, bs), np.repeat(bs * off, bs)
    A.setPreallocationNNZ((diagonal.astype(PETSc.IntType), off.astype(PETSc.IntType)))
    glob = np.asarray(imap.local_to_global(np.arange(imap.size_local + imap.num_ghosts, dtype=np.int32)))
    lgmap = PETSc.LGMap().create(glob.astype(PETSc.IntType), bsize=bs, comm=PETSc.COMM_SELF)
    A.setLGMap(lgmap, lgmap)
    A.setOption(PETSc.Mat.Option.NEW_NONZERO_ALLOCATION_ERR, exact)  # see _vertex_link_counts
    A.setOption(PETSc.Mat.Option.KEEP_NONZERO_PATTERN, True)
    return A


def _create(a, kind=None):
    """dolfinx.fem.petsc.create_matrix, with the blocks (or the one form) this module can make made
    here."""
    from collections.abc import Sequence

    if not isinstance(a, Sequence):
        return create_matrix(a, kind)
    if kind == PETSc.Mat.Type.NEST or (kind is not None and not isinstance(kind, str)):
        kinds = kind if not isinstance(kind, str) else None
        blocks = [[None if form is None else create_matrix(form, kinds[i][j] if kinds else None)
                   for j, form in enumerate(row)] for i, row in enumerate(a)]
        comm = next(form for row in a for form in row if form is not None).mesh.comm
        A = PETSc.Mat().createNest(blocks, comm=comm)
        for row in blocks:
            for block in row:
                if block is not None:
                    block.destroy()
        return A
    return _FALLBACK(a, kind)


@contextlib.contextmanager
def fast_create_matrix():
    """Within this block, dolfinx's NonlinearProblem and LinearProblem (and anything else that
    calls ``dolfinx.fem.petsc.create_matrix``) make their matrices through :func:`create_matrix`."""
    global _FALLBACK
    import dolfinx.fem.petsc as fem_petsc

    original = fem_petsc.create_matrix
    _FALLBACK = original
    fem_petsc.create_matrix = _create
    try:
        yield
    finally:
        fem_petsc.create_matrix = original
        _FALLBACK = None
