"""The guarantees under stress, on real processes and databases.

- race: 8 processes x 100 tries to open an ask for one prospect (one ladder, two ladders):
  at most one open ask at every moment, every loser refused with AskPending;
- crash: 50 children per database killed with SIGKILL at a random SQL statement inside
  commands: every snapshot equals the replay of its events, every event's messages are
  in the outbox, open asks and timers match the snapshots;
- relay: a messenger failing 30% of calls: relayed to quiescence, every message is
  delivered and each idempotency key succeeds exactly once;
- webhook: the same command three times at once with one key: one application, equal results;
- timers: two worker processes run 1,000 due timers at once: each fires exactly once.

Each test prints its figures (run with -s to see them).
"""

from __future__ import annotations

import multiprocessing
import os
import random
import signal
import threading
import time
import uuid
from collections import Counter
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

import commitladder as cl
from support import ladders

pytest_plugins = ["dbfixtures"]

sa = pytest.importorskip("sqlalchemy")
from commitladder._messaging import MESSAGE_KINDS  # noqa: E402
from commitladder.sql import SqlStore  # noqa: E402

T0 = datetime(2026, 1, 5, 9, tzinfo=UTC)
FORK = multiprocessing.get_context("fork")


def fresh_store(url: str) -> SqlStore:
    store = SqlStore(url, prefix=f"cl{uuid.uuid4().hex[:8]}_")
    store.create_schema()
    return store


def figure(text: str) -> None:
    print(f"\n[figure] {text}")


# ---- race ------------------------------------------------------------------------------------


def _race_worker(url: str, prefix: str, names: list[str], tries: int, go: Any, out: Any) -> None:
    store = SqlStore(url, prefix=prefix)
    tracker = cl.Tracker(store=store, ladders=ladders())
    rng = random.Random(os.getpid())
    wins = refused = 0
    errors: list[str] = []
    go.wait()
    for _ in range(tries):
        name = rng.choice(names)
        try:
            tracker.ask("p", "hello", ladder=name)
        except cl.AskPending:
            refused += 1
            continue
        except Exception as exc:
            errors.append(repr(exc))
            continue
        wins += 1
        tracker.withdraw("p", ladder=name)
    out.put((wins, refused, errors))


