# Two commands do all the set-up on a fresh machine: `make quickstart` and `make test`.
SHELL := /bin/bash
.SHELLFLAGS := -o pipefail -ec
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
# uv installs the committed lockfiles (requirements/*.lock, made by `make lock` from pyproject.toml):
# the same versions on every machine, in seconds (pip took minutes). `pip install -e .` still works.
UV_VERSION := 0.13.9
# --compile-bytecode: uv leaves .py files uncompiled, and where PYTHONDONTWRITEBYTECODE is set (as on
# these machines) every process then compiles every import again: the suite took 12 min instead of 8.
UV := $(BIN)/uv pip install --python $(BIN)/python --compile-bytecode
# A CPU build of torch first, so nothing pulls CUDA wheels: from this machine's wheel folder when it
# has one (uv does not read pip's config), else PyPI's (set TORCH_SPEC for another build).
FIND_LINKS := $(if $(wildcard /opt/wheels/torch-2.13.0+cpu-*),--find-links /opt/wheels)
TORCH_SPEC ?= $(if $(FIND_LINKS),torch==2.13.0+cpu,torch==2.13.0)
PIP := $(BIN)/pip --disable-pip-version-check --quiet
# pip warns once per missing mirror folder on these machines; hide that noise, keep pip's exit code.
QUIET := { grep -v "^WARNING: Location" || true; }
QUICK_STAMP := $(VENV)/.quickstart-installed
STAMP := $(VENV)/.installed
# The Determined SDK pins requests<2.32, which inspect-evals, weave and mkdocs-material (>=2.32) cannot
# share: the main venv holds Inspect's ecosystem (the evals and weave extras) and the docs tools, and the
# Determined tests run in a venv of their own, from their own lockfile.
DET_VENV ?= .venv-determined
DET_BIN := $(DET_VENV)/bin
DET_STAMP := $(DET_VENV)/.installed
DET_UV := $(BIN)/uv pip install --python $(DET_BIN)/python --compile-bytecode
# Every test extra; the lockfiles are compiled from them (`make lock`).
TEST_EXTRAS := --extra hf --extra dev --extra ray --extra evals --extra weave --extra docs
DET_EXTRAS := --extra hf --extra dev --extra determined

.PHONY: install quickstart test lint bench docs lock clean

$(BIN)/uv:
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(PIP) install "uv==$(UV_VERSION)" 2>&1 | $(QUIET)

# What the quickstart uses (the hf extra), with uv's progress shown; the test install adds the rest.
$(QUICK_STAMP): pyproject.toml requirements/quickstart.lock | $(BIN)/uv
	$(UV) $(FIND_LINKS) "$(TORCH_SPEC)"
	$(UV) -r requirements/quickstart.lock
	$(UV) --no-deps -e .
	$(BIN)/python -c "import eval_orchestrator, torch, transformers, inspect_ai, wandb"
	touch $@

$(STAMP): $(QUICK_STAMP) requirements/test.lock
	$(UV) -r requirements/test.lock
	$(UV) --no-deps -e .
	$(BIN)/python -c "import eval_orchestrator, moto, ray, inspect_evals, inspect_wandb, weave, mkdocs"
	touch $@

$(DET_STAMP): pyproject.toml requirements/determined.lock | $(BIN)/uv
	test -x $(DET_BIN)/python || $(PYTHON) -m venv --without-pip $(DET_VENV)
	$(DET_UV) $(FIND_LINKS) "$(TORCH_SPEC)"
	$(DET_UV) -r requirements/determined.lock
	$(DET_UV) --no-deps -e .
	$(DET_BIN)/python -c "import eval_orchestrator, determined, inspect_ai, torch"
	touch $@

install: $(STAMP) $(DET_STAMP)

# The lockfiles, from pyproject.toml (torch left out: it is installed first, as a CPU build)
LOCK := $(BIN)/uv pip compile pyproject.toml $(FIND_LINKS) -c $(VENV)/torch-constraint.txt --no-emit-package torch \
	--python-version 3.11 -q --custom-compile-command "make lock"
lock: | $(BIN)/uv
	echo "$(TORCH_SPEC)" > $(VENV)/torch-constraint.txt
	$(LOCK) --extra hf -o requirements/quickstart.lock
	$(LOCK) $(TEST_EXTRAS) -o requirements/test.lock
	$(LOCK) $(DET_EXTRAS) -o requirements/determined.lock

quickstart: $(QUICK_STAMP)
	PATH="$(abspath $(BIN)):$$PATH" bash scripts/quickstart.sh

# Two runs, both always: the suite in the main venv, then the Determined tests in theirs.
test: $(STAMP) $(DET_STAMP)
	main=0; det=0; \
	$(BIN)/python -m pytest -m "not determined" || main=$$?; \
	$(DET_BIN)/python -m pytest -m determined || det=$$?; \
	exit $$(( main ? main : det ))

docs: $(STAMP)
	$(BIN)/python scripts/gen_config_reference.py
	$(BIN)/python scripts/docs.py
	$(BIN)/python -m eval_orchestrator.inspect_options
	NO_MKDOCS_2_WARNING=1 PYTHONPATH=. $(BIN)/mkdocs build --strict --quiet

bench: $(STAMP)
	$(BIN)/python benchmarks/resolve_wandb.py
	$(BIN)/python benchmarks/fetch_s3.py
	$(BIN)/python benchmarks/hook_overhead.py
	$(BIN)/python benchmarks/compare.py
	$(BIN)/python benchmarks/watch_latency.py
	$(BIN)/python benchmarks/weave_import.py
	$(BIN)/python benchmarks/webhook_load.py
	$(BIN)/python benchmarks/ray_fanout.py
	$(BIN)/python benchmarks/scale.py
	$(BIN)/python benchmarks/startup.py
	$(BIN)/python benchmarks/sequential.py

# mypy twice: the Determined code is typed against the SDK only where it is installed.
lint: $(STAMP) $(DET_STAMP)
	$(BIN)/ruff check . && $(BIN)/ruff format --check . && $(BIN)/mypy && $(DET_BIN)/mypy \
		&& $(BIN)/mypy --strict --ignore-missing-imports --allow-untyped-calls benchmarks

clean:
	rm -rf .quickstart .pytest_cache .mypy_cache .ruff_cache benchmarks/.data site
