"""Time the parallel read of a cached (or mesh.save'd) XDMF mesh, step by step.

    python bench/mesh_read.py CACHE_ENTRY/mesh.xdmf          # or under mpirun -n N
    python bench/mesh_read.py CACHE_ENTRY/mesh.xdmf --timings  # and DOLFINx's own timers (create_mesh's steps)
    python bench/mesh_read.py CACHE_ENTRY/mesh.xdmf --p2-space # and a P2 space, solver._dolfinx.lagrange_space
                                                               # against dolfinx.fem.functionspace (change 23)

Prints, max over ranks: the mesh read (``meshes.store.read_mesh``: the arrays, then create_mesh:
partition, topology, reordering), the facet-to-cell connectivity, the tags from the arrays next to the file (what
``meshes.store.read_xdmf`` reads) and, for comparison, the same tags read as XDMF MeshTags
(dolfinx's read_meshtags, what older cache entries fell back to) and dolfinx's own
``XDMFFile.read_mesh``, which ``read_mesh`` replaces. In parallel the read keeps its partition
next to the file (``<stem>.partition-N/``, see ``meshes.store.KeptPartition``) and is timed once
more with it; remove that folder to time the first read without it.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))


def main() -> None:
    from solver._dolfinx import MPI, dolfinx
    from dolfinx.io import XDMFFile

    from meshes.store import KeptPartition, read_mesh, read_tag_arrays, tag_files
    from solver._dolfinx import create_facets

    comm = MPI.COMM_WORLD
    path = Path(sys.argv[1])
    had_partition = KeptPartition(path, comm).usable
    t = [time.perf_counter()]
    with XDMFFile(comm, str(path), "r") as f:
        mesh = read_mesh(f, comm, path)
        t.append(time.perf_counter())
        tdim = mesh.topology.dim
        create_facets(mesh)  # as meshes.store.read_xdmf does
        mesh.topology.create_connectivity(tdim, tdim - 1)
        t.append(time.perf_counter())
        if all(p.is_file() for p in tag_files(Path(sys.argv[1]))):
            read_tag_arrays(Path(sys.argv[1]), mesh)
        t.append(time.perf_counter())
        f.read_meshtags(mesh, name="cell_tags")
        t.append(time.perf_counter())
        f.read_meshtags(mesh, name="facet_tags")
        t.append(time.perf_counter())
        del mesh
        again = None
        if comm.size > 1:
            start = time.perf_counter()
            second = read_mesh(f, comm, path)
            again = comm.allreduce(time.perf_counter() - start, op=MPI.MAX)
            del second
        start = time.perf_counter()
        theirs = f.read_mesh(ghost_mode=dolfinx.mesh.GhostMode.shared_facet, name="mesh")
        dolfinx_read = comm.allreduce(time.perf_counter() - start, op=MPI.MAX)
    steps = [comm.allreduce(b - a, op=MPI.MAX) for a, b in zip(t, t[1:])]
    if comm.rank == 0:
        cells = theirs.topology.index_map(tdim).size_global
        if comm.size > 1:
            print(f"read_mesh {'with the partition kept before' if had_partition else 'partitioning'}: "
                  f"{steps[0]:.2f} s; again, with the partition kept: {again:.2f} s")
        print(f"{cells} cells on {comm.size} rank(s): read_mesh {steps[0]:.2f} s, facet connectivity "
              f"{steps[1]:.2f} s, tag arrays {steps[2]:.2f} s (total {sum(steps[:3]):.2f} s); "
              f"for comparison, XDMF cell tags {steps[3]:.2f} s, facet tags {steps[4]:.2f} s, "
              f"dolfinx's XDMFFile.read_mesh {dolfinx_read:.2f} s")
    if "--p2-space" in sys.argv[2:]:  # each on a mesh of its own, read as above (the edges are the point)
        from solver._dolfinx import lagrange_space

        for label, make in (("dolfinx.fem.functionspace", lambda m: dolfinx.fem.functionspace(m, ("Lagrange", 2))),
                            ("lagrange_space", lambda m: lagrange_space(m, 2))):
            with XDMFFile(comm, str(path), "r") as f:
                mesh = read_mesh(f, comm, path)
            start = time.perf_counter()
            V = make(mesh)
            took = comm.allreduce(time.perf_counter() - start, op=MPI.MAX)
            if comm.rank == 0:
                print(f"P2 space ({V.dofmap.index_map.size_global} DOFs), edges included, by {label}: {took:.2f} s")
            del V, mesh
    if "--timings" in sys.argv[2:]:
        dolfinx.common.list_timings(comm)


if __name__ == "__main__":
    main()
