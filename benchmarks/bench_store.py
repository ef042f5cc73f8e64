"""Durable tracker benchmark: the seed ladder's full command mix against a raw-SQL loop.

    python benchmarks/bench_store.py [--quick] [--postgres URL] [--rounds N] [--profile]

Rows (every one with its baseline measured in the same run):
- commands/s through the Tracker on SQLite (file, WAL) and PostgreSQL, on both call
  paths (every call passes ``ladder=``; no call does, so the prospect is found with
  ``store.find()``), against a raw-SQL loop on the same driver writing the same rows,
  and (for information) that loop's SQL run through SQLAlchemy's ``exec_driver_sql``
  and transactions: what SQLAlchemy alone costs, without deciding anything;
- command latency with 1k vs 100k stored enrollments (SQLite; ``--quick``: 10k), every
  table filled in proportion (events, open asks, timers, outbox, receipts);
- command latency on an enrollment with 10 vs 10,000 events of history (SQLite);
- PostgreSQL with 1, 2 and 4 worker processes, Tracker and raw loop at each count.
Targets: >= 50% of the raw loop (both paths, both databases); flat (+-25%) across
store size and history length; >= 1.6x from 1 to 4 workers where the raw loop scales.
PostgreSQL's URL defaults to COMMITLADDER_TEST_POSTGRES_URL.

The command mix: every prospect climbs ``examples/ladders/solopreneur.yaml`` from
``enroll`` on, with asks over the rung's channels, follow-ups, commits (with the
qualifying outcomes and their required facts), declines, resumes, withdrawals,
expiries and ends, generated once from a seeded RNG and replayed identically by both
sides; one command in five carries an idempotency key (a receipt row).

The raw loop is a best effort by someone who wants it to win: the driver itself
(sqlite3, psycopg), statements prepared once, one transaction per command that
reads the receipt and the enrollment (by id, or by prospect on the second path),
checks the version and writes exactly the rows the Tracker's store writes, with the
same statements (so the same round trips): the Tracker's own ``Change`` of each
command, captured beforehand on a ``MemoryStore``. It decides nothing, so the ratio
is the cost of deciding plus SQLAlchemy. After the run both sides' rows are counted
per table and must match (and their payload sizes, within 1%).

Fairness: the sides run interleaved in every round (their order turning from
round to round), on fresh prospects, with the same number of rounds; rates
are reported as each side's best round, ratios per round as the median and range.
Latency rows alternate their two sides command by command and give medians.
"""

from __future__ import annotations

import argparse
import cProfile
import dataclasses
import json
import multiprocessing
import multiprocessing.synchronize
import os
import pstats
import queue
import random
import sqlite3
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import sqlalchemy as sa
import yaml

import commitladder as cl
from commitladder.sql import SqlStore
from commitladder.store import Change

SEED_FILE = Path(__file__).resolve().parent.parent / "examples" / "ladders" / "solopreneur.yaml"
LADDER = cl.load(SEED_FILE)
T0 = datetime(2026, 1, 5, 9, tzinfo=UTC)
KEY_SHARE = 0.2  # commands carrying an idempotency key


def history_ladder() -> cl.Ladder:
    """The seed ladder without its ask limits, so one enrollment can grow a history of
    10,000 events (asks, follow-ups and withdrawals of the same rungs)."""
    data = yaml.safe_load(SEED_FILE.read_text())
    data["defaults"].pop("max_asks", None)
    for rung in data["rungs"].values():
        rung.pop("max_asks", None)
    return cl.Ladder.from_dict(data)


# ---- the command stream ---------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Command:
    """One tracker call of the stream: its verb, arguments and time."""

    verb: str
    prospect: str
    now: datetime
    args: dict[str, Any] = field(default_factory=dict)
    key: str | None = None


def climb(ladder: cl.Ladder, prospect: str, rng: random.Random, start: datetime) -> list[Command]:
    """A realistic climb of ``prospect``, decided on an in-memory enrollment so every
    command is valid when replayed at its time."""
    at = start
    e = ladder.enroll(prospect, now=at)
    out = [Command("enroll", prospect, at)]
    keys = 0

    def key() -> str | None:
        nonlocal keys
        if rng.random() >= KEY_SHARE:
            return None
        keys += 1
        return f"{prospect}-k{keys}"

    def record(verb: str, now: datetime, **args: Any) -> None:
        out.append(Command(verb, prospect, now, args, key()))

    while e.status != "ended" and len(out) < 40:
        if e.status == "parked":
            at += timedelta(days=3, hours=1)  # past the cooldown
            if rng.random() < 0.3:
                e.end("lost", now=at)
                record("end", at, end="lost")
            else:
                e.resume(now=at)
                record("resume", at)
            continue
        if e.status == "ready":
            askable = e.askable(now=at)
            if not askable or rng.random() < 0.06:
                at += timedelta(hours=2)
                e.end("lost", now=at)
                record("end", at, end="lost")
                continue
            rung = rng.choice(askable)
            channels = ladder.rungs[rung].channels or ("email",)
            channel = rng.choice(channels)
            at += timedelta(hours=rng.randint(1, 30))
            e.ask(rung, channel=channel, now=at)
            record("ask", at, rung=rung, channel=channel)
            continue
        ask = e.pending
        assert ask is not None
        rung = ladder.rungs[ask.rung]
        roll = rng.random()
        if roll < 0.18 and rung.follow_ups_every is not None:
            later = at + rung.follow_ups_every + timedelta(minutes=5)
            if ask.expires_at is None or later < ask.expires_at:
                try:
                    e.follow_up(now=later)
                except cl.Refused:
                    pass  # no follow-up left: answer instead
                else:
                    at = later
                    record("follow_up", at)
                    continue
        if roll < 0.72 or ask.expires_at is None:
            at += timedelta(hours=rng.randint(1, 20))
            outcome = None
            if rung.outcomes is not None:
                outcome = rng.choices(list(rung.outcomes), weights=[5, 3, 1][: len(rung.outcomes)])[
                    0
                ]
            facts = {name: f"{name} noted" for name in sorted(rung.requires)} or None
            e.commit(outcome=outcome, facts=facts, now=at)
            record("commit", at, outcome=outcome, facts=facts)
        elif roll < 0.84:
            at += timedelta(hours=rng.randint(1, 20))
            e.decline(needs="a case study", now=at)
            record("decline", at, needs="a case study")
        elif roll < 0.93:
            at = ask.expires_at + timedelta(minutes=1)
            e.expire(now=at)
            record("expire", at)
        else:
            at += timedelta(hours=1)
            e.withdraw(now=at)
            record("withdraw", at)
    return out


