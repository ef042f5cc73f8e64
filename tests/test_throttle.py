"""Throttles: an ask over its cap is queued, never refused; it still is the one open ask;
no period ever gets more than its cap, queued asks go out in the order they were made, and
every one goes out; on every store, and with 4 writers and 4 relays at once on SQL."""

from __future__ import annotations

import threading
import uuid
from collections import Counter
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given
from hypothesis import strategies as st

import commitladder as cl
from commitladder._calendar import Calendar, next_open, parse_window
from commitladder._throttle import Cap, next_period, period_start, slot
from support import queued_asks_week

pytest_plugins = ["dbfixtures"]

NEW_YORK = ZoneInfo("America/New_York")
ZONES = ["UTC", "America/New_York", "Asia/Kolkata", "Asia/Kathmandu", "Australia/Lord_Howe"]


class Counters:
    """The memory store's reservation, as ``slot`` sees it."""

    def __init__(self) -> None:
        self.used: Counter[tuple[str, datetime]] = Counter()

    def reserve(self, key: str, period: datetime, most: int) -> bool:
        if self.used[key, period] >= most:
            return False
        self.used[key, period] += 1
        return True

    def release(self, key: str, period: datetime) -> None:
        self.used[key, period] -= 1


caps = st.lists(
    st.builds(
        Cap,
        key=st.sampled_from(["a", "b", "c"]),
        most=st.integers(1, 4),
        per=st.sampled_from(["day", "hour"]),
        timezone=st.sampled_from(ZONES),
    ),
    min_size=1,
    max_size=3,
    unique_by=lambda c: c.key,  # a real key names its period: "...|day"
)
asks = st.lists(
    st.datetimes(datetime(2026, 1, 1), datetime(2026, 12, 31), timezones=st.just(UTC)),
    min_size=1,
    max_size=40,
).map(sorted)


@given(caps=caps, times=asks, windowed=st.booleans())
def test_no_period_gets_more_than_its_cap_and_the_queue_keeps_its_order(
    caps: list[Cap], times: list[datetime], windowed: bool
) -> None:
    counters = Counters()
    calendar = Calendar(timezone="America/New_York")
    window = (parse_window("08:00-18:00"),)

    def opens(moment: datetime) -> datetime:
        return next_open(calendar, moment, window) if windowed else moment

    placed = []
    for asked in times:
        due = slot(caps, opens(asked), opens, counters.reserve, counters.release)
        assert due >= asked
        assert opens(due) == due  # inside the window
        placed.append(due)
    assert placed == sorted(placed)  # first asked, first sent
    for cap in caps:
        per_period = Counter(period_start(due, cap.per, cap.timezone) for due in placed)
        assert max(per_period.values()) <= cap.most
    assert all(n >= 0 for n in counters.used.values())
    for cap in caps:  # the counters hold exactly what was placed
        held = sum(n for (key, _), n in counters.used.items() if key == cap.key)
        assert held == len(placed)


@given(st.datetimes(datetime(2001, 1, 1), datetime(2039, 12, 31), timezones=st.just(UTC)))
def test_periods_tile_time(moment: datetime) -> None:
    for name in ZONES:
        for per in ("day", "hour"):
            start = period_start(moment, per, name)  # type: ignore[arg-type]
            after = next_period(start, per, name)  # type: ignore[arg-type]
            assert start <= moment < after
            assert period_start(after, per, name) == after  # type: ignore[arg-type]


THROTTLED_YAML = """\
ladder: cold
start: intro
calendar:
  timezone: America/New_York
  send_windows:
    email: ["08:00-18:00"]
throttles:
  - {max: 2, per: day, channel: email, sender: actor}
rungs:
  intro: {kind: conversation, size: 1, next: won, channels: [email, phone]}
ends:
  won: {result: won}
"""
FRIDAY_10 = datetime(2026, 12, 4, 10, 0, tzinfo=NEW_YORK)


