"""run_due benchmark: ``Tracker.run_due`` over due timers against a raw loop doing the
same updates with the same driver, in the same run.

    python benchmarks/bench_due.py [--due N] [--stored N ...] [--rounds R] [--only DB]

Each enrollment holds one open ask whose expiry is due. ``run_due`` (draining, batches
of 100: one transaction to claim a batch, one to fire it, a savepoint per enrollment)
expires them all. The raw loop uses the driver itself (psycopg with prepared
statements; sqlite3 and its statement cache), none of SQLAlchemy: it claims the same
batches with the same statements (``SELECT ... ORDER BY next_due_at LIMIT 100``,
``FOR UPDATE SKIP LOCKED`` on PostgreSQL, and the lease ``UPDATE``), then, in one
transaction per batch, writes each enrollment's new row (a versioned ``UPDATE``), its
new events, deletes its open-ask row and inserts its outbox message: the rows
``run_due`` writes, captured beforehand from a ``MemoryStore`` run, so it decides
nothing and reads nothing else. For information, a third column runs those statements
through SQLAlchemy Core. ``--stored N`` adds N enrollments with nothing due (the
flatness rows). All sides start each round from the same rows on fresh tables (written
once, then copied by the server: ``_stored.py``) and must end with the same row counts
and the same text in every column of 50 due enrollments; they take turns within a
round (the order turning); a side's rate is its best round, the ratio the median of
per-round ratios with its range. Target (issue 14): >= 50% of the raw loop's rate.
"""

from __future__ import annotations

import argparse
import gc
import os
import statistics
import sys
import tempfile
import time
from collections import defaultdict
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import _raw
import _stored
import sqlalchemy as sa

import commitladder as cl
from commitladder.sql import SqlStore
from commitladder.store import DueTimer, OpenAsk, OutboxEntry

LADDER = cl.Ladder.from_dict(
    {
        "ladder": "due",
        "start": "call",
        "defaults": {"channels": ["email"]},
        "rungs": {"call": {"kind": "call", "size": 1, "next": "won", "expires_after": "2d"}},
        "ends": {"won": {"result": "won"}},
    }
)
T0 = datetime(2026, 1, 5, 9, tzinfo=UTC)
LATER = T0 + timedelta(days=3)  # every ask is past its expiry
BATCH = 100
SIDES = ("raw", "ours", "core")
# the columns a fired expiry rewrites (the lease ends with it)
WRITTEN = (
    *("status", "version", "snapshot", "fired", "updated_at"),
    *("timers", "next_due_at", "timer_lease"),
)


def timers_column(timers: list[DueTimer]) -> tuple[list[list[Any]], datetime | None]:
    """The stored form of an enrollment's timers (SqlStore's timers column)."""
    rows = [[t.kind, t.due_at.astimezone(UTC).isoformat(), t.rung] for t in timers]
    return rows, min((t.due_at for t in timers), default=None)


def enrollment_rows(memory: cl.MemoryStore) -> list[dict[str, Any]]:
    by_id: dict[str, list[DueTimer]] = defaultdict(list)
    for t in memory.timers():
        by_id[t.enrollment_id].append(t)
    rows = []
    for s in memory.enrollments():
        timers, next_due = timers_column(by_id.get(s.id, []))
        rows.append(
            {
                "id": s.id,
                "prospect": s.prospect,
                "ladder": s.ladder,
                "status": s.status,
                "version": s.version,
                "snapshot": dict(s.snapshot),
                "fired": list(s.fired),
                "updated_at": T0,
                "timers": timers,
                "next_due_at": next_due,
                "timer_lease": None,
            }
        )
    return rows


def event_rows(memory: cl.MemoryStore, eid: str, after: int = 0) -> list[dict[str, Any]]:
    return [
        {
            "enrollment_id": eid,
            "seq": ev["seq"],
            "type": ev["type"],
            "at": datetime.fromisoformat(ev["at"]),
            "body": ev,
        }
        for ev in memory.events(eid)
        if ev["seq"] > after
    ]