def stream(names: Sequence[str], seed: int, ladder: cl.Ladder = LADDER) -> list[Command]:
    """The climbs of ``names`` merged into one timeline, as prospects interleave in
    production. Each climb stops at a random point, so the store ends up holding
    enrollments in every state: open asks, timers, parked and ended deals. The climb of
    the i-th name depends only on ``seed`` and i, so two lists of names of equal
    lengths give the same stream up to the names."""
    climbs = []
    for i, name in enumerate(names):
        rng = random.Random(seed * 100_003 + i)
        commands = climb(ladder, name, rng, T0)
        climbs.append(commands[: rng.randint(1, len(commands))])
    merged = [(c.now, i, j, c) for i, cmds in enumerate(climbs) for j, c in enumerate(cmds)]
    merged.sort(key=lambda item: item[:3])
    return [item[3] for item in merged]


def run(tracker: cl.Tracker, command: Command, *, by_ladder: bool, on: cl.Ladder = LADDER) -> None:
    """Replay one command through the tracker's public methods; ``by_ladder``: say which
    ladder (``ladder=``), else let the tracker find the prospect's enrollment."""
    c = command
    ladder = on.name if by_ladder else None
    common: dict[str, Any] = {"now": c.now, "idempotency_key": c.key}
    if c.verb == "enroll":
        tracker.enroll(c.prospect, ladder=on.name, **common)
    elif c.verb == "ask":
        tracker.ask(c.prospect, c.args["rung"], channel=c.args["channel"], ladder=ladder, **common)
    elif c.verb == "follow_up":
        tracker.follow_up(c.prospect, ladder=ladder, **common)
    elif c.verb == "commit":
        tracker.commit(
            c.prospect, ladder=ladder, outcome=c.args["outcome"], facts=c.args["facts"], **common
        )
    elif c.verb == "decline":
        tracker.decline(c.prospect, ladder=ladder, needs=c.args["needs"], **common)
    elif c.verb == "resume":
        tracker.resume(c.prospect, ladder=ladder, **common)
    elif c.verb == "withdraw":
        tracker.withdraw(c.prospect, ladder=ladder, **common)
    elif c.verb == "expire":
        tracker.expire(c.prospect, ladder=ladder, **common)
    elif c.verb == "end":
        tracker.end(c.prospect, c.args["end"], ladder=ladder, **common)
    else:
        raise ValueError(c.verb)


@dataclass(frozen=True, slots=True)
class Captured:
    """What the tracker's store was asked to do for one command."""

    command: Command
    change: Change


def capture(
    commands: Sequence[Command], ladder: cl.Ladder = LADDER, *, by_ladder: bool = True
) -> list[Captured]:
    """Each command's ``Change``, as the Tracker hands it to its store (on a MemoryStore),
    on the same call path as the side it stands for (a receipt records the target)."""
    seen: list[Change] = []
    store = cl.MemoryStore()
    apply = store.apply

    def record(change: Change) -> Any:
        seen.append(change)
        return apply(change)

    store.apply = record  # type: ignore[method-assign]
    tracker = cl.Tracker(store=store, ladders=[ladder])
    out = []
    for command in commands:
        before = len(seen)
        run(tracker, command, by_ladder=by_ladder, on=ladder)
        if len(seen) != before + 1:
            raise AssertionError(f"{command} applied {len(seen) - before} changes, not 1")
        out.append(Captured(command, seen[-1]))
    return out


# ---- the raw loop ----------------------------------------------------------------------------

_dumps = json.JSONEncoder(separators=(",", ":")).encode


def _sqlite_time(at: datetime | None) -> str | None:
    if at is None:
        return None
    u = at.astimezone(UTC)
    return "%04d-%02d-%02d %02d:%02d:%02d.%06d" % (  # noqa: UP031 (SQLAlchemy's format)
        u.year,
        u.month,
        u.day,
        u.hour,
        u.minute,
        u.second,
        u.microsecond,
    )


def _naive(at: datetime | None) -> datetime | None:
    return at.astimezone(UTC).replace(tzinfo=None) if at is not None else None


