"""Durable tracker benchmark: one table, with its baselines measured in the same run.

    python benchmarks/bench_store.py [--quick] [--postgres URL]

Rows:
- commands/s through the Tracker (ask + commit pairs) on SQLite (file, WAL) and PostgreSQL,
  against a raw-SQL loop with the same driver writing the same rows per command (the limit);
- command latency with 1k vs 100k stored enrollments (SQLite; --quick: 1k vs 10k);
- load latency with 10 vs 10,000 events of history (SQLite);
- PostgreSQL with 1, 2 and 4 worker processes.
Targets: >= 50% of the raw-SQL limit; flat (+-25%) across store size and history length;
>= 1.6x from 1 to 4 workers. PostgreSQL URL defaults to COMMITLADDER_TEST_POSTGRES_URL.

Fairness: every rate is the best of 3 rounds after a warm-up, the two sides of a
comparison interleaved in each round, on fresh prospects; the two sides of a latency
alternate command by command and each gives its median; the raw loop writes exactly
the rows the Tracker wrote (checked after the run: same row counts, same payload sizes).
Worker processes each open their own engine after the fork, work on their own prospects,
start together on a barrier and count commands in the same window; the workers table also
shows where a command's time goes (client CPU, PostgreSQL backend CPU, idle CPU).
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import multiprocessing.synchronize
import os
import statistics
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import sqlalchemy as sa

import commitladder as cl
from commitladder.store import Change
from commitladder.sql import SqlStore

T0 = datetime(2026, 1, 5, 9, tzinfo=UTC)
LADDER = cl.Ladder.from_dict(
    {
        "ladder": "bench",
        "version": 1,
        "start": "hello",
        "defaults": {"expires_after": "7d", "follow_ups": {"max": 2, "every": "2d"}},
        "rungs": {"hello": {"kind": "conversation", "size": 1, "next": "hello"}},
        "ends": {"won": {"result": "won"}},
    }
)


ROUNDS = 3


def new_store(url: str) -> SqlStore:
    store = SqlStore(url, prefix=f"b{uuid.uuid4().hex[:8]}_")
    store.create_schema()
    return store


def enroll_many(store: SqlStore, prospects: list[str]) -> None:
    with store.engine.connect() as conn, conn.begin():
        tracker = cl.Tracker(store=SqlStore.joined(conn, store), ladders=[LADDER])
        for p in prospects:
            tracker.enroll(p, ladder="bench", now=T0)


def checkpoint(store: SqlStore) -> None:
    """Fold a bulk load's WAL into the database file, so that setup is not measured."""
    if store.dialect == "sqlite":
        with store.engine.connect() as conn:
            conn.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")


def tracker_rate(store: SqlStore, prospects: list[str]) -> float:
    """ask + commit for each prospect; commands per second."""
    tracker = cl.Tracker(store=store, ladders=[LADDER])
    now = T0 + timedelta(hours=1)
    start = time.perf_counter()
    for p in prospects:
        tracker.ask(p, "hello", ladder="bench", now=now)
        tracker.commit(p, ladder="bench", now=now)
    return 2 * len(prospects) / (time.perf_counter() - start)


def templates() -> dict[str, Change]:
    """The ``Change`` the Tracker hands its store for an ask and for a commit: the raw loop
    writes the same rows, with payloads of the same shape and size."""
    seen: list[Change] = []
    store = cl.MemoryStore()
    apply = store.apply

    def record(change: Change) -> None:
        seen.append(change)
        apply(change)

    store.apply = record  # type: ignore[method-assign]
    tracker = cl.Tracker(store=store, ladders=[LADDER])
    tracker.enroll("template", ladder="bench", now=T0)
    now = T0 + timedelta(hours=1)
    tracker.ask("template", "hello", ladder="bench", now=now)
    tracker.commit("template", ladder="bench", now=now)
    return {"ask": seen[1], "commit": seen[2]}


