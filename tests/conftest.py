"""Shared fixtures: the example ladders and a fresh guard ladder with an enrollment; the
Hypothesis profiles and the ``property`` mark.

Two Hypothesis profiles (choose with ``--hypothesis-profile``):

- ``quick``, the default (``make test``): every example runs, but a failure is not shrunk.
  Shrinking is where the time went (one failing stateful run: 24 s shrinking, 0.2 s
  finding), and a failure found is a failure whatever its length.
- ``thorough`` (CI runs it again over the ``property`` tests): failures shrink as users see
  them, and tests that leave the example count to Hypothesis run 5 times as many.

Both drop the per-example deadline: a slow example on a loaded machine is not a bug.
Doc snippets always run under Hypothesis's own defaults (``tests/test_docs.py``), since
their output is what a user sees.
"""

from __future__ import annotations

import pytest
from hypothesis import Phase, is_hypothesis_test, settings

import commitladder as cl
from support import EXAMPLE_FILES, GUARDS_YAML, T0

QUICK, THOROUGH = "quick", "thorough"
KIT = ("hypothesis", "commitladder.testing")
settings.register_profile(
    QUICK, deadline=None, phases=tuple(phase for phase in Phase if phase is not Phase.shrink)
)
settings.register_profile(THOROUGH, deadline=None, max_examples=500)


def pytest_configure(config: pytest.Config) -> None:
    # Hypothesis's own plugin loads --hypothesis-profile; without one, quick is the default
    if not config.getoption("hypothesis_profile", None):
        settings.load_profile(QUICK)


def _is_property_test(item: pytest.Item) -> bool:
    """A Hypothesis test, or a test that calls the testing kit (which runs on Hypothesis)."""
    function = getattr(item, "function", None)
    if function is None:
        return False
    if is_hypothesis_test(function):
        return True
    module = vars(item.module)  # type: ignore[attr-defined]
    names = function.__code__.co_names
    return any(str(getattr(module.get(name), "__module__", "")).startswith(KIT) for name in names)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if _is_property_test(item):
            item.add_marker(pytest.mark.property)


@pytest.fixture
def hypothesis_profile(request: pytest.FixtureRequest) -> str:
    """The name of the Hypothesis profile this run loaded."""
    return str(request.config.getoption("hypothesis_profile", None) or QUICK)


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
