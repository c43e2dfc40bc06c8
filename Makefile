# The README's commands. Each bootstraps .venv itself, so a fresh clone needs only Python 3.11 and make.
PYTHON ?= python3
VENV := .venv
PLS_HOME ?= .pls
export PLS_HOME
export DAGSTER_HOME ?= $(abspath $(PLS_HOME))/dagster_home

.PHONY: run test ui lint clean

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install --quiet --upgrade pip
	$(VENV)/bin/pip install --quiet -e .
	touch $@

$(VENV)/.installed-test: $(VENV)/.installed
	$(VENV)/bin/pip install --quiet -e ".[test]"
	touch $@

$(DAGSTER_HOME):
	mkdir -p $(DAGSTER_HOME)
	touch $(DAGSTER_HOME)/dagster.yaml

## make run: install, generate demo data if absent, run the whole pipeline, print the summary
run: $(VENV)/.installed $(DAGSTER_HOME)
	$(VENV)/bin/pls run

## make test: install with test extras, lint, run the test suite
test: $(VENV)/.installed-test
	$(VENV)/bin/ruff check pls_pipelines tests benchmarks scripts
	$(VENV)/bin/pytest

## make ui: the Dagster UI on the same instance as `make run` (run history, lineage, checks)
ui: $(VENV)/.installed $(DAGSTER_HOME)
	$(VENV)/bin/dagster dev -w workspace.yaml -h 127.0.0.1 -p 3000

clean:
	rm -rf $(PLS_HOME)