def outbox_rows(entries: list[OutboxEntry]) -> list[dict[str, Any]]:
    return [
        {
            "key": e.message.key,
            "enrollment_id": e.message.enrollment_id,
            "kind": e.message.kind,
            "status": "pending",
            "attempts": 0,
            "next_attempt_at": e.next_attempt_at,
            "lease_until": None,
            "sent_at": None,
            "last_error": None,
            "body": e.message.to_dict(),
        }
        for e in entries
    ]


class Rows:
    """The rows before (to fill the tables) and what run_due writes (for the raw loop)."""

    def __init__(self, due: int) -> None:
        memory = cl.MemoryStore()
        tracker = cl.Tracker(store=memory, ladders=[LADDER])
        prospects = [f"due-{i:07d}@example.com" for i in range(due)]
        tracker.enroll_many(prospects, ladder="due", now=T0)
        for i, p in enumerate(prospects):
            tracker.ask(p, "call", now=T0 + timedelta(microseconds=i))
        self.enrollments = enrollment_rows(memory)
        self.events = [r for s in memory.enrollments() for r in event_rows(memory, s.id)]
        self.open_asks = [vars_of(a) for a in memory.open_asks()]
        sent_before = {e.message.key for e in memory.outbox()}
        self.outbox = outbox_rows(memory.outbox())
        versions = {s.id: s.version for s in memory.enrollments()}
        fired = tracker.run_due(LATER)
        assert fired == due, (fired, due)
        # per enrollment: the new row, the new events, and the new outbox messages
        after = {r["id"]: r for r in enrollment_rows(memory) if versions[r["id"]] == 2}
        new_messages: dict[str, list[dict[str, Any]]] = defaultdict(list)
        for row in outbox_rows([e for e in memory.outbox() if e.message.key not in sent_before]):
            new_messages[row["enrollment_id"]].append(row)
        self.writes = {
            eid: (
                {**row, "updated_at": LATER, "b_id": eid, "b_version": versions[eid]},
                event_rows(memory, eid, after=2),
                new_messages[eid],
            )
            for eid, row in after.items()
        }
        assert len(self.writes) == due

    def before(self) -> _stored.Rows:
        """What the tables hold before run_due, without the enrollments stored besides."""
        return {
            "enrollments": self.enrollments,
            "events": self.events,
            "open_asks": self.open_asks,
            "outbox": self.outbox,
        }


def old_rows(start: int, n: int) -> _stored.Rows:
    """Enrollments with nothing due (the flatness rows), ``n`` of them from ``start``."""
    memory = cl.MemoryStore()
    prospects = [f"old-{i:07d}@example.com" for i in range(start, start + n)]
    cl.Tracker(store=memory, ladders=[LADDER]).enroll_many(prospects, ladder="due", now=T0)
    return {
        "enrollments": enrollment_rows(memory),
        "events": [r for s in memory.enrollments() for r in event_rows(memory, s.id)],
    }


def vars_of(ask: OpenAsk) -> dict[str, Any]:
    return {f: getattr(ask, f) for f in ask.__dataclass_fields__}


def run_core(store: SqlStore, rows: Rows) -> float:
    """The raw loop's statements through SQLAlchemy Core (for information)."""
    t = store.tables
    e = t.enrollments
    claim = (
        sa.select(e.c.id, e.c.timers)
        .where(
            e.c.next_due_at <= LATER, sa.or_(e.c.timer_lease.is_(None), e.c.timer_lease <= LATER)
        )
        .order_by(e.c.next_due_at)
        .limit(BATCH)
    )
    if store.dialect == "postgresql":
        claim = claim.with_for_update(skip_locked=True)
    update = (
        e.update()
        .where(e.c.id == sa.bindparam("b_id"), e.c.version == sa.bindparam("b_version"))
        .values({c: sa.bindparam(c) for c in WRITTEN})
    )
    delete_ask = t.open_asks.delete().where(t.open_asks.c.enrollment_id == sa.bindparam("b_id"))
    started = time.perf_counter()
    while True:
        with store.engine.begin() as conn:
            ids = [r.id for r in conn.execute(claim)]
            if ids:
                lease = LATER + timedelta(minutes=5)
                conn.execute(e.update().where(e.c.id.in_(ids)).values(timer_lease=lease))
        if not ids:
            break
        with store.engine.begin() as conn:
            for eid in ids:
                row, events, messages = rows.writes[eid]
                assert conn.execute(update, row).rowcount == 1
                conn.execute(t.events.insert(), events)
                conn.execute(delete_ask, {"b_id": eid})
                if messages:
                    conn.execute(t.outbox.insert(), messages)
    return time.perf_counter() - started


