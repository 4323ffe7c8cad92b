"""Common machinery for geometry builders: registry, options, distribution."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any, Callable, Literal

from pydantic import BaseModel, ConfigDict, Field

from solver.units import Length

__all__ = ["GeometryInfo", "MeshOptions", "Builder", "BUILDERS", "register", "generate"]


class MeshOptions(BaseModel):
    """Mesh sizes shared by all builders (COMSOL's 'Mesh' node)."""

    model_config = ConfigDict(extra="forbid")

    size_far: Length = Field(4e-6, gt=0, description="element size far from the electrode")
    size_electrode: Length = Field(1e-6, gt=0, description="element size on the flat electrode")
    size_feature: Length = Field(
        0.2e-6, gt=0, description="element size on small features (bud surface, thin layers)"
    )
    grading_distance: Length = Field(
        10e-6, gt=0, description="distance over which sizes grow from fine to size_far"
    )
    order: Literal[1, 2] = Field(1, description="geometric order of the mesh (2 = curved cells)")
    save: str | None = Field(None, description="also save the Gmsh mesh to this .msh file")


@dataclasses.dataclass
class GeometryInfo:
    """What a builder tells the rest of the program about the geometry."""

    gdim: int
    axisymmetric: bool
    regions: dict[str, int]  # region name -> physical tag of cells
    boundaries: dict[str, int]  # boundary name -> physical tag of facets
    projected_area: float  # electrode area seen from above (2D: per metre depth; axi: pi R^2)
    landmarks: dict[str, Any] = dataclasses.field(default_factory=dict)


@dataclasses.dataclass
class Builder:
    name: str
    params: type[BaseModel]
    build: Callable[[BaseModel, MeshOptions], GeometryInfo]
    names: Callable[[BaseModel], tuple[set[str], set[str]]]  # (regions, boundaries), no Gmsh


BUILDERS: dict[str, Builder] = {}


def register(builder: Builder) -> Builder:
    BUILDERS[builder.name] = builder
    return builder


def generate(builder: Builder, params: BaseModel, options: MeshOptions, comm, log=print):
    """Build the Gmsh model on rank 0 and distribute it over ``comm``.

    Returns ``(mesh, cell_tags, facet_tags, info)``.
    """
    from solver._dolfinx import dolfinx  # noqa: F401 - import order
    import gmsh
    from dolfinx.io import gmsh as gmshio

    info = None
    rank = comm.rank
    if rank == 0:
        if not gmsh.isInitialized():
            gmsh.initialize(interruptible=False)
        gmsh.option.setNumber("General.Terminal", 0)
        gmsh.model.add(builder.name)
        info = builder.build(params, options)
        if options.save:
            Path(options.save).parent.mkdir(parents=True, exist_ok=True)
            gmsh.write(str(options.save))
    info = comm.bcast(info, root=0)
    try:
        mesh_data = gmshio.model_to_mesh(gmsh.model if rank == 0 else None, comm, 0, gdim=info.gdim)
    finally:
        if rank == 0:
            gmsh.model.remove()
            gmsh.finalize()
    mesh = mesh_data.mesh
    tdim = mesh.topology.dim
    info.regions = {n: g.tag for n, g in mesh_data.physical_groups.items() if g.dim == tdim}
    info.boundaries = {n: g.tag for n, g in mesh_data.physical_groups.items() if g.dim == tdim - 1}
    mesh.topology.create_connectivity(mesh.topology.dim - 1, mesh.topology.dim)
    return mesh, mesh_data.cell_tags, mesh_data.facet_tags, info
