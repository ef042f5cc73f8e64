# Two commands a new user needs: `make demo` and `make test`. Each sets up .venv itself.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test lint docs bench clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -e ".[dev]"
	touch $(STAMP)

demo: $(STAMP)  ## simulate 1,000 prospects on the seed ladder, print the funnel, draw it
	$(BIN)/commitladder demo

test: $(STAMP)  ## the whole test suite
	$(BIN)/python -m pytest

lint: $(STAMP)  ## ruff, formatting and mypy --strict
	$(BIN)/ruff check src tests benchmarks examples
	$(BIN)/ruff format --check src tests benchmarks examples
	$(BIN)/mypy --strict src

docs: $(STAMP)  ## build the documentation, warnings are errors
	$(BIN)/mkdocs build --strict --site-dir $(VENV)/site

bench: $(STAMP)  ## the core benchmark (a few minutes)
	$(BIN)/python benchmarks/bench_core.py

clean:
	rm -rf $(VENV) site .pytest_cache .mypy_cache .ruff_cache
