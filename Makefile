# Two commands set everything up on a fresh machine: `make demo` and `make test`.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
DISTS := backends/numpy_ref backends/c_cpu
TORCH := torch==2.13.0

.PHONY: demo test lint install bench dashboard compare test-asan clean

$(STAMP): pyproject.toml $(wildcard backends/*/pyproject.toml) $(wildcard backends/*/setup.py) $(wildcard backends/c_cpu/csrc/*)
	test -d $(VENV) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e ".[test,data,bench]" $(foreach d,$(wildcard $(DISTS)),-e $(d))
	$(PY) -m pip install --quiet $(TORCH) || echo "torch unavailable: torch-oracle tests will skip"
	touch $(STAMP)

install: $(STAMP)

demo: $(STAMP)
	$(PY) -m plugrad demo

test: $(STAMP)
	$(PY) -m pytest -q -p no:cacheprovider tests

lint: $(STAMP)
	$(PY) -m ruff check core nn backends tests benchmarks
	$(PY) -m ruff format --check core nn backends tests benchmarks

clean:
	rm -rf $(VENV) build .asv *.egg-info