@pytest.mark.parametrize("names", [["alpha"], ["alpha", "beta"]], ids=["one-ladder", "two-ladders"])
def test_racing_processes_never_open_two_asks(db: str, names: list[str]) -> None:
    workers, tries = 8, 100
    store = fresh_store(db)
    try:
        tracker = cl.Tracker(store=store, ladders=ladders())
        for name in names:
            tracker.enroll("p", ladder=name)
        store.engine.dispose()
        go, out = FORK.Event(), FORK.Queue()
        procs = [
            FORK.Process(target=_race_worker, args=(db, store.prefix, names, tries, go, out))
            for _ in range(workers)
        ]
        for proc in procs:
            proc.start()
        samples, most = 0, 0
        done = threading.Event()

        def sample() -> None:  # watch the stored state while the race runs
            nonlocal samples, most
            while not done.is_set():
                pending = sum(1 for s in store.find("p") if s.snapshot["pending"] is not None)
                most, samples = max(most, pending), samples + 1

        watcher = threading.Thread(target=sample)
        watcher.start()
        started = time.perf_counter()
        go.set()
        results = [out.get(timeout=240) for _ in procs]
        done.set()
        watcher.join()
        for proc in procs:
            proc.join(timeout=30)
        elapsed = time.perf_counter() - started
        wins = sum(r[0] for r in results)
        refused = sum(r[1] for r in results)
        errors = [e for r in results for e in r[2]]
        assert errors == []
        assert wins + refused == workers * tries
        assert most <= 1
        types = Counter(e["type"] for s in store.find("p") for e in store.events(s.id))
        assert types["AskIssued"] == types["AskWithdrawn"] == wins
        for s in store.find("p"):  # per enrollment, issued and withdrawn alternate
            kinds = [e["type"] for e in store.events(s.id)][1:]
            assert kinds == ["AskIssued", "AskWithdrawn"] * (len(kinds) // 2)
        figure(
            f"race {store.dialect} {len(names)} ladder(s): {workers} procs x {tries} tries, "
            f"{wins} asks opened (each withdrawn), {refused} AskPending, 0 other errors, "
            f"max open asks seen {most} over {samples} samples, {elapsed:.1f}s"
        )
    finally:
        store.drop_schema()
        store.close()


# ---- crash -----------------------------------------------------------------------------------


def _latest(store: SqlStore) -> datetime:
    """The time of the store's last event: a child's commands come after it."""
    events = store.metadata.tables[f"{store.prefix}events"]
    with store.engine.connect() as conn:
        latest = conn.execute(sa.select(sa.func.max(events.c.at))).scalar()
    return latest or T0


def _crash_child(url: str, prefix: str, trial: int, kill_at: int) -> None:
    store = SqlStore(url, prefix=prefix)
    # time only moves forward across trials, also past the timers run_due fired ahead:
    # a command dated before an enrollment's last event is refused (TimeOrderError)
    clock = _latest(store)
    statements = 0

    def bomb(*args: Any) -> None:
        nonlocal statements
        statements += 1
        if statements >= kill_at:
            os.kill(os.getpid(), signal.SIGKILL)

    # every statement and every commit counts: the bomb goes off before one of them
    sa.event.listen(store.engine, "before_cursor_execute", bomb)
    sa.event.listen(store.engine, "commit", bomb)

    tracker = cl.Tracker(store=store, ladders=ladders())
    rng = random.Random(trial)
    while True:
        clock += timedelta(hours=7)
        now = clock
        prospect = f"p{rng.randrange(4)}"
        try:
            e = tracker.get(prospect, ladder="solopreneur")
        except cl.NotEnrolled:
            tracker.enroll(prospect, ladder="solopreneur", now=now)
            continue
        try:
            if e.status == "pending":
                pick = rng.randrange(4)
                clock += timedelta(days=2 if pick == 2 else 0)  # follow_up's later time
                _answer(tracker, prospect, e, now, pick)
            elif e.status == "parked":
                tracker.resume(prospect, ladder="solopreneur", now=now)
            elif e.status == "ready":
                askable = e.askable(now=now)
                if askable:
                    tracker.ask(prospect, rng.choice(askable), ladder="solopreneur", now=now)
                else:
                    clock = now + timedelta(days=10)
                    tracker.run_due(clock)
            else:
                clock = now + timedelta(days=10)
                tracker.run_due(clock)
        except cl.Refused:
            pass


def _answer(tracker: cl.Tracker, prospect: str, e: cl.Enrollment, now: datetime, pick: int) -> None:
    on = "solopreneur"
    if pick == 0:
        qualify = e.pending is not None and e.pending.rung == "qualify"
        outcome = "current_opportunity" if qualify else None
        facts = {"pain": "x", "timeline": "y"}
        tracker.commit(prospect, ladder=on, now=now, outcome=outcome, facts=facts)
    elif pick == 1:
        tracker.decline(prospect, ladder=on, now=now)
    elif pick == 2:
        tracker.follow_up(prospect, ladder=on, now=now + timedelta(days=2))
    else:
        tracker.withdraw(prospect, ladder=on, now=now)


def check_consistent(store: SqlStore, registry: dict[str, cl.Ladder]) -> dict[str, int]:
    """Every stored enrollment equals the replay of its events, and every side table agrees."""
    enrollments = store.metadata.tables[f"{store.prefix}enrollments"]
    with store.engine.connect() as conn:
        ids = [r.id for r in conn.execute(sa.select(enrollments.c.id))]
    outbox_keys = {e.message.key for e in store.outbox()}
    open_asks = {(a.enrollment_id, a.seq) for a in store.open_asks()}
    timers = Counter((t.enrollment_id, t.kind, t.due_at) for t in store.timers())
    events = 0
    expected_asks: set[tuple[str, int]] = set()
    expected_timers: Counter[tuple[str, str, datetime]] = Counter()
    for eid in ids:
        stored = store.load(eid)
        assert stored is not None
        history = store.events(eid)
        events += len(history)
        replayed = cl.Enrollment.replay(registry[stored.ladder], history)
        assert replayed.snapshot() == stored.snapshot, eid
        for event in history:
            kind = MESSAGE_KINDS.get(event["type"])
            if kind is not None:
                assert f"{eid}#{event['seq']}:{kind}" in outbox_keys
        if replayed.pending is not None:
            expected_asks.add((eid, replayed.pending.seq))
        for t in replayed.timers:
            key = f"{t.kind}@{t.due_at.astimezone(UTC).isoformat()}"
            if key not in stored.fired:
                expected_timers[(eid, t.kind, t.due_at)] += 1
    assert open_asks == expected_asks
    assert timers == expected_timers
    for key in outbox_keys:  # no message without its event
        if "#" in key:
            eid, _, rest = key.rpartition("#")
            seq = int(rest.split(":")[0])
            assert any(e["seq"] == seq for e in store.events(eid)), key
    return {"enrollments": len(ids), "events": events, "messages": len(outbox_keys)}


def test_sigkill_inside_commands_never_leaves_a_half_written_command(db: str) -> None:
    trials = 50
    store = fresh_store(db)
    registry = {ladder.name: ladder for ladder in ladders()}
    rng = random.Random(2026)
    kills = 0
    try:
        started = time.perf_counter()
        for trial in range(trials):
            store.engine.dispose()
            kill_at = rng.randint(2, 60)
            proc = FORK.Process(target=_crash_child, args=(db, store.prefix, trial, kill_at))
            proc.start()
            proc.join(timeout=60)
            assert proc.exitcode == -signal.SIGKILL
            kills += 1
            if trial % 10 == 9:
                check_consistent(store, registry)
        totals = check_consistent(store, registry)
        figure(
            f"crash {store.dialect}: {kills}/{trials} children SIGKILLed at a random "
            f"SQL statement or commit (2..60); afterwards {totals['enrollments']} enrollments, "
            f"{totals['events']} events, {totals['messages']} outbox messages, all consistent, "
            f"{time.perf_counter() - started:.1f}s"
        )
    finally:
        store.drop_schema()
        store.close()


# ---- relay -----------------------------------------------------------------------------------


def test_a_flaky_messenger_still_delivers_every_message_once(store: Any) -> None:
    rng = random.Random(30)
    calls = Counter[str]()
    messenger = cl.RecordingMessenger(fail=lambda m: rng.random() < 0.30)
    clock = cl.SteppableClock(T0)
    tracker = cl.Tracker(
        store=store, messenger=messenger, clock=clock, ladders=ladders(), max_attempts=50
    )
    for i in range(60):
        tracker.enroll(f"p{i}", ladder="alpha")
        tracker.ask(f"p{i}", "hello")
        tracker.commit(f"p{i}")
    total = len(store.outbox())
    rounds = 0
    while store.outbox("pending"):
        rounds += 1
        tracker.relay(limit=1000)
        clock.advance(hours=2)
        assert rounds < 100
    for m in messenger.attempts:
        calls[m.key] += 1
    assert store.outbox("dead") == []
    assert len(messenger.sent) == total == 120
    assert Counter(messenger.keys) == Counter(dict.fromkeys(messenger.keys, 1))
    failures = len(messenger.attempts) - len(messenger.sent)
    figure(
        f"relay {type(store).__name__}: {total} messages, {len(messenger.attempts)} calls, "
        f"{failures} failed ({failures / len(messenger.attempts):.0%}), quiescent after {rounds} "
        f"relay rounds, each key delivered once"
    )


# ---- webhook ---------------------------------------------------------------------------------


def test_a_webhook_delivered_three_times_at_once_applies_once(store: Any) -> None:
    tracker = cl.Tracker(store=store, clock=cl.SteppableClock(T0), ladders=ladders())
    tracker.enroll("p", ladder="alpha")
    tracker.ask("p", "hello")
    barrier = threading.Barrier(3)
    results: list[Any] = [None] * 3

    def deliver(i: int) -> None:
        barrier.wait()
        results[i] = tracker.commit("p", idempotency_key="webhook-7")

    threads = [threading.Thread(target=deliver, args=(i,)) for i in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert results[0] == results[1] == results[2]
    types = [e["type"] for e in store.events("alpha/p")]
    assert types.count("Committed") == 1
    figure(f"webhook {type(store).__name__}: 3 concurrent deliveries, 1 Committed, 3 equal results")


def test_a_refused_webhook_delivered_three_times_at_once_refuses_alike(store: Any) -> None:
    tracker = cl.Tracker(store=store, clock=cl.SteppableClock(T0), ladders=ladders())
    tracker.enroll("p", ladder="alpha")
    before = store.load("alpha/p")
    barrier = threading.Barrier(3)
    refusals: list[Any] = [None] * 3

    def deliver(i: int) -> None:
        barrier.wait()
        try:
            tracker.commit("p", idempotency_key="webhook-8")
        except cl.Refused as refusal:
            refusals[i] = refusal.to_dict()

    threads = [threading.Thread(target=deliver, args=(i,)) for i in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert refusals[0] is not None
    assert refusals[0]["code"] == "no_open_ask"
    assert refusals[0] == refusals[1] == refusals[2]
    assert store.recall("webhook-8").result["refused"] == refusals[0]
    assert store.load("alpha/p") == before, "a refusal changed the enrollment"
    figure(f"webhook {type(store).__name__}: 3 concurrent refused deliveries, 3 equal refusals")


# ---- timers ----------------------------------------------------------------------------------


def _timer_worker(url: str, prefix: str, now: datetime, go: Any, out: Any) -> None:
    store = SqlStore(url, prefix=prefix)
    tracker = cl.Tracker(store=store, ladders=ladders())
    go.wait()
    fired = 0
    idle = 0
    while idle < 3:
        n = tracker.run_due(now, limit=50)
        fired += n
        idle = idle + 1 if n == 0 else 0
    out.put(fired)


def test_two_timer_workers_fire_each_timer_once(db: str) -> None:
    count = 1000 if "postgresql" in db else 300  # the issue asks for 1,000 on PostgreSQL
    store = fresh_store(db)
    try:
        with store.engine.connect() as conn, conn.begin():  # set up in one transaction
            joined = SqlStore.joined(conn, store)
            setup = cl.Tracker(store=joined, clock=cl.SteppableClock(T0), ladders=ladders())
            for i in range(count):
                setup.enroll(f"p{i}", ladder="solopreneur")
                setup.ask(f"p{i}", "admit_problem")
        tracker = cl.Tracker(store=store, ladders=ladders())
        store.engine.dispose()
        now = T0 + timedelta(days=2, hours=1)  # each ask's first follow-up is due
        go, out = FORK.Event(), FORK.Queue()
        procs = [
            FORK.Process(target=_timer_worker, args=(db, store.prefix, now, go, out))
            for _ in range(2)
        ]
        for proc in procs:
            proc.start()
        started = time.perf_counter()
        go.set()
        fired = [out.get(timeout=240) for _ in procs]
        elapsed = time.perf_counter() - started
        for proc in procs:
            proc.join(timeout=30)
        assert sum(fired) == count
        assert tracker.run_due(now) == 0
        alerts = [e.message.key for e in store.outbox() if e.message.kind == "follow_up_due"]
        assert len(alerts) == len(set(alerts)) == count
        versions = Counter(s.version for i in range(count) for s in store.find(f"p{i}"))
        assert versions == {3: count}  # enrolled, asked, one alert: nothing twice
        figure(
            f"timers {store.dialect}: 2 workers over {count} due timers fired {fired} "
            f"(sum {sum(fired)}), each once, {elapsed:.1f}s"
        )
    finally:
        store.drop_schema()
        store.close()