def raw_rate(store: SqlStore, prospects: list[str], tpl: dict[str, Change]) -> float:
    """The same rows per command, written by hand with the same driver (the limit): one
    transaction that reads the snapshot, checks its version, and writes the enrollment,
    the events, the open ask, the timers and the outbox, skipping nothing the Tracker
    writes and adding no statement it does not need."""
    p = store.prefix
    sqlite = store.dialect == "sqlite"
    ph = "?" if sqlite else "%s"
    raw = store.engine.raw_connection()
    dbapi: Any = raw.driver_connection
    cur = dbapi.cursor()
    now = T0 + timedelta(hours=1)
    ts = now.replace(tzinfo=None)

    def q(sql: str) -> str:
        return sql.replace("?", ph)

    def js(value: Any, eid: str, prospect: str) -> str:
        text = json.dumps(value, separators=(",", ":"))
        return text.replace("bench/template", eid).replace('"template"', f'"{prospect}"')

    load = q(f"SELECT version, snapshot, fired FROM {p}enrollments WHERE id = ?")
    update = q(
        f"UPDATE {p}enrollments SET status = ?, version = ?, snapshot = ?, fired = ?, "
        "updated_at = ? WHERE id = ? AND version = ?"
    )
    event = q(f"INSERT INTO {p}events (enrollment_id, seq, type, at, body) VALUES (?, ?, ?, ?, ?)")
    ask = q(
        f"INSERT INTO {p}open_asks (slot, enrollment_id, prospect, rung, channel, seq, "
        "asked_at, expires_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)"
    )
    unask = q(f"DELETE FROM {p}open_asks WHERE enrollment_id = ?")
    timer = q(
        f"INSERT INTO {p}timers (enrollment_id, kind, due_at, rung, lease_until) "
        "VALUES (?, ?, ?, ?, ?)"
    )
    untime = q(f"DELETE FROM {p}timers WHERE enrollment_id = ?")
    outbox = q(
        f"INSERT INTO {p}outbox (key, enrollment_id, kind, status, attempts, next_attempt_at, "
        "lease_until, sent_at, last_error, body) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
    )

    def naive(at: datetime | None) -> datetime | None:
        return at.astimezone(UTC).replace(tzinfo=None) if at is not None else None

    def command(eid: str, prospect: str, change: Change) -> None:
        if sqlite:
            cur.execute("BEGIN IMMEDIATE")
        cur.execute(load, (eid,))
        version, snap, _ = cur.fetchone()
        seq = json.loads(snap)["seq"]
        cur.execute(
            update,
            (
                change.status,
                version + 1,
                js(change.snapshot, eid, prospect),
                "[]",
                ts,
                eid,
                version,
            ),
        )
        if cur.rowcount != 1:
            raise RuntimeError("lost a version race in a single-writer benchmark")
        for i, ev in enumerate(change.events, start=1):
            body = js(dict(ev, seq=seq + i), eid, prospect)
            cur.execute(event, (eid, seq + i, ev["type"], ts, body))
        if change.open_ask is not None:
            a = change.open_ask
            row = (f"prospect:{prospect}", eid, prospect, a.rung, a.channel, seq + 1)
            cur.execute(ask, (*row, naive(a.asked_at), naive(a.expires_at)))
        else:
            cur.execute(unask, (eid,))
        if change.timers:
            rows = [(eid, t.kind, naive(t.due_at), t.rung, None) for t in change.timers]
            cur.executemany(timer, rows)
        else:
            cur.execute(untime, (eid,))
        for m in change.messages:
            key = f"{eid}#{seq + 1}:{m.kind}"
            body = js(dict(m.to_dict(), key=key), eid, prospect)
            cur.execute(outbox, (key, eid, m.kind, "pending", 0, ts, None, None, None, body))
        dbapi.commit()

    start = time.perf_counter()
    for prospect in prospects:
        eid = f"bench/{prospect}"
        command(eid, prospect, tpl["ask"])
        command(eid, prospect, tpl["commit"])
    elapsed = time.perf_counter() - start
    raw.close()
    return 2 * len(prospects) / elapsed


def written(store: SqlStore, like: str) -> dict[str, tuple[int, int]]:
    """Rows and payload characters per table for the enrollments whose id is ``like``."""
    t = store.metadata.tables
    p = store.prefix
    payload = {"enrollments": "snapshot", "events": "body", "outbox": "body", "open_asks": "slot"}
    out = {}
    with store.engine.connect() as conn:
        for name in ("enrollments", "events", "open_asks", "timers", "outbox"):
            table = t[f"{p}{name}"]
            column = table.c.id if name == "enrollments" else table.c.enrollment_id
            size = sa.func.coalesce(
                sa.func.sum(sa.func.length(table.c[payload.get(name, "kind")])), 0
            )
            row = conn.execute(sa.select(sa.func.count(), size).where(column.like(like))).one()
            out[name] = (int(row[0]), int(row[1]))
    return out


