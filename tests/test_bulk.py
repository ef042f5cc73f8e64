"""Bulk: ``Tracker.enroll_many`` enrolls a list in batched transactions, skipping and
reporting prospects already enrolled or kept out by the re-entry policy, on every store."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

import commitladder as cl

pytest_plugins = ["dbfixtures"]

T0 = datetime(2026, 1, 5, 9, tzinfo=UTC)


def ladder(reentry: str = "never") -> cl.Ladder:
    return cl.Ladder.from_dict(
        {
            "ladder": "list",
            "reentry": reentry,
            "start": "subscribe",
            "defaults": {"channels": ["email"]},
            "rungs": {"subscribe": {"kind": "subscribe", "size": 1, "next": "won"}},
            "ends": {"won": {"result": "won"}, "lost": {"result": "lost"}},
        }
    )


def test_enroll_many_enrolls_in_batches_and_reports_who_it_skipped(store: Any) -> None:
    heard: list[cl.Event] = []
    tracker = cl.Tracker(store=store, ladders=[ladder()], listeners=[heard.append])
    tracker.enroll("p3", ladder="list", now=T0)  # live already
    tracker.enroll("p5", ladder="list", now=T0)
    tracker.end("p5", "lost", now=T0)  # ended: reentry never keeps them out
    heard.clear()
    names = [f"p{n}" for n in range(10)] + ["p1"]  # p1 twice
    report = tracker.enroll_many(names, ladder="list", now=T0 + timedelta(hours=1), batch=3)
    assert report.enrolled == ("p0", "p1", "p2", "p4", "p6", "p7", "p8", "p9")
    assert [p for p, _ in report.skipped] == ["p3", "p5"]
    assert report.skipped[0][1] == "already enrolled (list/p3)"
    assert "reentry: never" in report.skipped[1][1]
    assert [e.prospect for e in heard if isinstance(e, cl.Enrolled)] == list(report.enrolled)
    for p in report.enrolled:
        e = tracker.get(p)
        assert (e.id, e.status, e.version) == (f"list/{p}", "ready", 1)
        assert [ev.type for ev in tracker.history(p)] == ["Enrolled"]
    tracker.ask("p0", "subscribe", now=T0 + timedelta(hours=2))
    again = tracker.enroll_many(names, ladder="list", now=T0 + timedelta(hours=3))
    assert again.enrolled == ()
    assert len(again.skipped) == 10


def test_enroll_many_starts_new_runs_where_the_policy_allows(store: Any) -> None:
    tracker = cl.Tracker(store=store, ladders=[ladder("after_end")])
    tracker.enroll("p0", ladder="list", now=T0)
    tracker.end("p0", "lost", now=T0)
    report = tracker.enroll_many(["p0", "p1"], ladder="list", now=T0 + timedelta(days=1))
    assert report.enrolled == ("p0", "p1")
    assert [e.id for e in tracker.enrollments("p0")] == ["list/p0", "list/p0~2"]


def test_a_batch_that_meets_an_enrollment_made_meanwhile_goes_one_by_one(store: Any) -> None:
    tracker = cl.Tracker(store=store, ladders=[ladder()])
    tracker.enroll("a", ladder="list", now=T0)
    tracker.rekey("a", "b", now=T0)  # list/a now belongs to b: a's natural id is taken
    report = tracker.enroll_many(["a", "c"], ladder="list", now=T0)
    assert report.enrolled == ("a", "c")
    assert tracker.get("a").id.startswith("list/a~")
    assert tracker.get("b").id == "list/a"


def test_enroll_many_checks_its_arguments() -> None:
    tracker = cl.Tracker(store=cl.MemoryStore(), ladders=[ladder()])
    with pytest.raises(ValueError, match="batch"):
        tracker.enroll_many(["a"], ladder="list", batch=0)
    with pytest.raises(TypeError, match="prospect"):
        tracker.enroll_many(["a", ""], ladder="list")


def test_enroll_many_writes_what_enroll_writes(ladders: dict[str, cl.Ladder]) -> None:
    """The batch path builds each new enrollment's change without ``_change``: it must
    store exactly what one ``enroll`` stores (snapshot, events, timers, messages)."""
    for lad in ladders.values():
        one, many = cl.MemoryStore(), cl.MemoryStore()
        cl.Tracker(store=one, ladders=[lad]).enroll("p", ladder=lad.name, now=T0, actor="ops")
        cl.Tracker(store=many, ladders=[lad]).enroll_many(
            ["p"], ladder=lad.name, now=T0, actor="ops"
        )
        assert many.enrollments() == one.enrollments(), lad.name
        assert many.events(f"{lad.name}/p") == one.events(f"{lad.name}/p")
        assert (many.timers(), many.outbox(), many.open_asks()) == (
            one.timers(),
            one.outbox(),
            one.open_asks(),
        )


def test_enroll_many_stores_the_bytes_enroll_stores(
    sql_store: Any, ladders: dict[str, cl.Ladder]
) -> None:
    """On PostgreSQL ``enroll_many`` writes with ``COPY``, around SQLAlchemy's handling of
    an INSERT's parameters: every column must hold the text one ``enroll`` stores there
    (a time shifted by a zone, or JSON spelled otherwise, would differ)."""
    import sqlalchemy as sa

    from commitladder.sql import SqlStore
    from dbfixtures import fresh_prefix

    other = SqlStore(sql_store.engine.url, prefix=fresh_prefix())
    other.create_schema()
    try:
        for lad in ladders.values():
            cl.Tracker(store=sql_store, ladders=[lad]).enroll(
                "p", ladder=lad.name, now=T0, actor="ops"
            )
            cl.Tracker(store=other, ladders=[lad]).enroll_many(
                ["p"], ladder=lad.name, now=T0, actor="ops"
            )
        stored = []
        for store in (sql_store, other):
            with store.engine.connect() as conn:
                stored.append(
                    [
                        sorted(
                            tuple(row)
                            for row in conn.execute(
                                sa.select(*(sa.cast(c, sa.Text) for c in table.columns))
                            )
                        )
                        for table in (store.tables.enrollments, store.tables.events)
                    ]
                )
        assert stored[0] == stored[1]
        assert len(stored[0][0]) == len(ladders)
    finally:
        other.drop_schema()
        other.close()


def test_enroll_many_keeps_the_timers_of_an_enrollment_that_makes_some(
    sql_store: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """No ladder today gives a fresh enrollment a timer, and the stores' ``enroll_all``
    writes none. Should one ever do (a ladder that wants its first ask within a week),
    ``enroll_many`` must write those enrollments with everything they hold, as ``enroll``
    does, not drop their timers."""
    from commitladder import _tracker
    from commitladder._values import Timer

    real = _tracker.due

    def first_ask_within_a_week(lad: cl.Ladder, state: Any) -> tuple[Timer, ...]:
        found = real(lad, state)
        if state.status == "ready" and state.position is None:
            return (*found, Timer("next_step_overdue", state.since + timedelta(days=7), None))
        return found

    monkeypatch.setattr(_tracker, "due", first_ask_within_a_week)
    tracker = cl.Tracker(store=sql_store, ladders=[ladder()])
    report = tracker.enroll_many(["p0", "p1", "p2"], ladder="list", now=T0)
    assert report.enrolled == ("p0", "p1", "p2")
    assert sorted((t.enrollment_id, t.due_at) for t in sql_store.timers()) == [
        (f"list/p{n}", T0 + timedelta(days=7)) for n in range(3)
    ]


def test_the_batch_lookup_probes_the_index_on_a_table_never_analyzed() -> None:
    """Regression: PostgreSQL planned ``prospect IN (...)`` as a scan of the whole table
    while a bulk load filled it (no statistics yet), so each batch cost more than the last.
    The lookup must use the prospect index however the table's statistics stand."""
    import sqlalchemy as sa

    from commitladder.sql import SqlStore
    from dbfixtures import fresh_prefix, server_url

    store = SqlStore(server_url("postgresql"), prefix=fresh_prefix())
    store.create_schema()
    try:
        tracker = cl.Tracker(store=store, ladders=[ladder()])
        tracker.enroll_many([f"p{n}" for n in range(10_000)], ladder="list", now=T0)
        seen: list[tuple[str, Any]] = []

        def record(conn: Any, cursor: Any, statement: str, params: Any, *_: Any) -> None:
            if statement.lstrip().upper().startswith("SELECT"):
                seen.append((statement, params))

        sa.event.listen(store.engine, "before_cursor_execute", record)
        try:
            wanted = [f"p{n}" for n in range(0, 10_000, 20)]  # 500: one page of the lookup
            report = tracker.enroll_many([*wanted, "new"], ladder="list", now=T0)
        finally:
            sa.event.remove(store.engine, "before_cursor_execute", record)
        assert report.enrolled == ("new",)
        lookups = [(s, p) for s, p in seen if store.tables.enrollments.name in s]
        assert lookups
        with store.engine.connect() as conn:
            for statement, params in lookups:
                plan = conn.exec_driver_sql("EXPLAIN " + statement, params).scalars().all()
                assert not any(
                    "Seq Scan on " + store.tables.enrollments.name in line for line in plan
                ), plan
    finally:
        store.drop_schema()
        store.close()


