"""SqlStore on its own: schema, versions, the host's transaction, the error boundary."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

import commitladder as cl

pytest_plugins = ["dbfixtures"]

sa = pytest.importorskip("sqlalchemy")
from commitladder._store import Change  # noqa: E402
from commitladder.sql import SqlStore  # noqa: E402

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
    assert sqlstore.schema_version() == 1


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
    """The hot statements run on the driver's cursor, yet engine listeners (tracing, the
    crash test's kill switch) still hear each one, in order, with its parameters."""
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
        f"INSERT INTO {p}timers",
        f"INSERT INTO {p}outbox",
    ]
    assert verbs.count("SELECT") == 1  # the snapshot, read once
    assert any("admit_problem" in str(params) for _, params in heard)


def test_a_driver_error_on_the_fast_path_is_translated(sqlstore: SqlStore) -> None:
    """A unique key refusing a hot-path insert still becomes our error, named by its rule."""
    tracker = cl.Tracker(store=sqlstore, ladders=[cl.load(SEED)])
    tracker.enroll("twice", ladder="solopreneur", now=T0)
    stored = sqlstore.load("solopreneur/twice")
    assert stored is not None
    change = Change(
        enrollment_id=stored.id,
        prospect=stored.prospect,
        ladder=stored.ladder,
        status=stored.status,
        expected_version=0,  # "new": the insert meets the primary key of the existing row
        snapshot=stored.snapshot,
        fired=(),
        now=T0,
    )
    with pytest.raises(cl.ConflictError, match="written by another worker"):
        sqlstore.apply(change)
    assert sqlstore.load("solopreneur/twice") == stored
