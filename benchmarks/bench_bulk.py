"""Bulk enroll benchmark: ``Tracker.enroll_many`` against a raw bulk insert of the same rows.

    python benchmarks/bench_bulk.py [--prospects N] [--rounds R] [--postgres URL] [--stored N]

Rows (each with its baseline measured in the same run, same driver, same database):
- enrollments/s through ``Tracker.enroll_many`` (batches of 1,000, one transaction each),
  on SQLite (a file, WAL) and PostgreSQL, against the best raw bulk insert of the same
  rows (the enrollment row with its snapshot, and the ``Enrolled`` event row) with the
  same driver in the same batches: psycopg's ``COPY`` on PostgreSQL, sqlite3's
  ``executemany`` of a prepared ``INSERT`` on SQLite. It encodes the JSON and times and
  decides nothing: what the database and driver cost. For information, a third column
  gives SQLAlchemy Core's ``conn.execute(table.insert(), rows)`` of the same rows;
- the same with ``--stored`` enrollments in the store beforehand (flatness): written
  once, then copied by the server into each round's fresh tables (``_stored.py``).
Target (issue 14): >= 50% of the raw insert rate.

The raw rows are the Tracker's own, captured beforehand from a ``MemoryStore`` run (the
``Change`` of each enrollment), so all sides write the same bytes: after each round the
row counts are compared, and every column of 50 prospects' rows, as the database's
text. The sides take turns within a round (the order turning), each on fresh tables; a
side's rate is its best round, the ratio the median of per-round ratios, with its range.
"""

from __future__ import annotations

import argparse
import gc
import os
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import _raw
import _stored
import sqlalchemy as sa

import commitladder as cl
from commitladder.sql import SqlStore

LADDER = cl.load(
    Path(__file__).resolve().parent.parent / "examples" / "ladders" / "solopreneur.yaml"
)
T0 = datetime(2026, 1, 5, 9, tzinfo=UTC)
BATCH = 1_000
SIDES = ("raw", "ours", "core")


def names(n: int, tag: str) -> list[str]:
    return [f"{tag}-{i:07d}@example.com" for i in range(n)]


def raw_rows(prospects: list[str]) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """The rows ``enroll_many`` writes, captured from a MemoryStore run."""
    memory = cl.MemoryStore()
    cl.Tracker(store=memory, ladders=[LADDER]).enroll_many(prospects, ladder=LADDER.name, now=T0)
    enrollments, events = [], []
    for s in memory.enrollments():
        enrollments.append(
            {
                "id": s.id,
                "prospect": s.prospect,
                "ladder": s.ladder,
                "status": s.status,
                "version": 1,
                "snapshot": dict(s.snapshot),
                "fired": [],
                "updated_at": T0,
                "timers": [],
                "next_due_at": None,
                "timer_lease": None,
            }
        )
        for ev in memory.events(s.id):
            events.append(
                {
                    "enrollment_id": s.id,
                    "seq": ev["seq"],
                    "type": ev["type"],
                    "at": T0,
                    "body": ev,
                }
            )
    return enrollments, events


def run_core(
    store: SqlStore, enrollments: list[dict[str, Any]], events: list[dict[str, Any]]
) -> float:
    """The rows through SQLAlchemy Core's executemany (for information: the fill uses it)."""
    t = store.tables
    started = time.perf_counter()
    for i in range(0, len(enrollments), BATCH):
        with store.engine.begin() as conn:
            conn.execute(t.enrollments.insert(), enrollments[i : i + BATCH])
            conn.execute(t.events.insert(), events[i : i + BATCH])
    return time.perf_counter() - started


def run_raw(
    store: SqlStore, enrollments: list[dict[str, Any]], events: list[dict[str, Any]]
) -> float:
    """The best raw bulk insert of the same rows with the same driver, as someone who
    wants it to win writes it: psycopg's ``COPY`` on PostgreSQL, sqlite3's
    ``executemany`` of one prepared ``INSERT`` on SQLite, a transaction per batch."""
    plans = []
    for table, rows in ((store.tables.enrollments, enrollments), (store.tables.events, events)):
        columns = [c.name for c in table.columns]
        plans.append((table.name, columns, _raw.encoders(store.dialect, columns), rows))
    raw = store.engine.raw_connection()
    try:
        driver = raw.driver_connection
        assert driver is not None
        cursor = driver.cursor()
        started = time.perf_counter()
        for i in range(0, len(enrollments), BATCH):
            if store.dialect == "sqlite":
                cursor.execute("BEGIN IMMEDIATE")
            for name, columns, encode, rows in plans:
                batch = [
                    [
                        v if f is None else f(v)
                        for v, f in zip(map(row.get, columns), encode, strict=True)
                    ]
                    for row in rows[i : i + BATCH]
                ]
                if store.dialect == "postgresql":
                    with cursor.copy(f"COPY {name} ({', '.join(columns)}) FROM STDIN") as copy:
                        for values in batch:
                            copy.write_row(values)
                else:
                    marks = ", ".join("?" * len(columns))
                    cursor.executemany(
                        f"INSERT INTO {name} ({', '.join(columns)}) VALUES ({marks})", batch
                    )
            driver.commit()
        took = time.perf_counter() - started
        cursor.close()
    finally:
        raw.close()
    return took


