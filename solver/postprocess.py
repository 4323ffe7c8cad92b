"""Current density on boundaries and the scalar metrics researchers compare.

The normal current density is recovered *variationally* (the "consistent flux"): for every
P1 hat function v_i touching a boundary, R_i = int kappa grad(phi).grad(v_i) dx equals the
boundary flux tested with v_i, so i_i = -R_i / int v_i ds (lumped boundary mass). This is
more accurate than differentiating phi on the boundary, conserves charge exactly at the
discrete level, and works the same way for Dirichlet (primary) and Butler-Volmer
(secondary) boundaries. The result is a P1 field, nonzero on the boundaries asked for.
"""

from __future__ import annotations

import dataclasses
import functools
import math

import basix.ufl
import numpy as np
import ufl

from solver._dolfinx import MPI, PETSc, dolfinx


@dataclasses.dataclass
class RecoveredCurrent:
    """Plating current density (A/m^2, positive = deposition) as a P1 field on boundaries."""

    field: dolfinx.fem.Function  # nodal current density on the boundaries
    reaction: np.ndarray  # -R_i (A or A/m in 2D) per local P1 DOF, owned entries valid
    owned: int  # number of owned DOFs
    domain: object
    known_coordinates: np.ndarray | None = None  # the field space's DOF coordinates, where known already

    @functools.cached_property
    def coordinates(self) -> np.ndarray:
        """Coordinates of the field's DOFs (local), tabulated once."""
        if self.known_coordinates is not None:
            return self.known_coordinates
        return self.field.function_space.tabulate_dof_coordinates()

    def dofs(self, names) -> np.ndarray:
        """Owned P1 DOFs on the named boundaries."""
        d = self.domain
        V = self.field.function_space
        dofs = dolfinx.fem.locate_dofs_topological(V, d.mesh.topology.dim - 1, d.facets(list(names)))
        return dofs[dofs < self.owned]

    def total(self, names) -> float:
        """Total current through the named boundaries (A; 2D: A per metre of depth)."""
        local = float(self.reaction[self.dofs(names)].sum())
        return self.domain.comm.allreduce(local, op=MPI.SUM)


def recover_current(problem, names=None) -> RecoveredCurrent:
    """Consistent boundary current density of a solved CurrentDistribution problem."""
    d = problem.domain
    names = list(problem.electrode) + list(problem.counter) if names is None else list(names)
    V1 = getattr(problem, "V", None)  # the problem's own space when it is P1 (one dofmap fewer)
    if V1 is None or V1.ufl_element() != basix.ufl.element("Lagrange", d.mesh.basix_cell(), 1,
                                                           dtype=dolfinx.default_real_type):
        V1 = dolfinx.fem.functionspace(d.mesh, ("Lagrange", 1))
    v = ufl.TestFunction(V1)
    w = d.weight
    R = assemble_local(problem.volume_residual(problem.phi, v))
    M = assemble_local(v * w * d.ds_on(names))
    owned = V1.dofmap.index_map.size_local
    field = dolfinx.fem.Function(V1, name="current_density")
    values = np.zeros_like(R)
    mask = M > 0
    values[mask] = -R[mask] / M[mask]
    field.x.array[:owned] = values[:owned]
    field.x.scatter_forward()
    shared = V1 is getattr(problem, "V", None) and hasattr(problem, "dof_coordinates")
    known = problem.dof_coordinates if shared else None
    return RecoveredCurrent(field, -R, owned, d, known)


def assemble_local(form) -> np.ndarray:
    """Assembled vector of a linear form, local entries (owned and ghosts) summed over ranks."""
    vec = dolfinx.fem.petsc.assemble_vector(dolfinx.fem.form(form))
    vec.ghostUpdate(addv=PETSc.InsertMode.ADD, mode=PETSc.ScatterMode.REVERSE)
    vec.ghostUpdate(addv=PETSc.InsertMode.INSERT, mode=PETSc.ScatterMode.FORWARD)
    with vec.localForm() as local:
        out = local.array.copy()
    vec.destroy()
    return out


def boundary_stats(current: RecoveredCurrent, names) -> dict:
    """Mean, max, min, max/mean and coefficient of variation on the named boundaries."""
    d = current.domain
    ds = d.ds_on(list(names))
    w = d.weight
    area = d.integrate(w * ufl.as_ufl(1.0) * ds)
    i = current.field
    mean = d.integrate(i * w * ds) / area
    # the mean as a Constant, not a float: a float literal is compiled into the form, and each new
    # value (every case, every mesh) JIT-compiled the variance forms again (docs/performance.md, change 24)
    centre = dolfinx.fem.Constant(d.mesh, dolfinx.default_scalar_type(mean))
    var = d.integrate((i - centre) ** 2 * w * ds) / area
    vals = i.x.array[current.dofs(names)]
    vmax = d.comm.allreduce(float(vals.max(initial=-np.inf)), op=MPI.MAX)
    vmin = d.comm.allreduce(float(vals.min(initial=np.inf)), op=MPI.MIN)
    return {
        "area": area,
        "mean": mean,
        "max": vmax,
        "min": vmin,
        "max_over_mean": vmax / mean if mean else math.nan,
        "cv": math.sqrt(max(var, 0.0)) / abs(mean) if mean else math.nan,
    }


def value_near(current: RecoveredCurrent, point, names) -> float:
    """Nodal current density at the boundary vertex closest to ``point`` (parallel-safe)."""
    return _nearest(current.field, current.dofs(names), point, current.domain.comm, current.coordinates)


def nearest_value(f, domain, point, names) -> float:
    """Value of a scalar Lagrange function at its boundary DOF closest to ``point``."""
    V = f.function_space
    dofs = dolfinx.fem.locate_dofs_topological(V, domain.mesh.topology.dim - 1, domain.facets(list(names)))
    dofs = dofs[dofs < V.dofmap.index_map.size_local]
    return _nearest(f, dofs, point, domain.comm)


def nearest_dof(V, dofs, point, comm, coordinates=None) -> tuple[int, int]:
    """(owning rank, local DOF on that rank, -1 elsewhere) of the DOF among ``dofs`` (owned,
    local numbers) closest to ``point``; ties go to the lowest rank. ``coordinates``: V's
    tabulated DOF coordinates, when the caller has them."""
    x = (V.tabulate_dof_coordinates() if coordinates is None else coordinates)[dofs]
    p = np.zeros(3)
    p[: len(point)] = point
    dist = np.linalg.norm(x - p, axis=1)
    k = int(np.argmin(dist)) if dofs.size else -1
    local = (float(dist[k]) if k >= 0 else np.inf, comm.rank)
    best = comm.allreduce(local, op=MPI.MIN)
    return best[1], (int(dofs[k]) if best[1] == comm.rank and k >= 0 else -1)


def _nearest(f, dofs, point, comm, coordinates=None) -> float:
    rank, dof = nearest_dof(f.function_space, dofs, point, comm, coordinates)
    value = float(f.x.array[dof]) if dof >= 0 else 0.0
    return comm.allreduce(value, op=MPI.SUM)
