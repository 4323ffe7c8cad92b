"""Checkpoints restore Functions bit for bit, also on another number of MPI ranks.

Values are set from an analytic expression plus fixed-seed random noise, both
keyed by the DOF's grid position, so the value expected at every DOF after a
restart is known exactly whatever the partition. Run as a script,
``python tests/test_checkpoint.py save|load DIR`` is the half of a cross-rank
test run under ``mpirun`` (see ``test_restart_on_other_rank_count``).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import basix.ufl
import numpy as np
import pytest

from solver import checkpoint
from solver._dolfinx import MPI, dolfinx
from solver.errors import UserError
from tests.helpers import box, interval, rectangle

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
N, SIZE = 6, (2.0, 1.0)
META = {"step": 7, "time": 0.125, "name": "bud", "history": [1.5, 2.5], "nested": {"ok": True, "none": None}}


def expected(x: np.ndarray, bs: int, seed: int) -> np.ndarray:
    """Values (n, bs) at DOF points ``x`` of the N x N rectangle (P1 or P2 nodes)."""
    h = np.array(SIZE) / (2 * N)
    ij = np.rint(x[:, :2] / h).astype(int)  # position on the P2 node grid: exact, partition-free
    noise = np.random.default_rng(seed).standard_normal((bs, 2 * N + 1, 2 * N + 1))
    xs = ij * h
    cols = [np.sin(3 * xs[:, 0] + c) * np.exp(xs[:, 1]) + 1e-3 * noise[c, ij[:, 0], ij[:, 1]] for c in range(bs)]
    return np.stack(cols, axis=1)


REAL_VALUE = np.pi + 1e-9 * np.random.default_rng(5).standard_normal()


def make_functions(mesh, fill: bool) -> dict[str, dolfinx.fem.Function]:
    """P1 and P2 scalars, a P1 vector (bs=2) and a real-space constant; filled or zero."""
    spaces = {
        "p1": ("Lagrange", 1),
        "p2": ("Lagrange", 2),
        "vec": ("Lagrange", 1, (2,)),
        "lam": basix.ufl.real_element(mesh.basix_cell(), ()),
    }
    out = {}
    for seed, (name, element) in enumerate(spaces.items()):
        u = dolfinx.fem.Function(dolfinx.fem.functionspace(mesh, element), name=name)
        if fill:
            u.x.array[:] = expectation(u, seed)
        out[name] = u
    return out


def expectation(u, seed: int) -> np.ndarray:
    """The exact local x.array (owned + ghosts) the function ``u`` should hold."""
    V = u.function_space
    bs = V.dofmap.index_map_bs
    if V.ufl_element().is_real:
        return np.full(len(u.x.array), REAL_VALUE)
    n = len(u.x.array) // bs
    return expected(V.tabulate_dof_coordinates()[:n], bs, seed).reshape(-1)


def assert_restored(functions) -> None:
    for seed, (name, u) in enumerate(functions.items()):
        want = expectation(u, seed)
        # Bit for bit: compare the raw bytes, not within a tolerance.
        assert np.array_equal(u.x.array.view(np.int64), want.view(np.int64)), f"'{name}' not restored exactly"


def shared_tmp(tmp_path: Path) -> Path:
    """Rank 0's tmp_path on every rank (pytest gives each rank its own)."""
    return Path(MPI.COMM_WORLD.bcast(str(tmp_path), root=0))


def mesh(n=N, size=SIZE):
    return rectangle(n, size).mesh


@pytest.mark.mpi
def test_round_trip_is_exact(tmp_path):
    folder = shared_tmp(tmp_path)
    m = mesh()
    functions = make_functions(m, fill=True)
    path = folder / "checkpoint_3.npz"
    checkpoint.save(path, functions, META)
    assert path.is_file()
    assert sorted(p.name for p in folder.iterdir()) == ["checkpoint_3.npz"]  # no temporary left

    for u in functions.values():
        u.x.array[:] = 0.0
    meta = checkpoint.load(path, functions)
    assert meta == META
    assert_restored(functions)

    with np.load(path, allow_pickle=False) as data:  # the documented layout
        header = json.loads(str(data["header"][()]))
        assert json.loads(str(data["meta"][()])) == META
        info = header["functions"]["vec"]
        assert (info["family"], info["degree"], info["block_size"], info["dofs"]) == ("P", 1, 2, 2 * (N + 1) ** 2)
        assert data[f"{info['key']}.values"].shape == ((N + 1) ** 2, 2)
        coords = data[f"{header['functions']['p2']['key']}.coords"]
        assert coords.shape == ((2 * N + 1) ** 2, 2)
        assert np.all(np.lexsort(coords.T[::-1]) == np.arange(len(coords)))  # sorted