def test_the_batch_lookup_runs_without_jit_and_puts_the_setting_back() -> None:
    """Regression: on a table a bulk load filled and nobody analyzed yet, the planner
    guessed hundreds of rows per prospect, the lookup's cost passed ``jit_above_cost`` and
    PostgreSQL compiled every page of 500 prospects to machine code (about 100 ms) before
    a half-millisecond index probe: ``enroll_many`` ran at 30% of the raw insert rate with
    300,000 stored. The lookup now runs with JIT off, and the host's transaction gets its
    own setting back."""
    import sqlalchemy as sa

    from commitladder.sql import SqlStore
    from dbfixtures import fresh_prefix, server_url

    store = SqlStore(server_url("postgresql"), prefix=fresh_prefix())
    store.create_schema()
    try:
        cl.Tracker(store=store, ladders=[ladder()]).enroll_many(
            [f"p{n}" for n in range(600)], ladder="list", now=T0
        )
        seen: list[str] = []

        def record(conn: Any, cursor: Any, statement: str, *_: Any) -> None:
            if "unnest" in statement:  # the lookup: what JIT says as it is sent
                seen.append(cursor.connection.execute("SHOW jit").fetchone()[0])

        with store.engine.connect() as conn, conn.begin():
            conn.exec_driver_sql("SET LOCAL jit = on")
            conn.exec_driver_sql("SET LOCAL jit_above_cost = 0")  # as a big guess would
            joined = SqlStore.joined(conn, like=store)
            sa.event.listen(conn, "before_cursor_execute", record)
            found = joined.find_many([f"p{n}" for n in range(0, 600, 2)] + ["nobody"])
            sa.event.remove(conn, "before_cursor_execute", record)
            assert len(found) == 300
            assert seen == ["off"], "each page of the lookup runs with JIT off"
            assert conn.exec_driver_sql("SHOW jit").scalar() == "on", "the host's setting"
    finally:
        store.drop_schema()
        store.close()