def same_rows(store: SqlStore) -> str:
    """Check that the raw loop wrote what the Tracker wrote; say how it compares."""
    ours, theirs = written(store, "bench/t%"), written(store, "bench/r%")
    for name, (rows, size) in ours.items():
        raw_rows, raw_size = theirs[name]
        if rows != raw_rows or abs(size - raw_size) > 0.05 * max(size, 1):
            raise AssertionError(f"raw loop wrote other {name} rows: {theirs} vs {ours}")
    return ", ".join(f"{name} {rows}" for name, (rows, _) in ours.items())


def command_rates(url: str, n: int) -> tuple[float, float, str]:
    """Best of ``ROUNDS`` interleaved rounds of Tracker and raw loop, after a warm-up."""
    store = new_store(url)
    tpl = templates()
    try:
        warm = 20
        enroll_many(store, [f"{s}{i}" for s in "tr" for i in range(warm + ROUNDS * n)])
        checkpoint(store)
        tracker_rate(store, [f"t{i}" for i in range(warm)])
        raw_rate(store, [f"r{i}" for i in range(warm)], tpl)
        ours: list[float] = []
        limit: list[float] = []
        for k in range(ROUNDS):
            chunk = range(warm + k * n, warm + (k + 1) * n)
            ours.append(tracker_rate(store, [f"t{i}" for i in chunk]))
            limit.append(raw_rate(store, [f"r{i}" for i in chunk], tpl))
        return max(ours), max(limit), same_rows(store)
    finally:
        store.drop_schema()
        store.close()


def ask_seconds(tracker: cl.Tracker, prospect: str) -> float:
    now = T0 + timedelta(hours=1)
    start = time.perf_counter()
    tracker.ask(prospect, "hello", ladder="bench", now=now)
    return time.perf_counter() - start


def fill(store: SqlStore, count: int) -> None:
    """``count`` stored enrollments, written in bulk (the size of the store, not the test)."""
    e = LADDER.enroll("template", now=T0)
    snap = e.snapshot()
    table = store.metadata.tables[f"{store.prefix}enrollments"]
    with store.engine.begin() as conn:
        for start in range(0, count, 5000):
            rows = []
            for i in range(start, min(count, start + 5000)):
                s = dict(snap, id=f"bench/f{i}", prospect=f"f{i}")
                rows.append(
                    {
                        "id": s["id"],
                        "prospect": s["prospect"],
                        "ladder": "bench",
                        "status": "ready",
                        "version": 1,
                        "snapshot": s,
                        "fired": [],
                        "updated_at": T0,
                    }
                )
            conn.execute(table.insert(), rows)
    checkpoint(store)


def size_latencies(url_small: str, url_big: str, big: int) -> tuple[float, float]:
    """Median ask latency on a store of 1k and one of ``big`` enrollments. The asks
    alternate between the two stores one by one, on fresh prospects, so a slow spell of
    the machine (they last longer than a command here) weighs on both sides alike."""
    per = 200 * ROUNDS
    small_store, big_store = new_store(url_small), new_store(url_big)
    try:
        for store, size in ((small_store, 1_000), (big_store, big)):
            fill(store, size)
            enroll_many(store, [f"a{i}" for i in range(per + 50)])
            checkpoint(store)
        small_tracker = cl.Tracker(store=small_store, ladders=[LADDER])
        big_tracker = cl.Tracker(store=big_store, ladders=[LADDER])
        small: list[float] = []
        large: list[float] = []
        for i in range(per + 50):
            s = ask_seconds(small_tracker, f"a{i}")
            b = ask_seconds(big_tracker, f"a{i}")
            if i >= 50:  # the first 50 warm up
                small.append(s)
                large.append(b)
        return statistics.median(small) * 1000, statistics.median(large) * 1000
    finally:
        for store in (small_store, big_store):
            store.drop_schema()
            store.close()


def long_history(store: SqlStore, prospect: str, events: int) -> None:
    """An enrollment with ``events`` events (ask / withdraw pairs), stored in bulk."""
    e = LADDER.enroll(prospect, now=T0)
    at = T0
    while e.seq < events:  # not len(e.history): that decodes the whole history each time
        at += timedelta(minutes=1)
        e.ask("hello", now=at)
        e.withdraw(now=at)
    ev = store.metadata.tables[f"{store.prefix}events"]
    en = store.metadata.tables[f"{store.prefix}enrollments"]
    with store.engine.begin() as conn:
        conn.execute(
            en.insert(),
            {
                "id": e.id,
                "prospect": prospect,
                "ladder": "bench",
                "status": e.status,
                "version": len(e.history),
                "snapshot": e.snapshot(),
                "fired": [],
                "updated_at": at,
            },
        )
        rows = [
            {"enrollment_id": e.id, "seq": x.seq, "type": x.type, "at": x.at, "body": x.to_dict()}
            for x in e.history
        ]
        for start in range(0, len(rows), 5000):
            conn.execute(ev.insert(), rows[start : start + 5000])
    checkpoint(store)


