# GradPlay: every target installs what it needs itself (venv, packages, Chromium, PostgreSQL).
SHELL := /bin/bash
# Tiny matrices: single-threaded BLAS is much faster (see core/__init__.py).
export OPENBLAS_NUM_THREADS ?= 1
export OMP_NUM_THREADS ?= 1
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
PIP := $(PY) -m pip
HOST ?= 127.0.0.1
PORT ?= 8000
# PyTorch is only an oracle for conformance tests and benchmarks, never an app dependency.
TORCH_SPEC ?= torch==2.13.0

.PHONY: install install-test chromium postgresql run test lint bench golden clean

$(PY):
	$(PYTHON) -m venv $(VENV)
	$(PIP) install -q --upgrade pip

$(VENV)/.installed: pyproject.toml | $(PY)
	$(PIP) install -q -e .
	touch $@

$(VENV)/.installed-test: pyproject.toml | $(PY)
	$(PIP) install -q -e '.[test]'
	$(PIP) install -q '$(TORCH_SPEC)'
	touch $@ $(VENV)/.installed

install: $(VENV)/.installed

install-test: $(VENV)/.installed-test

# Debian's Chromium for the browser tests (Playwright cannot download browsers here).
chromium:
	@if [ ! -x /usr/bin/chromium ]; then \
		echo "Installing Chromium with apt-get..."; \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium fonts-noto-cjk; \
	fi

# Debian's PostgreSQL for the scale-out search tests (they start a throwaway cluster themselves).
postgresql:
	@if ! ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1; then \
		echo "Installing PostgreSQL with apt-get..."; \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql; \
	fi

run: install
	$(VENV)/bin/gradplay serve --host $(HOST) --port $(PORT)

test: install-test chromium postgresql
	$(PY) -m ruff check .
	$(PY) -m pytest

lint: install-test
	$(PY) -m ruff check .

bench: install-test
	$(PY) bench/engine.py
	$(PY) bench/encode.py
	$(PY) bench/stream.py
	$(PY) bench/search.py
	$(PY) bench/optimizers.py

# Regenerate the PyTorch golden fixtures (tests/fixtures/*.json).
golden: install-test
	$(PY) scripts/make_golden.py

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache .hypothesis test-artifacts
