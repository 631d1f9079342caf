# kafkalab: `make lab` opens JupyterLab on the notebooks, `make test` runs everything CI runs.
# Both create .venv on first use with only a system Python 3.11+.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-stamp

.PHONY: lab test unit typecheck notebooks browser lint bench experiments clean .venv

.venv: $(STAMP)

$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	@touch $(STAMP)

# JupyterLab refuses to run as root unless told; containers often are root.
ROOT_FLAG := $(if $(filter 0,$(shell id -u)),--allow-root,)
LAB_ARGS ?=

# jupyter_config/ (on Jupyter's config path for this project only): no announcement pop-ups, no update check.
lab: $(STAMP)
	JUPYTER_CONFIG_PATH=$(CURDIR)/jupyter_config $(BIN)/jupyter lab --notebook-dir=notebooks $(ROOT_FLAG) $(LAB_ARGS)

test: unit typecheck notebooks browser

# pytest-xdist workers for the unit tests, the notebooks (one notebook per worker, its cells in order) and the browser
# tests (each worker its own JupyterLab and Chromium); TEST_JOBS=1 runs them in one process.
TEST_JOBS ?= 2
XDIST := $(if $(filter 1,$(TEST_JOBS)),,-n $(TEST_JOBS))

unit: $(STAMP)
	$(BIN)/python -m pytest -q $(XDIST) tests --ignore=tests/browser

typecheck: $(STAMP)
	$(BIN)/python -m mypy

# KAFKALAB_PACING=off: live plots run as fast as they can under test (a person gets them paced, see viz/live.py)
notebooks: $(STAMP)
	KAFKALAB_PACING=off $(BIN)/python -m pytest -q $(XDIST) $(if $(XDIST),--dist loadfile,) --nbval-lax --nbval-current-env notebooks/

# Every notebook in JupyterLab in a headless Chromium (Debian's; .ci/run installs it), the control room clicked.
CHROMIUM ?= $(shell command -v chromium || command -v chromium-browser)
browser: $(STAMP)
	@if [ -n "$(CHROMIUM)" ]; then \
		KAFKALAB_BROWSER_TESTS=1 KAFKALAB_CHROMIUM=$(CHROMIUM) $(BIN)/python -m pytest -q $(XDIST) -rs tests/browser; \
	else \
		echo "*** SKIPPED the browser tests (tests/browser): Chromium is not installed."; \
		echo "*** Install it (Debian/Ubuntu: apt-get install chromium) and run make browser."; \
	fi

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
