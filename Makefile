# The two commands of the quick start. Both create .venv on a fresh machine and install into it;
# torch==2.14.1 and torchvision==0.29.1 are pinned in pyproject.toml.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin

.PHONY: quickstart test install install-test

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

install: $(BIN)/python
	$(BIN)/python -m pip install --quiet -e .

install-test: $(BIN)/python
	$(BIN)/python -m pip install --quiet -e '.[test]'

## Install, run the embedded suite (scikit-learn digits, no download), write reports/quickstart/.
quickstart: install
	$(BIN)/dfo-bench run suites/quickstart.yaml --out results/quickstart
	$(BIN)/dfo-bench report results/quickstart --out reports/quickstart

## Install with the test extras, run the static checks (ruff, mypy, the import layers of
## lint-imports; see pyproject.toml), build the documentation site (mkdocs.yml; a broken link or
## reference fails it), then the tests.
test: install-test
	$(BIN)/python -m ruff check dfo_bench tests benchmarks
	$(BIN)/python -m mypy
	$(BIN)/lint-imports
	NO_MKDOCS_2_WARNING=1 $(BIN)/python -m mkdocs build --strict --quiet
	$(BIN)/python -m pytest