def run_raw(store: SqlStore, rows: Rows) -> float:
    """The same claims and writes with the driver itself (psycopg with prepared
    statements, sqlite3 with its statement cache), as someone who wants it to win writes
    them: the store's statements, a transaction per claim and per batch."""
    dialect, t = store.dialect, store.tables
    e, ev, asks, out = (x.name for x in (t.enrollments, t.events, t.open_asks, t.outbox))
    lock = " FOR UPDATE SKIP LOCKED" if dialect == "postgresql" else ""
    claim = _raw.named(dialect, (
        f"SELECT id FROM {e} WHERE next_due_at <= :now "
        f"AND (timer_lease IS NULL OR timer_lease <= :now) ORDER BY next_due_at LIMIT {BATCH}"
        + lock
    ))  # fmt: skip
    sets = ", ".join(f"{c} = :{c}" for c in WRITTEN)
    update = _raw.named(dialect, f"UPDATE {e} SET {sets} WHERE id = :b_id AND version = :b_version")
    event_columns = ["enrollment_id", "seq", "type", "at", "body"]
    outbox_columns = list(rows.outbox[0]) if rows.outbox else []
    insert_event = _raw.named(dialect, (
        f"INSERT INTO {ev} ({', '.join(event_columns)}) "
        f"VALUES ({', '.join(':' + c for c in event_columns)})"
    ))  # fmt: skip
    insert_message = _raw.named(dialect, (
        f"INSERT INTO {out} ({', '.join(outbox_columns)}) "
        f"VALUES ({', '.join(':' + c for c in outbox_columns)})"
    ))  # fmt: skip
    delete_ask = _raw.named(dialect, f"DELETE FROM {asks} WHERE enrollment_id = :b_id")
    time_of = _raw.time_encoder(dialect)
    now, lease = time_of(LATER), time_of(LATER + timedelta(minutes=5))
    pg = dialect == "postgresql"
    extra = {"prepare": True} if pg else {}
    raw = store.engine.raw_connection()
    try:
        driver = raw.driver_connection
        assert driver is not None
        cursor = driver.cursor()
        started = time.perf_counter()
        while True:
            if not pg:
                cursor.execute("BEGIN IMMEDIATE")
            ids = [r[0] for r in cursor.execute(claim, {"now": now}, **extra).fetchall()]
            if ids:
                if pg:
                    cursor.execute(
                        f"UPDATE {e} SET timer_lease = %(lease)s WHERE id = ANY(%(ids)s)",
                        {"lease": lease, "ids": ids},
                        prepare=True,
                    )
                else:
                    marks = ", ".join("?" * len(ids))
                    cursor.execute(f"UPDATE {e} SET timer_lease = ? WHERE id IN ({marks})",
                                   [lease, *ids])  # fmt: skip
            driver.commit()
            if not ids:
                break
            if not pg:
                cursor.execute("BEGIN IMMEDIATE")
            for eid in ids:
                row, events, messages = rows.writes[eid]
                cursor.execute(update, _raw.encoded(dialect, row), **extra)
                assert cursor.rowcount == 1
                for event in events:
                    cursor.execute(insert_event, _raw.encoded(dialect, event), **extra)
                cursor.execute(delete_ask, {"b_id": eid}, **extra)
                for message in messages:
                    cursor.execute(insert_message, _raw.encoded(dialect, message), **extra)
            driver.commit()
        took = time.perf_counter() - started
        cursor.close()
    finally:
        raw.close()
    return took


def run_ours(store: SqlStore, due: int) -> float:
    tracker = cl.Tracker(store=store, ladders=[LADDER])
    started = time.perf_counter()
    report = tracker.run_due(LATER)
    took = time.perf_counter() - started
    assert report == due, report
    assert not report.skipped, report.skipped[:3]
    return took