def sample(store: SqlStore, prospects: list[str]) -> list[list[tuple[Any, ...]]]:
    """Every column, as the database's text, of the first prospects' rows: both sides
    must have stored the same bytes."""
    e, v = store.tables.enrollments, store.tables.events
    ids = sa.select(e.c.id).where(e.c.prospect.in_(prospects[:50]))
    with store.engine.connect() as conn:
        return [
            sorted(
                tuple(r)
                for r in conn.execute(
                    sa.select(*(sa.cast(c, sa.Text) for c in table.columns)).where(where)
                )
            )
            for table, where in ((e, e.c.id.in_(ids)), (v, v.c.enrollment_id.in_(ids)))
        ]


def run_ours(store: SqlStore, prospects: list[str]) -> float:
    tracker = cl.Tracker(store=store, ladders=[LADDER])
    started = time.perf_counter()
    report = tracker.enroll_many(prospects, ladder=LADDER.name, now=T0, batch=BATCH)
    took = time.perf_counter() - started
    assert len(report.enrolled) == len(prospects), report.skipped[:3]
    return took


def old_rows(start: int, n: int) -> _stored.Rows:
    """Enrollments stored beforehand (the flatness rows), ``n`` of them from ``start``."""
    enrollments, events = raw_rows([f"old-{i:07d}@example.com" for i in range(start, start + n)])
    return {"enrollments": enrollments, "events": events}


def compare(url: str, n: int, rounds: int, stored: int) -> tuple[dict[str, float], list[float]]:
    """Each side's best rate, and the per-round ratios of ours to the raw insert."""
    prospects = names(n, "new")
    enrollments, events = raw_rows(prospects)
    # the captured rows stay in memory for the whole run, which a host never holds:
    # out of the collector's way, so that no side pays for walking them
    gc.collect()
    gc.freeze()
    best = dict.fromkeys(SIDES, 0.0)
    ratios = []
    filled = _stored.template(url, old_rows, stored, "bb")
    try:
        for r in range(rounds):
            rates, samples = {}, {}
            turns = _raw.turns(SIDES, r)
            for side in turns:
                store = _stored.copy_of(filled, "bb")
                _stored.fresh_heap()
                try:
                    if side == "ours":
                        took = run_ours(store, prospects)
                    else:
                        took = (run_raw if side == "raw" else run_core)(store, enrollments, events)
                    assert store.count() == n + stored
                    rates[side] = n / took
                    samples[side] = sample(store, prospects)
                finally:
                    _stored.drop(store)
            assert samples["raw"] == samples["ours"] == samples["core"], "not the same rows"
            best = {side: max(best[side], rates[side]) for side in SIDES}
            ratios.append(rates["ours"] / rates["raw"])
            print(f"  round {r + 1} ({', '.join(turns)}): {ratios[-1]:.0%}", file=sys.stderr,
                  flush=True)  # fmt: skip
    finally:
        _stored.drop(filled)
    return best, ratios


def main() -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--prospects", type=int, default=100_000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--stored", type=int, action="append", default=None)
    parser.add_argument("--postgres", default=os.environ.get("COMMITLADDER_TEST_POSTGRES_URL"))
    parser.add_argument("--only", choices=["sqlite", "postgresql"], help="one database only")
    parser.add_argument(
        "--quick",
        action="store_true",
        help="a smoke run (CI): 5,000 prospects, 2 rounds, 0 and 5,000 stored",
    )
    args = parser.parse_args()
    if args.quick:
        args.prospects, args.rounds, args.stored = 5000, 2, [0, 5_000]
    stored_sizes = args.stored or [0]
    folder = Path(tempfile.mkdtemp(prefix="bench_bulk_"))
    targets = [("sqlite", f"sqlite:///{folder / 'bulk.db'}")]
    if args.postgres:
        targets.append(("postgresql", args.postgres))
    targets = [t for t in targets if args.only in (None, t[0])]
    print(
        f"bulk enroll of {args.prospects:,} prospects, batches of {BATCH:,}, {args.rounds} rounds"
    )
    print(f"{'database':<11} {'stored':>9} {'enroll_many/s':>14} {'raw insert/s':>13} "
          f"{'ratio (median, range)':>24} {'>= 50%':>6} {'Core insert/s':>14}")  # fmt: skip
    for name, url in targets:
        for stored in stored_sizes:
            best, ratios = compare(url, args.prospects, args.rounds, stored)
            spread = f"{statistics.median(ratios):.0%} ({min(ratios):.0%}-{max(ratios):.0%})"
            print(f"{name:<11} {stored:>9,} {best['ours']:>14,.0f} {best['raw']:>13,.0f} "
                  f"{spread:>24} {_raw.verdict(ratios):>6} {best['core']:>14,.0f}",
                  flush=True)  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
