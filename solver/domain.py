"""A distributed mesh with named regions and boundaries, and its integration measures.

Physics modules bind to names ("electrolyte", "bud", ...) through this object;
they never see a geometry builder. For axisymmetric (r-z) meshes every measure
carries the weight 2*pi*r, so integrals are true volumes, areas and currents.
"""

from __future__ import annotations

import dataclasses
import functools
import math
from typing import Any

import numpy as np
import ufl

from solver._dolfinx import MPI, dolfinx
from solver.arrays import distinct


@dataclasses.dataclass
class Domain:
    mesh: Any
    cell_tags: Any
    facet_tags: Any
    regions: dict[str, int]
    boundaries: dict[str, int]
    axisymmetric: bool = False
    projected_area: float = 1.0
    landmarks: dict[str, Any] = dataclasses.field(default_factory=dict)
    source: str = "gmsh"  # where the mesh came from (meshes.base.GeometryInfo.source)

    def __post_init__(self):
        self.dx = ufl.Measure("dx", domain=self.mesh, subdomain_data=self.cell_tags)

    # The facet measures carry their integration entities, computed once per domain: handed the
    # MeshTags, dolfinx would search all the mesh's facets for the exterior ones at every form
    # created (4.7 s of a 1.1M-DOF run's 5 s of metric forms).
    @functools.cached_property
    def ds(self):
        return ufl.Measure("ds", domain=self.mesh, subdomain_data=self._facet_domains(exterior=True))

    @functools.cached_property
    def dS(self):
        return ufl.Measure("dS", domain=self.mesh, subdomain_data=self._facet_domains(exterior=False))

    def _facet_domains(self, exterior: bool) -> list[tuple[int, np.ndarray]]:
        """(tag, integration entities) of every boundary name's facets, as dolfinx computes them
        from the tags: exterior facets as (cell, local facet), interior ones as two such pairs."""
        topology = self.mesh.topology
        tdim = topology.dim
        topology.create_connectivity(tdim - 1, tdim)
        topology.create_connectivity(tdim, tdim - 1)
        kind = dolfinx.fem.IntegralType.exterior_facet if exterior else dolfinx.fem.IntegralType.interior_facet
        if exterior:  # a mask, not np.intersect1d: that sorts all exterior facets again per tag
            outer = np.zeros(topology.index_map(tdim - 1).size_local + topology.index_map(tdim - 1).num_ghosts,
                             dtype=bool)
            outer[dolfinx.mesh.exterior_facet_indices(topology)] = True
        domains = []
        for tag in sorted(set(self.boundaries.values())):
            facets = self.facet_tags.find(tag)
            if exterior:
                facets = facets[outer[facets]]
            domains.append((tag, np.asarray(dolfinx.fem.compute_integration_domains(kind, topology, facets))))
        return domains

    @property
    def comm(self) -> MPI.Comm:
        return self.mesh.comm

    @property
    def weight(self):
        """2*pi*r for axisymmetric meshes (x[0] = r), else 1."""
        if self.axisymmetric:
            return 2 * math.pi * ufl.SpatialCoordinate(self.mesh)[0]
        return 1.0

    def facet_ids(self, names: list[str]) -> tuple[int, ...]:
        return tuple(self.boundaries[n] for n in names)

    def ds_on(self, names: list[str]):
        """Boundary measure over the named boundaries (unweighted)."""
        return self.ds(self.facet_ids(names))

    def integrate(self, expr) -> float:
        """Assemble a scalar form and sum over ranks."""
        local = dolfinx.fem.assemble_scalar(dolfinx.fem.form(expr))
        return float(self.comm.allreduce(local, op=MPI.SUM))

    def area(self, names: list[str]) -> float:
        """True area (weighted) of the named boundaries."""
        return self.integrate(self.weight * ufl.as_ufl(1.0) * self.ds_on(names))

    def facets(self, names: list[str]) -> np.ndarray:
        """Local facet indices carrying any of the names."""
        ids = self.facet_ids(names)
        return self.facet_tags.indices[np.isin(self.facet_tags.values, ids)]

    def cells_of_facets(self, facets: np.ndarray) -> np.ndarray:
        """Local cells (owned and ghost) that touch the given local facets, without repeats."""
        tdim = self.mesh.topology.dim
        self.mesh.topology.create_connectivity(tdim - 1, tdim)
        f2c = self.mesh.topology.connectivity(tdim - 1, tdim)
        return distinct(links_of(f2c, facets))

    def region_cells(self, name: str) -> np.ndarray:
        return self.cell_tags.find(self.regions[name])

    def num_cells_global(self) -> int:
        imap = self.mesh.topology.index_map(self.mesh.topology.dim)
        return imap.size_global


