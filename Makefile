# kafkalab: `make lab` opens JupyterLab on the notebooks, `make test` runs everything CI runs.
# Both create .venv on first use with only a system Python 3.11+.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-stamp

.PHONY: lab test unit typecheck notebooks lint bench experiments clean .venv

.venv: $(STAMP)

$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	@touch $(STAMP)

# JupyterLab refuses to run as root unless told; containers often are root.
ROOT_FLAG := $(if $(filter 0,$(shell id -u)),--allow-root,)
LAB_ARGS ?=

lab: $(STAMP)
	$(BIN)/jupyter lab --notebook-dir=notebooks $(ROOT_FLAG) $(LAB_ARGS)

test: unit typecheck notebooks

unit: $(STAMP)
	$(BIN)/python -m pytest -q tests

typecheck: $(STAMP)
	$(BIN)/python -m mypy

notebooks: $(STAMP)
	$(BIN)/python -m pytest -q --nbval-lax --nbval-current-env notebooks/

lint: $(STAMP)
	$(BIN)/python -m ruff check kafkalab tests benchmarks

JOBS ?= 2

bench: $(STAMP)
	$(BIN)/kafkalab bench

# data/ at full size through kafkalab.experiments.sweep (JOBS worker processes), then the workbench's verdict sweep
experiments: $(STAMP)
	$(BIN)/kafkalab data --jobs $(JOBS)
	$(BIN)/kafkalab run queue --param acks=1,all --param min_insync_replicas=1 --seeds 0:20 --jobs $(JOBS) \
		--quiet --out data/queue_verdicts

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .hypothesis .ruff_cache
