"""solver.sparsity: matrices preallocated from the dofmap by a sort, against dolfinx's own."""

import numpy as np
import pytest
import ufl

from solver._dolfinx import MPI, PETSc, dolfinx
from solver.arrays import distinct
from solver._dolfinx import lagrange_space
from solver.sparsity import create_matrix, fast_create_matrix, integrated_cells, row_counts


def _mesh():
    return dolfinx.mesh.create_unit_cube(MPI.COMM_WORLD, 5, 4, 3, ghost_mode=dolfinx.mesh.GhostMode.shared_facet)


def _dolfinx_counts(a):
    """(diagonal-block, off-diagonal-block) non-zeros per owned block row of dolfinx's pattern."""
    sp = dolfinx.fem.create_sparsity_pattern(a)
    sp.finalize()
    cols, offsets = sp.graph
    n = a.function_spaces[0].dofmap.index_map.size_local
    cols, offsets = np.asarray(cols), np.asarray(offsets)
    rows = np.repeat(np.arange(len(offsets) - 1), np.diff(offsets))
    owned_col = cols < n
    return (np.bincount(rows[owned_col], minlength=n)[:n], np.bincount(rows[~owned_col], minlength=n)[:n])


def _forms(mesh):
    x = ufl.SpatialCoordinate(mesh)
    left = dolfinx.mesh.locate_entities(mesh, 3, lambda p: p[0] < 0.45)
    cell_tags = dolfinx.mesh.meshtags(mesh, 3, left, np.full(left.size, 1, dtype=np.int32))
    for element in (("Lagrange", 1), ("Lagrange", 2), ("Lagrange", 1, (3,))):
        V = dolfinx.fem.functionspace(mesh, element)
        u, v = ufl.TrialFunction(V), ufl.TestFunction(V)
        yield element, "cells + exterior facets", ufl.inner(ufl.grad(u), ufl.grad(v)) * ufl.dx + (1 + x[0]) * ufl.inner(u, v) * ufl.ds
        # only the cells of one subdomain: rows elsewhere hold their diagonal entry alone
        yield element, "one subdomain", ufl.inner(u, v) * ufl.dx(domain=mesh, subdomain_data=cell_tags, subdomain_id=1)


@pytest.mark.mpi
def test_row_counts_and_matrix_are_dolfinx_s():
    """Per owned row, the diagonal- and off-diagonal-block counts are those of dolfinx's pattern
    (less the rows dolfinx leaves empty: every diagonal is counted here), and the matrix
    assembles to dolfinx's with no preallocated entry left unused."""
    mesh = _mesh()
    for element, label, form in _forms(mesh):
        a = dolfinx.fem.form(form)
        diagonal, off = row_counts(a._cpp_object.function_spaces[0], integrated_cells(a))
        theirs = _dolfinx_counts(a)
        empty = (theirs[0] + theirs[1]) == 0
        assert np.array_equal(diagonal[~empty], theirs[0][~empty]), (element, label)
        assert np.array_equal(off, theirs[1]), (element, label)
        assert np.all(diagonal[empty] == 1), (element, label)
        ours = create_matrix(a)
        reference = dolfinx.fem.petsc.create_matrix(a)
        for A in (ours, reference):
            dolfinx.fem.petsc.assemble_matrix(A, a, diag=0.0)
            A.assemble()
        assert ours.getBlockSize() == reference.getBlockSize()
        assert ours.getSizes() == reference.getSizes()
        info = ours.getInfo()
        if not empty.any():
            assert info["nz_unneeded"] == 0, (element, label)
        difference = ours.copy()
        difference.axpy(-1.0, reference, structure=PETSc.Mat.Structure.DIFFERENT_NONZERO_PATTERN)
        assert difference.norm() <= 1e-13 * reference.norm(), (element, label)


@pytest.mark.mpi
def test_other_forms_go_to_dolfinx():
    """Two function spaces or interior-facet integrals: no counts here (dolfinx makes the matrix)."""
    mesh = _mesh()
    V1 = dolfinx.fem.functionspace(mesh, ("Lagrange", 1))
    V2 = dolfinx.fem.functionspace(mesh, ("Lagrange", 2))
    u, v = ufl.TrialFunction(V1), ufl.TestFunction(V1)
    assert integrated_cells(dolfinx.fem.form(ufl.inner(u, ufl.TestFunction(V2)) * ufl.dx)) is None
    assert integrated_cells(dolfinx.fem.form(ufl.inner(u("+"), v("-")) * ufl.dS)) is None
    assert integrated_cells(dolfinx.fem.form(ufl.inner(u, v) * ufl.dx)) is not None
    a = dolfinx.fem.form(ufl.inner(u("+"), v("-")) * ufl.dS + ufl.inner(u, v) * ufl.dx)
    A = create_matrix(a)
    dolfinx.fem.petsc.assemble_matrix(A, a)
    A.assemble()
    assert A.norm() > 0


