# Two commands a new user needs: `make demo` and `make test`. Each sets up .venv itself.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

# Workers for the test suite: one per core (pytest-xdist). The blocks of one docs page stay
# on one worker (loadgroup), so each page's snippets run once, in order.
WORKERS ?= auto
PYTEST := $(BIN)/python -m pytest -n $(WORKERS) --dist loadgroup

# Django on MariaDB needs mysqlclient, built against the client library's headers: added to
# a venv where pkg-config finds them (CI installs them); elsewhere those tests skip, saying why
MYSQLCLIENT = if pkg-config --exists libmariadb 2>/dev/null || pkg-config --exists mysqlclient \
	2>/dev/null; then $(1)/python -m pip install -q -e ".[django-mysql]"; fi

# Django 6.0 needs Python 3.12+, so `make test` (Python 3.11) runs the Django tests on 5.2;
# `make test-django6` runs them again on Django 6.0 in a venv of its own on Python 3.12:
# pyenv's newest 3.12, else python3.12 on the PATH, else say PYTHON312=/path/to/python
PYTHON312 ?= $(shell { ls -d "$$(pyenv root 2>/dev/null)"/versions/3.12.*/bin/python 2>/dev/null \
	| sort -V | tail -1; command -v python3.12; } | head -1)
DJANGO6 := .venv-django6
DJANGO_TESTS := tests/test_django_contrib.py tests/test_django_store.py \
	tests/test_example_django_crm.py tests/test_django_hooks.py

.PHONY: demo test test-thorough test-django6 lint docs package bench clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -e ".[dev]"
	$(call MYSQLCLIENT,$(BIN))
	touch $(STAMP)

$(DJANGO6)/.installed: pyproject.toml
	@test -n "$(PYTHON312)" || { echo "no Python 3.12 found: pyenv install 3.12," \
		"or make test-django6 PYTHON312=/path/to/python3.12" >&2; exit 1; }
	rm -rf $(DJANGO6)
	$(PYTHON312) -m venv $(DJANGO6)
	$(DJANGO6)/bin/python -m pip install -q -e ".[django,postgres,mysql,testing]" \
		"Django>=6.0,<6.1" "pytest>=8"
	$(call MYSQLCLIENT,$(DJANGO6)/bin)
	touch $@

test-django6: $(DJANGO6)/.installed  ## the Django tests on Python 3.12 with Django 6.0
	$(DJANGO6)/bin/python -c 'import django, sys; print("Django", django.get_version(), "on Python", sys.version.split()[0])'
	$(DJANGO6)/bin/python -m pytest -p no:cacheprovider $(DJANGO_TESTS)

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
	$(BIN)/lint-imports

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
	rm -rf $(VENV) $(DJANGO6) site dist .pytest_cache .mypy_cache .ruff_cache