class Raw:
    """One driver connection writing the store's rows by hand, as fast as it can."""

    def __init__(self, url: str, prefix: str) -> None:
        parsed = sa.make_url(url)
        self.sqlite = parsed.get_backend_name() == "sqlite"
        self.time: Callable[[datetime | None], Any] = _sqlite_time if self.sqlite else _naive
        if self.sqlite:
            self.conn: Any = sqlite3.connect(str(parsed.database), timeout=30, isolation_level=None)
            self.conn.execute("PRAGMA journal_mode=WAL")
            self.conn.execute("PRAGMA synchronous=NORMAL")
            self.conn.execute("PRAGMA busy_timeout=30000")
            ph = "?"
            self.begin = "BEGIN IMMEDIATE"
        else:
            import psycopg

            dsn = parsed.set(drivername="postgresql").render_as_string(hide_password=False)
            self.conn = psycopg.connect(dsn)
            ph = "%s"
            self.begin = ""
        self.cur = self.conn.cursor()
        p = prefix

        def q(sql: str) -> str:
            return sql.replace("?", ph)

        stored = "id, prospect, ladder, status, version, snapshot, fired"
        self.recall = q(
            f"SELECT key, command, enrollment_id, result FROM {p}idempotency WHERE key = ?"
        )
        self.load = q(f"SELECT {stored} FROM {p}enrollments WHERE id = ?")
        self.find = q(f"SELECT {stored} FROM {p}enrollments WHERE prospect = ? ORDER BY id")
        self.receipt = q(
            f"INSERT INTO {p}idempotency (key, command, enrollment_id, result, created_at) "
            "VALUES (?, ?, ?, ?, ?) ON CONFLICT DO NOTHING"
        )
        self.enroll = q(
            f"INSERT INTO {p}enrollments (id, prospect, ladder, status, version, snapshot, fired, "
            "updated_at, timers, next_due_at, timer_lease) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING"
        )
        self.update = q(
            f"UPDATE {p}enrollments SET status = ?, version = ?, snapshot = ?, fired = ?, "
            "updated_at = ? WHERE id = ? AND version = ?"
        )
        self.update_timers = q(
            f"UPDATE {p}enrollments SET status = ?, version = ?, snapshot = ?, fired = ?, "
            "updated_at = ?, timers = ?, next_due_at = ?, timer_lease = ? "
            "WHERE id = ? AND version = ?"
        )
        self.event = q(
            f"INSERT INTO {p}events (enrollment_id, seq, type, at, body) VALUES (?, ?, ?, ?, ?)"
        )
        self.unask = q(f"DELETE FROM {p}open_asks WHERE enrollment_id = ?")
        self.ask = q(
            f"INSERT INTO {p}open_asks (slot, enrollment_id, prospect, rung, channel, seq, "
            "asked_at, expires_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING"
        )
        self.outbox = q(
            f"INSERT INTO {p}outbox (key, enrollment_id, kind, status, attempts, "
            "next_attempt_at, lease_until, sent_at, last_error, body) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
        )

    def close(self) -> None:
        self.conn.close()

    def timers(self, change: Change) -> tuple[str, Any]:
        rows = [[t.kind, t.due_at.astimezone(UTC).isoformat(), t.rung] for t in change.timers]
        return _dumps(rows), self.time(min((t.due_at for t in change.timers), default=None))

    # the four ways the loop talks to the database (the driver's cursor, here)
    def run(self, sql: str, params: Sequence[Any]) -> int:
        self.cur.execute(sql, params)
        return int(self.cur.rowcount)

    def fetch(self, sql: str, params: Sequence[Any]) -> list[Any]:
        self.cur.execute(sql, params)
        return list(self.cur.fetchall())

    def run_many(self, sql: str, rows: list[tuple[Any, ...]]) -> None:
        self.cur.executemany(sql, rows)

    def transaction(self) -> Any:
        """Begin (SQLite: IMMEDIATE, as the store does); the block commits."""
        if self.begin:
            self.cur.execute(self.begin)
        return _Commit(self.conn)

    def command(self, item: Captured, *, by_ladder: bool) -> None:
        """One command's transaction: read, check, write the captured change's rows."""
        c, cmd, when = item.change, item.command, self.time
        eid = c.enrollment_id
        new = c.expected_version == 0
        now = when(c.now)
        with self.transaction():
            if cmd.key is not None and self.fetch(self.recall, (cmd.key,)):
                raise AssertionError("a fresh key was taken")
            if new or by_ladder:
                rows = self.fetch(self.load, (eid,))
            else:
                rows = self.fetch(self.find, (cmd.prospect,))
            for row in rows:  # decode what was read, as any code using it would
                json.loads(row[5]), json.loads(row[6])
            version = rows[0][4] if rows else 0
            if version != c.expected_version:
                raise AssertionError(f"{eid} is at version {version}, not {c.expected_version}")
            if c.receipt is not None:
                r = c.receipt
                row = (r.key, r.command, r.enrollment_id, _dumps(dict(r.result)), now)
                if self.run(self.receipt, row) != 1:
                    raise AssertionError("receipt key taken")
            snapshot, fired = _dumps(c.snapshot), _dumps(list(c.fired))
            if new:
                timers, due = self.timers(c)
                row = (eid, c.prospect, c.ladder, c.status, 1, snapshot, fired, now, timers, due)
                changed = self.run(self.enroll, (*row, None))
            elif c.timers_changed:
                timers, due = self.timers(c)
                row = (c.status, version + 1, snapshot, fired, now, timers, due, None, eid)
                changed = self.run(self.update_timers, (*row, version))
            else:
                row = (c.status, version + 1, snapshot, fired, now, eid, version)
                changed = self.run(self.update, row)
            if changed != 1:
                raise AssertionError("lost a version race in a single-writer benchmark")
            events = [
                (
                    eid,
                    ev["seq"],
                    ev["type"],
                    when(datetime.fromisoformat(ev["at"])),
                    _dumps(dict(ev)),
                )
                for ev in c.events
            ]
            if len(events) == 1:
                self.run(self.event, events[0])
            elif events:
                self.run_many(self.event, events)
            if c.ask_changed:
                if c.had_ask and not new:
                    self.run(self.unask, (eid,))
                a = c.open_ask
                if a is not None:
                    row = (a.slot, eid, a.prospect, a.rung, a.channel, a.seq, when(a.asked_at))
                    if self.run(self.ask, (*row, when(a.expires_at))) != 1:
                        raise AssertionError("the open-ask slot was taken")
            messages = [
                (m.key, eid, m.kind, "pending", 0, now, None, None, None, _dumps(m.to_dict()))
                for m in c.messages
            ]
            if len(messages) == 1:
                self.run(self.outbox, messages[0])
            elif messages:
                self.run_many(self.outbox, messages)


