"""SqlStore on its own: schema, versions, the host's transaction, the error boundary."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager, nullcontext
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
    assert kept.result["refused"] == caught.value.to_dict()


def test_statement_listeners_hear_every_statement_of_a_command(sqlstore: SqlStore) -> None:
    """Engine listeners (tracing, the crash test's kill switch) hear each statement of a
    command, in order, with its parameters; the timers ride on the enrollment's UPDATE."""
    heard: list[tuple[str, Any]] = []

    def listen(conn: Any, cursor: Any, statement: str, params: Any, *rest: Any) -> None:
        heard.append((" ".join(statement.replace('"', "").split()[:3]), params))

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
    assert sqlstore.engine.pool.checkedout() <= KEPT  # type: ignore[attr-defined]


# a store keeps at most one connection out of the pool per kind of transaction (writes,
# reads) between commands, for the next one; everything else goes back
KEPT = 2


def test_every_command_gives_its_connection_back(sqlstore: SqlStore) -> None:
    """Whatever happens in a command (a refusal, a driver error), no connection leaks:
    after each round, at most the ones kept for the next command are out of the pool,
    and ``close()`` gives those back too."""
    tracker = cl.Tracker(store=sqlstore, ladders=[cl.load(SEED)])
    for i in range(3):
        prospect = f"back{i}"
        tracker.enroll(prospect, ladder="solopreneur", now=T0)
        tracker.ask(prospect, "admit_problem", channel="email", now=T0)
        with pytest.raises(cl.AskPending):
            tracker.ask(prospect, "admit_problem", now=T0)
        tracker.withdraw(prospect, now=T0)
        with pytest.raises(cl.NoOpenAsk):
            tracker.commit(prospect, idempotency_key=f"k{i}", now=T0)
        with pytest.raises(cl.ConflictError):  # a driver error inside the transaction
            sqlstore.apply(inserted_again(sqlstore.load(f"solopreneur/{prospect}")))
        assert sqlstore.engine.pool.checkedout() <= KEPT  # type: ignore[attr-defined]
    sqlstore.close()
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
        backends: list[int] = []
        sa.event.listen(
            store.engine, "connect", lambda dbapi, _: backends.append(dbapi.info.backend_pid)
        )
        store.close()  # from here on, every connection the store opens is recorded
        tracker = cl.Tracker(store=store, ladders=[cl.load(SEED)])
        tracker.enroll("dropped", ladder="solopreneur", now=T0)
        admin = sa.create_engine(pg_url, poolclass=sa.pool.NullPool)
        with admin.connect() as conn:  # the server drops every connection of the store
            for pid in backends:
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
        assert store.engine.pool.checkedout() <= KEPT  # type: ignore[attr-defined]
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


# ---- engine events see and rewrite every statement ---------------------------------------------


TAG = "/* traceparent='00-4bf92f3577b34da6-00f067aa0ba902b7-01' */"


def _received_by_sqlite(store: SqlStore) -> list[str]:
    """The statements SQLite receives on the store's connections, from the driver's trace
    callback (installed as each connection opens)."""
    received: list[str] = []

    def trace(dbapi_conn: Any, record: Any) -> None:
        dbapi_conn.set_trace_callback(received.append)

    sa.event.listen(store.engine, "connect", trace)
    return received


def _received_by_postgresql(store: SqlStore) -> list[str]:
    """What PostgreSQL's ``pg_stat_activity`` shows as the store connection's last query,
    read from another connection after each statement."""
    received: list[str] = []
    watcher = sa.create_engine(store.engine.url, poolclass=sa.pool.NullPool)

    def after(conn: Any, cursor: Any, statement: str, *rest: Any) -> None:
        pid = conn.connection.driver_connection.info.backend_pid
        with watcher.connect() as other:
            received.append(
                other.exec_driver_sql(
                    "SELECT query FROM pg_stat_activity WHERE pid = %(pid)s", {"pid": pid}
                ).scalar_one()
            )

    sa.event.listen(store.engine, "after_cursor_execute", after)
    return received


@contextmanager
def _received_by_mysql(store: SqlStore) -> Iterator[list[str]]:
    """The statements MariaDB/MySQL received on the store's connections, from the server's
    general query log, switched on (to a table) for the length of the block only."""
    received: list[str] = []
    threads: list[int] = []
    sa.event.listen(
        store.engine, "connect", lambda dbapi_conn, _: threads.append(dbapi_conn.thread_id())
    )
    admin = sa.create_engine(store.engine.url, poolclass=sa.pool.NullPool)
    with admin.connect() as conn:
        output, enabled = conn.exec_driver_sql("SELECT @@log_output, @@general_log").one()
        conn.exec_driver_sql("SET GLOBAL log_output = 'TABLE'")
        conn.exec_driver_sql("SET GLOBAL general_log = 1")
        try:
            yield received
        finally:
            conn.exec_driver_sql(f"SET GLOBAL general_log = {int(enabled)}")
            conn.exec_driver_sql("SET GLOBAL log_output = %(output)s", {"output": output})
        if threads:
            rows = conn.exec_driver_sql(
                "SELECT argument FROM mysql.general_log WHERE command_type = 'Query' "
                f"AND thread_id IN ({', '.join(str(int(t)) for t in threads)})"
            )
            received.extend(
                row[0].decode() if isinstance(row[0], bytes) else row[0] for row in rows
            )


def test_a_tracing_listener_rewrites_every_statement_a_command_runs(db: str) -> None:
    """A ``before_cursor_execute`` listener with ``retval=True`` (how SQL-comment tracing
    tags statements) rewrites each statement of every command, and the database receives
    the rewritten text: SQLite's trace callback, PostgreSQL's pg_stat_activity and
    MariaDB's session profile show the comment on every statement."""
    from dbfixtures import fresh_prefix

    store = SqlStore(db, prefix=fresh_prefix())  # no connection yet: each will carry the probe
    sent: list[str] = []

    @sa.event.listens_for(store.engine, "before_cursor_execute", retval=True)
    def comment(conn: Any, cursor: Any, statement: str, params: Any, *rest: Any) -> Any:
        tagged = f"{statement} {TAG}"
        sent.append(tagged)
        return tagged, params

    backend = store.engine.dialect.name
    try:
        if backend == "sqlite":
            probe: Any = nullcontext(_received_by_sqlite(store))
        elif backend == "postgresql":
            probe = nullcontext(_received_by_postgresql(store))
        else:
            probe = _received_by_mysql(store)
        with probe as received:
            store.create_schema()
            tracker = cl.Tracker(
                store=store, messenger=cl.RecordingMessenger(), ladders=[cl.load(SEED)]
            )
            tracker.enroll("p1", ladder="solopreneur", now=T0)
            tracker.ask("p1", "admit_problem", channel="email", now=T0, idempotency_key="k1")
            tracker.follow_up("p1", now=T0 + timedelta(days=2))
            tracker.commit("p1", now=T0 + timedelta(days=3))
            tracker.run_due(T0 + timedelta(days=9))
            tracker.relay(now=T0 + timedelta(days=9))
    finally:
        sa.event.remove(store.engine, "before_cursor_execute", comment)
        store.drop_schema()
        store.close()
    writes = [s for s in sent if s.split()[0] in ("INSERT", "UPDATE", "DELETE")]
    assert len(writes) >= 10, sent  # the commands' writes went through the listener
    database_side = [" ".join(s.split()) for s in received if TAG in s]
    for statement in writes:
        head = " ".join(statement.split()[:3])
        assert any(s.startswith(head) and s.endswith(TAG) for s in database_side), statement
    assert all(s.endswith(TAG) for s in database_side)


# ---- schema upgrades ---------------------------------------------------------------------------


def _version_1(prefix: str) -> tuple[sa.MetaData, sa.Table, sa.Table]:
    """Schema version 1 as it was released: the enrollments row without timers, and one
    row per timer in ``<prefix>timers``. The other tables have not changed since."""
    from commitladder.sql import tables

    current = tables(prefix)
    metadata = sa.MetaData()
    for table in (current.meta, current.events, current.open_asks, current.outbox):
        table.to_metadata(metadata)
    current.idempotency.to_metadata(metadata)
    e = current.enrollments
    enrollments = sa.Table(
        e.name,
        metadata,
        sa.Column("id", sa.String(255), primary_key=True),
        sa.Column("prospect", sa.String(255), nullable=False, index=True),
        sa.Column("ladder", sa.String(255), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("version", sa.Integer, nullable=False),
        sa.Column("snapshot", e.c.snapshot.type, nullable=False),
        sa.Column("fired", e.c.fired.type, nullable=False),
        sa.Column("updated_at", e.c.updated_at.type, nullable=True),
    )
    timers = sa.Table(
        f"{prefix}timers",
        metadata,
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("enrollment_id", sa.String(255), nullable=False, index=True),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("due_at", e.c.updated_at.type, nullable=False, index=True),
        sa.Column("rung", sa.String(255), nullable=True),
        sa.Column("lease_until", e.c.updated_at.type, nullable=True),
    )
    return metadata, enrollments, timers


def test_create_schema_upgrades_a_version_1_schema_in_place(db: str) -> None:
    """Tables written by the release with schema version 1 (timers in a table of their
    own) are upgraded by ``create_schema()``: every timer moves into its enrollment's
    row, the old table goes, and the timers fire as before."""
    from dbfixtures import fresh_prefix

    prefix = fresh_prefix()
    memory = cl.MemoryStore()
    source = cl.Tracker(store=memory, ladders=[cl.load(SEED)])
    for i, rung in enumerate(["admit_problem", "admit_problem", None]):
        source.enroll(f"p{i}", ladder="solopreneur", now=T0)
        if rung is not None:
            source.ask(f"p{i}", rung, channel="email", now=T0 + timedelta(hours=i))
    expected = memory.timers()
    assert len(expected) == 4  # two asks: an expiry and a follow-up due each

    metadata, enrollments, timers = _version_1(prefix)
    engine = sa.create_engine(db)
    store = SqlStore(db, prefix=prefix)
    try:
        with engine.begin() as conn:
            metadata.create_all(conn)
            conn.execute(
                metadata.tables[f"{prefix}meta"].insert(), {"name": "schema_version", "value": "1"}
            )
            for stored in (memory.load(f"solopreneur/p{i}") for i in range(3)):
                assert stored is not None
                conn.execute(
                    enrollments.insert(),
                    {
                        "id": stored.id,
                        "prospect": stored.prospect,
                        "ladder": stored.ladder,
                        "status": stored.status,
                        "version": stored.version,
                        "snapshot": stored.snapshot,
                        "fired": list(stored.fired),
                        "updated_at": T0,
                    },
                )
            conn.execute(
                timers.insert(),
                [
                    {
                        "enrollment_id": t.enrollment_id,
                        "kind": t.kind,
                        "due_at": t.due_at,
                        "rung": t.rung,
                    }
                    for t in expected
                ],
            )
        assert store.schema_version() == 1

        store.create_schema()
        store.create_schema()  # and again: nothing left to do

        assert store.schema_version() == SCHEMA_VERSION
        assert not sa.inspect(engine).has_table(f"{prefix}timers")
        assert store.timers() == sorted(expected, key=lambda t: (t.due_at, t.enrollment_id))
        tracker = cl.Tracker(store=store, ladders=[cl.load(SEED)])
        assert tracker.run_due(T0 + timedelta(days=8)) == 2  # both asks expire
        assert all(s.status != "pending" for i in range(2) for s in store.find(f"p{i}"))
    finally:
        store.drop_schema()
        store.close()
        with engine.begin() as conn:
            timers.drop(conn, checkfirst=True)
        engine.dispose()


# ---- the public tables and the read-only engine ------------------------------------------------


def test_tables_are_the_stores_tables_built_once_per_prefix(sqlstore: SqlStore) -> None:
    from commitladder.sql import tables

    t = tables(sqlstore.prefix)
    assert t is sqlstore.tables is tables(sqlstore.prefix)
    assert t.enrollments.name == f"{sqlstore.prefix}enrollments"
    assert set(t.metadata.tables) <= set(sa.inspect(sqlstore.engine).get_table_names())
    with pytest.raises(ValueError, match="short SQL identifier"):
        tables("drop table;")


def test_a_read_only_engine_reads_and_cannot_write(sqlstore: SqlStore) -> None:
    from commitladder.sql import read_only_engine

    tracker = cl.Tracker(store=sqlstore, ladders=[cl.load(SEED)])
    tracker.enroll("reader", ladder="solopreneur", now=T0)
    engine = read_only_engine(sqlstore.engine.url)
    t = sqlstore.tables
    try:
        with engine.connect() as conn:
            assert conn.execute(sa.select(t.enrollments.c.id)).scalars().all() == [
                "solopreneur/reader"
            ]
        with pytest.raises(sa.exc.DBAPIError), engine.begin() as conn:
            conn.execute(t.enrollments.delete())
    finally:
        engine.dispose()
    assert sqlstore.count() == 1


def test_a_read_only_engine_never_creates_a_sqlite_file(tmp_path: Path) -> None:
    from commitladder.sql import read_only_engine

    missing = tmp_path / "nothing-here.db"
    with pytest.raises(cl.StoreError, match="no database file at"):
        read_only_engine(f"sqlite:///{missing}")
    assert not missing.exists()


def test_disposing_the_stores_engine_closes_the_connections_it_kept(db: str) -> None:
    """A store made from a URL keeps a connection for its next command (one for writes,
    one for reads); ``engine.dispose()`` closes those too, so none is left open in a
    pool nobody closes (it would be garbage-collected open: a ResourceWarning)."""
    from dbfixtures import fresh_prefix

    store = SqlStore(db, prefix=fresh_prefix())
    opened: list[Any] = []
    sa.event.listen(store.engine, "connect", lambda dbapi, _: opened.append(dbapi))
    try:
        store.create_schema()
        tracker = cl.Tracker(store=store, ladders=[cl.load(SEED)])
        tracker.enroll("kept", ladder="solopreneur", now=T0)  # a write transaction
        assert tracker.get("kept").status == "ready"  # a read one
        assert store.engine.pool.checkedout() == 2  # type: ignore[attr-defined]
        store.engine.dispose()
        assert store.engine.pool.checkedout() == 0  # type: ignore[attr-defined]
        driver_error = store.engine.dialect.loaded_dbapi.Error
        for dbapi in opened:  # every driver connection is closed
            with pytest.raises(driver_error):
                dbapi.cursor().execute("SELECT 1")
        assert tracker.get("kept").status == "ready"  # and the store goes on
    finally:
        store.drop_schema()
        store.close()
