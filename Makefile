# The two commands a new user needs (each sets up .venv from requirements.lock first):
#   make demo   - run the default scenario (Li bud, bare vs 8 um porous BTO layer)
#   make test   - run the test suite, serial and then the MPI tests under mpirun -n 2
VENV ?= .venv
PY = $(VENV)/bin/python

.PHONY: demo test setup
setup:
	@LIANODE_VENV=$(VENV) tools/setup.sh >/dev/null

demo: setup
	$(PY) run.py run scenarios/default.yaml

test: setup
	$(PY) -m pytest -q tests
	$(VENV)/bin/mpirun -n 2 $(PY) -m pytest -q -p no:cacheprovider -m mpi tests
