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
	$(PY) -m pip install --quiet "mpi4py>=4" mpich
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

# Benchmarks (benchmarks/README.md). bench: a quick asv run of the working tree, as a table.
# dashboard: asv results for HEAD (built and installed from a clean checkout), published as
# HTML that works offline (its CDN scripts installed from npm), checked in headless Chromium.
# compare: plugrad on each backend against NumPy and torch, benchmarks/results/compare.md.
ASV := $(VENV)/bin/asv
ASV_HTML := .asv/html
BENCH_ARGS ?=
DASHBOARD_ARGS ?=
COMPARE_ARGS ?=

bench: $(STAMP)
	$(PY) benchmarks/tools/bench.py $(BENCH_ARGS)

dashboard: $(STAMP)
	mkdir -p .asv
	$(ASV) machine --yes
	git rev-parse HEAD > .asv/dashboard-commits
	$(ASV) run HASHFILE:.asv/dashboard-commits --skip-existing-successful $(DASHBOARD_ARGS) \
		|| echo "make dashboard: asv run reported failures (above); publishing what it recorded"
	$(ASV) publish
	$(PY) benchmarks/tools/offline_dashboard.py $(ASV_HTML)
	command -v chromium >/dev/null || command -v chromium-browser >/dev/null \
		|| (apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y chromium)
	$(PY) benchmarks/tools/check_dashboard.py $(ASV_HTML) --screenshot .asv/dashboard.png
	@echo "dashboard: $(ASV_HTML)/index.html (serve it: $(ASV) preview)"

compare: $(STAMP)
	$(PY) benchmarks/tools/compare.py $(COMPARE_ARGS)

clean:
	rm -rf $(VENV) build .asv *.egg-info

# The C backend built with AddressSanitizer into build/asan (the editable install is left
# alone) and its tests run against that build.
ASAN_DIR := build/asan
test-asan: $(STAMP)
	rm -rf $(ASAN_DIR)
	PLUGRAD_C_CPU_SANITIZE=address $(PY) backends/c_cpu/build_ffi.py $(ASAN_DIR)
	cp backends/c_cpu/plugrad_c_cpu/*.py $(ASAN_DIR)/plugrad_c_cpu/
	PYTHONPATH=$(ASAN_DIR) LD_PRELOAD=$$(gcc -print-file-name=libasan.so) \
	ASAN_OPTIONS=detect_leaks=0:allocator_may_return_null=1 PLUGRAD_C_CPU_EXPECT_ASAN=1 \
	$(PY) -m pytest -q -p no:cacheprovider tests -k c_cpu
