"""What only the async tracker and its store add: sharing tables with sync workers, the
messenger adapters, the memory store, and the errors that say what to use instead.
(Every guarantee the two trackers share is in ``test_guarantees.py``.)"""

from __future__ import annotations

import random
import threading
from collections import Counter
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import anyio
import pytest

import commitladder as cl
from support import ladders

pytest_plugins = ["dbfixtures", "trackers"]
pytestmark = pytest.mark.anyio

sa = pytest.importorskip("sqlalchemy")
from commitladder.sql import AsyncSqlStore, SqlStore  # noqa: E402

SEED = Path(cl.__file__).parent / "seed" / "solopreneur.yaml"
T0 = datetime(2026, 1, 5, 9, tzinfo=UTC)


@pytest.fixture(params=["sqlite", "postgresql", "mysql"])
async def pair(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[tuple[SqlStore, AsyncSqlStore]]:
    """A sync and an async store on the same tables of one database."""
    from dbfixtures import backend_url, fresh_prefix
    from trackers import async_url

    url = backend_url(request.param, tmp_path_factory.mktemp(request.param))
    prefix = fresh_prefix()
    sync = SqlStore(url, prefix=prefix)
    store = AsyncSqlStore(async_url(url), prefix=prefix)
    await store.create_schema()
    yield sync, store
    await store.drop_schema()
    await store.close()
    sync.close()


async def test_sync_and_async_workers_share_one_database(
    pair: tuple[SqlStore, AsyncSqlStore],
) -> None:
    sync_store, async_store = pair
    assert sync_store.schema_version() == cl.store.SCHEMA_VERSION  # created by the async one
    seed = cl.load(SEED)
    old = cl.Tracker(store=sync_store, ladders=[seed], clock=cl.SteppableClock(T0))
    new = cl.AsyncTracker(store=async_store, ladders=[seed], clock=cl.SteppableClock(T0))
    await new.enroll("p", ladder="solopreneur")
    ask = old.ask("p", "admit_problem")
    with pytest.raises(cl.AskPending) as refused:  # the sync worker's ask holds the prospect
        await new.ask("p", "admit_problem")
    assert refused.value.ask == ask
    await new.commit("p", idempotency_key="hook-1")
    assert old.commit("p", idempotency_key="hook-1") == await new.commit(
        "p", idempotency_key="hook-1"
    )
    assert old.get("p").snapshot() == (await new.get("p")).snapshot()
    assert old.history("p") == await new.history("p")


THROTTLED_YAML = """\
ladder: cold
start: intro
throttles:
  - {max: 1, per: day}
rungs:
  intro: {kind: conversation, size: 1, next: won, channels: [email]}
ends:
  won: {result: won}
"""


async def test_an_async_ask_over_the_cap_says_when_it_goes_out(
    pair: tuple[SqlStore, AsyncSqlStore],
) -> None:
    """The second ask of the day is queued for the next day, and the async tracker's
    ``sends_at`` says so, as the sync one's does."""
    _, async_store = pair
    ladder = cl.Ladder.from_yaml(THROTTLED_YAML)
    tracker = cl.AsyncTracker(store=async_store, ladders=[ladder], clock=cl.SteppableClock(T0))
    for prospect in ("a", "b"):
        await tracker.enroll(prospect, ladder="cold")
    first = await tracker.ask("a", "intro")
    second = await tracker.ask("b", "intro")
    tomorrow = datetime(2026, 1, 6, tzinfo=UTC)
    assert first.sends_at == second.sends_at == T0  # no send windows
    assert await tracker.sends_at("a") == T0
    assert await tracker.sends_at("b") == tomorrow


async def test_a_sync_and_an_async_worker_racing_open_one_ask(
    pair: tuple[SqlStore, AsyncSqlStore],
) -> None:
    sync_store, async_store = pair
    seed = cl.load(SEED)
    old = cl.Tracker(store=sync_store, ladders=[seed])
    new = cl.AsyncTracker(store=async_store, ladders=[seed])
    old.enroll("p", ladder="solopreneur")
    results: list[Any] = []

    async def attempt(call: Any) -> None:
        try:
            results.append(await call())
        except cl.AskPending as refusal:
            results.append(refusal)

    async with anyio.create_task_group() as group:
        for _ in range(3):
            group.start_soon(attempt, lambda: new.ask("p", "admit_problem"))
            group.start_soon(
                attempt, lambda: anyio.to_thread.run_sync(old.ask, "p", "admit_problem")
            )
    assert sum(isinstance(r, cl.Ask) for r in results) == 1, results
    assert sum(isinstance(r, cl.AskPending) for r in results) == 5, results
    assert len(sync_store.open_asks()) == 1


class FlakyAsyncMessenger:
    """An ``AsyncMessenger`` that fails three calls in ten, yielding to the loop first."""

    def __init__(self) -> None:
        self.sent: list[str] = []
        self.rng = random.Random(30)

    async def send(self, message: cl.Message) -> None:
        await anyio.sleep(0)  # let the other relay run meanwhile
        if self.rng.random() < 0.3:
            raise ConnectionError(f"{message.key} failed on request")
        self.sent.append(message.key)


async def test_an_async_messenger_and_two_relays_deliver_each_message_once(
    pair: tuple[SqlStore, AsyncSqlStore],
) -> None:
    _, store = pair
    messenger = FlakyAsyncMessenger()
    clock = cl.SteppableClock(T0)
    t = cl.AsyncTracker(
        store=store, messenger=messenger, clock=clock, ladders=ladders(), max_attempts=50
    )
    for i in range(20):
        await t.enroll(f"p{i}", ladder="alpha")
        await t.ask(f"p{i}", "hello")
        await t.commit(f"p{i}")
    rounds = 0
    while await store.run(lambda s: s.outbox("pending")):
        rounds += 1
        async with anyio.create_task_group() as group:
            for _ in range(2):
                group.start_soon(t.relay)
        clock.advance(hours=2)
        assert rounds < 60
    assert len(messenger.sent) == 40
    assert Counter(messenger.sent).most_common(1)[0][1] == 1  # each key delivered once


async def test_a_sync_and_an_async_timer_worker_fire_each_timer_once(
    pair: tuple[SqlStore, AsyncSqlStore],
) -> None:
    sync_store, async_store = pair
    old = cl.Tracker(store=sync_store, ladders=ladders(), clock=cl.SteppableClock(T0))
    new = cl.AsyncTracker(store=async_store, ladders=ladders(), clock=cl.SteppableClock(T0))
    count = 30
    for i in range(count):
        await new.enroll(f"p{i}", ladder="solopreneur")
        await new.ask(f"p{i}", "admit_problem")  # expires after 7 days
    later = T0 + timedelta(days=30)
    fired: list[int] = []

    async def drain(run_due: Any) -> None:
        total = 0
        while n := await run_due():
            total += n
        fired.append(total)

    async with anyio.create_task_group() as group:
        group.start_soon(drain, lambda: new.run_due(later, limit=4))
        group.start_soon(
            drain, lambda: anyio.to_thread.run_sync(lambda: old.run_due(later, limit=4))
        )
    assert sum(fired) == count
    for i in range(count):
        assert [e.type for e in old.history(f"p{i}")].count("AskExpired") == 1
    assert sync_store.timers() == []


async def test_a_sync_messenger_runs_in_a_worker_thread_an_async_one_is_awaited() -> None:
    loop_thread = threading.get_ident()
    threads: list[int] = []

    class Blocking:
        def send(self, message: cl.Message) -> None:
            threads.append(threading.get_ident())

    class Awaited:
        async def send(self, message: cl.Message) -> None:
            await anyio.sleep(0)
            threads.append(threading.get_ident())

    for messenger, on_loop in ((Blocking(), False), (Awaited(), True)):
        threads.clear()
        t = cl.AsyncTracker(store=cl.MemoryStore(), messenger=messenger, ladders=[cl.load(SEED)])
        await t.enroll("p", ladder="solopreneur")
        await t.ask("p", "admit_problem")
        assert await t.relay() == cl.RelayReport(sent=1)
        assert (threads[0] == loop_thread) is on_loop
    assert isinstance(Awaited(), cl.AsyncMessenger)


async def test_the_memory_store_serves_an_async_tracker() -> None:
    store = cl.MemoryStore()
    t = cl.AsyncTracker(store=store, ladders=[cl.load(SEED)], clock=cl.SteppableClock(T0))
    await t.enroll("p", ladder="solopreneur")
    await t.ask("p", "admit_problem")
    e = await t.get("p")
    assert (e.status, e.read_only) == ("pending", True)
    assert [ev.type for ev in e.history] == ["Enrolled", "AskIssued"]
    with pytest.raises(cl.ReadOnlyEnrollment):
        e.commit()
    assert store.load("solopreneur/p") is not None


async def test_relay_without_a_messenger_says_how_to_give_one() -> None:
    t = cl.AsyncTracker(store=cl.MemoryStore())
    with pytest.raises(cl.LadderError, match=r"AsyncTracker\(messenger=\.\.\.\)"):
        await t.relay()


def test_an_async_tracker_refuses_a_store_that_would_block_the_loop(tmp_path: Path) -> None:
    store = SqlStore(f"sqlite:///{tmp_path / 'x.db'}")
    with pytest.raises(TypeError, match=r"AsyncSqlStore.*would block the event loop"):
        cl.AsyncTracker(store=store)  # type: ignore[arg-type]
    store.close()


async def test_a_sql_store_given_an_async_engine_names_the_async_store(tmp_path: Path) -> None:
    from sqlalchemy.ext.asyncio import create_async_engine

    engine = create_async_engine(f"sqlite+aiosqlite:///{tmp_path / 'x.db'}")
    with pytest.raises(TypeError, match=r"use commitladder\.sql\.AsyncSqlStore"):
        SqlStore(engine)  # type: ignore[arg-type]
    store = AsyncSqlStore(engine)  # the host's engine: the store leaves it open
    await store.create_schema()
    await store.close()
    async with engine.connect() as conn:
        assert (await conn.exec_driver_sql("select 1")).scalar() == 1
    await engine.dispose()


@pytest.mark.parametrize(
    ("url", "says"),
    [
        ("sqlite+aiosqlite://", "give AsyncSqlStore a file"),
        ("sqlite:///ladders.db", "not an asyncio driver"),
    ],
)
def test_an_async_store_refuses_what_cannot_serve_concurrent_calls(url: str, says: str) -> None:
    with pytest.raises(cl.StoreError, match=says):
        AsyncSqlStore(url)


VALUES = [
    (None, None),
    (datetime(2026, 3, 29, 1, 30, tzinfo=UTC), {"a": [1, None, "é"], "b": {"c": True}}),
    (datetime(1999, 12, 31, 23, 59, 59, 999999, tzinfo=ZoneInfo("Europe/Paris")), ["x", 2**53]),
    (datetime(2200, 1, 1, tzinfo=timezone(timedelta(hours=-5))), "text with 'quotes' and \\"),
]


async def test_prepared_statements_on_async_drivers_write_what_execute_does(db: str) -> None:
    """The hot path's statements (asyncpg takes parameters by position) store and read
    back the same values as ``Connection.execute``, on each asyncio driver."""
    from sqlalchemy.ext.asyncio import create_async_engine

    from commitladder._sql_hot import Prepared, named_dialect
    from commitladder.sql import tables
    from dbfixtures import fresh_prefix
    from trackers import async_url

    prefix = fresh_prefix()
    types = tables(prefix).enrollments.c
    table = sa.Table(
        f"{prefix}scratch",
        sa.MetaData(),
        sa.Column("id", sa.String(40), primary_key=True),
        sa.Column("at", types.updated_at.type, nullable=True),
        sa.Column("body", types.snapshot.type, nullable=True),
    )
    engine = create_async_engine(async_url(db))

    def compare(conn: Any) -> None:
        dialect = conn.dialect
        columns = list(table.columns)
        insert = Prepared.build(
            table.insert(), dialect, named_dialect(dialect), columns, ["id", "at", "body"]
        )
        select = sa.select(table.c.at, table.c.body).where(table.c.id == sa.bindparam("b_id"))
        read = Prepared.build(select, dialect, named_dialect(dialect), columns)
        positional = dialect.paramstyle == "numeric_dollar"  # asyncpg's $1, $2...
        assert (insert._order is not None) == positional
        for i, (at, body) in enumerate(VALUES):
            insert.run(conn, {"id": f"p{i}", "at": at, "body": body})
            conn.execute(table.insert(), {"id": f"e{i}", "at": at, "body": body})
            raw = {
                row[0]: tuple(row[1:])
                for row in conn.exec_driver_sql(
                    f"SELECT id, at, body FROM {table.name} WHERE id IN ('p{i}', 'e{i}')"
                )
            }
            assert raw[f"p{i}"] == raw[f"e{i}"]  # the same values in the database
            expected = dict(conn.execute(select, {"b_id": f"e{i}"}).one()._mapping)
            assert read.rows(conn, {"b_id": f"p{i}"}) == [expected]
            assert expected["body"] == body

    try:
        async with engine.begin() as conn:
            await conn.run_sync(table.create)
            await conn.run_sync(compare)
    finally:
        async with engine.begin() as conn:
            await conn.run_sync(table.drop, checkfirst=True)
        await engine.dispose()