def expiring() -> cl.Ladder:
    """One rung whose ask expires after two days: one timer per ask."""
    return cl.Ladder.from_dict(
        {
            "ladder": "short",
            "start": "call",
            "rungs": {"call": {"kind": "call", "size": 1, "next": "won", "expires_after": "2d"}},
            "ends": {"won": {"result": "won"}},
        }
    )


@pytest.fixture(params=["sqlite", "postgresql", "mysql"])
def sql_store(
    request: pytest.FixtureRequest,
    _sql_stores: dict[str, Any],
    tmp_path_factory: pytest.TempPathFactory,
) -> Any:
    """The SQL stores, each test starting empty (a MemoryStore cannot roll back)."""
    from dbfixtures import sql_store

    return sql_store(request.param, _sql_stores, tmp_path_factory.getbasetemp())


def test_run_due_fires_a_batch_in_one_transaction_and_a_failing_enrollment_alone(
    sql_store: Any,
) -> None:
    """Where the store nests transactions, a claimed batch fires in one transaction, each
    enrollment in a savepoint: the one whose write fails (here a host hook) is rolled
    back alone, reported, and fires once it works again; the others are kept."""
    broken: set[str] = set()

    def hook(change: cl.StageChange) -> None:
        if change.prospect in broken:
            raise RuntimeError("the CRM is down for p3")

    tracker, heard = due_in_three_days(sql_store, hooks=[hook])
    broken.add("p3")
    report, commits = run_due_counting_commits(sql_store, tracker)
    assert report == 9
    assert [(eid, kind) for eid, kind, _ in report.skipped] == [("short/p3", "expire")]
    assert "the CRM is down for p3" in report.skipped[0][2]
    assert tracker.get("p3").pending is not None, "its expiry was rolled back"
    assert all(tracker.get(f"p{n}").pending is None for n in range(10) if n != 3)
    assert sorted(e.enrollment_id for e in heard if isinstance(e, cl.AskExpired)) == [
        f"short/p{n}" for n in range(10) if n != 3
    ]
    assert len(commits) == 2, "one transaction to claim, one to fire the batch"
    broken.clear()
    tracker.clock.advance(minutes=6)  # past the lease
    assert tracker.run_due() == 1
    assert tracker.get("p3").pending is None


