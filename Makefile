# Two commands do all the set-up on a fresh machine: `make quickstart` and `make test`.
SHELL := /bin/bash
.SHELLFLAGS := -o pipefail -ec
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
# A CPU build of torch, installed before the hf extra so nothing pulls CUDA wheels.
TORCH_SPEC ?= torch==2.13.0
PIP := $(BIN)/pip --disable-pip-version-check --quiet
# pip warns once per missing mirror folder on these machines; hide that noise, keep pip's exit code.
QUIET := { grep -v "^WARNING: Location" || true; }
STAMP := $(VENV)/.installed

.PHONY: install quickstart test lint bench clean

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(PIP) install "$(TORCH_SPEC)" 2>&1 | $(QUIET)
	$(PIP) install -e ".[hf,dev,determined]" 2>&1 | $(QUIET)
	$(BIN)/python -c "import eval_orchestrator, torch, transformers, inspect_ai, wandb, moto, determined"
	touch $(STAMP)

install: $(STAMP)

quickstart: $(STAMP)
	PATH="$(abspath $(BIN)):$$PATH" bash scripts/quickstart.sh

test: $(STAMP)
	$(BIN)/python -m pytest

bench: $(STAMP)
	$(BIN)/python benchmarks/resolve_wandb.py
	$(BIN)/python benchmarks/fetch_s3.py
	$(BIN)/python benchmarks/hook_overhead.py
	$(BIN)/python benchmarks/compare.py
	$(BIN)/python benchmarks/watch_latency.py

lint: $(STAMP)
	$(BIN)/ruff check . && $(BIN)/ruff format --check . && $(BIN)/mypy

clean:
	rm -rf .quickstart .pytest_cache .mypy_cache .ruff_cache benchmarks/.data
