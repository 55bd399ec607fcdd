# pimh-analysis: the README's two commands are `make repro` and `make test`.
# Each does all of its own setup: a .venv from the pinned lock, the package
# (editable) and a Jupyter kernel named for the project.  Setup is a stamp file
# that depends on the lock and pyproject.toml, so a second run skips it.

PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.pimh-setup-done
KERNEL := pimh-analysis
# Extra pytest arguments, e.g. make test PYTEST_ARGS="-n 0 tests/test_stats.py"
PYTEST_ARGS ?=

# bash with pipefail, so a command piped through $(QUIET) still fails the recipe.
SHELL := /bin/bash
.SHELLFLAGS := -eo pipefail -c
# Harmless noise kept out of the logs: pip's "Location ... is ignored" lines (this
# machine's pip config) and every kernel's warning that it listens on local TCP.
QUIET := { grep --line-buffered -v -E 'Location .* is ignored|Kernel is running over TCP without encryption|Use IPC transport or launch' || true; }

# Stage commands call papermill and pimh by name: put the project's .venv first on PATH.
export PATH := $(CURDIR)/$(BIN):$(PATH)

# No telemetry, no update checks, no progress bars in logs.
export DVC_NO_ANALYTICS := 1
export DVC_NO_UPDATER := 1
export PIP_DISABLE_PIP_VERSION_CHECK := 1
export PYTHONHASHSEED := 0
export MPLBACKEND := Agg
export JUPYTER_PLATFORM_DIRS := 1

.PHONY: help setup repro test lab bench site lock env-yml clean-venv

help:
	@echo "make repro   set up .venv (if needed) and run the DVC pipeline on the shipped replica"
	@echo "make test    set up .venv (if needed), bring the pipeline up to date, run unit tests + nbval"
	@echo "make lab     open JupyterLab on the $(KERNEL) kernel"
	@echo "make bench   run benchmarks/ (writes benchmarks/results.json and benchmarks/RESULTS.md)"
	@echo "make site    rebuild the reviewer's site under reports/site/"
	@echo "make lock    re-resolve requirements.lock from pyproject.toml (needs the package index)"

setup: $(STAMP)

$(STAMP): requirements.lock pyproject.toml
	@command -v $(PYTHON) >/dev/null || { echo "error: $(PYTHON) not found; install Python 3.11 or later" >&2; exit 1; }
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else 1)' || { echo "error: Python 3.11 or later is required" >&2; exit 1; }
	@test -x $(BIN)/python || { echo "setup: creating $(VENV) with $$($(PYTHON) --version)"; $(PYTHON) -m venv $(VENV); }
	@echo "setup: pip install -r requirements.lock into $(VENV) (quiet; a few minutes the first time)"
	@$(BIN)/python -m pip install --quiet --upgrade "pip>=24" 2>&1 | $(QUIET)
	@$(BIN)/python -m pip install --quiet -r requirements.lock 2>&1 | $(QUIET)
	@echo "setup: pip install --no-deps -e . (the pimh_analysis package, editable)"
	@$(BIN)/python -m pip install --quiet --no-deps -e . 2>&1 | $(QUIET)
	@$(BIN)/python -m ipykernel install --sys-prefix --name $(KERNEL) --display-name "Python (pimh-analysis)" >/dev/null
	@touch $(STAMP)
	@echo "setup: .venv ready (kernel '$(KERNEL)')"

repro: setup
	@echo "$(BIN)/dvc repro"
	@$(BIN)/dvc repro 2>&1 | $(QUIET)

# The notebooks nbval reruns read data/processed/, which only `dvc repro` makes
# (it is DVC-cached, not committed); in a fresh clone this runs the pipeline.
# (Not `dvc repro --quiet`: that also hides the reason when a stage fails.)
test: setup
	@echo "$(BIN)/dvc repro"
	@$(BIN)/dvc repro 2>&1 | $(QUIET)
	@echo "$(BIN)/python -m pytest $(PYTEST_ARGS)   (unit + pipeline tests, nbval over reports/notebooks; see pyproject.toml)"
	@$(BIN)/python -m pytest $(PYTEST_ARGS) 2>&1 | $(QUIET)

# JupyterLab over the whole repository, opened on notebooks/, new notebooks on the
# project kernel.  (--allow-root only when run as root, as on the project machines.)
lab: setup
	$(BIN)/jupyter lab --ServerApp.root_dir=. --LabApp.default_url=/lab/tree/notebooks \
	  --MappingKernelManager.default_kernel_name=$(KERNEL) $(if $(filter 0,$(shell id -u)),--allow-root)

bench: setup
	$(BIN)/python benchmarks/run.py

site: setup
	$(BIN)/dvc repro site

lock:
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	rm -rf .lockenv && $(PYTHON) -m venv .lockenv
	.lockenv/bin/python -m pip install --quiet --upgrade pip
	.lockenv/bin/python -m pip install --quiet ".[test,bench]"
	{ echo "# Pinned lock for pimh-analysis. Generated from a resolved environment on CPython 3.11 (Linux x86_64)."; \
	  echo "# Regenerate with: make lock   (then: make env-yml). Do not edit by hand."; \
	  .lockenv/bin/python -m pip freeze --exclude pimh-analysis | sort -f; } > requirements.lock
	rm -rf .lockenv
	$(MAKE) env-yml

env-yml:
	$(PYTHON) tools/sync_environment_yml.py

clean-venv:
	rm -rf $(VENV)
