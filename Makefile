# One-command set-up: `make demo` and `make test` build .venv from nothing, then run.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
export OMP_NUM_THREADS ?= 2

.PHONY: demo test lint bench venv clean

venv: $(STAMP)

# torch is pinned first: a loose requirement on a machine without torch pulls a multi-GB CUDA build.
$(STAMP): pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet torch==2.13.0
	$(PY) -m pip install --quiet -e ".[dev,dask]"
	touch $(STAMP)

demo: $(STAMP)
	$(VENV)/bin/devito-crfwi demo

test: $(STAMP)
	$(VENV)/bin/ruff check .
	$(PY) -m pytest -q -ra

bench: $(STAMP)
	$(PY) -m pip install --quiet deepwave
	$(PY) bench/bench_engine.py

clean:
	rm -rf $(VENV) .pytest_cache
