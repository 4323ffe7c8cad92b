"""Parametric Gmsh geometries of lithium-metal anodes.

Each builder module defines a pydantic parameter model and a ``build`` function
that writes the geometry, named physical groups and size fields into the
current Gmsh model. Builders know nothing about physics: they name regions
(cells) and boundaries (facets), and report a few landmarks (e.g. bud apex,
far-field point) that post-processing may use.

``meshes.base.generate`` runs a builder on rank 0 and distributes the mesh.
"""

from meshes.base import BUILDERS, GeometryInfo, MeshOptions, generate, register

__all__ = ["BUILDERS", "GeometryInfo", "MeshOptions", "generate", "register"]

# Register the builders shipped with the project.
from meshes import bud  # noqa: E402,F401
from meshes import deposit  # noqa: E402,F401
from meshes import alloy  # noqa: E402,F401
from meshes import homs  # noqa: E402,F401
from meshes import sse  # noqa: E402,F401
from meshes import film  # noqa: E402,F401
