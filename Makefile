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
# inspect-evals needs requests>=2.32 and the determined extra pins requests<2.32, so they cannot share
# the venv: the tests that need Inspect's ecosystem packages (inspect-evals, inspect-wandb) run with this
# overlay on PYTHONPATH instead (a folder named site-packages, so Inspect namespaces its tasks as
# inspect_evals/<name>, as for an installed package).
EVALS_SITE := $(VENV)/evals/site-packages
EVALS_PINS := inspect-evals==0.26.0 inspect-wandb==0.3.0 requests==2.34.2 backoff==2.2.1 datasets==5.2.0 \
	dill==0.4.1 multiprocess==0.70.19 pyarrow==26.0.1 toml==0.10.2 xxhash==4.1.0
# inspect-wandb's weave extra: weave and what it needs beyond the venv.
WEAVE_PINS := weave==0.54.0 gql==4.4.0 sentry-sdk==2.75.0 cachetools==8.0.1 diskcache-weave==5.6.3.post1 \
	polyfile-weave==0.5.9 abnf==2.2.0 chardet==7.7.0 cint==1.0.0 fickling==0.1.12 graphviz==0.21 \
	intervaltree==3.2.1 kaitaistruct==0.11 pdfminer.six==20260107

# The docs site's tools live in their own venv: mkdocs-material needs requests>=2.33, which the
# determined extra (requests<2.32) cannot share.
DOCS_VENV ?= .venv-docs
DOCS_PINS := "mkdocs==1.6.1" "mkdocs-material==9.8.2" "mkdocs-click==0.9.0"

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
	$(BIN)/python -c "import eval_orchestrator, torch, transformers, inspect_ai, wandb, moto, determined, ray"
	rm -rf $(EVALS_SITE)
	$(UV) --no-deps --target $(EVALS_SITE) $(EVALS_PINS) $(WEAVE_PINS)
	touch $@

install: $(STAMP)

# The lockfiles, from pyproject.toml (torch left out: it is installed first, as a CPU build)
lock: | $(BIN)/uv
	echo "$(TORCH_SPEC)" > $(VENV)/torch-constraint.txt
	$(BIN)/uv pip compile pyproject.toml --extra hf -o requirements/quickstart.lock $(FIND_LINKS) \
		-c $(VENV)/torch-constraint.txt --no-emit-package torch --python-version 3.11 -q --custom-compile-command "make lock"
	$(BIN)/uv pip compile pyproject.toml --extra hf --extra dev --extra determined --extra ray \
		-o requirements/test.lock $(FIND_LINKS) -c $(VENV)/torch-constraint.txt --no-emit-package torch \
		--python-version 3.11 -q --custom-compile-command "make lock"

quickstart: $(QUICK_STAMP)
	PATH="$(abspath $(BIN)):$$PATH" bash scripts/quickstart.sh

test: $(STAMP)
	$(BIN)/python -m pytest

docs: $(STAMP)
	test -x $(DOCS_VENV)/bin/python || $(PYTHON) -m venv $(DOCS_VENV)
	$(DOCS_VENV)/bin/pip --disable-pip-version-check --quiet install $(DOCS_PINS) 2>&1 | $(QUIET)
	$(BIN)/python scripts/gen_config_reference.py
	$(BIN)/python scripts/docs.py
	$(BIN)/python -m eval_orchestrator.inspect_options
	NO_MKDOCS_2_WARNING=1 PYTHONPATH=. $(DOCS_VENV)/bin/mkdocs build --strict --quiet

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

lint: $(STAMP)
	$(BIN)/ruff check . && $(BIN)/ruff format --check . && $(BIN)/mypy \
		&& $(BIN)/mypy --strict --ignore-missing-imports --allow-untyped-calls benchmarks

clean:
	rm -rf .quickstart .pytest_cache .mypy_cache .ruff_cache benchmarks/.data site
