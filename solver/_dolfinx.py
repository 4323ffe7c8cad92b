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

__all__ = ["dolfinx", "MPI", "PETSc", "fresh_options"]

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