@pytest.mark.mpi
def test_the_nest_matrix_of_a_nonlinear_problem():
    """Within fast_create_matrix, a nest matrix's (phi, phi) block is made here, the others by
    dolfinx; the assembled nest is dolfinx's, and create_matrix is dolfinx's again afterwards."""
    import basix.ufl
    import dolfinx.fem.petsc as fem_petsc

    mesh = _mesh()
    V = dolfinx.fem.functionspace(mesh, ("Lagrange", 1))
    R = dolfinx.fem.functionspace(mesh, basix.ufl.real_element(mesh.basix_cell(), ()))
    (u, r), (v, q) = ufl.TrialFunctions(ufl.MixedFunctionSpace(V, R)), ufl.TestFunctions(ufl.MixedFunctionSpace(V, R))
    a = dolfinx.fem.form(ufl.extract_blocks(ufl.inner(ufl.grad(u), ufl.grad(v)) * ufl.dx + r * v * ufl.ds
                                            + u * q * ufl.ds))
    original = fem_petsc.create_matrix
    with fast_create_matrix():
        ours = fem_petsc.create_matrix(a, kind="nest")
    assert fem_petsc.create_matrix is original
    reference = original(a, kind="nest")
    for A in (ours, reference):
        fem_petsc.assemble_matrix(A, a, bcs=[])
        A.assemble()
    for i in range(2):
        for j in range(2):
            if a[i][j] is None:
                continue
            mine, theirs = ours.getNestSubMatrix(i, j), reference.getNestSubMatrix(i, j)
            difference = mine.copy()
            difference.axpy(-1.0, theirs, structure=PETSc.Mat.Structure.DIFFERENT_NONZERO_PATTERN)
            assert difference.norm() <= 1e-13 * max(theirs.norm(), 1.0)


def test_distinct_is_np_unique():
    rng = np.random.default_rng(3)
    for values in (rng.integers(0, 50, 200).astype(np.int32), rng.integers(-5, 5, 1), np.array([], dtype=np.int64)):
        assert np.array_equal(distinct(values), np.unique(values))
        copy = values.copy()
        assert np.array_equal(distinct(copy, overwrite=True), np.unique(values))


def _manifold_meshes(comm):
    shared = dolfinx.mesh.GhostMode.shared_facet
    yield dolfinx.mesh.create_unit_interval(comm, 7, ghost_mode=shared)
    for diagonal in (dolfinx.mesh.DiagonalType.right, dolfinx.mesh.DiagonalType.crossed):
        yield dolfinx.mesh.create_unit_square(comm, 5, 4, diagonal=diagonal, ghost_mode=shared)
    for ghosts in (shared, dolfinx.mesh.GhostMode.none):
        yield dolfinx.mesh.create_unit_cube(comm, 4, 3, 5, ghost_mode=ghosts)
    yield _two_region_gmsh_mesh(comm)


def _two_region_gmsh_mesh(comm):
    """An unstructured Gmsh mesh of a box holding a ball: two volumes, one manifold mesh."""
    import gmsh
    from dolfinx.io import gmsh as gmshio

    if comm.rank == 0:
        gmsh.initialize(interruptible=False)
        gmsh.option.setNumber("General.Terminal", 0)
        gmsh.model.add("box_ball")
        box = gmsh.model.occ.addBox(0, 0, 0, 1, 1, 1)
        ball = gmsh.model.occ.addSphere(0.5, 0.5, 0.5, 0.25)
        gmsh.model.occ.fragment([(3, box)], [(3, ball)])
        gmsh.model.occ.synchronize()
        for k, (_, tag) in enumerate(gmsh.model.getEntities(3)):
            gmsh.model.addPhysicalGroup(3, [tag], k + 1)
        gmsh.option.setNumber("Mesh.MeshSizeMax", 0.2)
        gmsh.model.mesh.generate(3)
    try:
        partitioner = dolfinx.mesh.create_cell_partitioner(dolfinx.mesh.GhostMode.shared_facet, 2)
        return gmshio.model_to_mesh(gmsh.model if comm.rank == 0 else None, comm, 0, gdim=3,
                                    partitioner=partitioner).mesh
    finally:
        if comm.rank == 0:
            gmsh.finalize()