def expired_events(store: Any, eid: str) -> list[dict[str, Any]]:
    return [e for e in store.events(eid) if e["type"] == "AskExpired"]


def due_in_three_days(store: Any, **options: Any) -> tuple[cl.Tracker, list[cl.Event]]:
    """Ten prospects asked, their asks expired three days on; what listeners hear."""
    clock = cl.SteppableClock(T0)
    heard: list[cl.Event] = []
    tracker = cl.Tracker(
        store=store, clock=clock, ladders=[expiring()], listeners=[heard.append], **options
    )
    tracker.enroll_many([f"p{n}" for n in range(10)], ladder="short")
    for n in range(10):
        tracker.ask(f"p{n}", "call")
    clock.advance(days=3)
    heard.clear()
    return tracker, heard


def move_p3(store: Any) -> None:
    """Another worker, on its own connection, moves short/p3 to its next version."""
    e = store.tables.enrollments
    with store.engine.begin() as other:
        other.execute(e.update().where(e.c.id == "short/p3").values(version=e.c.version + 1))


class ClaimingTimersOnly:
    """``store`` without ``claim_due``: a ``BatchStore`` whose claim reads only timers
    (not a ``ClaimReadStore``), so ``run_due`` reads each batch with ``load_many``."""

    def __init__(self, store: Any) -> None:
        self._store = store

    def __getattr__(self, name: str) -> Any:
        if name == "claim_due":
            raise AttributeError(name)
        return getattr(self._store, name)


def reading(store: Any, read_by: str) -> Any:
    """``store``, whose batches ``run_due`` reads by ``claim_due`` or by ``load_many``."""
    assert read_by in ("claim_due", "load_many")
    return store if read_by == "claim_due" else ClaimingTimersOnly(store)


def run_due_counting_commits(store: Any, tracker: cl.Tracker) -> tuple[Any, list[object]]:
    """``tracker.run_due()``'s report, and the commits on ``store``'s engine meanwhile."""
    import sqlalchemy as sa

    commits: list[object] = []
    count = commits.append
    sa.event.listen(store.engine, "commit", count)
    try:
        report = tracker.run_due()
    finally:
        sa.event.remove(store.engine, "commit", count)
    return report, commits


def fired_once_each(store: Any, tracker: cl.Tracker, heard: list[cl.Event]) -> None:
    for n in range(10):
        assert len(expired_events(store, f"short/p{n}")) == 1
        assert tracker.get(f"p{n}").pending is None
    assert store.load("short/p3").version == 4, "enrolled, asked, moved by the other, expired"
    assert sorted(e.enrollment_id for e in heard if isinstance(e, cl.AskExpired)) == [
        f"short/p{n}" for n in range(10)
    ]


