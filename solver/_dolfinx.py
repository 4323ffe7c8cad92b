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

import dolfinx  # noqa: E402
import dolfinx.fem.petsc  # noqa: E402,F401
import dolfinx.io  # noqa: E402,F401
from mpi4py import MPI  # noqa: E402
from petsc4py import PETSc  # noqa: E402

__all__ = ["dolfinx", "MPI", "PETSc"]