@pytest.mark.mpi
def test_mismatches_are_user_errors(tmp_path):
    folder = shared_tmp(tmp_path)
    path = folder / "checkpoint_1.npz"
    checkpoint.save(path, make_functions(mesh(), fill=True), {"step": 1})

    with pytest.raises(UserError, match=r"function 'p1' was saved with global DOF count 49 but the restarted"):
        checkpoint.load(path, make_functions(mesh(n=N + 1), fill=False))

    other = mesh()
    u = dolfinx.fem.Function(dolfinx.fem.functionspace(other, ("Lagrange", 2)))
    with pytest.raises(UserError, match=r"'p1' was saved with degree 1 but the restarted run has degree 2"):
        checkpoint.load(path, {"p1": u})

    stretched = make_functions(mesh(size=(2.5, 1.0)), fill=False)  # same DOF counts, other points
    with pytest.raises(UserError, match="mesh differs from the checkpoint"):
        checkpoint.load(path, stretched)
    assert all(np.all(u.x.array == 0) for u in stretched.values())  # untouched on error

    moved = mesh()
    if MPI.COMM_WORLD.rank == 0:  # a local difference: only rank 0 finds no match, all ranks raise
        moved.geometry.x[0, :2] += 0.01
    with pytest.raises(UserError, match="mesh differs from the checkpoint"):
        checkpoint.load(path, make_functions(moved, fill=False))

    with pytest.raises(UserError, match="no function 'q'"):
        checkpoint.load(path, {"q": make_functions(mesh(), fill=False)["p1"]})

    dg = dolfinx.fem.Function(dolfinx.fem.functionspace(other, ("DG", 1)))
    with pytest.raises(UserError, match="coinciding points"):
        checkpoint.save(folder / "dg.npz", {"dg": dg}, {})
    assert not (folder / "dg.npz").exists()

    missing = folder / "checkpoint_9.npz"
    with pytest.raises(UserError, match=f"{missing}: no such file"):
        checkpoint.load(missing, make_functions(mesh(), fill=False))

    corrupt = folder / "checkpoint_2.npz"
    if MPI.COMM_WORLD.rank == 0:
        corrupt.write_bytes(path.read_bytes()[:200])
    MPI.COMM_WORLD.barrier()
    with pytest.raises(UserError, match="unreadable or not a checkpoint"):
        checkpoint.load(corrupt, make_functions(mesh(), fill=False))


@pytest.mark.mpi
@pytest.mark.parametrize("dim", [1, 3])
def test_round_trip_in_1d_and_3d(tmp_path, dim):
    path = shared_tmp(tmp_path) / "checkpoint_0.npz"
    m = interval(8).mesh if dim == 1 else box(2).mesh
    h = 1 / 16 if dim == 1 else 1 / 4  # spacing of the P2 nodes

    def want(u):
        x = u.function_space.tabulate_dof_coordinates()[: len(u.x.array), :dim]
        return np.sin(np.rint(x / h) @ np.array([1.0, 7.0, 13.0])[:dim])

    u = dolfinx.fem.Function(dolfinx.fem.functionspace(m, ("Lagrange", 2)))
    u.x.array[:] = want(u)
    checkpoint.save(path, {"u": u}, {})
    u.x.array[:] = 0.0
    assert checkpoint.load(path, {"u": u}) == {}
    assert np.array_equal(u.x.array, want(u))


def test_matching_survives_points_on_bin_edges():
    tol = 1e-3
    saved = np.stack([(3 * np.arange(50) + 0.5) * tol, np.full(50, 0.25)], axis=1)  # on the rounding edges
    local = saved[::-1].copy()
    local[::2, 0] = np.nextafter(local[::2, 0], -1.0)  # the same points, one ulp off
    local[1::2, 0] = np.nextafter(local[1::2, 0], 1.0)
    plain = np.rint(saved[:, 0] / tol) != np.rint(local[::-1, 0] / tol)
    assert plain.any()  # a plain rounded-key match would miss some
    index = checkpoint._match("test", saved, local, np.zeros(2), tol)
    assert np.array_equal(index, np.arange(50)[::-1])
    far = local + [0.0, 3 * tol]
    assert np.all(checkpoint._match("test", saved, far, np.zeros(2), tol) == -1)


def test_latest_picks_the_largest_number(tmp_path):
    assert checkpoint.latest(tmp_path) is None
    assert checkpoint.latest(tmp_path / "absent") is None
    for name in ["checkpoint_9.npz", "checkpoint_10.npz", "checkpoint_2.npz", "checkpoint_x.npz", "other_99.npz"]:
        (tmp_path / name).write_bytes(b"")
    assert checkpoint.latest(tmp_path) == tmp_path / "checkpoint_10.npz"


def run_script(mode: str, folder: Path, ranks: int) -> subprocess.CompletedProcess:
    cmd = [sys.executable, str(Path(__file__).resolve()), mode, str(folder)]
    if ranks > 1:
        cmd = [str(BIN / "mpirun"), "-n", str(ranks), *cmd]
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PMI_", "MPI", "HYDRA", "OMPI"))}
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT), *filter(None, [os.environ.get("PYTHONPATH")])])
    return subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)


@pytest.mark.parametrize("save_ranks, load_ranks", [(2, 1), (1, 2)])
def test_restart_on_other_rank_count(tmp_path, save_ranks, load_ranks):
    for mode, ranks in (("save", save_ranks), ("load", load_ranks)):
        proc = run_script(mode, tmp_path, ranks)
        assert proc.returncode == 0, f"{mode} on {ranks} rank(s) failed:\n{proc.stdout}\n{proc.stderr}"
        assert f"{mode} ok on {ranks}" in proc.stdout


def main(mode: str, folder: str) -> None:
    comm = MPI.COMM_WORLD
    if mode == "save":
        checkpoint.save(Path(folder) / "checkpoint_4.npz", make_functions(mesh(), fill=True), {"ranks": comm.size})
    else:
        functions = make_functions(mesh(), fill=False)
        meta = checkpoint.load(checkpoint.latest(Path(folder)), functions)
        assert meta["ranks"] != comm.size, "the test must change the number of ranks"
        assert_restored(functions)
    comm.barrier()
    if comm.rank == 0:
        print(f"{mode} ok on {comm.size}")


if __name__ == "__main__":
    main(*sys.argv[1:])