@pytest.mark.parametrize("sql_store", ["postgresql", "mysql"], indirect=True)
def test_with_hooks_a_timer_that_loses_a_race_fires_again_on_its_own(
    sql_store: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With hooks, each enrollment of a batch fires in a savepoint. Another writer moves
    one between its read and its write: its savepoint rolls back alone, the rest of the
    batch commits, and it fires once more on its own, from the version the other writer
    left. (SQLite takes its write lock at the start of the batch: nobody gets in.)"""

    from commitladder.sql import SqlStore

    tracker, heard = due_in_three_days(sql_store, hooks=[lambda change: None])
    write = SqlStore._write_enrollment
    raced: list[str] = []

    def other_writer_first(self: SqlStore, conn: Any, change: Any, new: bool) -> None:
        if change.enrollment_id == "short/p3" and not raced:
            raced.append(change.enrollment_id)
            move_p3(self)
        write(self, conn, change, new)

    monkeypatch.setattr(SqlStore, "_write_enrollment", other_writer_first)
    report, commits = run_due_counting_commits(sql_store, tracker)
    assert raced == ["short/p3"]
    assert report == 10
    assert not report.skipped
    assert len(commits) == 4, "claim, the other writer, the batch, then p3 alone"
    fired_once_each(sql_store, tracker, heard)


@pytest.mark.parametrize(
    ("sql_store", "read_by"),
    [
        *(("sqlite", "claim_due"), ("postgresql", "claim_due"), ("mysql", "claim_due")),
        # SQLite's batch takes its write lock before load_many reads: nobody gets in
        *(("postgresql", "load_many"), ("mysql", "load_many")),
    ],
    indirect=["sql_store"],
)
def test_a_batch_read_together_that_loses_a_race_fires_one_by_one(
    sql_store: Any, read_by: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Without hooks, a batch is read in one query (by the claim, or by ``load_many`` on
    a store whose claim reads only timers) and written with a statement per kind of row.
    Another writer moves one enrollment after the read: the versioned update touches one
    row fewer than it should, nothing of the batch is kept, and each timer fires on its
    own, once, from what the other writer left."""

    from commitladder.sql import SqlStore

    tracker, heard = due_in_three_days(reading(sql_store, read_by))
    read = getattr(SqlStore, read_by)
    raced: list[str] = []

    def other_writer_after_the_read(self: SqlStore, *args: Any, **kwargs: Any) -> Any:
        found = read(self, *args, **kwargs)
        if not raced:
            raced.append("short/p3")
            move_p3(self)
        return found

    monkeypatch.setattr(SqlStore, read_by, other_writer_after_the_read)
    report, commits = run_due_counting_commits(sql_store, tracker)
    assert raced == ["short/p3"]
    assert report == 10
    assert not report.skipped
    assert len(commits) == 2 + 10, "claim, the other writer, then one each"
    fired_once_each(sql_store, tracker, heard)


@pytest.mark.parametrize("read_by", ["claim_due", "load_many"])
def test_a_batch_is_read_in_one_query_and_written_with_a_statement_per_kind_of_row(
    sql_store: Any, read_by: str
) -> None:
    """What makes ``run_due`` cheap per timer: for 10 due expiries, one read and one
    statement per kind of row, where firing them one by one took seven each. The claim
    reads the enrollments it leases (``ClaimReadStore``); a ``BatchStore`` without that
    reads them once more, in one query (``load_many``)."""
    import sqlalchemy as sa

    tracker, heard = due_in_three_days(reading(sql_store, read_by))
    statements: list[str] = []

    def record(conn: Any, cursor: Any, statement: str, *_: Any) -> None:
        statements.append(statement.split()[0].upper())

    sa.event.listen(sql_store.engine, "before_cursor_execute", record)
    try:
        assert tracker.run_due() == 10
    finally:
        sa.event.remove(sql_store.engine, "before_cursor_execute", record)
    work = [s for s in statements if s in ("SELECT", "UPDATE", "INSERT", "DELETE")]
    # claim (select, lease), then (read,) update, events, withdrawn asks, messages
    read = ["SELECT"] if read_by == "load_many" else []
    assert work == ["SELECT", "UPDATE", *read, "UPDATE", "INSERT", "DELETE", "INSERT"], work
    assert len([e for e in heard if isinstance(e, cl.AskExpired)]) == 10
    assert all(len(expired_events(sql_store, f"short/p{n}")) == 1 for n in range(10))


def test_claims_and_batch_reads_past_one_statements_ids_on_a_prefix_with_capitals(
    sql_store: Any,
) -> None:
    """The claim and ``load_many`` name their ids one parameter each, in statements of at
    most 500: 1,200 of them take three, and table names with capitals are quoted as the
    tables were made (PostgreSQL would fold them to lower case)."""
    from commitladder.sql import SqlStore
    from dbfixtures import fresh_prefix

    store = SqlStore(sql_store.engine.url, prefix="Up" + fresh_prefix())
    store.create_schema()
    try:
        tracker = cl.Tracker(store=store, ladders=[expiring()])
        names = [f"p{n:04d}" for n in range(1200)]
        tracker.enroll_many(names, ladder="short", now=T0)
        for n, p in enumerate(names):
            tracker.ask(p, "call", now=T0 + timedelta(seconds=n))
        ids = [f"short/{p}" for p in names]
        found = store.load_many([*ids, "short/nobody", ids[0]])
        assert sorted(found) == ids
        assert all(found[i] == store.load(i) for i in ids[::97])
        later = T0 + timedelta(days=3)
        lease = later + timedelta(minutes=5)
        claimed = store.claim_timers(later, 1500, lease)
        assert [t.enrollment_id for t in claimed] == ids  # soonest first
        assert {t.kind for t in claimed} == {"expire"}
        assert store.claim_timers(later, 1500, lease) == [], "all leased"
        assert len(store.claim_timers(lease, 1000, lease + timedelta(minutes=5))) == 1000
        # the claim that reads: the 200 left, each with its enrollment as load reads it
        claimed, read = store.claim_due(lease, 1500, lease + timedelta(minutes=5))
        assert [t.enrollment_id for t in claimed] == ids[1000:]
        assert read == {i: store.load(i) for i in ids[1000:]}
        assert store.claim_due(lease, 1500, lease) == ([], {}), "all leased"
    finally:
        store.drop_schema()
        store.close()


def test_a_tenants_claim_reads_only_its_tenants_enrollments(sql_store: Any) -> None:
    """A tenant's worker claims with a query of its own (a range on the id): the claim
    that reads gives that tenant's due timers and enrollments, and leases only them."""
    tracker = cl.Tracker(store=sql_store, ladders=[expiring()])
    for tenant in ("acme", "globex"):
        scope = tracker.tenant(tenant)
        scope.enroll_many([f"p{n}" for n in range(3)], ladder="short", now=T0)
        for n in range(3):
            scope.ask(f"p{n}", "call", now=T0 + timedelta(seconds=n))
    later = T0 + timedelta(days=3)
    lease = later + timedelta(minutes=5)
    claimed, read = sql_store.claim_due(later, 10, lease, tenant="acme")
    acme = [f"@acme/short/p{n}" for n in range(3)]
    assert [t.enrollment_id for t in claimed] == acme
    assert read == {i: sql_store.load(i) for i in acme}
    assert sql_store.claim_due(later, 10, lease, tenant="acme") == ([], {}), "leased"
    others = sql_store.claim_timers(later, 10, lease)
    assert [t.enrollment_id for t in others] == [f"@globex/short/p{n}" for n in range(3)]


def test_a_batch_whose_transaction_fails_as_a_whole_fires_each_timer_once_on_its_own(
    sql_store: Any,
) -> None:
    """The batch's transaction fails at its end (as MySQL ends one on a deadlock): nothing
    of it was kept, no listener heard of it, and each timer then fires on its own, once."""
    import sqlalchemy as sa

    clock = cl.SteppableClock(T0)
    heard: list[cl.Event] = []
    tracker = cl.Tracker(
        store=sql_store, clock=clock, ladders=[expiring()], listeners=[heard.append]
    )
    tracker.enroll_many([f"p{n}" for n in range(10)], ladder="short")
    for n in range(10):
        tracker.ask(f"p{n}", "call")
    clock.advance(days=3)
    heard.clear()
    commits: list[object] = []

    def fail_the_batch(conn: Any) -> None:
        commits.append(conn)
        if len(commits) == 2:  # the claim commits first, then the batch would
            raise sa.exc.OperationalError("COMMIT", {}, Exception("Deadlock found"))

    sa.event.listen(sql_store.engine, "commit", fail_the_batch)
    try:
        report = tracker.run_due()
    finally:
        sa.event.remove(sql_store.engine, "commit", fail_the_batch)
    assert report == 10
    assert not report.skipped
    assert len(commits) == 2 + 10, "claim, the failed batch, then one each"
    for n in range(10):
        assert len(expired_events(sql_store, f"short/p{n}")) == 1
    assert sorted(e.enrollment_id for e in heard if isinstance(e, cl.AskExpired)) == [
        f"short/p{n}" for n in range(10)
    ]
    keys = [e.message.key for e in sql_store.outbox()]
    assert len(keys) == len(set(keys))


def test_run_due_read_together_does_what_one_by_one_does(
    sql_store: Any, ladders: dict[str, cl.Ladder]
) -> None:
    """Differential: on the seed ladder, prospects asked at staggered times and some
    committed, then ``run_due`` day after day. Expiries, follow-ups and overdue next steps
    (several of them due at once on one enrollment) fired by the batch path of a SQL store
    must leave every history, open ask and message as ``MemoryStore``'s one by one does."""
    lad = ladders["solopreneur"]
    trackers = [cl.Tracker(store=store, ladders=[lad]) for store in (cl.MemoryStore(), sql_store)]
    first = lad.start[0]
    for tracker in trackers:
        for n in range(40):
            at = T0 + timedelta(hours=7 * n)
            tracker.enroll(f"p{n}", ladder=lad.name, now=at)
            tracker.ask(f"p{n}", first, now=at)
            if n % 3 == 0:  # a yes: the next ask must follow within two days
                tracker.commit(f"p{n}", now=at + timedelta(hours=1))
    fired = []
    for day in range(1, 21):
        fired.append([t.run_due(T0 + timedelta(days=day)) for t in trackers])
    assert all(a == b for a, b in fired), fired
    assert sum(a for a, _ in fired) > 60  # follow-ups, expiries and overdue steps all fired
    memory, sql = (t.store for t in trackers)
    for n in range(40):
        eid = f"{lad.name}/p{n}"
        assert sql.events(eid) == memory.events(eid), eid
    assert sorted(sql.open_asks()) == sorted(memory.open_asks())
    keys = [sorted(e.message.key for e in store.outbox()) for store in (memory, sql)]
    assert keys[0] == keys[1]


class Flaky:
    """A messenger that fails for the prospects listed, and is interrupted at one."""

    def __init__(self, failing: set[str], interrupt_at: str | None = None) -> None:
        self.failing, self.interrupt_at = failing, interrupt_at
        self.sent: list[str] = []

    def send(self, message: cl.Message) -> None:
        if message.prospect == self.interrupt_at:
            raise KeyboardInterrupt
        if message.prospect in self.failing:
            raise ConnectionError(f"no route to {message.prospect}")
        self.sent.append(message.prospect)


def asked(store: Any, messenger: Any) -> cl.Tracker:
    tracker = cl.Tracker(store=store, ladders=[expiring()], messenger=messenger)
    tracker.enroll_many([f"p{n}" for n in range(5)], ladder="short", now=T0)
    for n in range(5):
        tracker.ask(f"p{n}", "call", now=T0 + timedelta(seconds=n))
    return tracker


def test_relay_records_its_deliveries_in_one_transaction(sql_store: Any) -> None:
    import sqlalchemy as sa

    tracker = asked(sql_store, Flaky({"p2"}))
    commits: list[object] = []
    count = commits.append
    sa.event.listen(sql_store.engine, "commit", count)
    try:
        report = tracker.relay(now=T0 + timedelta(minutes=1))
    finally:
        sa.event.remove(sql_store.engine, "commit", count)
    assert report == cl.RelayReport(sent=4, retrying=1)
    assert len(commits) == 2, "one transaction to claim, one to record the attempts"
    pending = sql_store.outbox("pending")
    assert [e.message.prospect for e in pending] == ["p2"]
    assert "no route to p2" in (pending[0].last_error or "")


def test_an_interrupted_relay_records_what_it_sent_and_leaves_the_rest(store: Any) -> None:
    messenger = Flaky(set(), interrupt_at="p3")
    tracker = asked(store, messenger)
    with pytest.raises(KeyboardInterrupt):
        tracker.relay(now=T0 + timedelta(minutes=1))
    assert messenger.sent == ["p0", "p1", "p2"]
    assert sorted(e.message.prospect for e in store.outbox("sent")) == ["p0", "p1", "p2"]
    assert sorted(e.message.prospect for e in store.outbox("pending")) == ["p3", "p4"]