class _Commit:
    """Commits the driver connection when the block ends (rolls back if it raises)."""

    def __init__(self, conn: Any) -> None:
        self.conn = conn

    def __enter__(self) -> None:
        return None

    def __exit__(self, kind: Any, *rest: Any) -> None:
        if kind is None:
            self.conn.commit()
        else:
            self.conn.rollback()


class RawThroughSqlAlchemy(Raw):
    """The same loop, the same SQL, but every statement through SQLAlchemy's
    ``Connection.exec_driver_sql`` and its transactions on a kept connection (the
    store's engine: WAL, ``BEGIN IMMEDIATE``): what SQLAlchemy alone costs, without
    deciding anything."""

    def __init__(self, url: str, prefix: str) -> None:
        super().__init__(url, prefix)
        self.conn.close()
        self.store = SqlStore(url, prefix=prefix)
        self.sa = self.store.engine.connect()
        self.sa_options = {"preserve_rowcount": True}

    def close(self) -> None:
        self.sa.close()
        self.store.close()

    def run(self, sql: str, params: Sequence[Any]) -> int:
        return int(self.sa.exec_driver_sql(sql, params, self.sa_options).rowcount)

    def fetch(self, sql: str, params: Sequence[Any]) -> list[Any]:
        return list(self.sa.exec_driver_sql(sql, params).fetchall())

    def run_many(self, sql: str, rows: list[tuple[Any, ...]]) -> None:
        self.sa.exec_driver_sql(sql, rows)

    def transaction(self) -> Any:
        return self.sa.begin()


# ---- one round of each side ------------------------------------------------------------------


def new_store(url: str) -> SqlStore:
    store = SqlStore(url, prefix=f"b{uuid.uuid4().hex[:8]}_")
    store.create_schema()
    return store


def names(side: str, tag: str, count: int) -> list[str]:
    """``count`` prospect names of one length: the sides' payloads are the same size."""
    return [f"{side}{tag}{i:05d}" for i in range(count)]


def tracker_rate(store: SqlStore, commands: Sequence[Command], *, by_ladder: bool) -> float:
    tracker = cl.Tracker(store=store, ladders=[LADDER])
    start = time.perf_counter()
    for command in commands:
        run(tracker, command, by_ladder=by_ladder)
    return len(commands) / (time.perf_counter() - start)


def raw_rate(raw: Raw, items: Sequence[Captured], *, by_ladder: bool) -> float:
    start = time.perf_counter()
    for item in items:
        raw.command(item, by_ladder=by_ladder)
    return len(items) / (time.perf_counter() - start)


@dataclass
class Sides:
    """Per-round rates of the Tracker, of the raw loop and of the raw loop's SQL run
    through SQLAlchemy (``sa``: SQLAlchemy's own cost, without deciding anything)."""

    ours: list[float] = field(default_factory=list)
    raw: list[float] = field(default_factory=list)
    sa: list[float] = field(default_factory=list)

    def ratios(self, side: str = "ours") -> list[float]:
        return [o / r for o, r in zip(getattr(self, side), self.raw, strict=True)]


def median_range(values: Sequence[float], fmt: str = "{:.0%}") -> str:
    return (
        f"{fmt.format(statistics.median(values))} "
        f"({fmt.format(min(values))}-{fmt.format(max(values))})"
    )


