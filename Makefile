# pimh-analysis: the README's two commands are `make repro` and `make test`.
# Each does all of its own setup: a .venv from the pinned lock, the package
# (editable) and a Jupyter kernel named for the project.  Setup is a stamp file
# that depends on the lock and pyproject.toml, so a second run skips it.

PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.pimh-setup-done
KERNEL := pimh-analysis

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
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade "pip>=24"
	$(BIN)/python -m pip install --quiet -r requirements.lock
	$(BIN)/python -m pip install --quiet --no-deps -e .
	$(BIN)/python -m ipykernel install --sys-prefix --name $(KERNEL) --display-name "Python (pimh-analysis)" >/dev/null
	@touch $(STAMP)
	@echo "setup: .venv ready (kernel '$(KERNEL)')"

repro: setup
	$(BIN)/dvc repro

test: setup
	$(BIN)/dvc repro --quiet
	$(BIN)/python -m pytest

lab: setup
	$(BIN)/jupyter lab --notebook-dir=notebooks --MappingKernelManager.default_kernel_name=$(KERNEL)

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