def counts(store: SqlStore) -> tuple[int, ...]:
    t = store.tables
    with store.engine.connect() as conn:
        return tuple(
            conn.execute(sa.select(sa.func.count()).select_from(x)).scalar_one()
            for x in (t.events, t.open_asks, t.outbox)
        )


def sample(store: SqlStore) -> list[tuple[Any, ...]]:
    """Every column of 50 due enrollments' rows, as the database's text: all sides must
    have written the same bytes."""
    e = store.tables.enrollments
    with store.engine.connect() as conn:
        query = sa.select(*(sa.cast(c, sa.Text) for c in e.columns if c.name != "timer_lease"))
        return sorted(tuple(r) for r in conn.execute(query.where(e.c.prospect < "due-0000050")))


def compare(
    url: str, rows: Rows, due: int, rounds: int, stored: int
) -> tuple[dict[str, float], list[float]]:
    """Each side's best rate, and the per-round ratios of ours to the raw loop."""
    best = dict.fromkeys(SIDES, 0.0)
    ratios = []
    filled = _stored.template(url, old_rows, stored, "bd", first=rows.before())
    try:
        for r in range(rounds):
            rates, written = {}, {}
            turns = _raw.turns(SIDES, r)
            for side in turns:
                store = _stored.copy_of(filled, "bd")
                _stored.fresh_heap()
                try:
                    if side == "ours":
                        took = run_ours(store, due)
                    else:
                        took = (run_raw if side == "raw" else run_core)(store, rows)
                    rates[side] = due / took
                    written[side] = (counts(store), sample(store))
                finally:
                    _stored.drop(store)
            assert written["raw"] == written["ours"] == written["core"], "not the same rows"
            best = {side: max(best[side], rates[side]) for side in SIDES}
            ratios.append(rates["ours"] / rates["raw"])
            print(f"  round {r + 1} ({', '.join(turns)}): {ratios[-1]:.0%}", file=sys.stderr,
                  flush=True)  # fmt: skip
    finally:
        _stored.drop(filled)
    return best, ratios


def main() -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--due", type=int, default=100_000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--stored", type=int, action="append", default=None)
    parser.add_argument("--postgres", default=os.environ.get("COMMITLADDER_TEST_POSTGRES_URL"))
    parser.add_argument("--only", choices=["sqlite", "postgresql"], help="one database only")
    parser.add_argument(
        "--quick",
        action="store_true",
        help="a smoke run (CI): 1,000 due, 2 rounds, 0 and 5,000 stored",
    )
    args = parser.parse_args()
    if args.quick:
        args.due, args.rounds, args.stored = 1000, 2, [0, 5_000]
    folder = Path(tempfile.mkdtemp(prefix="bench_due_"))
    targets = [("sqlite", f"sqlite:///{folder / 'due.db'}")]
    if args.postgres:
        targets.append(("postgresql", args.postgres))
    targets = [t for t in targets if args.only in (None, t[0])]
    print(f"run_due over {args.due:,} due timers, batches of {BATCH}, {args.rounds} rounds")
    print(f"{'database':<11} {'stored':>9} {'run_due/s':>10} {'raw loop/s':>11} "
          f"{'ratio (median, range)':>24} {'>= 50%':>6} {'Core loop/s':>12}")  # fmt: skip
    rows = Rows(args.due)
    # the captured rows stay in memory for the whole run, which a worker never holds:
    # out of the collector's way, so that no side pays for walking them
    gc.collect()
    gc.freeze()
    for stored in args.stored or [0]:
        for name, url in targets:
            best, ratios = compare(url, rows, args.due, args.rounds, stored)
            spread = f"{statistics.median(ratios):.0%} ({min(ratios):.0%}-{max(ratios):.0%})"
            print(f"{name:<11} {stored:>9,} {best['ours']:>10,.0f} {best['raw']:>11,.0f} "
                  f"{spread:>24} {_raw.verdict(ratios):>6} {best['core']:>12,.0f}",
                  flush=True)  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