def test_asks_over_the_cap_are_queued_not_refused(store: Any) -> None:
    """Five first emails from one sender on Friday with two a day: two go on Friday, two on
    Monday at 08:00 when the window opens, one on Tuesday; phone asks are not capped, and
    another sender has a cap of their own."""
    ladder = cl.Ladder.from_yaml(THROTTLED_YAML)
    messenger = cl.RecordingMessenger()
    tracker = cl.Tracker(
        store=store, ladders=[ladder], messenger=messenger, clock=cl.SteppableClock(FRIDAY_10)
    )
    for n in range(5):
        tracker.enroll(f"p{n}", ladder="cold")
        tracker.ask(f"p{n}", "intro", channel="email", actor="sam")
    tracker.enroll("q", ladder="cold")
    tracker.ask("q", "intro", channel="phone", actor="sam")
    tracker.enroll("r", ladder="cold")
    tracker.ask("r", "intro", channel="email", actor="kim")
    due = {e.message.prospect: e.next_attempt_at.astimezone(NEW_YORK) for e in store.outbox()}
    monday, tuesday = (
        datetime(2026, 12, 7, 8, tzinfo=NEW_YORK),
        datetime(2026, 12, 8, 8, tzinfo=NEW_YORK),
    )
    assert due == {
        "p0": FRIDAY_10, "p1": FRIDAY_10, "p2": monday, "p3": monday, "p4": tuesday,
        "q": FRIDAY_10, "r": FRIDAY_10,
    }  # fmt: skip
    queued = {e.message.prospect: e.message.not_before for e in store.outbox()}
    assert queued["p4"] == tuesday
    # the tracker's side says it too: the ask it returned and sends_at(prospect)
    assert tracker.sends_at("p4") == tuesday
    assert tracker.sends_at("p0") == FRIDAY_10
    assert tracker.sends_at("q") == FRIDAY_10
    tracker.enroll("p5", ladder="cold")
    late = tracker.ask("p5", "intro", channel="email", actor="sam")
    assert late.sends_at == FRIDAY_10  # the window's time: the queue is the outbox's
    assert tracker.sends_at("p5") == tuesday
    assert queued["p0"] is None
    # a queued ask is the one open ask: no second ask for that prospect
    with pytest.raises(cl.AskPending, match="by email; a throttle may hold its message later"):
        tracker.ask("p4", "intro", channel="phone")
    saturday = datetime(2026, 12, 5, 10, 0, tzinfo=NEW_YORK)
    refusal = tracker.get("p4").why_not("intro", channel="phone", now=saturday)
    assert refusal is not None
    assert "by email; a throttle may hold its message later)" in refusal.message
    assert tracker.relay(now=FRIDAY_10).sent == 4
    assert tracker.relay(now=monday - timedelta(seconds=1)).sent == 0
    assert tracker.relay(now=monday).sent == 2
    assert tracker.relay(now=tuesday).sent == 2
    assert [m.prospect for m in messenger.sent] == ["p0", "p1", "q", "r", "p2", "p3", "p4", "p5"]
    assert tracker.sends_at("p5") == tuesday  # sent: still the time it went out
    tracker.withdraw("p5")
    assert tracker.sends_at("p5") is None  # no open ask


def test_the_queue_survives_a_restart(store: Any) -> None:
    """A new tracker (a restarted worker) on the same store queues after the places taken."""
    ladder = cl.Ladder.from_yaml(THROTTLED_YAML)
    for n in range(3):
        tracker = cl.Tracker(store=store, ladders=[ladder], clock=cl.SteppableClock(FRIDAY_10))
        tracker.enroll(f"p{n}", ladder="cold")
        tracker.ask(f"p{n}", "intro", channel="email", actor="sam")
    last = max(e.next_attempt_at for e in store.outbox())
    assert last == datetime(2026, 12, 7, 8, tzinfo=NEW_YORK)


@pytest.mark.parametrize(
    ("entry", "says"),
    [
        ("{max: 0, per: day}", "greater than or equal to 1"),
        ("{max: 5, per: week}", "'day' or 'hour'"),
        ("{max: 5, per: day, mailbox: x}", "unknown field 'mailbox'"),
    ],
)
def test_throttle_problems_are_located(entry: str, says: str) -> None:
    text = THROTTLED_YAML.replace("{max: 2, per: day, channel: email, sender: actor}", entry)
    with pytest.raises(cl.DefinitionError) as caught:
        cl.Ladder.from_yaml(text)
    (problem,) = caught.value.problems
    assert says in problem.message
    assert problem.line == 8


# ---- 4 writers and 4 relays at once ----------------------------------------------------------