@pytest.mark.mpi
def test_vertex_link_counts_are_the_pattern_s():
    """P1 and P2 on every cell of an interval, triangle or tetrahedron mesh: the counts from the
    vertex links (no sort; the sort only for the rows at the partition's interface) are dolfinx's
    pattern's, on 1 and 2 ranks, and the matrix has no unused entry; a subset of the cells or P3
    go to the sort."""
    from solver.sparsity import _vertex_link_counts

    for mesh in _manifold_meshes(MPI.COMM_WORLD):
        tdim = mesh.topology.dim
        for degree, shape in ((1, None), (1, (tdim,)), (2, None)):
            if degree == 2 and tdim == 1:
                continue
            V = lagrange_space(mesh, degree, shape)
            u, v = ufl.TrialFunction(V), ufl.TestFunction(V)
            a = dolfinx.fem.form(ufl.inner(ufl.grad(u), ufl.grad(v)) * ufl.dx + ufl.inner(u, v) * ufl.ds)
            counts = _vertex_link_counts(a._cpp_object.function_spaces[0], integrated_cells(a))
            label = (mesh.topology.cell_type, mesh.topology.index_map(tdim).num_ghosts > 0, degree, shape)
            assert counts is not None, label
            theirs = _dolfinx_counts(a)
            assert np.array_equal(counts[0], theirs[0]) and np.array_equal(counts[1], theirs[1]), label
            A = create_matrix(a)
            dolfinx.fem.petsc.assemble_matrix(A, a)
            A.assemble()
            assert A.getInfo()["nz_unneeded"] == 0 and A.getInfo()["mallocs"] == 0, label
        half = np.arange(mesh.topology.index_map(tdim).size_local // 2, dtype=np.int32)
        assert _vertex_link_counts(V._cpp_object, half) is None
    V3 = dolfinx.fem.functionspace(mesh, ("Lagrange", 3))
    a3 = dolfinx.fem.form(ufl.inner(ufl.TrialFunction(V3), ufl.TestFunction(V3)) * ufl.dx)
    assert _vertex_link_counts(V3._cpp_object, integrated_cells(a3)) is None


def test_a_mesh_that_is_no_manifold_still_gets_the_right_matrix():
    """Two tetrahedra that share one vertex only: its link is two triangles, not a disk, so the
    link counts are short there; PETSc then allocates the missing entries, and the matrix is
    dolfinx's."""
    import basix.ufl

    from solver.sparsity import _vertex_link_counts

    x = np.array([[0, 0, 0], [1, 0, 0], [0, 1, 0], [0, 0, 1], [-1, 0, 0], [0, -1, 0], [0, 0, -1]], dtype=np.float64)
    cells = np.array([[0, 1, 2, 3], [0, 4, 5, 6]], dtype=np.int64)
    element = basix.ufl.element("Lagrange", "tetrahedron", 1, shape=(3,), dtype=np.float64)
    mesh = dolfinx.mesh.create_mesh(MPI.COMM_SELF, cells, element, x)
    V = dolfinx.fem.functionspace(mesh, ("Lagrange", 1))
    u, v = ufl.TrialFunction(V), ufl.TestFunction(V)
    a = dolfinx.fem.form(ufl.inner(ufl.grad(u), ufl.grad(v)) * ufl.dx + ufl.inner(u, v) * ufl.dx)
    counts = _vertex_link_counts(V._cpp_object, integrated_cells(a))
    theirs = _dolfinx_counts(a)[0]
    assert counts is not None and not np.array_equal(counts[0], theirs)  # short at the shared vertex
    ours, reference = create_matrix(a), dolfinx.fem.petsc.create_matrix(a)
    for A in (ours, reference):
        dolfinx.fem.petsc.assemble_matrix(A, a)
        A.assemble()
    difference = ours.copy()
    difference.axpy(-1.0, reference, structure=PETSc.Mat.Structure.DIFFERENT_NONZERO_PATTERN)
    assert difference.norm() <= 1e-13 * reference.norm()
    assert ours.getInfo()["nz_used"] == reference.getInfo()["nz_used"]
