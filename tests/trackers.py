"""Both trackers behind one face, so the guarantees suite runs against each on every database.

``Driver`` wraps a ``Tracker`` or an ``AsyncTracker``: ``await driver.ask(...)`` awaits the
async one, and runs the sync one in a worker thread, so concurrent calls really race (on
threads, or on coroutines). ``await driver.inspect(fn)`` runs ``fn(store)`` on the store
the tracker writes. The stores of one backend share one table prefix (sync and async
stores use the same tables), emptied before each test. Load with
``pytest_plugins = ["dbfixtures", "trackers"]``.
"""

from __future__ import annotations

import functools
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import anyio
import pytest

import commitladder as cl

ASYNC_DRIVERS = {"sqlite": "sqlite+aiosqlite", "postgresql": "postgresql+asyncpg"}
ASYNC_DRIVERS["mysql"] = "mysql+asyncmy"


def async_url(sync_url: str) -> str:
    """The URL of the same database through its asyncio driver."""
    import sqlalchemy as sa

    url = sa.make_url(sync_url)
    return url.set(drivername=ASYNC_DRIVERS[url.get_backend_name()]).render_as_string(
        hide_password=False
    )


class Driver:
    """A tracker of either kind, awaited alike."""

    def __init__(self, tracker: cl.Tracker | cl.AsyncTracker, store: Any) -> None:
        self.tracker = tracker
        self.store = store
        self.kind = "async" if isinstance(tracker, cl.AsyncTracker) else "sync"

    def __getattr__(self, name: str) -> Callable[..., Any]:
        method = getattr(self.tracker, name)
        if self.kind == "async":
            return method  # type: ignore[no-any-return]

        async def in_thread(*args: Any, **kwargs: Any) -> Any:
            return await anyio.to_thread.run_sync(functools.partial(method, *args, **kwargs))

        return in_thread

    async def inspect(self, read: Callable[[Any], Any]) -> Any:
        """``read(store)`` on the store the tracker writes (a ``SqlStore`` either way)."""
        if self.kind == "async":
            return await self.store.run(read)
        return await anyio.to_thread.run_sync(read, self.store)

    def __repr__(self) -> str:
        return f"<Driver {self.kind} {self.store!r}>"


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"  # asyncpg, aiosqlite and asyncmy run on asyncio only


@pytest.fixture(
    params=[
        pytest.param((kind, backend), id=f"{kind}-{backend}")
        for backend in ("sqlite", "postgresql", "mysql")
        for kind in ("sync", "async")
    ]
)
async def make(
    request: pytest.FixtureRequest,
    _sql_stores: dict[str, Any],
    tmp_path_factory: pytest.TempPathFactory,
) -> AsyncIterator[Callable[..., Driver]]:
    """``make(**tracker_options)``: a ``Driver`` on empty tables; each test, each database,
    each kind of tracker."""
    from dbfixtures import RUN_PREFIX, clear, sql_store  # a plugin too: imported once it is

    kind, backend = request.param
    sync_store = sql_store(backend, _sql_stores, Path(tmp_path_factory.getbasetemp()))
    made: list[Any] = []

    def build(**options: Any) -> Driver:
        if kind == "sync":
            return Driver(cl.Tracker(store=sync_store, **options), sync_store)
        from commitladder.sql import AsyncSqlStore

        store = AsyncSqlStore(
            async_url(sync_store.engine.url.render_as_string(hide_password=False)),
            prefix=RUN_PREFIX,
        )
        made.append(store)
        return Driver(cl.AsyncTracker(store=store, **options), store)

    yield build
    for store in made:
        await store.close()
    clear(sync_store)
