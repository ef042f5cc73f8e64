"""AsyncTracker against the sync Tracker on threads, with 50 concurrent requests.

    python benchmarks/bench_async.py [--quick] [--postgres URL] [--rounds N] [--clients 50]

Rows (each with its baseline measured in the same run, on the same database):
- commands/s of ``AsyncTracker`` on ``AsyncSqlStore`` (asyncpg; aiosqlite) with 50
  requests in flight on one event loop, against ``Tracker`` on ``SqlStore`` (psycopg;
  sqlite3) with the same 50 requests on 50 threads: what an asyncio host gains (or
  pays) over wrapping every call in a thread.

The requests: ``bench_store``'s command stream (the seed ladder's full mix: enrolls,
asks, follow-ups, commits with facts, declines, resumes, withdrawals, expiries, ends;
one command in five under an idempotency key), its prospects dealt to 50 clients; each
client sends its prospects' commands one after another, in their time order, and the 50
clients run at once. Both sides replay the very same calls (recorded once from
``bench_store.run``) on fresh prospects, in one table set, and each side's pool holds
the same number of connections (``--pool``). After the run the events each side wrote
are counted and must be equal.

Fairness: the sides run interleaved in every round (their order turning each round),
after an untimed warm-up round; rates are each side's best round, the ratio per round
is given as the median and range. PostgreSQL's URL defaults to
COMMITLADDER_TEST_POSTGRES_URL (a ``postgresql+psycopg`` URL; the async side uses
asyncpg on the same server).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import create_async_engine

import commitladder as cl
from commitladder.sql import AsyncSqlStore, SqlStore

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_store import LADDER, names, run, stream

Call = tuple[str, tuple[Any, ...], dict[str, Any]]
ASYNC_DRIVER = {"postgresql": "postgresql+asyncpg", "sqlite": "sqlite+aiosqlite"}


class _Calls:
    """Stands in for a tracker in ``bench_store.run``: records the method it calls."""

    last: Call

    def __getattr__(self, name: str) -> Callable[..., None]:
        def record(*args: Any, **kwargs: Any) -> None:
            self.last = (name, args, kwargs)

        return record


def lanes(side: str, tag: str, prospects: int, clients: int, seed: int) -> list[list[Call]]:
    """The stream's calls dealt to ``clients`` lanes by prospect, each in time order."""
    calls = _Calls()
    out: list[list[Call]] = [[] for _ in range(clients)]
    lane_of: dict[str, int] = {}
    for command in stream(names(side, tag, prospects), seed):
        run(calls, command, by_ladder=True)  # type: ignore[arg-type]
        lane = lane_of.setdefault(command.prospect, len(lane_of) % clients)
        out[lane].append(calls.last)
    return out


def sync_rate(tracker: cl.Tracker, work: Sequence[list[Call]], pool: ThreadPoolExecutor) -> float:
    def client(lane: list[Call]) -> None:
        for name, args, kwargs in lane:
            getattr(tracker, name)(*args, **kwargs)

    start = time.perf_counter()
    for done in [pool.submit(client, lane) for lane in work]:
        done.result()
    return sum(map(len, work)) / (time.perf_counter() - start)


async def async_rate(tracker: cl.AsyncTracker, work: Sequence[list[Call]]) -> float:
    async def client(lane: list[Call]) -> None:
        for name, args, kwargs in lane:
            await getattr(tracker, name)(*args, **kwargs)

    start = time.perf_counter()
    await asyncio.gather(*(client(lane) for lane in work))
    return sum(map(len, work)) / (time.perf_counter() - start)


def events_of(store: SqlStore, side: str) -> int:
    events = store.tables.events
    with store.engine.connect() as conn:
        query = sa.select(sa.func.count()).where(
            events.c.enrollment_id.like(f"{LADDER.name}/{side}%")
        )
        return int(conn.execute(query).scalar_one())