def load_seconds(tracker: cl.Tracker, prospect: str) -> float:
    start = time.perf_counter()
    tracker.get(prospect, ladder="bench")
    return time.perf_counter() - start


def history_latencies(url: str) -> tuple[float, float]:
    """Median load latency of an enrollment with 10 and one with 10,000 events, the loads
    alternating one by one (see ``size_latencies``)."""
    store = new_store(url)
    try:
        long_history(store, "short", 10)
        long_history(store, "long", 10_000)
        tracker = cl.Tracker(store=store, ladders=[LADDER])
        short: list[float] = []
        long: list[float] = []
        for i in range(200 * ROUNDS + 50):
            s, lg = load_seconds(tracker, "short"), load_seconds(tracker, "long")
            if i >= 50:
                short.append(s)
                long.append(lg)
        return statistics.median(short) * 1000, statistics.median(long) * 1000
    finally:
        store.drop_schema()
        store.close()


def _cpu_seconds(pid: int) -> float:
    """User + system CPU of a local process (a PostgreSQL backend), from /proc."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return float("nan")
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _idle_seconds() -> float:
    """Idle CPU seconds of the whole machine so far, from /proc/stat (all CPUs)."""
    fields = Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]
    return (int(fields[3]) + int(fields[4])) / os.sysconf("SC_CLK_TCK")


def _worker(
    url: str,
    prefix: str,
    worker: int,
    seconds: float,
    ready: multiprocessing.synchronize.Barrier,
    out: Any,
) -> None:
    store = SqlStore(url, prefix=prefix)  # its own engine and pool, opened after the fork
    tracker = cl.Tracker(store=store, ladders=[LADDER])
    now = T0 + timedelta(hours=1)
    with store.engine.connect() as conn:
        backend = int(conn.exec_driver_sql("SELECT pg_backend_pid()").scalar_one())
    for i in range(10):  # warm-up: connection, compiled statements
        tracker.ask(f"w{worker}-warm{i}", "hello", ladder="bench", now=now)
        tracker.commit(f"w{worker}-warm{i}", ladder="bench", now=now)
    ready.wait()
    done, i = 0, 0
    cpu, server = time.process_time(), _cpu_seconds(backend)
    start = time.perf_counter()
    deadline = start + seconds
    while time.perf_counter() < deadline:
        p = f"w{worker}-{i}"  # this worker's own prospects: no two workers contend
        i += 1
        tracker.ask(p, "hello", ladder="bench", now=now)
        tracker.commit(p, ladder="bench", now=now)
        done += 2
    elapsed = time.perf_counter() - start
    out.put((done, elapsed, time.process_time() - cpu, _cpu_seconds(backend) - server))
    store.close()


@dataclass(frozen=True)
class WorkersRun:
    procs: int
    rate: float  # commands per second, all workers together
    client_ms: float  # client CPU per command
    server_ms: float  # PostgreSQL backend CPU per command
    idle: float  # share of the machine's CPU left idle during the window


def workers_once(url: str, procs: int, seconds: float, per_worker: int) -> WorkersRun:
    store = new_store(url)
    try:
        enroll_many(
            store,
            [
                f"w{w}-{x}"
                for w in range(procs)
                for x in [*(f"warm{i}" for i in range(10)), *range(per_worker)]
            ],
        )
        store.engine.dispose()  # nothing inherited through the fork
        ctx = multiprocessing.get_context("fork")
        out = ctx.Queue()
        ready = ctx.Barrier(procs + 1)
        ps = [
            ctx.Process(target=_worker, args=(url, store.prefix, w, seconds, ready, out))
            for w in range(procs)
        ]
        for proc in ps:
            proc.start()
        ready.wait()
        idle, wall = _idle_seconds(), time.perf_counter()
        results = [out.get(timeout=seconds * 10 + 60) for _ in ps]
        idle, wall = _idle_seconds() - idle, time.perf_counter() - wall
        for proc in ps:
            proc.join()
        done = sum(r[0] for r in results)
        if done >= procs * per_worker * 2:
            raise AssertionError("a worker ran out of enrolled prospects: raise per_worker")
        return WorkersRun(
            procs=procs,
            rate=sum(r[0] / r[1] for r in results),
            client_ms=1000 * sum(r[2] for r in results) / done,
            server_ms=1000 * sum(r[3] for r in results) / done,
            idle=idle / (wall * (os.cpu_count() or 1)),
        )
    finally:
        store.drop_schema()
        store.close()


def workers_rate(url: str, procs: int, seconds: float, per_worker: int) -> WorkersRun:
    """The best of ``ROUNDS`` runs."""
    runs = [workers_once(url, procs, seconds, per_worker) for _ in range(ROUNDS)]
    return max(runs, key=lambda r: r.rate)


def cpu_bound_ceiling(run: WorkersRun) -> float:
    """Commands/s if every CPU of the machine did nothing but this (client + server)."""
    return (os.cpu_count() or 1) * 1000 / (run.client_ms + run.server_ms)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="smaller sizes (CI)")
    parser.add_argument("--postgres", default=os.environ.get("COMMITLADDER_TEST_POSTGRES_URL"))
    args = parser.parse_args()
    n = 150 if args.quick else 500
    big = 10_000 if args.quick else 100_000
    rows: list[tuple[str, str, str, str]] = []
    notes: list[str] = []
    tmp = Path(tempfile.mkdtemp(prefix="bench_store_"))

    def sqlite(name: str) -> str:
        return f"sqlite:///{tmp / name}"

    def progress(text: str) -> None:
        print(text, file=sys.stderr, flush=True)

    urls = {"SQLite (file, WAL)": sqlite("rates.db")}
    if args.postgres:
        urls["PostgreSQL"] = args.postgres
    for label, url in urls.items():
        progress(f"commands/s on {label} ...")
        ours, limit, same = command_rates(url, n)
        rows.append(
            (
                f"commands/s, {label}",
                f"{ours:,.0f}",
                f"{limit:,.0f} raw SQL",
                f"{ours / limit:.0%} (>= 50%)",
            )
        )
        notes.append(f"{label}: both sides wrote the same rows ({same})")

    progress(f"ask latency at 1k and {big:,} enrollments ...")
    small, large = size_latencies(sqlite("small.db"), sqlite("big.db"), big)
    rows.append(
        (
            f"ask latency (median), 1k vs {big // 1000}k enrollments, SQLite",
            f"{large:.2f} ms",
            f"{small:.2f} ms at 1k",
            f"{large / small - 1:+.0%} (+-25%)",
        )
    )
    progress("load latency at 10 and 10,000 events ...")
    short_ms, long_ms = history_latencies(sqlite("history.db"))
    rows.append(
        (
            "load latency (median), 10 vs 10,000 events, SQLite",
            f"{long_ms:.2f} ms",
            f"{short_ms:.2f} ms at 10",
            f"{long_ms / short_ms - 1:+.0%} (+-25%)",
        )
    )

    if args.postgres:
        seconds = 3.0 if args.quick else 6.0
        runs: dict[int, WorkersRun] = {}
        for k in (1, 2, 4):
            progress(f"PostgreSQL with {k} worker process(es) ...")
            runs[k] = workers_rate(args.postgres, k, seconds, 4000)
        for k, run in runs.items():
            rows.append(
                (
                    f"commands/s, PostgreSQL, {k} worker process(es)",
                    f"{run.rate:,.0f}",
                    f"{runs[1].rate:,.0f} with 1",
                    f"{run.rate / runs[1].rate:.2f}x" + (" (>= 1.6x)" if k == 4 else ""),
                )
            )
        notes.append("where a PostgreSQL command's time goes (per command, best run):")
        for k, run in runs.items():
            notes.append(
                f"  {k} worker(s): client CPU {run.client_ms:.2f} ms, PostgreSQL backend CPU "
                f"{run.server_ms:.2f} ms, machine idle {run.idle:.0%}; all {os.cpu_count()} "
                f"CPUs on this alone would give {cpu_bound_ceiling(run):,.0f} commands/s"
            )
    else:
        progress("PostgreSQL rows skipped: pass --postgres URL")

    head = ("measure", "commitladder", "baseline", "ratio (target)")
    widths = [max(len(r[i]) for r in [head, *rows]) for i in range(4)]
    line = "| " + " | ".join(h.ljust(w) for h, w in zip(head, widths, strict=True)) + " |"
    print(line)
    print("|" + "|".join("-" * (w + 2) for w in widths) + "|")
    for row in rows:
        print("| " + " | ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)) + " |")
    print(
        f"\n{os.cpu_count()} CPUs; best of {ROUNDS} rounds after a warm-up; sizes: {n} prospects "
        f"per rate and round, {big:,} enrollments"
    )
    for note in notes:
        print(note)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