RACE_YAML = """\
ladder: blast
start: intro
throttles:
  - {max: 5, per: hour, sender: "sales@acme.example"}
rungs:
  intro: {kind: conversation, size: 1, next: won, channels: [email]}
ends:
  won: {result: won}
"""


def test_four_writers_and_four_relays_never_exceed_the_cap(db: str) -> None:
    """4 threads ask 15 prospects each at the same instant under 5 an hour; then 4 relays
    step through the hours together. No hour sends more than 5, every ask goes out, at or
    after its queued time, and each writer's asks go out in the order it made them."""
    from commitladder.sql import SqlStore

    store = SqlStore(db, prefix=f"cl{uuid.uuid4().hex[:8]}_")
    store.create_schema()
    try:
        ladder = cl.Ladder.from_yaml(RACE_YAML)
        t0 = datetime(2026, 12, 7, 9, 0, tzinfo=UTC)
        errors: list[BaseException] = []

        def write(worker: int) -> None:
            try:
                tracker = cl.Tracker(store=store, ladders=[ladder])
                for n in range(15):
                    tracker.enroll(f"w{worker}-{n:02d}", ladder="blast", now=t0)
                    tracker.ask(f"w{worker}-{n:02d}", "intro", channel="email", now=t0)
            except BaseException as exc:  # reported below, in the test's thread
                errors.append(exc)

        threads = [threading.Thread(target=write, args=(w,)) for w in range(4)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert errors == []
        entries = store.outbox()
        assert len(entries) == 60
        due = {e.message.prospect: e.next_attempt_at for e in entries}
        per_hour = Counter(d.replace(minute=0, second=0, microsecond=0) for d in due.values())
        assert max(per_hour.values()) == 5
        assert len(per_hour) == 12
        for w in range(4):  # each writer's asks are queued in the order it made them
            mine = [due[f"w{w}-{n:02d}"] for n in range(15)]
            assert mine == sorted(mine)

        lock = threading.Lock()
        sent: list[tuple[str, datetime]] = []

        class Clocked:
            def __init__(self) -> None:
                self.now = t0

            def send(self, message: cl.Message) -> None:
                with lock:
                    sent.append((message.prospect, self.now))

        def relay(clocked: Clocked, hour: int) -> None:
            clocked.now = t0 + timedelta(hours=hour)
            tracker = cl.Tracker(store=store, ladders=[ladder], messenger=clocked)
            tracker.relay(now=clocked.now, limit=100)

        relays = [Clocked() for _ in range(4)]
        for hour in range(13):
            batch = [threading.Thread(target=relay, args=(r, hour)) for r in relays]
            for thread in batch:
                thread.start()
            for thread in batch:
                thread.join()
        assert sorted(p for p, _ in sent) == sorted(due)  # each exactly once
        by_hour = Counter(at for _, at in sent)
        assert max(by_hour.values()) <= 5
        assert all(at >= due[p] for p, at in sent)
    finally:
        store.drop_schema()
        store.close()


def test_a_version_2_database_gains_the_counters(db: str) -> None:
    """Upgrade path (schema 2 -> 3): create_schema() adds the throttle table in place."""
    import sqlalchemy as sa

    from commitladder.sql import SqlStore
    from commitladder.store import SCHEMA_VERSION

    store = SqlStore(db, prefix=f"cl{uuid.uuid4().hex[:8]}_")
    store.create_schema()
    try:
        t = store.tables
        with store.engine.begin() as conn:  # what a version-2 commitladder left behind
            t.throttle.drop(conn)
            conn.execute(t.meta.update().where(t.meta.c.name == "schema_version").values(value="2"))
        assert store.schema_version() == 2
        store.create_schema()
        assert store.schema_version() == SCHEMA_VERSION == 3
        with store.engine.connect() as conn:
            assert sa.inspect(conn).has_table(t.throttle.name)
    finally:
        store.drop_schema()
        store.close()


def test_a_queued_asks_follow_ups_go_out_after_it(store: Any) -> None:
    """Regression: 120 first asks on a Friday under 50 a day queue into Tuesday; each
    follow-up counts from its ask's queued time, so it goes out strictly after the ask it
    follows (it fell due on Monday, before its ask had gone out); the expiry stays."""
    queued_asks_week(store)
