"""Shared fixtures: the example ladders and a fresh guard ladder with an enrollment."""

from __future__ import annotations

import pytest

import commitladder as cl
from support import EXAMPLE_FILES, GUARDS_YAML, T0


@pytest.fixture(scope="session")
def ladders() -> dict[str, cl.Ladder]:
    """Every example ladder, by file stem. Shared: never add listeners to these."""
    return {path.stem: cl.load(path) for path in EXAMPLE_FILES}


@pytest.fixture
def guards() -> cl.Ladder:
    """A fresh copy of the guard test ladder (fresh, so listeners may be added)."""
    return cl.Ladder.from_yaml(GUARDS_YAML, source="guards.yaml")


@pytest.fixture
def e(guards: cl.Ladder) -> cl.Enrollment:
    """A new enrollment on the guard ladder, enrolled at ``T0``."""
    return guards.enroll("acme", now=T0)


@pytest.fixture(scope="session")
def simulated_db(tmp_path_factory: pytest.TempPathFactory) -> str:
    """A SQLite store with 80 simulated prospects on the seed ladder (seed 3), shared."""
    from commitladder.cli import seed_ladder
    from support import simulate_into

    url = f"sqlite:///{tmp_path_factory.mktemp('sim') / 'sim.db'}"
    simulate_into(url, seed_ladder(), prospects=80, seed=3)
    return url
