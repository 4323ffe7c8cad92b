"""Common machinery for geometry builders: registry, options, distribution."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any, Callable, Literal

import json

from pydantic import BaseModel, ConfigDict, Field, model_validator

from solver.units import Length

__all__ = ["GeometryInfo", "MeshOptions", "Builder", "BUILDERS", "register", "generate", "name_groups",
           "mesh_in_metres", "cell_slab", "keep_owned"]


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
    save: str | None = Field(
        None, description="also save the mesh for reuse, with a .json sidecar: a .msh file (Gmsh, "
        "written on rank 0; other tools read it) or a .xdmf file (the distributed mesh and its tags, "
        "written and read in parallel: the fast way back)"
    )
    load: str | None = Field(
        None, description="reuse a mesh saved with 'save' (.msh or .xdmf) instead of meshing again; it "
        "must have been made from the same geometry parameters"
    )
    cache: str | None = Field(
        None, description="folder of reusable meshes: a geometry + mesh-size set meshed once is saved "
        "there (XDMF, in parallel) and read back by every later run that asks for the same set"
    )

    @model_validator(mode="after")
    def _files(self):
        for key in ("save", "load"):
            value = getattr(self, key)
            if value and Path(value).suffix not in MESH_FORMATS:
                raise ValueError(f"{key}: {value!r} must end in .msh (Gmsh) or .xdmf (parallel)")
        if self.load:
            if self.cache:
                raise ValueError("load and cache: give one of them (cache finds saved meshes by itself)")
            for path in (Path(self.load), _sidecar(self.load)):
                if not path.is_file():
                    raise ValueError(f"load: no such file {str(path)!r} (write it first with 'save')")
        return self

    def sizes(self) -> dict:
        """What shapes the mesh (everything but the file options), SI."""
        return self.model_dump(mode="json", exclude={"save", "load", "cache"})


MESH_FORMATS = (".msh", ".xdmf")


def _sidecar(msh: str | Path) -> Path:
    return Path(str(msh) + ".json")


@dataclasses.dataclass
class GeometryInfo:
    """What a builder tells the rest of the program about the geometry."""

    gdim: int
    axisymmetric: bool
    regions: dict[str, int]  # region name -> physical tag of cells
    boundaries: dict[str, int]  # boundary name -> physical tag of facets
    projected_area: float  # electrode area seen from above (2D: per metre depth; axi: pi R^2)
    landmarks: dict[str, Any] = dataclasses.field(default_factory=dict)
    source: str = "gmsh"  # where the mesh came from: "gmsh", or "loaded <file>" / "cached <file>"


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
    """The distributed mesh of a builder's geometry: read back from ``options.load`` or the mesh
    cache when there is one, else built by Gmsh on rank 0 and distributed over ``comm`` (and saved
    where ``options`` asks).

    Returns ``(mesh, cell_tags, facet_tags, info)``; ``info.source`` says where the mesh came from.
    """
    from meshes.store import cache_entry, read_xdmf, write_cache, write_xdmf

    params_json = params.model_dump(mode="json")
    if options.load and Path(options.load).suffix == ".xdmf":
        return read_xdmf(Path(options.load), builder, params_json, comm, f"loaded {options.load}")
    entry = cache_entry(builder, params_json, options) if options.cache else None
    if entry is not None and comm.bcast(_sidecar(entry / "mesh.xdmf").is_file() if comm.rank == 0 else None, root=0):
        return read_xdmf(entry / "mesh.xdmf", builder, params_json, comm, f"cached {entry}")
    mesh, cell_tags, facet_tags, info = _from_gmsh(builder, params, params_json, options, comm)
    if options.save and Path(options.save).suffix == ".xdmf":
        write_xdmf(Path(options.save), mesh, cell_tags, facet_tags, info, builder, params_json)
    if entry is not None:
        write_cache(entry, mesh, cell_tags, facet_tags, info, builder, params_json)
    return mesh, cell_tags, facet_tags, info


def _from_gmsh(builder: Builder, params: BaseModel, params_json: dict, options: MeshOptions, comm):
    """Build (or open a saved .msh) on rank 0 and distribute over ``comm``."""
    from solver._dolfinx import dolfinx, fast_create_mesh
    import gmsh
    from dolfinx.io import gmsh as gmshio

    info, problem = None, None
    rank = comm.rank
    msh_load = options.load if options.load and Path(options.load).suffix == ".msh" else None
    msh_save = options.save if options.save and Path(options.save).suffix == ".msh" else None
    if rank == 0:
        if not gmsh.isInitialized():
            gmsh.initialize(interruptible=False)
        gmsh.option.setNumber("General.Terminal", 0)
        if msh_load:
            saved = json.loads(_sidecar(msh_load).read_text())
            if saved["builder"] != builder.name or saved["params"] != params_json:
                problem = _mismatch(msh_load)
            else:
                gmsh.open(str(msh_load))
                info = GeometryInfo(**{**saved["info"], "source": f"loaded {msh_load}"})
        else:
            gmsh.model.add(builder.name)
            try:
                info = builder.build(params, options)
            except Exception as err:  # noqa: BLE001 - told to every rank below, not raised here alone
                problem = f"mesh: the '{builder.name}' geometry could not be built ({type(err).__name__}: {err})"
            if msh_save and not problem:
                Path(msh_save).parent.mkdir(parents=True, exist_ok=True)
                gmsh.write(str(msh_save))
                _sidecar(msh_save).write_text(json.dumps(
                    {"builder": builder.name, "params": params_json, "info": dataclasses.asdict(info)}, indent=1
                ))
        if problem:
            gmsh.finalize()
    _raise_on_all(comm, problem)
    info = comm.bcast(info, root=0)
    try:
        # Ghost cells across shared facets, so interface (dS) integrals work in parallel.
        partitioner = dolfinx.mesh.create_cell_partitioner(dolfinx.mesh.GhostMode.shared_facet, 2)
        with fast_create_mesh(gmshio):
            mesh_data = gmshio.model_to_mesh(
                gmsh.model if rank == 0 else None, comm, 0, gdim=info.gdim, partitioner=partitioner
            )
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


def _raise_on_all(comm, problem: str | None) -> None:
    """Raise rank 0's ``problem`` (if any) on every rank."""
    problem = comm.bcast(problem, root=0)
    if problem:
        from solver.errors import SolverError, UserError

        raise (SolverError if problem.startswith("mesh:") else UserError)(problem)


