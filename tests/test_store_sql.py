"""SqlStore on its own: schema, versions, the host's transaction, the error boundary."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

import commitladder as cl

pytest_plugins = ["dbfixtures"]

sa = pytest.importorskip("sqlalchemy")

from commitladder.sql import SqlStore  # noqa: E402
from commitladder.store import SCHEMA_VERSION, Change  # noqa: E402

SEED = Path(cl.__file__).parent / "seed" / "solopreneur.yaml"
T0 = datetime(2026, 1, 5, 9, tzinfo=UTC)


@pytest.fixture(params=["sqlite", "postgresql", "mysql"])
def sqlstore(
    request: pytest.FixtureRequest, _sql_stores: dict[str, Any], tmp_path_factory: Any
) -> Any:
    from dbfixtures import sql_store

    return sql_store(request.param, _sql_stores, tmp_path_factory.getbasetemp())


def test_create_schema_is_idempotent_and_records_its_version(sqlstore: SqlStore) -> None:
    sqlstore.create_schema()
    sqlstore.create_schema()
    assert sqlstore.schema_version() == SCHEMA_VERSION


def test_a_newer_schema_is_refused(db: str) -> None:
    from dbfixtures import fresh_prefix

    store = SqlStore(db, prefix=fresh_prefix())
    try:
        store.create_schema()
        meta = store.metadata.tables[f"{store.prefix}meta"]
        with store.engine.begin() as conn:
            conn.execute(meta.update().values(value="99"))
        with pytest.raises(cl.StoreError, match="newer than this commitladder"):
            store.create_schema()
    finally:
        store.drop_schema()
        store.close()


def test_a_prefix_must_be_an_identifier() -> None:
    with pytest.raises(ValueError, match="SQL identifier"):
        SqlStore("sqlite://", prefix="x; drop table")


def test_loading_reads_the_snapshot_not_the_history(sqlstore: SqlStore) -> None:
    tracker = cl.Tracker(store=sqlstore, clock=cl.SteppableClock(T0), ladders=[cl.load(SEED)])
    tracker.enroll("p", ladder="solopreneur")
    tracker.ask("p", "admit_problem")
    events = sqlstore.metadata.tables[f"{sqlstore.prefix}events"]
    with sqlstore.engine.begin() as conn:
        conn.execute(events.delete())
    assert tracker.get("p").pending is not None


def test_a_stale_version_is_a_conflict(sqlstore: SqlStore) -> None:
    tracker = cl.Tracker(store=sqlstore, clock=cl.SteppableClock(T0), ladders=[cl.load(SEED)])
    tracker.enroll("p", ladder="solopreneur")
    stored = sqlstore.load("solopreneur/p")
    assert stored is not None
    change = Change(
        enrollment_id=stored.id,
        prospect="p",
        ladder="solopreneur",
        status="ready",
        expected_version=stored.version + 5,
        snapshot=stored.snapshot,
    )
    with pytest.raises(cl.ConflictError):
        sqlstore.apply(change)


@pytest.fixture
def notes(sqlstore: SqlStore) -> Any:
    """A table of the host application's own, dropped after the test."""
    table = _notes(sqlstore)
    yield table
    with sqlstore.engine.begin() as conn:
        table.drop(conn)


def _notes(store: SqlStore) -> Any:
    notes = sa.Table(
        f"{store.prefix}crm_notes",
        sa.MetaData(),
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("text", sa.String(100)),
    )
    with store.engine.begin() as conn:
        notes.create(conn, checkfirst=True)
        conn.execute(notes.delete())
    return notes


@pytest.mark.parametrize("outcome", ["commit", "rollback"])
def test_commands_join_the_host_transaction(sqlstore: SqlStore, notes: Any, outcome: str) -> None:
    """The CRM's own row, the ladder's state and its outbox commit or roll back together;
    listeners hear only about what was committed, after the commit."""
    heard: list[str] = []
    with sqlstore.engine.connect() as conn:
        tx = conn.begin()
        joined = SqlStore.joined(conn, sqlstore)
        tracker = cl.Tracker(
            store=joined,
            clock=cl.SteppableClock(T0),
            ladders=[cl.load(SEED)],
            listeners=[lambda event: heard.append(event.type)],
        )
        tracker.enroll("p", ladder="solopreneur")
        tracker.ask("p", "admit_problem")
        conn.execute(notes.insert().values(text="asked p to admit a problem"))
        assert heard == []  # not yet: the host has not committed
        if outcome == "commit":
            tx.commit()
        else:
            tx.rollback()
    stored = sqlstore.load("solopreneur/p")
    with sqlstore.engine.connect() as conn:
        rows = conn.execute(sa.select(notes)).all()
    if outcome == "commit":
        assert stored is not None
        assert stored.status == "pending"
        assert len(rows) == 1
        assert [e.message.kind for e in sqlstore.outbox()] == ["ask"]
        assert heard == ["Enrolled", "AskIssued"]
    else:
        assert (stored, rows, sqlstore.outbox(), heard) == (None, [], [], [])