def compare(
    url: str, *, prospects: int, rounds: int, clients: int, pool_size: int, log: Any
) -> dict[str, Any]:
    """Both trackers, interleaved, on the database at ``url`` (a sync driver's URL)."""
    parsed = sa.make_url(url)
    backend = parsed.get_backend_name()
    prefix = f"ba{uuid.uuid4().hex[:8]}_"
    pool = {"pool_size": pool_size, "max_overflow": 0} if backend != "sqlite" else {}
    sync_store = SqlStore(url, prefix=prefix)  # for the schema, the counts and teardown
    sync_store.create_schema()
    # the sync side: the store's own engine set-up, with the same pool as the async side
    sync_side = SqlStore(sa.create_engine(parsed, **pool), prefix=prefix)
    if backend == "sqlite":
        sync_side = SqlStore(url, prefix=prefix)
    tracker = cl.Tracker(store=sync_side, ladders=[LADDER])
    threads = ThreadPoolExecutor(clients)
    runner = asyncio.Runner()
    async_url = parsed.set(drivername=ASYNC_DRIVER[backend])
    engine = runner.run(_engine(async_url, pool)) if backend != "sqlite" else None
    async_store = AsyncSqlStore(engine or async_url, prefix=prefix)
    atracker = cl.AsyncTracker(store=async_store, ladders=[LADDER])
    rates: dict[str, list[float]] = {"sync": [], "async": []}
    try:
        for k in range(-1, rounds):  # round -1 warms both sides up, untimed
            n = max(clients, prospects // 4) if k < 0 else prospects
            tag = f"{k + 1:02d}"
            work = {side: lanes(side[0], tag, n, clients, 2000 + k) for side in rates}
            order = ["sync", "async"] if k % 2 == 0 else ["async", "sync"]
            for side in order:
                if side == "sync":
                    rate = sync_rate(tracker, work[side], threads)
                else:
                    rate = runner.run(async_rate(atracker, work[side]))
                if k >= 0:
                    rates[side].append(rate)
            if k >= 0:
                log(
                    f"  {backend} round {k + 1}/{rounds}: sync {rates['sync'][-1]:,.0f}/s, "
                    f"async {rates['async'][-1]:,.0f}/s"
                )
        written = {side: events_of(sync_store, side[0]) for side in rates}
        if written["sync"] != written["async"]:
            raise SystemExit(f"the sides wrote different event counts: {written}")
        ratios = [a / s for a, s in zip(rates["async"], rates["sync"], strict=True)]
        return {"backend": backend, "rates": rates, "ratios": ratios, "events": written}
    finally:
        threads.shutdown()
        runner.run(async_store.close())
        if engine is not None:
            runner.run(engine.dispose())
        runner.close()
        sync_side.close()
        sync_store.drop_schema()
        sync_store.close()


async def _engine(url: sa.URL, pool: dict[str, Any]) -> Any:
    return create_async_engine(url, **pool)


def main() -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="smaller sizes: about a minute")
    parser.add_argument("--postgres", default=os.environ.get("COMMITLADDER_TEST_POSTGRES_URL"))
    parser.add_argument("--rounds", type=int, default=None, help="timed rounds per database")
    parser.add_argument("--clients", type=int, default=50, help="concurrent requests")
    parser.add_argument("--pool", type=int, default=20, help="connections per side")
    parser.add_argument("--no-sqlite", action="store_true", help="PostgreSQL only")
    args = parser.parse_args()
    rounds = args.rounds or (3 if args.quick else 5)
    prospects = 200 if args.quick else 600

    def log(text: str) -> None:
        print(text, file=sys.stderr, flush=True)

    urls = []
    if args.postgres:
        urls.append(args.postgres)
    else:
        log("no PostgreSQL URL (--postgres or COMMITLADDER_TEST_POSTGRES_URL): its row is skipped")
    if not args.no_sqlite:
        urls.append(f"sqlite:///{Path(tempfile.mkdtemp()) / 'bench.db'}")
    results = [
        compare(
            url,
            prospects=prospects,
            rounds=rounds,
            clients=args.clients,
            pool_size=args.pool,
            log=log,
        )
        for url in urls
    ]
    print(
        f"\n{args.clients} concurrent requests, {prospects} prospects per round, "
        f"best of {rounds} interleaved rounds, {args.pool} pooled connections per side\n"
    )
    print("| database | sync Tracker, threads | AsyncTracker, one loop | async / sync |")
    print("| --- | ---: | ---: | --- |")
    for r in results:
        ratios = r["ratios"]
        print(
            f"| {r['backend']} | {max(r['rates']['sync']):,.0f} cmd/s "
            f"| {max(r['rates']['async']):,.0f} cmd/s "
            f"| {statistics.median(ratios):.2f}x ({min(ratios):.2f}-{max(ratios):.2f}) |"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