def _mismatch(path) -> str:
    return (f"mesh.load: {path} was made from other geometry parameters "
            "(remove mesh.load, or re-create it with mesh.save)")


def name_groups(builder: str, dim: int, regions: dict[str, list[int]], boundaries: dict[str, list[int]],
                expected: tuple[set[str], set[str]], region_tags: dict[str, int],
                boundary_tags: dict[str, int]) -> None:
    """Check that Gmsh produced the names ``names(params)`` promised (``expected``) and add the
    physical groups (fixed tags per name) to the current model."""
    import gmsh

    if (set(regions), set(boundaries)) != expected:
        raise RuntimeError(
            f"{builder}: Gmsh produced regions {sorted(regions)} and boundaries {sorted(boundaries)}, "
            f"expected {sorted(expected[0])} and {sorted(expected[1])}"
        )
    for name, tags in regions.items():
        gmsh.model.addPhysicalGroup(dim, tags, region_tags[name], name=name)
    for name, tags in boundaries.items():
        gmsh.model.addPhysicalGroup(dim - 1, tags, boundary_tags[name], name=name)


def mesh_in_metres(dim: int, order: int, unit: float = 1e-6) -> None:
    """Mesh the current model (built in units of ``unit`` metres, micrometres by default: OCC's
    absolute tolerance is too coarse for metres) with the given element order, curving and
    untangling order-2 elements along the boundary, then scale the nodes to metres."""
    import gmsh

    gmsh.option.setNumber("Mesh.ElementOrder", order)
    gmsh.option.setNumber("Mesh.HighOrderOptimize", 2 if order == 2 else 0)
    gmsh.model.mesh.generate(dim)
    gmsh.model.mesh.affineTransform([unit, 0, 0, 0, 0, unit, 0, 0, 0, 0, unit, 0])


def cell_slab(dim: int, width: float, y0: float, y1: float, x0: float | None = None) -> tuple[int, int]:
    """A layer y0 < y < y1 (z in 3D) across a periodic cell of ``width`` (model units), as an OCC
    entity of the current model: a rectangle from ``x0`` (default ``-width/2``) in 2D, the box
    over the square ``[-width/2, width/2]^2`` in 3D."""
    import gmsh

    occ = gmsh.model.occ
    if dim == 3:
        return 3, occ.addBox(-width / 2, -width / 2, y0, width, width, y1 - y0)
    return 2, occ.addRectangle(-width / 2 if x0 is None else x0, y0, 0, width, y1 - y0)


def keep_owned(dim: int, owner: dict[tuple[int, int], str]) -> dict[str, list[int]]:
    """Remove the current OCC model's ``dim`` entities that no region owns (left over by fuses,
    fragments or cut-outs), synchronise, and return region name -> entity tags."""
    import gmsh

    occ = gmsh.model.occ
    stray = [dt for dt in occ.getEntities(dim) if dt not in owner]
    if stray:
        occ.remove(stray, recursive=True)
    occ.synchronize()
    regions: dict[str, list[int]] = {}
    for (_, tag), name in sorted(owner.items()):
        regions.setdefault(name, []).append(tag)
    return regions
