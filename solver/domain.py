"""A distributed mesh with named regions and boundaries, and its integration measures.

Physics modules bind to names ("electrolyte", "bud", ...) through this object;
they never see a geometry builder. For axisymmetric (r-z) meshes every measure
carries the weight 2*pi*r, so integrals are true volumes, areas and currents.
"""

from __future__ import annotations

import dataclasses
import math
from typing import Any

import numpy as np
import ufl

from solver._dolfinx import MPI, dolfinx


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

    def __post_init__(self):
        self.dx = ufl.Measure("dx", domain=self.mesh, subdomain_data=self.cell_tags)
        self.ds = ufl.Measure("ds", domain=self.mesh, subdomain_data=self.facet_tags)
        self.dS = ufl.Measure("dS", domain=self.mesh, subdomain_data=self.facet_tags)

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

    def region_cells(self, name: str) -> np.ndarray:
        return self.cell_tags.find(self.regions[name])

    def num_cells_global(self) -> int:
        imap = self.mesh.topology.index_map(self.mesh.topology.dim)
        return imap.size_global
