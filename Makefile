# The two commands of the README: `make demo` and `make test`. Each creates .venv when absent.
SHELL := /bin/bash
.SHELLFLAGS := -eo pipefail -c
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-stamp
BACKENDS := tensorflow jax torch
# pip prints one warning per package for the local index folders it does not hold; hide those lines only.
QUIET_PIP := grep -v "is ignored: it is neither a file nor a directory" || true

.PHONY: demo test lint install calibrate bench clean

$(STAMP): pyproject.toml Makefile
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	@echo "Installing structconv and its dependencies into $(VENV) (first run only)..."
	# torch first and pinned: the CPU build served locally; an open range would fetch a CUDA build.
	@$(PY) -m pip install -q torch==2.13.0 2>&1 | $(QUIET_PIP)
	@$(PY) -m pip install -q -e ".[dev]" 2>&1 | $(QUIET_PIP)
	@$(PY) -c "import keras, torch, jax, tensorflow, structconv" 2>/dev/null
	@touch $(STAMP)

install: $(STAMP)

demo: $(STAMP)
	$(VENV)/bin/structconv demo $(DEMO_ARGS)

# Fits "auto"'s cost model to this machine, one profile per backend (README, "Large kernels: FFT
# convolution, chosen automatically"); `make calibrate CALIBRATE_ARGS="--threads 1"` for a 1-thread one.
calibrate: $(STAMP)
	$(VENV)/bin/structconv calibrate --all-backends $(CALIBRATE_ARGS)

lint: $(STAMP)
	$(VENV)/bin/ruff check src tests benchmarks

# TensorFlow's CPU kernels differ with oneDNN (its default on CPUs with AVX-512, off on others): the full
# TensorFlow pass runs without it (no channels_first convolution, no grouped-convolution gradient), then
# again with it. (A subset of convolution tests had run with it, to keep `make test` under 20 minutes on a
# 2-core VM when it took 19-20; it now takes 8-10. The subset missed a wrong result: oneDNN's float16
# einsum, which `ComplexDense` under mixed_float16 met, session 38. The whole pass with oneDNN takes about
# 150 s of a 2-core VM.)

# Test processes in parallel (pytest-xdist): one per core, at most 4 (each holds a framework in memory).
JOBS ?= $(shell $(PYTHON) -c "import os; print(max(1, min(4, len(os.sched_getaffinity(0)))))")
PYTEST = $(PY) -m pytest -p no:cacheprovider -n $(JOBS) --dist worksteal

# JAX compiles each eager primitive for each new shape, and the tests' tiny shapes make XLA's compiler
# most of the JAX pass's time: JAX_DISABLE_MOST_OPTIMIZATIONS (JAX's own flag) cut it from 13:00 to 8:16 on
# a 2-core VM, same results; XLA's older CPU code emitters (`--xla_cpu_use_fusion_emitters=false`) compile
# a primitive in about 70% of the time of its fusion emitters (tests/pooling, tests/fft and tests/layers:
# 101-111 s against 154 s, 2-core AMD EPYC VM). Users' programs compile with XLA's defaults.
JAX_TEST_XLA_FLAGS := --xla_cpu_use_fusion_emitters=false
# Collecting `src` for its doctests imports every module: the other backends' modules (no doctests there)
# would import their frameworks into each test process, 5-10 s of each pass's start on a 2-core VM.
test: lint
	@for backend in $(BACKENDS); do \
	  echo "=== tests with KERAS_BACKEND=$$backend ($(JOBS) processes) ==="; \
	  xla_flags="$$XLA_FLAGS"; if [ $$backend = jax ]; then xla_flags="$(JAX_TEST_XLA_FLAGS) $$XLA_FLAGS"; fi; \
	  others=""; for other in $(BACKENDS); do \
	    if [ $$other != $$backend ]; then others="$$others --ignore-glob=src/structconv/_backend/$$other*.py"; fi; \
	  done; \
	  XLA_FLAGS="$$xla_flags" KERAS_BACKEND=$$backend JAX_ENABLE_X64=1 JAX_DISABLE_MOST_OPTIMIZATIONS=1 \
	    TF_CPP_MIN_LOG_LEVEL=3 TF_ENABLE_ONEDNN_OPTS=0 \
	    STRUCTCONV_AUTOTUNE=off STRUCTCONV_CACHE_DIR=$$(mktemp -d) \
	    $(PYTEST) src tests $$others || exit 1; \
	done
	@echo "=== tests with KERAS_BACKEND=tensorflow and oneDNN on ($(JOBS) processes) ==="
	KERAS_BACKEND=tensorflow TF_CPP_MIN_LOG_LEVEL=3 TF_ENABLE_ONEDNN_OPTS=1 \
	  STRUCTCONV_AUTOTUNE=off STRUCTCONV_CACHE_DIR=$$(mktemp -d) \
	  $(PYTEST) src tests $(foreach other,jax torch,--ignore-glob=src/structconv/_backend/$(other)*.py)

bench: $(STAMP)
	@$(PY) -m pip install -q -e ".[bench]" 2>&1 | $(QUIET_PIP)
	$(PY) benchmarks/ndconv.py

clean:
	rm -rf $(VENV) structconv-demo
