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

.PHONY: demo test lint install bench clean

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

lint: $(STAMP)
	$(VENV)/bin/ruff check src tests benchmarks

test: lint
	@for backend in $(BACKENDS); do \
	  echo "=== tests with KERAS_BACKEND=$$backend ==="; \
	  KERAS_BACKEND=$$backend JAX_ENABLE_X64=1 TF_CPP_MIN_LOG_LEVEL=3 \
	    STRUCTCONV_AUTOTUNE=off STRUCTCONV_CACHE_DIR=$$(mktemp -d) \
	    $(PY) -m pytest -p no:cacheprovider src tests || exit 1; \
	done

bench: $(STAMP)
	@$(PY) -m pip install -q -e ".[bench]" 2>&1 | $(QUIET_PIP)
	$(PY) benchmarks/ndconv.py

clean:
	rm -rf $(VENV) structconv-demo
