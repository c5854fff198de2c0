# Two commands set everything up on a fresh machine: `make demo` and `make test`.
# make demo installs what the demo needs: plugrad, the backends, the `data` extra (scikit-learn's
# digits). make test adds the test oracles and tools (the `test` and `bench` extras and torch,
# which only the tests and benchmarks import), then runs the suite. Each install has its stamp.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
DEMO_STAMP := $(VENV)/.installed-demo
TEST_STAMP := $(VENV)/.installed-test
DISTS := backends/numpy_ref backends/c_cpu
EDITABLES := $(foreach d,$(wildcard $(DISTS)),-e $(d))
# The CUDA backend's extra for the test install: cu13 (CUDA 13 NVRTC), or cu12 for drivers
# older than 13.0 (`make test CUDA_EXTRA=cu12`). NVRTC needs no GPU: make test compiles every
# kernel with it and runs the kernels on the CPU emulator. The demo does not need it.
CUDA_EXTRA ?= cu13
TORCH := torch==2.13.0
# setuptools prints an "Editable installation" notice for every editable install that uses its
# import finder (all three here); it is information, not a problem with the project.
PIP_INSTALL := PYTHONWARNINGS="ignore:Editable installation" $(PY) -m pip install --quiet

.PHONY: demo test lint install bench dashboard compare test-asan clean gpu-check

$(DEMO_STAMP): pyproject.toml $(wildcard backends/*/pyproject.toml) $(wildcard backends/*/setup.py) $(wildcard backends/c_cpu/csrc/*)
	test -d $(VENV) || $(PYTHON) -m venv $(VENV)
	$(PIP_INSTALL) --upgrade pip
	$(PIP_INSTALL) -e ".[data]" $(EDITABLES)
	touch $(DEMO_STAMP)

$(TEST_STAMP): $(DEMO_STAMP) $(wildcard backends/cuda/pyproject.toml)
	$(PIP_INSTALL) -e ".[test,data,bench,distributed]" -e "backends/cuda[$(CUDA_EXTRA)]"
	$(PIP_INSTALL) $(TORCH) || echo "torch unavailable: torch-oracle tests will skip"
	touch $(TEST_STAMP)

install: $(TEST_STAMP)

demo: $(DEMO_STAMP)
	$(PY) -m plugrad demo

# The suite runs on TEST_WORKERS processes (pytest-xdist): both cores of a 2-core CI machine.
# More workers fit bigger machines (`make test TEST_WORKERS=8`); 0 runs it in one process.
TEST_WORKERS ?= 2
test: $(TEST_STAMP)
	PLUGRAD_CUDA_REQUIRE_NVRTC=1 $(PY) -m pytest -q -p no:cacheprovider -n $(TEST_WORKERS) tests

# On a machine with an NVIDIA GPU: the conformance kit and the nn-against-torch tests on the
# real device, then matmul, conv2d, softmax and add against torch on CUDA as throughput ratios
# (benchmarks/tools/gpu_check.py; needs a CUDA build of torch).
gpu-check: $(TEST_STAMP)
	PLUGRAD_CUDA=gpu $(PY) -m pytest -q -p no:cacheprovider --pyargs plugrad.testing --backend cuda
	PLUGRAD_CUDA=gpu $(PY) -m pytest -q -p no:cacheprovider tests/backends/cuda
	PLUGRAD_CUDA=gpu $(PY) -m pytest -q -p no:cacheprovider tests/nn/test_nn_torch.py -k cuda
	PLUGRAD_CUDA=gpu $(PY) benchmarks/tools/gpu_check.py

lint: $(TEST_STAMP)
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

bench: $(TEST_STAMP)
	$(PY) benchmarks/tools/bench.py $(BENCH_ARGS)

dashboard: $(TEST_STAMP)
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

compare: $(TEST_STAMP)
	$(PY) benchmarks/tools/compare.py $(COMPARE_ARGS)

clean:
	rm -rf $(VENV) build .asv *.egg-info backends/*/*.egg-info

# The C backend built with AddressSanitizer into build/asan (the editable install is left
# alone) and its tests run against that build.
ASAN_DIR := build/asan
test-asan: $(TEST_STAMP)
	rm -rf $(ASAN_DIR)
	PLUGRAD_C_CPU_SANITIZE=address $(PY) backends/c_cpu/build_ffi.py $(ASAN_DIR)
	cp backends/c_cpu/plugrad_c_cpu/*.py $(ASAN_DIR)/plugrad_c_cpu/
	PYTHONPATH=$(ASAN_DIR) LD_PRELOAD=$$(gcc -print-file-name=libasan.so) \
	ASAN_OPTIONS=detect_leaks=0:allocator_may_return_null=1 PLUGRAD_C_CPU_EXPECT_ASAN=1 \
	$(PY) -m pytest -q -p no:cacheprovider tests -k c_cpu
