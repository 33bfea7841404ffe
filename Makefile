# One-command set-up: `make demo` and `make test` build .venv from nothing, then run.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
export OMP_NUM_THREADS ?= 2

.PHONY: demo test lint bench venv clean mpi

venv: $(STAMP)

# torch is pinned first: a loose requirement on a machine without torch pulls a multi-GB CUDA build.
$(STAMP): pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade "pip<=26.2"  # devito 4.8 requires pip<=26.2
	$(PY) -m pip install --quiet torch==2.13.0
	$(PY) -m pip install --quiet -e ".[dev,dask]"
	touch $(STAMP)

demo: $(STAMP)
	$(VENV)/bin/devito-crfwi demo

# The tests' kernels are small and run on one thread each: two threads meet at barriers every
# time step, and a core taken away (another process, a busy host) stalls them for a whole time
# slice each (bench/RESULTS.md, 'two runs side by side'); results do not depend on the thread
# count (tests/physics/test_thread_bands.py runs 1 and several in their own processes).
test: $(STAMP) mpi
	$(VENV)/bin/ruff check .
	OMP_NUM_THREADS=1 $(PY) -m pytest -ra

# Devito MPI for tests/physics/test_mpi.py: Open MPI (apt, needs root) and mpi4py. Best effort (~1 min):
# when it fails, the MPI test is skipped with the reason.
mpi: $(STAMP)
	-@(command -v mpirun && command -v mpicc) >/dev/null || \
		(apt-get update -qq && DEBIAN_FRONTEND=noninteractive \
		 apt-get install -y -qq openmpi-bin libopenmpi-dev >/dev/null)
	-$(PY) -m pip install --quiet "mpi4py>=3.1"  # the `mpi` extra

bench: $(STAMP)
	$(PY) -m pip install --quiet deepwave
	$(PY) bench/bench_engine.py

clean:
	rm -rf $(VENV) .pytest_cache
