"""Checkpoint and restart of DOLFINx Functions, independent of the number of MPI ranks.

A restarted run rebuilds its mesh from the same inputs (the same Gmsh mesh or
the same ``create_*`` call) but may use another number of ranks, so the mesh is
partitioned differently and both the DOF numbering and the owner of each DOF
change. Neither the local nor the global DOF numbers can therefore key the
saved values. The original input node numbers are no help either: a P2 space
has DOFs on edges, which have no input index at all. What does not change is
where each DOF sits: Lagrange DOFs are points, and rebuilding the mesh from the
same inputs puts them at the same coordinates. So values are stored with the
coordinates of their DOFs and matched back by coordinate on restart.

File format: one numpy ``.npz`` file (``numpy.load(..., allow_pickle=False)``
opens it), written by rank 0 into a temporary file in the same folder and then
moved into place with ``os.replace``, so a crash never leaves half a checkpoint
under the final name. It holds

``header``
    a 0-d string array: JSON ``{"format": "lianode-checkpoint", "version": 1,
    "ranks": <ranks that wrote it>, "functions": {name: info}}``, where
    ``info`` records the element (family, degree, discontinuous, Lagrange
    variant, value shape, block size), the geometric dimension, the scalar
    type, the global DOF count (nodes x block size) and the key ``fK`` under
    which the arrays of that function are stored;
``meta``
    a 0-d string array: the caller's ``meta`` dict, JSON-encoded;
``fK.coords``
    float64 ``(n, gdim)``: DOF (node) coordinates, sorted lexicographically;
``fK.values``
    ``(n, bs)``: the values at those nodes, one column per block component,
    in the Function's own scalar type (bit-for-bit copies of ``x.array``).

Functions on a real space (one global DOF, see ``basix.ufl.real_element``)
have no meaningful DOF coordinates: they store ``fK.values`` of shape
``(1, bs)`` only.

Matching: coordinates are quantised to a grid of spacing ``tol = 1e-10`` times
the mesh's bounding-box diagonal, looked up by exact integer key, and every hit
is verified to lie within ``tol`` of the local DOF. Two copies of one point
that round into neighbouring grid cells (a coordinate at a bin edge) are caught
by retrying the unmatched DOFs with the neighbouring cells. Every local DOF
(owned and ghost) must be found, otherwise the mesh is not the checkpoint's.

Only spaces whose DOFs have distinct coordinates can be checkpointed this way
(continuous Lagrange of any degree, scalar or blocked, and DG0); a space with
coinciding DOF points (e.g. DG1) is refused when saving.
"""

from __future__ import annotations

import itertools
import json
import os
import re
import zipfile
from pathlib import Path
from typing import Any, Callable

import numpy as np

from solver._dolfinx import MPI, dolfinx
from solver.errors import UserError

__all__ = ["save", "load", "latest"]

FORMAT = "lianode-checkpoint"
VERSION = 1
RELATIVE_TOLERANCE = 1e-10
_LIMIT = float(2**62)  # quantised coordinates are clipped to this (int64-safe)


# --------------------------------------------------------------------------- save


def save(path: Path, functions: dict[str, dolfinx.fem.Function], meta: dict) -> None:
    """Write ``functions`` and ``meta`` to one checkpoint file at ``path`` (collective).

    Every rank must pass the same names in the same order and the same ``meta``
    (JSON-serialisable). When this returns on any rank, the file is complete.
    """
    path = Path(path)
    meta_json = json.dumps(meta)  # fail early and identically on every rank
    comm = _common_comm(functions)

    header: dict[str, Any] = {"format": FORMAT, "version": VERSION, "ranks": comm.size, "functions": {}}
    arrays: dict[str, np.ndarray] = {"meta": np.array(meta_json)}
    error = None  # rank 0's; every rank goes through all gathers before it is shared
    for k, (name, u) in enumerate(functions.items()):
        info = _describe(u)
        info["key"] = f"f{k}"
        header["functions"][name] = info
        V = u.function_space
        n_owned, bs = V.dofmap.index_map.size_local, V.dofmap.index_map_bs
        values = _gather_rows(comm, u.x.array[: n_owned * bs].reshape(-1, bs))
        if info["real"]:
            coords = None
        else:
            gdim = V.mesh.geometry.dim
            coords = _gather_rows(comm, V.tabulate_dof_coordinates()[:n_owned, :gdim])
        if comm.rank == 0 and error is None:
            try:
                arrays.update(_sorted_arrays(path, name, info["key"], coords, values))
            except UserError as exc:
                error = str(exc)
    arrays["header"] = np.array(json.dumps(header))

    if comm.rank == 0 and error is None:
        try:
            _write_atomically(path, arrays)
        except (UserError, OSError) as exc:
            error = str(exc) if isinstance(exc, UserError) else f"checkpoint {path}: cannot write: {exc}"
    error = comm.bcast(error, root=0)
    if error is not None:
        raise UserError(error)