def test_a_refusal_inside_the_host_transaction_leaves_it_usable(sqlstore: SqlStore) -> None:
    with sqlstore.engine.connect() as conn, conn.begin():
        joined = SqlStore.joined(conn, sqlstore)
        tracker = cl.Tracker(store=joined, clock=cl.SteppableClock(T0), ladders=[cl.load(SEED)])
        tracker.register(
            cl.Ladder.from_dict(
                {
                    "ladder": "webinar",
                    "version": 1,
                    "start": "register",
                    "rungs": {"register": {"kind": "webinar", "size": 1, "next": "won"}},
                    "ends": {"won": {"result": "won"}},
                }
            )
        )
        tracker.enroll("p", ladder="solopreneur")
        tracker.enroll("p", ladder="webinar")
        tracker.ask("p", "admit_problem")
        with pytest.raises(cl.AskPending):  # the unique key refuses inside a savepoint
            tracker.ask("p", "register")
        tracker.commit("p")
    assert sqlstore.load("solopreneur/p").snapshot["position"] == "admit_problem"  # type: ignore[union-attr]


def test_a_refusal_under_a_key_commits_or_rolls_back_with_the_host(sqlstore: SqlStore) -> None:
    ladder = cl.load(SEED)
    with sqlstore.engine.begin() as conn:
        cl.Tracker(store=SqlStore.joined(conn, sqlstore), ladders=[ladder]).enroll(
            "p", ladder="solopreneur", now=T0
        )

    def refused_in_a_block() -> None:
        with sqlstore.engine.begin() as conn:
            tracker = cl.Tracker(store=SqlStore.joined(conn, sqlstore), ladders=[ladder])
            tracker.commit("p", idempotency_key="left-the-block", now=T0)

    with pytest.raises(cl.NoOpenAsk):
        refused_in_a_block()
    assert sqlstore.recall("left-the-block") is None  # the host rolled back: the key is free
    with sqlstore.engine.begin() as conn:
        tracker = cl.Tracker(store=SqlStore.joined(conn, sqlstore), ladders=[ladder])
        with pytest.raises(cl.NoOpenAsk) as caught:  # caught inside: the host commits
            tracker.commit("p", idempotency_key="kept", now=T0)
    kept = sqlstore.recall("kept")
    assert kept is not None
    assert kept.result == {"refused": caught.value.to_dict()}


def test_statement_listeners_hear_every_statement_of_a_command(sqlstore: SqlStore) -> None:
    """Engine listeners (tracing, the crash test's kill switch) hear each statement of a
    command, in order, with its parameters; the timers ride on the enrollment's UPDATE."""
    heard: list[tuple[str, Any]] = []

    def listen(conn: Any, cursor: Any, statement: str, params: Any, *rest: Any) -> None:
        heard.append((" ".join(statement.split()[:3]), params))

    sa.event.listen(sqlstore.engine, "before_cursor_execute", listen)
    try:
        tracker = cl.Tracker(store=sqlstore, ladders=[cl.load(SEED)])
        tracker.enroll("heard", ladder="solopreneur", now=T0)
        heard.clear()
        tracker.ask("heard", "admit_problem", ladder="solopreneur", channel="email", now=T0)
    finally:
        sa.event.remove(sqlstore.engine, "before_cursor_execute", listen)
    verbs = [text.split()[0] for text, _ in heard]
    p = sqlstore.prefix
    assert [text for text, _ in heard if text.startswith(("UPDATE", "INSERT"))] == [
        f"UPDATE {p}enrollments SET",
        f"INSERT INTO {p}events",
        f"INSERT INTO {p}open_asks",
        f"INSERT INTO {p}outbox",
    ]
    assert verbs.count("SELECT") == 1  # the snapshot, read once
    assert any("admit_problem" in str(params) for _, params in heard)


def inserted_again(stored: Any) -> Change:
    """A change that inserts ``stored`` as new (version 0): the insert meets the primary
    key of the existing row, a driver error inside the transaction."""
    assert stored is not None
    return Change(
        enrollment_id=stored.id,
        prospect=stored.prospect,
        ladder=stored.ladder,
        status=stored.status,
        expected_version=0,
        snapshot=stored.snapshot,
        fired=(),
        now=T0,
    )


def test_enrolling_a_stored_enrollment_again_is_a_conflict_that_writes_nothing(
    sqlstore: SqlStore,
) -> None:
    """The primary key refuses the second insert: our ConflictError, the row untouched."""
    tracker = cl.Tracker(store=sqlstore, ladders=[cl.load(SEED)])
    tracker.enroll("twice", ladder="solopreneur", now=T0)
    stored = sqlstore.load("solopreneur/twice")
    change = inserted_again(stored)
    with pytest.raises(cl.ConflictError, match="enrolled by another worker"):
        sqlstore.apply(change)
    assert sqlstore.load("solopreneur/twice") == stored