def links_of(adjacency, nodes: np.ndarray) -> np.ndarray:
    """Every link of the given nodes of a dolfinx adjacency list, concatenated (no Python loop)."""
    nodes = np.asarray(nodes, dtype=np.int64)
    offsets = adjacency.offsets
    start, count = offsets[nodes], offsets[nodes + 1] - offsets[nodes]
    within = np.arange(count.sum()) - np.repeat(np.cumsum(count) - count, count)
    return adjacency.array[np.repeat(start, count) + within]


@dataclasses.dataclass
class SubDomain:
    """A Domain on a submesh of some regions of a parent Domain, with the parent-cell map."""

    domain: Domain
    parent: Domain
    parent_cells: np.ndarray  # parent cell index of every local submesh cell
    entity_map: Any  # dolfinx EntityMap (submesh cells <-> parent cells), for mixed-domain forms


def restrict(parent: Domain, regions: list[str]) -> SubDomain:
    """The named regions of ``parent`` as a mesh of their own.

    Boundary names carry over: a submesh facet keeps the parent's tag when the parent facet is
    tagged (outer boundaries and tagged interfaces such as ``coating_top``). Local to each rank.
    """
    mesh = parent.mesh
    tdim = mesh.topology.dim
    cells = np.sort(np.concatenate([parent.cell_tags.find(parent.regions[r]) for r in regions]))
    sub, cell_map, vertex_map, _ = dolfinx.mesh.create_submesh(mesh, tdim, cells)
    n_sub = sub.topology.index_map(tdim).size_local + sub.topology.index_map(tdim).num_ghosts
    parent_cells = np.asarray(cell_map.sub_topology_to_topology(np.arange(n_sub, dtype=np.int32), False))

    # parent facet tags keyed by their (sorted) vertices
    mesh.topology.create_connectivity(tdim - 1, 0)
    f2v = mesh.topology.connectivity(tdim - 1, 0)
    key = {tuple(sorted(f2v.links(f))): v for f, v in zip(parent.facet_tags.indices, parent.facet_tags.values)}
    sub.topology.create_connectivity(tdim - 1, 0)
    sub.topology.create_connectivity(tdim - 1, tdim)
    sf2v = sub.topology.connectivity(tdim - 1, 0)
    n_facets = sub.topology.index_map(tdim - 1).size_local + sub.topology.index_map(tdim - 1).num_ghosts
    sub_vertices = np.arange(sub.topology.index_map(0).size_local + sub.topology.index_map(0).num_ghosts,
                             dtype=np.int32)
    to_parent_vertex = np.asarray(vertex_map.sub_topology_to_topology(sub_vertices, False))
    idx, val = [], []
    for f in range(n_facets):
        tag = key.get(tuple(sorted(to_parent_vertex[sf2v.links(f)])))
        if tag is not None:
            idx.append(f)
            val.append(tag)
    facet_tags = dolfinx.mesh.meshtags(sub, tdim - 1, np.asarray(idx, dtype=np.int32), np.asarray(val, dtype=np.int32))
    n_cells = len(parent_cells)
    region_of = np.zeros(n_cells, dtype=np.int32)
    parent_region = dict(zip(parent.cell_tags.indices, parent.cell_tags.values))
    region_of[:] = [parent_region[c] for c in parent_cells]
    cell_tags = dolfinx.mesh.meshtags(sub, tdim, np.arange(n_cells, dtype=np.int32), region_of)
    present = set(val)
    domain = Domain(
        sub, cell_tags, facet_tags, {r: parent.regions[r] for r in regions},
        {n: t for n, t in parent.boundaries.items() if parent.comm.allreduce(t in present, op=MPI.LOR)},
        parent.axisymmetric, parent.projected_area, parent.landmarks,
    )
    return SubDomain(domain, parent, parent_cells, cell_map)