def _sorted_arrays(path, name, key, coords, values) -> dict[str, np.ndarray]:
    """Rank 0: the arrays of one function, rows sorted by coordinate (real spaces: values only)."""
    if coords is None:
        if values.shape[0] != 1:
            raise AssertionError(f"real space '{name}' has {values.shape[0]} owned DOFs")
        return {f"{key}.values": values}
    order = np.lexsort(coords.T[::-1])
    coords, values = coords[order], values[order]
    if len(coords) > 1 and np.any(np.all(coords[1:] == coords[:-1], axis=1)):
        raise UserError(
            f"checkpoint {path}: function '{name}' has DOFs at coinciding points "
            "(a discontinuous space?); only spaces with distinct DOF points can be checkpointed"
        )
    return {f"{key}.coords": np.ascontiguousarray(coords), f"{key}.values": np.ascontiguousarray(values)}


def _write_atomically(path: Path, arrays: dict[str, np.ndarray]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    try:
        with open(tmp, "wb") as fh:  # a file object: np.savez would append ".npz" to a name
            np.savez(fh, **arrays)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def _gather_rows(comm, local: np.ndarray) -> np.ndarray | None:
    """Stack the rows of every rank's ``local`` (n_i, k) on rank 0 in rank order; None elsewhere."""
    local = np.ascontiguousarray(local)
    width = local.shape[1]
    counts = comm.gather(local.size, root=0)
    out, recv = None, None
    if comm.rank == 0:
        out = np.empty((sum(counts) // max(width, 1), width), dtype=local.dtype)
        recv = [out, counts]
    comm.Gatherv(local, recv, root=0)
    return out


# --------------------------------------------------------------------------- load


def load(path: Path, functions: dict[str, dolfinx.fem.Function]) -> dict:
    """Fill ``functions`` in place from the checkpoint at ``path``; return its ``meta`` (collective).

    Raises UserError (on every rank) if the file is missing or unreadable, lacks
    a function, was saved for another space, or does not fit the mesh. On
    error no function is changed.
    """
    path = Path(path)
    comm = _common_comm(functions)
    header, meta, arrays = _agree(comm, lambda: _read(path))
    # Collective, so done by every rank before the local work, where a rank may stop early.
    tolerances = [_tolerance(u.function_space.mesh) for u in functions.values()]

    def new_values() -> list[np.ndarray]:
        return [
            _restore(path, name, u, tol, header, arrays)
            for (name, u), tol in zip(functions.items(), tolerances)
        ]

    values = _agree(comm, new_values)
    for u, v in zip(functions.values(), values):
        u.x.array[:] = v
        u.x.scatter_forward()
    return meta


def _read(path: Path):
    if not path.is_file():
        raise UserError(f"checkpoint {path}: no such file")
    try:
        with np.load(path, allow_pickle=False) as data:
            arrays = {key: data[key] for key in data.files}  # read all: corruption shows here
        header = json.loads(str(arrays.pop("header")[()]))
        meta = json.loads(str(arrays.pop("meta")[()]))
        if header.get("format") != FORMAT:
            raise ValueError(f"not a {FORMAT} file")
        if header.get("version") != VERSION:
            raise ValueError(f"format version {header.get('version')}, this program reads {VERSION}")
        if not isinstance(header.get("functions"), dict) or not isinstance(meta, dict):
            raise ValueError("malformed header")
    except (OSError, ValueError, KeyError, TypeError, EOFError, zipfile.BadZipFile) as exc:
        raise UserError(f"checkpoint {path}: unreadable or not a checkpoint ({exc})") from None
    return header, meta, arrays


def _restore(path: Path, name: str, u, tolerance, header: dict, arrays: dict) -> np.ndarray:
    """The new local ``x.array`` (owned + ghosts) of ``u``, taken from the file (no MPI calls)."""
    where = f"checkpoint {path}: function '{name}'"
    saved = header["functions"].get(name)
    if saved is None:
        have = ", ".join(f"'{n}'" for n in header["functions"]) or "none"
        raise UserError(f"checkpoint {path}: no function '{name}' (it holds {have})")
    _check_same_space(where, saved, _describe(u))

    V = u.function_space
    bs = V.dofmap.index_map_bs
    try:
        values = arrays[f"{saved['key']}.values"]
        coords = None if saved["real"] else arrays[f"{saved['key']}.coords"]
    except KeyError as exc:
        raise UserError(f"{where}: missing array {exc} (corrupt checkpoint)") from None
    n_saved = saved["dofs"] // bs
    if values.shape != (n_saved, bs) or values.dtype != u.x.array.dtype or (
        coords is not None and coords.shape != (n_saved, saved["gdim"])
    ):
        raise UserError(f"{where}: arrays do not fit the recorded space (corrupt checkpoint)")

    n_local = len(u.x.array) // bs
    if saved["real"]:  # every local entry is the one global DOF
        return np.tile(values[0], n_local)

    local = V.tabulate_dof_coordinates()[:n_local, : saved["gdim"]]
    lo, tol = tolerance
    index = _match(where, coords, local, lo, tol)
    missing = np.flatnonzero(index < 0)
    if missing.size:
        raise UserError(
            f"{where}: the mesh differs from the checkpoint's: {missing.size} of this rank's "
            f"{n_local} DOF points are not in the file (first at {local[missing[0]].tolist()})"
        )
    return values[index].reshape(-1)


_SPACE_FIELDS = [  # (key, words), compared in this order
    ("real", "a real space"),
    ("family", "element family"),
    ("degree", "degree"),
    ("discontinuous", "discontinuous"),
    ("variant", "Lagrange variant"),
    ("value_shape", "value shape"),
    ("block_size", "block size"),
    ("gdim", "geometric dimension"),
    ("dtype", "scalar type"),
    ("dofs", "global DOF count"),
]


def _check_same_space(where: str, saved: dict, now: dict) -> None:
    for key, words in _SPACE_FIELDS:
        if saved.get(key) != now[key]:
            raise UserError(
                f"{where} was saved with {words} {saved.get(key)} but the restarted run has {words} {now[key]}"
            )


def _tolerance(mesh) -> tuple[np.ndarray, float]:
    """Lower corner of the global bounding box and the matching tolerance (relative to its diagonal)."""
    gdim = mesh.geometry.dim
    x = mesh.geometry.x[:, :gdim]
    lo_local = np.full(gdim, np.inf) if len(x) == 0 else x.min(axis=0)
    hi_local = np.full(gdim, -np.inf) if len(x) == 0 else x.max(axis=0)
    lo, hi = np.empty(gdim), np.empty(gdim)
    mesh.comm.Allreduce(np.ascontiguousarray(lo_local, dtype=np.float64), lo, op=MPI.MIN)
    mesh.comm.Allreduce(np.ascontiguousarray(hi_local, dtype=np.float64), hi, op=MPI.MAX)
    diag = float(np.linalg.norm(hi - lo))
    return lo, RELATIVE_TOLERANCE * diag if diag > 0 else 1e-300


def _match(where: str, saved: np.ndarray, local: np.ndarray, lo: np.ndarray, tol: float) -> np.ndarray:
    """For each row of ``local`` the row of ``saved`` within ``tol`` (max norm), or -1."""
    index = np.full(len(local), -1, dtype=np.int64)
    if len(local) == 0:
        return index
    # Only saved points near this rank's part of the mesh take part.
    near = np.all((saved >= local.min(axis=0) - 2 * tol) & (saved <= local.max(axis=0) + 2 * tol), axis=1)
    candidates = np.flatnonzero(near)
    if candidates.size == 0:
        return index
    keys = _keys(_quantise(saved[candidates], lo, tol))
    order = np.argsort(keys, kind="stable")
    sorted_keys = keys[order]
    if len(sorted_keys) > 1 and np.any(sorted_keys[1:] == sorted_keys[:-1]):
        raise UserError(f"{where}: the checkpoint has DOF points closer than the tolerance {tol:g}")

    q_local = _quantise(local, lo, tol)
    for offset in _offsets(local.shape[1]):
        todo = np.flatnonzero(index < 0)
        if todo.size == 0:
            break
        want = _keys(q_local[todo] + offset)
        pos = np.minimum(np.searchsorted(sorted_keys, want), len(sorted_keys) - 1)
        hit = sorted_keys[pos] == want
        found = candidates[order[pos[hit]]]
        close = np.all(np.abs(saved[found] - local[todo[hit]]) <= tol, axis=1)
        index[todo[hit][close]] = found[close]
    return index


def _quantise(x: np.ndarray, lo: np.ndarray, tol: float) -> np.ndarray:
    q = np.nan_to_num((x - lo) / tol, nan=_LIMIT, posinf=_LIMIT, neginf=-_LIMIT)
    return np.rint(np.clip(q, -_LIMIT, _LIMIT)).astype(np.int64)


def _keys(q: np.ndarray) -> np.ndarray:
    """One opaque, exactly comparable key per row of an int64 array."""
    q = np.ascontiguousarray(q, dtype=np.int64)
    return q.view(np.dtype((np.void, q.dtype.itemsize * q.shape[1]))).ravel()


def _offsets(gdim: int) -> list[np.ndarray]:
    """The grid offsets to try, the zero offset first."""
    steps = sorted(itertools.product((0, -1, 1), repeat=gdim), key=lambda s: sum(map(abs, s)))
    return [np.array(s, dtype=np.int64) for s in steps]


# --------------------------------------------------------------------------- shared


def _describe(u) -> dict[str, Any]:
    """What must agree between the saving and the restarted run's space."""
    V = u.function_space
    e = V.ufl_element()
    variant = getattr(e, "lagrange_variant", None)
    bs = V.dofmap.index_map_bs
    return {
        "real": bool(getattr(e, "is_real", False)),
        "family": str(e.family_name),
        "degree": int(e.degree),
        "discontinuous": bool(getattr(e, "discontinuous", False)),
        "variant": None if variant is None else str(getattr(variant, "name", variant)),
        "value_shape": [int(s) for s in getattr(e, "reference_value_shape", ())],
        "block_size": int(bs),
        "gdim": int(V.mesh.geometry.dim),
        "dtype": str(u.x.array.dtype),
        "dofs": int(V.dofmap.index_map.size_global * bs),
    }


def _common_comm(functions: dict):
    if not functions:
        return MPI.COMM_WORLD
    return next(iter(functions.values())).function_space.mesh.comm


def _agree(comm, work: Callable[[], Any]) -> Any:
    """Run ``work`` on every rank; if it raised UserError on any rank, raise on all of them."""
    result, error = None, None
    try:
        result = work()
    except UserError as exc:
        error = str(exc)
    errors = [e for e in comm.allgather(error) if e is not None]
    if errors:
        raise UserError(error if error is not None else errors[0])
    return result


# --------------------------------------------------------------------------- folders


def latest(folder: Path, pattern: str = "checkpoint_*.npz") -> Path | None:
    """The checkpoint in ``folder`` matching ``pattern`` with the largest integer in its name, or None."""
    best, best_key = None, None
    for p in Path(folder).glob(pattern):
        numbers = re.findall(r"\d+", p.name[: -len(p.suffix)] if p.suffix else p.name)
        if not numbers or not p.is_file():
            continue
        key = (int(numbers[-1]), p.name)
        if best_key is None or key > best_key:
            best, best_key = p, key
    return best
