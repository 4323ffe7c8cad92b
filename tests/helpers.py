"""Small meshes built in code (no Gmsh) for verification tests."""

from __future__ import annotations

import numpy as np

from solver._dolfinx import MPI, dolfinx
from solver.domain import Domain

# Boundary tags of the unit square: y=0 electrode, y=1 counter, x=0 / x=1 sides.
TAGS = {"electrode": 1, "counter": 2, "left": 3, "right": 4}


def unit_square(n: int, axisymmetric: bool = False, comm=MPI.COMM_WORLD) -> Domain:
    mesh = dolfinx.mesh.create_unit_square(comm, n, n, dolfinx.mesh.CellType.triangle)
    tdim = mesh.topology.dim
    cells = np.arange(mesh.topology.index_map(tdim).size_local, dtype=np.int32)
    cell_tags = dolfinx.mesh.meshtags(mesh, tdim, cells, np.ones_like(cells))
    where = {
        "electrode": lambda x: np.isclose(x[1], 0.0),
        "counter": lambda x: np.isclose(x[1], 1.0),
        "left": lambda x: np.isclose(x[0], 0.0) & (x[1] > 1e-12) & (x[1] < 1 - 1e-12),
        "right": lambda x: np.isclose(x[0], 1.0) & (x[1] > 1e-12) & (x[1] < 1 - 1e-12),
    }
    idx, val = [], []
    for name, marker in where.items():
        f = dolfinx.mesh.locate_entities_boundary(mesh, tdim - 1, marker)
        idx.append(f)
        val.append(np.full_like(f, TAGS[name]))
    idx = np.concatenate(idx)
    order = np.argsort(idx)
    facet_tags = dolfinx.mesh.meshtags(mesh, tdim - 1, idx[order], np.concatenate(val)[order])
    mesh.topology.create_connectivity(tdim - 1, tdim)
    area = np.pi if axisymmetric else 1.0
    return Domain(mesh, cell_tags, facet_tags, {"electrolyte": 1}, dict(TAGS), axisymmetric, area)


def rate(errors, hs) -> float:
    """Observed order from the last two refinements."""
    return float(np.log(errors[-2] / errors[-1]) / np.log(hs[-2] / hs[-1]))


def box(n: int, size=(1.0, 1.0, 1.0), comm=MPI.COMM_WORLD) -> Domain:
    """Box [0, a] x [0, b] x [0, c] with facets named x0, x1, y0, y1, z0, z1."""
    mesh = dolfinx.mesh.create_box(comm, [[0, 0, 0], list(size)], [n, n, n], dolfinx.mesh.CellType.tetrahedron)
    return _tag_faces(mesh, size, ["x", "y", "z"])


def rectangle(n: int, size=(1.0, 1.0), axisymmetric=False, comm=MPI.COMM_WORLD) -> Domain:
    """Rectangle [0, a] x [0, b] with edges named x0, x1, y0, y1 (x0 is the axis if axisymmetric)."""
    mesh = dolfinx.mesh.create_rectangle(comm, [[0, 0], list(size)], [n, n], dolfinx.mesh.CellType.triangle)
    d = _tag_faces(mesh, size, ["x", "y"])
    d.axisymmetric = axisymmetric
    d.__post_init__()
    return d


def _tag_faces(mesh, size, axes) -> Domain:
    tdim = mesh.topology.dim
    cells = np.arange(mesh.topology.index_map(tdim).size_local, dtype=np.int32)
    cell_tags = dolfinx.mesh.meshtags(mesh, tdim, cells, np.ones_like(cells))
    names, idx, val = {}, [], []
    tag = 0
    for a, axis in enumerate(axes):
        for side, where in (("0", 0.0), ("1", size[a])):
            tag += 1
            names[f"{axis}{side}"] = tag
            f = dolfinx.mesh.locate_entities_boundary(mesh, tdim - 1, lambda x, a=a, w=where: np.isclose(x[a], w))
            idx.append(f)
            val.append(np.full_like(f, tag))
    idx, val = np.concatenate(idx), np.concatenate(val)
    idx, first = np.unique(idx, return_index=True)  # corner facets do not exist; edges keep one tag
    facet_tags = dolfinx.mesh.meshtags(mesh, tdim - 1, idx, val[first])
    mesh.topology.create_connectivity(tdim - 1, tdim)
    return Domain(mesh, cell_tags, facet_tags, {"solid": 1}, names)


def interval(n: int, length: float = 1.0, grading: float = 1.0, comm=MPI.COMM_WORLD) -> Domain:
    """[0, length] with points x0 (left) and x1 (right), region "electrolyte"; ``grading`` > 1
    crowds the cells toward x0 (x = length * s**grading for uniform s)."""
    mesh = dolfinx.mesh.create_interval(comm, n, [0.0, 1.0])
    mesh.geometry.x[:, 0] = length * mesh.geometry.x[:, 0] ** grading
    d = _tag_faces(mesh, (length,), ["x"])
    d.regions = {"electrolyte": 1}
    return d


def interval_with_solid(n: int, n_solid: int, solid: float, length: float, grading: float = 1.0,
                        comm=MPI.COMM_WORLD) -> Domain:
    """[0, length]: a solid layer [0, solid] of ``n_solid`` equal cells (region "solid"), then
    liquid (region "electrolyte") of n - n_solid cells crowded toward the interface by ``grading``;
    points x0 (left) and x1 (right)."""
    mesh = dolfinx.mesh.create_interval(comm, n, [0.0, 1.0])
    s = mesh.geometry.x[:, 0].copy()
    s1 = n_solid / n
    inner = s <= s1 + 1e-12
    x = np.where(inner, solid * s / s1, solid + (length - solid) * ((s - s1) / (1 - s1)).clip(0) ** grading)
    mesh.geometry.x[:, 0] = x
    d = _tag_faces(mesh, (length,), ["x"])
    tdim = mesh.topology.dim
    cells = np.arange(mesh.topology.index_map(tdim).size_local + mesh.topology.index_map(tdim).num_ghosts,
                      dtype=np.int32)
    mid = dolfinx.mesh.compute_midpoints(mesh, tdim, cells)[:, 0]
    d.cell_tags = dolfinx.mesh.meshtags(mesh, tdim, cells, np.where(mid < solid, 2, 1).astype(np.int32))
    d.regions = {"electrolyte": 1, "solid": 2}
    d.__post_init__()
    return d
