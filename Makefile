# Two commands a new user needs: `make demo` and `make test`. Each sets up .venv itself.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

# Workers for the test suite: one per core (pytest-xdist). The blocks of one docs page stay
# on one worker (loadgroup), so each page's snippets run once, in order.
WORKERS ?= auto
PYTEST := $(BIN)/python -m pytest -n $(WORKERS) --dist loadgroup

.PHONY: demo test test-thorough lint docs package bench clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -e ".[dev]"
	touch $(STAMP)

demo: $(STAMP)  ## simulate 1,000 prospects on the seed ladder, print the funnel, draw it
	$(BIN)/commitladder demo

test: $(STAMP)  ## the whole test suite, in parallel, Hypothesis's quick profile (no shrinking)
	$(PYTEST)

test-thorough: $(STAMP)  ## the property tests again, shrinking failures, 5x the examples (CI runs it)
	$(PYTEST) -m property --hypothesis-profile=thorough

lint: $(STAMP)  ## ruff, formatting and mypy --strict
	$(BIN)/ruff check src tests benchmarks examples
	$(BIN)/ruff format --check src tests benchmarks examples
	$(BIN)/mypy --strict src

docs: $(STAMP)  ## build the documentation, warnings are errors
	$(BIN)/mkdocs build --strict --site-dir $(VENV)/site

package: $(STAMP)  ## build the wheel and sdist into dist/, check them, try the wheel in a fresh venv
	rm -rf dist
	$(BIN)/python -m build --outdir dist
	$(BIN)/twine check --strict dist/*
	$(BIN)/python .ci/check_package.py dist

bench: $(STAMP)  ## the core benchmark (a few minutes)
	$(BIN)/python benchmarks/bench_core.py

clean:
	rm -rf $(VENV) site dist .pytest_cache .mypy_cache .ruff_cache