def command_rates(
    url: str, prospects: int, rounds: int, progress: Callable[[str], None]
) -> tuple[dict[str, Sides], str]:
    """Both call paths; the Tracker, the raw loop and the raw loop through SQLAlchemy
    take turns in every round (the order turning each round)."""
    store = new_store(url)
    loops = {"raw": Raw(url, store.prefix), "sa": RawThroughSqlAlchemy(url, store.prefix)}
    paths = {"ladder=": True, "find()": False}
    results = {path: Sides() for path in paths}
    try:
        for k in range(-1, rounds):  # round -1 warms both sides up, untimed
            for path, by_ladder in paths.items():
                tag = f"{'wl'[by_ladder]}{k + 1:02d}"
                n = max(4, prospects // 8) if k < 0 else prospects
                seed = 1000 + k * 10 + by_ladder
                ours_cmds = stream(names("o", tag, n), seed)
                items = {
                    "raw": capture(stream(names("r", tag, n), seed), by_ladder=by_ladder),
                    "sa": capture(stream(names("s", tag, n), seed), by_ladder=by_ladder),
                }
                order = ["ours", "raw", "sa"]
                for side in order[k % 3 :] + order[: k % 3]:
                    if side == "ours":
                        rate = tracker_rate(store, ours_cmds, by_ladder=by_ladder)
                    else:
                        rate = raw_rate(loops[side], items[side], by_ladder=by_ladder)
                    if k >= 0:
                        getattr(results[path], side).append(rate)
            if k >= 0:
                progress(
                    f"  round {k + 1}/{rounds}: "
                    + ", ".join(
                        f"{path} {s.ours[-1]:,.0f} vs {s.raw[-1]:,.0f}/s "
                        f"(through SQLAlchemy {s.sa[-1]:,.0f}/s)"
                        for path, s in results.items()
                    )
                )
        return results, same_rows(store)
    finally:
        for loop in loops.values():
            loop.close()
        store.drop_schema()
        store.close()


def written(store: SqlStore, side: str) -> dict[str, tuple[int, int]]:
    """Rows and payload characters per table for one side's enrollments."""
    t = store.tables
    like = f"{LADDER.name}/{side}%"
    tables = {
        "enrollments": (t.enrollments, t.enrollments.c.id, t.enrollments.c.snapshot),
        "events": (t.events, t.events.c.enrollment_id, t.events.c.body),
        "open_asks": (t.open_asks, t.open_asks.c.enrollment_id, t.open_asks.c.slot),
        "outbox": (t.outbox, t.outbox.c.enrollment_id, t.outbox.c.body),
        "idempotency": (t.idempotency, t.idempotency.c.enrollment_id, t.idempotency.c.result),
        "timers": (t.enrollments, t.enrollments.c.id, t.enrollments.c.timers),
    }
    out = {}
    with store.engine.connect() as conn:
        for name, (_, owner, payload) in tables.items():
            where = [owner.like(like)]
            if name == "timers":  # an enrollment's timers: non-empty lists in its row
                where.append(t.enrollments.c.next_due_at.is_not(None))
            size = sa.func.coalesce(sa.func.sum(sa.func.length(payload)), 0)
            row = conn.execute(sa.select(sa.func.count(), size).where(*where)).one()
            out[name] = (int(row[0]), int(row[1]))
    return out


def same_rows(store: SqlStore) -> str:
    """Check that the raw loop wrote what the Tracker wrote; say how much that was."""
    ours = written(store, "o")
    for side in ("r", "s"):
        theirs = written(store, side)
        for name, (rows, size) in ours.items():
            raw_rows, raw_size = theirs[name]
            if rows != raw_rows or abs(size - raw_size) > 0.01 * max(size, 1):
                raise AssertionError(f"the raw loop wrote other {name} rows: {theirs} vs {ours}")
    return ", ".join(f"{name} {rows:,}" for name, (rows, _) in ours.items())


# ---- latency rows: store size and history length ---------------------------------------------


@dataclass
class Rows:
    """Final table rows of a population, folded from the changes that made it."""

    enrollments: dict[str, Change] = field(default_factory=dict)
    events: list[tuple[str, Any]] = field(default_factory=list)
    open_asks: dict[str, Any] = field(default_factory=dict)
    outbox: list[tuple[str, Any]] = field(default_factory=list)
    receipts: list[tuple[Any, datetime | None]] = field(default_factory=list)

    @classmethod
    def each(cls, items: Sequence[Captured]) -> dict[str, Rows]:
        """The rows of each prospect."""
        out: dict[str, Rows] = {}
        for item in items:
            out.setdefault(item.change.prospect, cls()).add(item)
        return out

    def add(self, item: Captured) -> None:
        """Fold one command's change into the rows."""
        c = item.change
        previous = self.enrollments.get(c.enrollment_id)
        if previous is not None and not c.timers_changed:  # the row keeps its timers
            c = dataclasses.replace(c, timers=previous.timers)
        self.enrollments[c.enrollment_id] = c
        self.events.extend((c.enrollment_id, ev) for ev in c.events)
        if c.ask_changed:
            self.open_asks.pop(c.enrollment_id, None)
            if c.open_ask is not None:
                self.open_asks[c.enrollment_id] = c.open_ask
        self.outbox.extend((c.enrollment_id, (m, c.now)) for m in c.messages)
        if c.receipt is not None:
            self.receipts.append((c.receipt, c.now))


def table_rows(rows: Rows, raw: Raw) -> list[list[tuple[Any, ...]]]:
    """``rows`` as the value tuples of the enrollments, events, open asks, outbox and
    idempotency tables, in the column order of ``TABLES``."""
    when = raw.time
    enrollments = []
    for c in rows.enrollments.values():
        timers, due = raw.timers(c)
        snapshot, fired = _dumps(c.snapshot), _dumps(list(c.fired))
        version = c.expected_version + 1
        row = (c.enrollment_id, c.prospect, c.ladder, c.status, version, snapshot, fired)
        enrollments.append((*row, when(c.now), timers, due, None))
    events = [
        (eid, ev["seq"], ev["type"], when(datetime.fromisoformat(ev["at"])), _dumps(dict(ev)))
        for eid, ev in rows.events
    ]
    asks = [
        (a.slot, eid, a.prospect, a.rung, a.channel, a.seq, when(a.asked_at), when(a.expires_at))
        for eid, a in rows.open_asks.items()
    ]
    outbox = [
        (m.key, eid, m.kind, "pending", 0, when(at or m.at), None, None, None, _dumps(m.to_dict()))
        for eid, (m, at) in rows.outbox
    ]
    receipts = [
        (r.key, r.command, r.enrollment_id, _dumps(dict(r.result)), when(at))
        for r, at in rows.receipts
    ]
    return [enrollments, events, asks, outbox, receipts]


TABLES = ("enrollments", "events", "open_asks", "outbox", "idempotency")


def bulk_insert(store: SqlStore, parts: Sequence[tuple[Rows, Sequence[tuple[str, str]]]]) -> None:
    """Insert each part's rows once per ``(old, new)`` renaming of its prospect: every
    text field gets ``old`` replaced by ``new``. Setup, not measured: the driver, in
    batches."""
    raw = Raw(store.engine.url.render_as_string(hide_password=False), store.prefix)
    ph = "?" if raw.sqlite else "%s"
    templates = [(table_rows(rows, raw), copies) for rows, copies in parts]
    try:
        for index, name in enumerate(TABLES):
            table = getattr(store.tables, name)
            cols = [c.name for c in table.columns if not (name == "outbox" and c.name == "id")]
            marks = ", ".join([ph] * len(cols))
            sql = f"INSERT INTO {table.name} ({', '.join(cols)}) VALUES ({marks})"
            batch: list[tuple[Any, ...]] = []
            for template, copies in templates:
                for old, new in copies:
                    batch.extend(
                        tuple(v.replace(old, new) if isinstance(v, str) else v for v in row)
                        for row in template[index]
                    )
                    if len(batch) > 20_000:
                        _write(raw, sql, batch)
                        batch = []
            _write(raw, sql, batch)
    finally:
        raw.close()


def _write(raw: Raw, sql: str, rows: list[tuple[Any, ...]]) -> None:
    """Insert ``rows`` in one transaction (SQLite's connection here is in autocommit)."""
    if rows:
        if raw.begin:
            raw.cur.execute(raw.begin)
        raw.cur.executemany(sql, rows)
        raw.conn.commit()


def checkpoint(store: SqlStore) -> None:
    """Fold a bulk load's WAL into the SQLite file, so that setup is not measured."""
    if store.dialect == "sqlite":
        store.close()  # the store's connections, kept for the next command, let go
        with sqlite3.connect(str(store.engine.url.database), isolation_level=None) as conn:
            conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")


_TEMPLATE: dict[str, Rows] = {}


def fill(store: SqlStore, count: int) -> dict[str, int]:
    """``count`` enrollments in every state of the climb, with their events, open asks,
    timers, outbox rows and receipts, copied from a template population of 100."""
    if not _TEMPLATE:
        names_ = [f"z{i:03d}" for i in range(100)]
        _TEMPLATE.update(Rows.each(capture(stream(names_, seed=7))))
    per = count // len(_TEMPLATE)
    bulk_insert(
        store,
        [(part, [(p, f"f{p[1:]}{j:05d}") for j in range(per)]) for p, part in _TEMPLATE.items()],
    )
    checkpoint(store)
    return {name: n for name, (n, _) in written(store, "f").items()}


def size_latencies(
    url_small: str, url_big: str, big: int, prospects: int
) -> tuple[dict[str, tuple[float, float]], dict[str, int]]:
    """Median command latency on a store of 1k and one of ``big`` enrollments, per call
    path. The two stores take turns command by command, on the same fresh prospects, so
    a slow spell of the machine weighs on both alike."""
    small_store, big_store = new_store(url_small), new_store(url_big)
    try:
        fill(small_store, 1_000)
        filled = fill(big_store, big)
        out: dict[str, tuple[float, float]] = {}
        for path, by_ladder in (("ladder=", True), ("find()", False)):
            commands = stream(names("a", f"s{int(by_ladder)}", prospects), seed=11 + by_ladder)
            trackers = [cl.Tracker(store=s, ladders=[LADDER]) for s in (small_store, big_store)]
            times: list[list[float]] = [[], []]
            for i, command in enumerate(commands):
                for side, tracker in enumerate(trackers):
                    start = time.perf_counter()
                    run(tracker, command, by_ladder=by_ladder)
                    if i >= 50:  # the first 50 warm up
                        times[side].append(time.perf_counter() - start)
            out[path] = (statistics.median(times[0]) * 1000, statistics.median(times[1]) * 1000)
        return out, filled
    finally:
        for store in (small_store, big_store):
            store.drop_schema()
            store.close()


def history_latencies(url: str, cycles: int) -> tuple[float, float]:
    """Median command latency (ask, follow-up, withdraw; every other cycle without
    ``ladder=``) on an enrollment with 10 events and on one with 10,000, the two
    taking turns command by command."""
    ladder = history_ladder()
    store = new_store(url)
    try:
        grown: list[Command] = []
        for name, events in (("short", 10), ("long0", 10_000)):
            e = ladder.enroll(name, now=T0)
            commands = [Command("enroll", name, T0)]
            at = T0
            while e.seq < events - 2:
                at += timedelta(hours=1)
                e.ask("admit_problem", channel="email", now=at)
                commands.append(
                    Command("ask", name, at, {"rung": "admit_problem", "channel": "email"})
                )
                at += timedelta(hours=1)
                e.withdraw(now=at)
                commands.append(Command("withdraw", name, at))
            grown.extend(commands)
        parts = Rows.each(capture(grown, ladder))
        bulk_insert(store, [(part, [(p, p)]) for p, part in parts.items()])
        checkpoint(store)
        lengths = {
            s.prospect: s.snapshot["seq"] for s in (*store.find("short"), *store.find("long0"))
        }
        tracker = cl.Tracker(store=store, ladders=[ladder])
        clock = max(c.now for c in grown)
        times: dict[str, list[float]] = {"short": [], "long0": []}
        for cycle in range(cycles + 10):
            clock += timedelta(days=1)
            steps = [
                Command("ask", "", clock, {"rung": "admit_problem", "channel": "email"}),
                Command("follow_up", "", clock + timedelta(days=2, minutes=1)),
                Command("withdraw", "", clock + timedelta(days=2, minutes=2)),
            ]
            clock += timedelta(days=3)
            for step in steps:
                for name in times:
                    command = Command(step.verb, name, step.now, step.args)
                    start = time.perf_counter()
                    run(tracker, command, by_ladder=cycle % 2 == 0, on=ladder)
                    if cycle >= 10:
                        times[name].append(time.perf_counter() - start)
        assert lengths["long0"] >= 9_990, lengths
        return statistics.median(times["short"]) * 1000, statistics.median(times["long0"]) * 1000
    finally:
        store.drop_schema()
        store.close()


# ---- worker processes (PostgreSQL) -----------------------------------------------------------


# the commands of each worker, made once before the workers fork (every run writes fresh
# tables, so the same prospects serve every run): worker index -> side -> commands
_WORK: dict[int, dict[str, Sequence[Any]]] = {}


def prepare_workers(count: int, prospects: int) -> None:
    for w in range(count):
        commands = stream(names("w", f"{w}", prospects), seed=500 + w)
        _WORK[w] = {"o": commands, "r": capture(commands)}


def _cpu_seconds(pid: int) -> float:
    """User + system CPU of a local process (a PostgreSQL backend), from /proc."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return float("nan")
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _worker(
    url: str,
    prefix: str,
    side: str,
    w: int,
    seconds: float,
    ready: multiprocessing.synchronize.Barrier,
    out: Any,
) -> None:
    """One worker: its own connection and its own prospects (no two workers share a
    row), then commands until the window closes."""
    work = _WORK[w][side]
    if side == "o":
        store = SqlStore(url, prefix=prefix)  # its own engine and pool, made after the fork
        tracker = cl.Tracker(store=store, ladders=[LADDER])
        with store.engine.connect() as conn:
            backend = int(conn.exec_driver_sql("SELECT pg_backend_pid()").scalar_one())

        def step(i: int) -> None:
            run(tracker, work[i], by_ladder=True)

        close: Callable[[], None] = store.close
    else:
        raw = Raw(url, prefix)
        raw.cur.execute("SELECT pg_backend_pid()")
        backend = int(raw.cur.fetchone()[0])
        raw.conn.commit()

        def step(i: int) -> None:
            raw.command(work[i], by_ladder=True)

        close = raw.close
    warm = 30
    for i in range(warm):  # connection, prepared statements, compiled cache
        step(i)
    ready.wait()
    done = warm
    cpu, server = time.process_time(), _cpu_seconds(backend)
    start = time.perf_counter()
    deadline = start + seconds
    while time.perf_counter() < deadline:
        if done == len(work):
            raise AssertionError("a worker ran out of commands: give it more prospects")
        step(done)
        done += 1
    elapsed = time.perf_counter() - start
    out.put((done - warm, elapsed, time.process_time() - cpu, _cpu_seconds(backend) - server))
    close()


@dataclass(frozen=True)
class WorkersRun:
    rate: float  # commands per second, all workers together
    client_ms: float  # client CPU per command
    server_ms: float  # PostgreSQL backend CPU per command


def workers_once(url: str, side: str, procs: int, seconds: float) -> WorkersRun:
    """``procs`` workers of one side, started together on fresh tables."""
    store = new_store(url)
    store.close()  # nothing inherited through the fork
    try:
        ctx = multiprocessing.get_context("fork")
        out = ctx.Queue()
        ready = ctx.Barrier(procs + 1)
        ps = [
            ctx.Process(target=_worker, args=(url, store.prefix, side, w, seconds, ready, out))
            for w in range(procs)
        ]
        for proc in ps:
            proc.start()
        ready.wait(timeout=600)
        results = []
        while len(results) < procs:
            try:
                results.append(out.get(timeout=1))
            except queue.Empty:
                if any(proc.exitcode not in (None, 0) for proc in ps):
                    raise RuntimeError("a worker failed: see its traceback above") from None
        for proc in ps:
            proc.join()
    finally:
        store.drop_schema()
        store.close()
    done = sum(r[0] for r in results)
    return WorkersRun(
        rate=sum(r[0] / r[1] for r in results),
        client_ms=1000 * sum(r[2] for r in results) / done,
        server_ms=1000 * sum(r[3] for r in results) / done,
    )


def workers(
    url: str, rounds: int, seconds: float, prospects: int, progress: Callable[[str], None]
) -> dict[int, dict[str, list[WorkersRun]]]:
    """1, 2 and 4 worker processes, Tracker and raw loop at each count, every round."""
    counts = (1, 2, 4)
    prepare_workers(max(counts), prospects)
    runs: dict[int, dict[str, list[WorkersRun]]] = {k: {"o": [], "r": []} for k in counts}
    for r in range(rounds):
        for k in counts:
            for side in ("o", "r") if r % 2 == 0 else ("r", "o"):
                runs[k][side].append(workers_once(url, side, k, seconds))
        progress(
            f"  round {r + 1}/{rounds}: "
            + ", ".join(
                f"{k}: {runs[k]['o'][-1].rate:,.0f} vs {runs[k]['r'][-1].rate:,.0f}/s"
                for k in counts
            )
        )
    return runs


# ---- the report ------------------------------------------------------------------------------


def profile(url: str, prospects: int) -> None:
    """cProfile one round of the Tracker on each call path (to stderr)."""
    store = new_store(url)
    try:
        for path, by_ladder in (("ladder=", True), ("find()", False)):
            commands = stream(names("p", f"{int(by_ladder)}", prospects), seed=5)
            profiler = cProfile.Profile()
            profiler.enable()
            tracker_rate(store, commands, by_ladder=by_ladder)
            profiler.disable()
            print(f"\n--- profile: {len(commands)} commands, {path} ---", file=sys.stderr)
            pstats.Stats(profiler, stream=sys.stderr).sort_stats("cumulative").print_stats(45)
    finally:
        store.drop_schema()
        store.close()


def main() -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="smaller sizes: under 2 minutes")
    parser.add_argument("--postgres", default=os.environ.get("COMMITLADDER_TEST_POSTGRES_URL"))
    parser.add_argument("--rounds", type=int, default=None, help="rounds per comparison")
    parser.add_argument("--profile", action="store_true", help="also cProfile the Tracker (stderr)")
    parser.add_argument("--only", choices=["rates", "size", "history", "workers"], action="append")
    args = parser.parse_args()
    quick = args.quick
    rounds = args.rounds or (3 if quick else 5)
    prospects = 30 if quick else 150  # per rate, side and round: about 7 commands each
    big = 10_000 if quick else 100_000
    only = set(args.only or ["rates", "size", "history", "workers"])
    rounds_w = 2 if quick else rounds
    tmp = Path(tempfile.mkdtemp(prefix="bench_store_"))
    started = time.perf_counter()

    def sqlite(name: str) -> str:
        return f"sqlite:///{tmp / name}"

    def progress(text: str) -> None:
        print(f"[{time.perf_counter() - started:5.0f} s] {text}", file=sys.stderr, flush=True)

    rows: list[tuple[str, str, str, str]] = []
    notes: list[str] = []
    urls = {"SQLite (file, WAL)": sqlite("rates.db")}
    if args.postgres:
        urls["PostgreSQL"] = args.postgres
    if "rates" in only:
        for label, url in urls.items():
            progress(f"commands/s on {label}, {rounds} rounds ...")
            results, same = command_rates(url, prospects, rounds, progress)
            for path, sides in results.items():
                rows.append(
                    (
                        f"commands/s, {label}, {path}",
                        f"{max(sides.ours):,.0f}",
                        f"{max(sides.raw):,.0f} raw SQL",
                        f"{median_range(sides.ratios())} (>= 50%)",
                    )
                )
            for path, sides in results.items():
                rows.append(
                    (
                        f"  the raw loop's SQL through SQLAlchemy, {label}, {path}",
                        f"{max(sides.sa):,.0f}",
                        f"{max(sides.raw):,.0f} raw SQL",
                        f"{median_range(sides.ratios('sa'))} (information)",
                    )
                )
            notes.append(f"{label}: both sides wrote the same rows, each: {same}")
    if args.profile:
        profile(sqlite("profile.db"), prospects)

    if "size" in only:
        progress(f"command latency at 1k and {big:,} enrollments ...")
        sizes, filled = size_latencies(
            sqlite("small.db"), sqlite("big.db"), big, 30 if quick else 150
        )
        for path, (small, large) in sizes.items():
            rows.append(
                (
                    f"command latency (median), 1k vs {big // 1000}k enrollments, SQLite, {path}",
                    f"{large:.2f} ms",
                    f"{small:.2f} ms at 1k",
                    f"{large / small - 1:+.0%} (+-25%)",
                )
            )
        notes.append("the big store holds: " + ", ".join(f"{k} {v:,}" for k, v in filled.items()))
    if "history" in only:
        progress("command latency at 10 and 10,000 events ...")
        short_ms, long_ms = history_latencies(sqlite("history.db"), 30 if quick else 200)
        rows.append(
            (
                "command latency (median), 10 vs 10,000 events, SQLite",
                f"{long_ms:.2f} ms",
                f"{short_ms:.2f} ms at 10",
                f"{long_ms / short_ms - 1:+.0%} (+-25%)",
            )
        )
    if args.postgres and "workers" in only:
        seconds = 2.0 if quick else 6.0
        progress(
            f"PostgreSQL with 1, 2 and 4 worker processes, {rounds_w} rounds of {seconds:.0f} s ..."
        )
        runs = workers(args.postgres, rounds_w, seconds, 400 if quick else 1500, progress)
        for k, sides in runs.items():
            ours = [x.rate for x in sides["o"]]
            raw = [x.rate for x in sides["r"]]
            rows.append(
                (
                    f"commands/s, PostgreSQL, {k} worker process(es)",
                    f"{max(ours):,.0f}",
                    f"{max(raw):,.0f} raw SQL",
                    f"{median_range([o / r for o, r in zip(ours, raw, strict=True)])} of raw",
                )
            )
        for label, side in (("commitladder", "o"), ("raw SQL", "r")):
            one, four = [x.rate for x in runs[1][side]], [x.rate for x in runs[4][side]]
            two = [x.rate for x in runs[2][side]]
            target = ">= 1.6x at 4, where raw SQL scales" if side == "o" else "information"
            rows.append(
                (
                    f"scaling from 1 worker, PostgreSQL, {label}",
                    "2: " + median_range([t / o for t, o in zip(two, one, strict=True)], "{:.2f}x"),
                    "4: "
                    + median_range([f / o for f, o in zip(four, one, strict=True)], "{:.2f}x"),
                    target,
                )
            )
        notes.append("where a PostgreSQL command's time goes (per command, median run):")
        for k, sides in runs.items():
            for label, side in (("commitladder", "o"), ("raw SQL", "r")):
                x = sorted(sides[side], key=lambda w: w.rate)[len(sides[side]) // 2]
                notes.append(
                    f"  {k} worker(s), {label}: client CPU {x.client_ms:.2f} ms, "
                    f"PostgreSQL backend CPU {x.server_ms:.2f} ms"
                )
    elif not args.postgres:
        progress("PostgreSQL rows skipped: pass --postgres URL")

    head = ("measure", "commitladder", "baseline", "ratio: median (range) (target)")
    widths = [max(len(r[i]) for r in [head, *rows]) for i in range(4)]
    print("| " + " | ".join(h.ljust(w) for h, w in zip(head, widths, strict=True)) + " |")
    print("|" + "|".join("-" * (w + 2) for w in widths) + "|")
    for row in rows:
        print("| " + " | ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)) + " |")
    print(
        f"\n{os.cpu_count()} CPUs; Python {sys.version.split()[0]}, SQLAlchemy {sa.__version__}; "
        f"{rounds} rounds after a warm-up (workers: {rounds_w}), the sides interleaved; rates: "
        f"each side's best round; {prospects} prospects per side, path and round (the seed "
        "ladder's full mix, one command in five with an idempotency key); "
        f"run took {time.perf_counter() - started:.0f} s"
    )
    for note in notes:
        print(note)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
