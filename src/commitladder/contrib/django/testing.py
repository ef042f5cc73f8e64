"""Empty the ladder tables between tests: a pytest fixture and a ``TestCase`` mixin.

The ladder tables belong to the store, not to Django's ORM, so ``TransactionTestCase``
does not flush them: without a reset, a later test's lead that reuses a primary key
inherits an open ask. (A plain ``TestCase`` needs nothing: its transaction rolls back
the ladder's rows with the host's.) Import this module from tests only: it imports
pytest.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from django.conf import settings
from django.db import DEFAULT_DB_ALIAS

from .runtime import configured_database, configured_prefix
from .store import DjangoStore

__all__ = ["LadderTablesMixin", "ladder_tables", "reset_ladder_tables"]


def reset_ladder_tables(using: str | None = None) -> None:
    """Delete every row of the ladder tables in database ``using`` (default: the
    ``COMMITLADDER["DATABASE"]`` alias), keeping the schema."""
    DjangoStore(using or configured_database(), prefix=configured_prefix()).clear()


class LadderTablesMixin:
    """Put first in the bases of a ``TransactionTestCase``: each test starts with empty
    ladder tables in the databases the test case uses (``databases``)."""

    databases: Any

    def setUp(self) -> None:
        aliases = list(settings.DATABASES) if self.databases == "__all__" else list(self.databases)
        ladder_db = configured_database()
        for alias in aliases or [DEFAULT_DB_ALIAS]:
            if alias == ladder_db:
                reset_ladder_tables(alias)
        super().setUp()  # type: ignore[misc]


@pytest.fixture
def ladder_tables() -> Iterator[None]:
    """Empty ladder tables for the test (use it where the database really commits)."""
    reset_ladder_tables()
    yield
    reset_ladder_tables()