def test_a_session_holds_every_call_in_one_transaction(sqlstore: SqlStore) -> None:
    """Hot statements and the rest (here the timer claim) share the session's transaction,
    on the driver connection the store runs lean: both commit, or neither does."""
    tracker = cl.Tracker(store=sqlstore, ladders=[cl.load(SEED)])
    tracker.enroll("one-tx", ladder="solopreneur", now=T0)
    tracker.ask("one-tx", "admit_problem", channel="email", now=T0)
    later = T0 + timedelta(days=30)
    lease = later + timedelta(minutes=5)
    with pytest.raises(RuntimeError), sqlstore.session() as s:  # noqa: PT012
        claimed = s.claim_timers(later, 10, lease)
        assert claimed
        assert s.load("solopreneur/one-tx") is not None
        raise RuntimeError("the block fails: the lease goes with it")
    assert sqlstore.claim_timers(later, 10, lease) == claimed  # claimable again, now leased
    assert sqlstore.claim_timers(later, 10, lease) == []
    assert sqlstore.engine.pool.checkedout() == 0  # type: ignore[attr-defined]


def test_every_command_gives_its_connection_back(sqlstore: SqlStore) -> None:
    tracker = cl.Tracker(store=sqlstore, ladders=[cl.load(SEED)])
    tracker.enroll("back", ladder="solopreneur", now=T0)
    tracker.ask("back", "admit_problem", channel="email", now=T0)
    with pytest.raises(cl.AskPending):
        tracker.ask("back", "admit_problem", now=T0)
    with pytest.raises(cl.NoOpenAsk):
        tracker.withdraw("back", now=T0) and tracker.commit("back", idempotency_key="k", now=T0)
    with pytest.raises(cl.ConflictError):  # a driver error inside the transaction
        sqlstore.apply(inserted_again(sqlstore.load("solopreneur/back")))
    assert sqlstore.engine.pool.checkedout() == 0  # type: ignore[attr-defined]


def test_a_store_given_an_engine_runs_through_sqlalchemy_connections(sqlstore: SqlStore) -> None:
    """An engine the host made may carry its own events: its store runs every transaction
    through SQLAlchemy's ``Connection``, whose begin and commit events fire."""
    engine = sa.create_engine(sqlstore.engine.url)
    store = SqlStore(engine, prefix=sqlstore.prefix)
    commits: list[object] = []
    sa.event.listen(engine, "commit", commits.append)
    try:
        tracker = cl.Tracker(store=store, ladders=[cl.load(SEED)])
        tracker.enroll("given", ladder="solopreneur", now=T0)
        tracker.ask("given", "admit_problem", channel="email", now=T0)
        assert len(commits) == 2
        assert tracker.get("given").pending is not None
    finally:
        engine.dispose()


def test_a_dropped_server_connection_fails_one_command_and_is_replaced() -> None:
    """The server drops the pooled connection between commands: the next command fails
    with our StoreError (nothing written), the connection is thrown away, and the one
    after runs on a fresh connection."""
    from dbfixtures import server_url

    pg_url = server_url("postgresql")
    store = SqlStore(pg_url, prefix=f"cd{uuid.uuid4().hex[:8]}_")
    store.create_schema()
    try:
        tracker = cl.Tracker(store=store, ladders=[cl.load(SEED)])
        tracker.enroll("dropped", ladder="solopreneur", now=T0)
        with store.engine.connect() as conn:  # the pool's one connection, as the next command
            pid = conn.exec_driver_sql("SELECT pg_backend_pid()").scalar()
        admin = sa.create_engine(pg_url, poolclass=sa.pool.NullPool)
        with admin.connect() as conn:
            conn.exec_driver_sql(f"SELECT pg_terminate_backend({int(pid)})")
        try:
            tracker.ask("dropped", "admit_problem", channel="email", now=T0)
            failed = 0
        except cl.StoreError:
            failed = 1
            assert store.load("solopreneur/dropped").snapshot["pending"] is None  # type: ignore[union-attr]
            tracker.ask("dropped", "admit_problem", channel="email", now=T0)
        assert failed == 1  # no pre-ping: the dead connection is found by the command
        assert tracker.get("dropped", ladder="solopreneur").pending is not None
        assert store.engine.pool.checkedout() == 0  # type: ignore[attr-defined]
    finally:
        store.drop_schema()
        store.close()


@pytest.mark.parametrize(
    "url",
    ["sqlite:////no/such/folder/ladders.db", "postgresql+psycopg://postgres@127.0.0.1:1/test"],
    ids=["sqlite", "postgresql"],
)
def test_a_database_that_cannot_be_reached_is_a_store_error(url: str) -> None:
    store = SqlStore(url)
    try:
        with pytest.raises(cl.StoreError, match="unavailable or refused"):
            store.load("solopreneur/p")
        with pytest.raises(cl.StoreError, match="unavailable or refused"):
            cl.Tracker(store=store, ladders=[cl.load(SEED)]).enroll("p", ladder="solopreneur")
    finally:
        store.close()
