"""Stores filled once and copied for every round: the flatness rows of ``bench_bulk.py``
and ``bench_due.py`` (up to 1,000,000 stored enrollments).

Filling a million enrollments through the driver takes minutes; each side of each round
needs its own fresh tables holding them. So the rows are written once, into a template
store, and every round's store is a copy the server makes (``INSERT ... SELECT``, the
outbox's ids left to the new table's own sequence). Both sides start from the same rows.
"""

from __future__ import annotations

import gc
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import sqlalchemy as sa

from commitladder.sql import SqlStore

CHUNK = 50_000  # the rows of a fill made and written at a time (memory stays bounded)
TABLES = ("enrollments", "events", "open_asks", "outbox")
Rows = dict[str, list[dict[str, Any]]]  # table name -> rows


def chunks(count: int, size: int = CHUNK) -> Iterator[tuple[int, int]]:
    """(start, how many) covering ``count``."""
    for start in range(0, count, size):
        yield start, min(size, count - start)


def template(
    url: str, fill: Callable[[int, int], Rows], count: int, tag: str, first: Rows | None = None
) -> SqlStore:
    """A store whose tables hold ``first``'s rows, then ``fill(start, n)``'s for every
    chunk of ``count`` (made one chunk at a time)."""
    store = SqlStore(url, prefix=f"{tag}t{uuid.uuid4().hex[:8]}_")
    store.create_schema()
    if first:
        _write(store, first)
    for start, n in chunks(count):
        _write(store, fill(start, n))
    return store


def _write(store: SqlStore, rows: Rows) -> None:
    with store.engine.begin() as conn:
        for name in TABLES:
            data = rows.get(name, [])
            for i in range(0, len(data), 5_000):
                conn.execute(getattr(store.tables, name).insert(), data[i : i + 5_000])


def copy_of(source: SqlStore, tag: str) -> SqlStore:
    """A fresh store on ``source``'s database holding a copy of its rows."""
    store = SqlStore(source.engine.url, prefix=f"{tag}{uuid.uuid4().hex[:8]}_")
    store.create_schema()
    with store.engine.begin() as conn:
        for name in TABLES:
            src, dst = getattr(source.tables, name), getattr(store.tables, name)
            columns = [c.name for c in src.columns if not (name == "outbox" and c.name == "id")]
            conn.execute(dst.insert().from_select(columns, sa.select(*(src.c[c] for c in columns))))
    settle(store)
    return store


def settle(store: SqlStore) -> None:
    """Leave no write of the copy for the timed run to pay. On SQLite the copy's pages
    sit in the write-ahead log until a checkpoint moves them into the database file: the
    first side to cross the log's limit would pay for what the copies before it wrote
    (the sides' rates then depended on their turn in the round), so the log is
    checkpointed and emptied before each side runs."""
    if store.dialect != "sqlite":
        return
    raw = store.engine.raw_connection()  # outside any transaction: sqlite3's own
    try:
        busy, _, _ = raw.driver_connection.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()
        assert busy == 0, "another connection kept the checkpoint from finishing"
    finally:
        raw.close()


def fresh_heap() -> None:
    """Start a side's timed run with everything made so far out of the collector's way.
    Each round leaves stores behind in the process (their tables' metadata and compiled
    statements stay cached), and a full collection walks them all: the side that
    allocates most then paid for every side before it, more the later its turn."""
    gc.collect()
    gc.freeze()


def drop(store: SqlStore) -> None:
    store.drop_schema()
    store.close()
