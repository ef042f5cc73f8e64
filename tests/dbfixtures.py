"""Stores to run the tracker's specification on: memory, SQLite, PostgreSQL, MariaDB/MySQL.

PostgreSQL and MySQL URLs come from COMMITLADDER_TEST_POSTGRES_URL and
COMMITLADDER_TEST_MYSQL_URL. Without them those tests skip, saying why; with
CI=true a missing or unreachable server fails the run instead. Each run uses its
own table prefix and drops its tables at the end; each test starts from empty
tables. Load with ``pytest_plugins = ["dbfixtures"]``.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import commitladder as cl

SERVERS = {"postgresql": "COMMITLADDER_TEST_POSTGRES_URL", "mysql": "COMMITLADDER_TEST_MYSQL_URL"}
RUN_PREFIX = f"cl{os.getpid() % 100000}{uuid.uuid4().hex[:4]}_"
_unreachable: dict[str, str] = {}


def in_ci() -> bool:
    return os.environ.get("CI", "").lower() == "true"


def server_url(backend: str) -> str:
    """The URL of a real server, or skip (fail in CI) with the reason."""
    var = SERVERS[backend]
    url = os.environ.get(var)
    if not url:
        reason = f"{var} is not set; set it to a {backend} URL to run these tests"
        if in_ci():
            pytest.fail(f"CI=true but {reason}")
        pytest.skip(reason)
    if url not in _unreachable:
        import sqlalchemy as sa

        engine = sa.create_engine(url)
        try:
            with engine.connect():
                _unreachable[url] = ""
        except Exception as exc:
            _unreachable[url] = f"{backend} at {var} is unreachable: {exc}"
        finally:
            engine.dispose()
    if _unreachable[url]:
        if in_ci():
            pytest.fail(f"CI=true but {_unreachable[url]}")
        pytest.skip(_unreachable[url])
    return url


def needs_mysqlclient() -> None:
    """Django's MariaDB/MySQL backend needs mysqlclient: skip without it (fail in CI)."""
    try:
        import MySQLdb  # noqa: F401
    except ImportError:
        reason = (
            "Django on MariaDB/MySQL needs mysqlclient (pip install 'commitladder[django-mysql]'"
            ", after apt-get install libmariadb-dev pkg-config)"
        )
        if in_ci():
            pytest.fail(f"CI=true but {reason}")
        pytest.skip(reason)


def backend_url(backend: str, tmp_dir: Path) -> str:
    if backend == "sqlite":
        return f"sqlite:///{tmp_dir / 'ladders.db'}"
    return server_url(backend)


def clear(store: Any) -> None:
    """Empty every table of a SqlStore (fast, keeps the schema)."""
    with store.engine.begin() as conn:
        for table in reversed(store.metadata.sorted_tables):
            if not table.name.endswith("meta"):
                conn.execute(table.delete())


@pytest.fixture(scope="session")
def _sql_stores(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    made: dict[str, Any] = {}
    yield made
    for store in made.values():
        store.drop_schema()
        store.close()


def sql_store(backend: str, cache: dict[str, Any], tmp_dir: Path) -> Any:
    from commitladder.sql import SqlStore

    store = cache.get(backend)
    if store is None:
        store = SqlStore(backend_url(backend, tmp_dir), prefix=RUN_PREFIX)
        store.create_schema()
        cache[backend] = store
    clear(store)
    return store


@pytest.fixture(params=["memory", "sqlite", "postgresql", "mysql"])
def store(
    request: pytest.FixtureRequest,
    _sql_stores: dict[str, Any],
    tmp_path_factory: pytest.TempPathFactory,
) -> Any:
    """Every store the tracker runs on, each test starting empty."""
    if request.param == "memory":
        return cl.MemoryStore()
    return sql_store(request.param, _sql_stores, tmp_path_factory.getbasetemp())


@pytest.fixture(params=["sqlite", "postgresql", "mysql"])
def db(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A database URL and a fresh prefix for tests that start their own processes."""
    return backend_url(request.param, tmp_path_factory.mktemp(request.param))


def fresh_prefix() -> str:
    return f"cl{uuid.uuid4().hex[:8]}_"
