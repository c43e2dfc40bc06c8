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

# The instance of make run and make ui: dagster.yaml with the run and crm_api pool limits, written when missing,
# empty or an older version of ours (never over a file you wrote). Phony, so an existing home is kept current.
.PHONY: $(DAGSTER_HOME)
$(DAGSTER_HOME): $(VENV)/.installed
	$(VENV)/bin/python -m pls_pipelines.dagster_instance "$(DAGSTER_HOME)"

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
