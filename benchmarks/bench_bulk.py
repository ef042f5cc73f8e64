"""Bulk enroll benchmark: ``Tracker.enroll_many`` against a raw bulk insert of the same rows.

    python benchmarks/bench_bulk.py [--prospects N] [--rounds R] [--postgres URL] [--stored N]

Rows (each with its baseline measured in the same run, same driver, same database):
- enrollments/s through ``Tracker.enroll_many`` (batches of 1,000, one transaction each),
  on SQLite (a file, WAL) and PostgreSQL, against a raw loop that inserts the same rows
  (the enrollment row with its snapshot, and the ``Enrolled`` event row) with
  SQLAlchemy Core's ``conn.execute(table.insert(), rows)`` in the same batches: what the
  database and driver cost without deciding anything;
- the same with ``--stored`` enrollments in the store beforehand (flatness): written
  once, then copied by the server into each round's fresh tables (``_stored.py``).
Target (issue 14): >= 50% of the raw insert rate.

The raw rows are the Tracker's own, captured beforehand from a ``MemoryStore`` run (the
``Change`` of each enrollment), so both sides write the same bytes; the row counts of
both sides are compared after each round. Sides alternate within a round (order
turning), each round on fresh tables; a side's rate is its best round, the ratio the
median of per-round ratios, with its range.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import _stored

import commitladder as cl
from commitladder.sql import SqlStore

LADDER = cl.load(
    Path(__file__).resolve().parent.parent / "examples" / "ladders" / "solopreneur.yaml"
)
T0 = datetime(2026, 1, 5, 9, tzinfo=UTC)
BATCH = 1_000


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


def run_raw(
    store: SqlStore, enrollments: list[dict[str, Any]], events: list[dict[str, Any]]
) -> float:
    t = store.tables
    started = time.perf_counter()
    for i in range(0, len(enrollments), BATCH):
        with store.engine.begin() as conn:
            conn.execute(t.enrollments.insert(), enrollments[i : i + BATCH])
            conn.execute(t.events.insert(), events[i : i + BATCH])
    return time.perf_counter() - started


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


def compare(url: str, n: int, rounds: int, stored: int) -> tuple[float, float, list[float]]:
    prospects = names(n, "new")
    enrollments, events = raw_rows(prospects)
    best_raw = best_ours = 0.0
    ratios = []
    filled = _stored.template(url, old_rows, stored, "bb")
    try:
        for r in range(rounds):
            rates = {}
            for side in ("raw", "ours") if r % 2 == 0 else ("ours", "raw"):
                store = _stored.copy_of(filled, "bb")
                try:
                    took = (
                        run_raw(store, enrollments, events)
                        if side == "raw"
                        else run_ours(store, prospects)
                    )
                    assert store.count() == n + stored
                    rates[side] = n / took
                finally:
                    _stored.drop(store)
            best_raw, best_ours = max(best_raw, rates["raw"]), max(best_ours, rates["ours"])
            ratios.append(rates["ours"] / rates["raw"])
            print(f"  round {r + 1}: {ratios[-1]:.0%}", file=sys.stderr, flush=True)
    finally:
        _stored.drop(filled)
    return best_ours, best_raw, ratios


def main() -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--prospects", type=int, default=100_000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--stored", type=int, action="append", default=None)
    parser.add_argument("--postgres", default=os.environ.get("COMMITLADDER_TEST_POSTGRES_URL"))
    parser.add_argument("--only", choices=["sqlite", "postgresql"], help="one database only")
    args = parser.parse_args()
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
          f"{'ratio (median, range)':>24}")  # fmt: skip
    for name, url in targets:
        for stored in stored_sizes:
            ours, raw, ratios = compare(url, args.prospects, args.rounds, stored)
            spread = f"{statistics.median(ratios):.0%} ({min(ratios):.0%}-{max(ratios):.0%})"
            print(f"{name:<11} {stored:>9,} {ours:>14,.0f} {raw:>13,.0f} {spread:>24}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
