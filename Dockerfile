# lianode on the official DOLFINx 0.11 image (DOLFINx, PETSc, MPI and Gmsh's system libs from
# the image; the pure-Python dependencies from PyPI). Build and run:
#   docker build -t lianode .
#   docker run --rm -v "$PWD/results:/work/results" lianode
#   docker run --rm lianode mpirun -n 4 python3 run.py run scenarios/bud_3d_cone.yaml
FROM dolfinx/dolfinx:v0.11.0

WORKDIR /work
COPY pyproject.toml README.md run.py ./
COPY solver ./solver
COPY meshes ./meshes
COPY scenarios ./scenarios
COPY tests ./tests
COPY docs ./docs

# gmsh from PyPI needs a few X/GL client libraries even when used headless.
RUN apt-get update && apt-get install -y --no-install-recommends \
        libglu1-mesa libxcursor1 libxft2 libxinerama1 libosmesa6 \
    && rm -rf /var/lib/apt/lists/* \
    && python3 -m pip install --no-cache-dir ".[test]"

ENV PYVISTA_OFF_SCREEN=true
CMD ["python3", "run.py", "run", "scenarios/default.yaml"]
