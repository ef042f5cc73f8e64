"""Send windows: a message's due time is inside its window on a business day, never earlier
than asked, and the earliest such instant, over random instants, zones (DST, half-hour
offsets) and windows; DST gaps and folds; the ladder's messages and timers wait for them on
every store."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given
from hypothesis import strategies as st

import commitladder as cl
from commitladder._calendar import (
    Calendar,
    Window,
    format_window,
    next_open,
    parse_window,
)

pytest_plugins = ["dbfixtures"]

ZONES = [
    "UTC",
    "America/New_York",
    "Europe/London",
    "Asia/Kolkata",
    "Asia/Kathmandu",
    "Australia/Adelaide",
    "Australia/Lord_Howe",
    "America/St_Johns",
    "America/Santiago",
    "Asia/Beirut",
]
NEW_YORK = ZoneInfo("America/New_York")


@st.composite
def windows(draw: st.DrawFn) -> tuple[Window, ...]:
    """1 to 3 windows of whole minutes (a quarter of them on the hour, as people write)."""
    count = draw(st.integers(1, 3))
    found = []
    for _ in range(count):
        start = draw(st.integers(0, 24 * 60 - 1))
        if draw(st.booleans()):
            start -= start % 60
        end = draw(st.integers(start + 1, 24 * 60))
        found.append((start * 60, end * 60))
    return tuple(sorted(found))


instants = st.datetimes(datetime(2001, 1, 1), datetime(2039, 12, 31), timezones=st.just(UTC)).map(
    lambda d: d.replace(microsecond=0)
)


def inside(calendar: Calendar, moment: datetime, spans: tuple[Window, ...], here: ZoneInfo) -> bool:
    local = moment.astimezone(here)
    seconds = local.hour * 3600 + local.minute * 60 + local.second
    return calendar.is_business_day(local.date()) and any(a <= seconds < b for a, b in spans)


@given(moment=instants, name=st.sampled_from(ZONES), spans=windows())
def test_due_time_is_the_earliest_instant_in_a_window_not_before_the_ask(
    moment: datetime, name: str, spans: tuple[Window, ...]
) -> None:
    check_due_time(moment, name, spans)


def check_due_time(moment: datetime, name: str, spans: tuple[Window, ...]) -> None:
    """Inside a window, not before ``moment``, and no instant before it is inside one."""
    calendar = Calendar(timezone=name)  # Monday to Friday
    here = ZoneInfo(name)
    due = next_open(calendar, moment, spans)
    assert due >= moment
    assert inside(calendar, due, spans, here)
    # nothing earlier is inside: window edges and clock changes fall on whole minutes, so
    # checking the ask's instant and every whole minute up to the due time is exhaustive
    probe = moment
    while probe < due:
        assert not inside(calendar, probe, spans, here), probe
        probe = (probe + timedelta(minutes=1)).replace(second=0)


# the months clocks change in, north and south, and windows opening in the small hours
near_changes = st.builds(
    lambda year, month, day, minute: (
        datetime(year, month, 1, tzinfo=UTC) + timedelta(days=day, minutes=minute)
    ),
    st.integers(2001, 2039),
    st.sampled_from([3, 4, 9, 10, 11]),
    st.integers(0, 27),
    st.integers(0, 24 * 60 - 1),
)


@st.composite
def small_hours(draw: st.DrawFn) -> tuple[Window, ...]:
    start = draw(st.integers(0, 4 * 60)) // 15 * 15
    end = draw(st.integers(start + 15, start + 5 * 60))
    return ((start * 60, end * 60),)


@given(moment=near_changes, name=st.sampled_from(ZONES), spans=small_hours() | windows())
def test_due_times_are_right_across_clock_changes(
    moment: datetime, name: str, spans: tuple[Window, ...]
) -> None:
    check_due_time(moment, name, spans)


@given(moment=instants, name=st.sampled_from(ZONES), spans=windows())
def test_an_instant_inside_a_window_goes_out_at_once(
    moment: datetime, name: str, spans: tuple[Window, ...]
) -> None:
    calendar = Calendar(timezone=name, working_days=range(7))
    due = next_open(calendar, moment, spans)
    assert next_open(calendar, due, spans) == due


def test_a_window_opening_in_the_spring_forward_gap_opens_when_the_clock_jumps() -> None:
    """New York skipped 02:00-03:00 on Sunday 2026-03-08: a 02:30-04:00 window opens at
    03:00 that day (the first instant past 02:30 on the wall), not 03:30."""
    calendar = Calendar(timezone="America/New_York", working_days=range(7))
    saturday_night = datetime(2026, 3, 7, 23, 0, tzinfo=NEW_YORK)
    due = next_open(calendar, saturday_night, (parse_window("02:30-04:00"),))
    assert due == datetime(2026, 3, 8, 3, 0, tzinfo=NEW_YORK)
    assert due.astimezone(UTC) == datetime(2026, 3, 8, 7, 0, tzinfo=UTC)


def test_a_window_inside_the_gap_does_not_open_that_day() -> None:
    calendar = Calendar(timezone="America/New_York", working_days=range(7))
    saturday_night = datetime(2026, 3, 7, 23, 0, tzinfo=NEW_YORK)
    due = next_open(calendar, saturday_night, (parse_window("02:15-02:45"),))
    assert due.astimezone(UTC) == datetime(2026, 3, 9, 6, 15, tzinfo=UTC)  # Monday 02:15 EDT


def test_a_repeated_hour_opens_the_window_twice() -> None:
    """New York repeated 01:00-02:00 on Sunday 2026-11-01: a 01:30-01:45 window is open
    from 01:30 EDT and again from 01:30 EST."""
    calendar = Calendar(timezone="America/New_York", working_days=range(7))
    spans = (parse_window("01:30-01:45"),)
    first = next_open(calendar, datetime(2026, 11, 1, 5, 0, tzinfo=UTC), spans)
    assert first.astimezone(UTC) == datetime(2026, 11, 1, 5, 30, tzinfo=UTC)
    second = next_open(calendar, datetime(2026, 11, 1, 5, 50, tzinfo=UTC), spans)
    assert second.astimezone(UTC) == datetime(2026, 11, 1, 6, 30, tzinfo=UTC)


def test_holidays_close_the_window() -> None:
    calendar = Calendar(timezone="America/New_York", extra=[date(2026, 12, 7)])
    friday_evening = datetime(2026, 12, 4, 17, 30, tzinfo=NEW_YORK)
    due = next_open(calendar, friday_evening, (parse_window("08:00-18:00"),))
    assert due == datetime(2026, 12, 4, 17, 30, tzinfo=NEW_YORK)  # still open
    later = next_open(calendar, friday_evening.replace(hour=18), (parse_window("08:00-18:00"),))
    assert later == datetime(2026, 12, 8, 8, 0, tzinfo=NEW_YORK)  # Monday 7th is off


@pytest.mark.parametrize(
    ("text", "says"),
    [
        ("18:00-08:00", "closes before it opens"),
        ("8-18", "is not a window"),
        ("08:00-24:30", "hours run 00-23"),
        ("25:00-26:00", "hours run 00-23"),
    ],
)
def test_bad_windows_are_refused_saying_why(text: str, says: str) -> None:
    with pytest.raises(ValueError, match=says):
        parse_window(text)


@given(windows())
def test_windows_round_trip_through_text(spans: tuple[Window, ...]) -> None:
    for span in spans:
        assert parse_window(format_window(span)) == span


# ---- in a ladder, on every store -----------------------------------------------------------

KOLKATA = ZoneInfo("Asia/Kolkata")
WINDOWS_YAML = """\
ladder: outreach
start: intro
calendar:
  timezone: America/New_York
  holidays: {country: US}
  send_windows:
    email: ["08:00-18:00"]
    phone: ["10:00-12:00", "14:00-17:00"]
defaults:
  expires_after: 3bd
  follow_ups: {max: 2, every: 1bd}
  next_ask_within: 1d
rungs:
  intro: {kind: call, size: 1, next: demo, channels: [email, phone]}
  demo: {kind: meeting, size: 2, next: won, channels: [email, phone]}
ends:
  won: {result: won}
"""
FRIDAY_EVENING_NY = datetime(2026, 12, 4, 17, 30, tzinfo=NEW_YORK)  # Saturday 04:00 Kolkata


def test_the_worked_example(store: Any) -> None:
    """A seller in New York asks a prospect in Kolkata on Friday 17:30 New York time: the
    ask is recorded at once, its email waits for Monday 08:00 in Kolkata, the follow-up
    falls due one business day after the email went out (Tuesday 08:00 there, not with
    the email it follows), and the ask expires Wednesday 04:00 Kolkata (3bd after the
    ask: the expiry is never moved)."""
    ladder = cl.Ladder.from_yaml(WINDOWS_YAML)
    messenger = cl.RecordingMessenger()
    clock = cl.SteppableClock(FRIDAY_EVENING_NY)
    tracker = cl.Tracker(store=store, ladders=[ladder], messenger=messenger, clock=clock)
    tracker.enroll("priya", ladder="outreach", timezone="Asia/Kolkata")
    ask = tracker.ask("priya", "intro", channel="email", actor="sam@seller.example")
    monday_8 = datetime(2026, 12, 7, 8, 0, tzinfo=KOLKATA)
    e = tracker.get("priya", ladder="outreach")
    assert e.pending == ask
    assert e.sends_at() == monday_8
    # the ask itself says when it goes out, read back from the store or returned by ask()
    assert ask.sends_at == ask.not_before == monday_8
    assert e.pending is not None
    assert e.pending.sends_at == monday_8
    assert tracker.sends_at("priya") == monday_8
    assert datetime.fromisoformat(ask.to_dict()["sends_at"]) == monday_8
    assert ask.expires_at is not None
    assert ask.expires_at.astimezone(KOLKATA) == datetime(2026, 12, 9, 4, 0, tzinfo=KOLKATA)
    (follow_up,) = [t for t in e.timers if t.kind == "follow_up"]
    assert follow_up.due_at == datetime(2026, 12, 8, 8, 0, tzinfo=KOLKATA)
    refusal = e.why_not("intro", channel="phone", now=FRIDAY_EVENING_NY)
    assert isinstance(refusal, cl.AskPending)
    assert "by email; its message goes out 2026-12-07 08:00 IST); one commitment at a time" in (
        refusal.message
    )
    assert datetime.fromisoformat(refusal.to_dict()["ask"]["sends_at"]) == monday_8
    (entry,) = store.outbox()
    assert entry.next_attempt_at == monday_8
    assert entry.message.not_before == monday_8
    assert tracker.relay(now=monday_8 - timedelta(seconds=1)).sent == 0
    assert messenger.sent == []
    assert tracker.relay(now=monday_8).sent == 1
    assert [m.kind for m in messenger.sent] == ["ask"]


def test_inside_the_window_a_message_goes_out_at_once(store: Any) -> None:
    ladder = cl.Ladder.from_yaml(WINDOWS_YAML)
    messenger = cl.RecordingMessenger()
    tuesday_9 = datetime(2026, 12, 8, 9, 0, tzinfo=NEW_YORK)
    clock = cl.SteppableClock(tuesday_9)
    tracker = cl.Tracker(store=store, ladders=[ladder], messenger=messenger, clock=clock)
    tracker.enroll("nick", ladder="outreach")
    ask = tracker.ask("nick", "intro", channel="email")
    assert ask.not_before is None
    assert ask.sends_at == tuesday_9
    assert tracker.sends_at("nick") == tuesday_9
    (entry,) = store.outbox()
    assert entry.message.not_before is None
    assert "not_before" not in entry.message.to_dict()
    assert tracker.relay(now=tuesday_9).sent == 1


def test_each_channel_keeps_its_own_windows(store: Any) -> None:
    """A phone ask at 12:30 waits for the 14:00 window; an email one would go at once."""
    ladder = cl.Ladder.from_yaml(WINDOWS_YAML)
    noon = datetime(2026, 12, 8, 12, 30, tzinfo=NEW_YORK)
    tracker = cl.Tracker(store=store, ladders=[ladder], clock=cl.SteppableClock(noon))
    tracker.enroll("nick", ladder="outreach")
    e = tracker.get("nick", ladder="outreach")
    assert e.sends_at("phone", now=noon) == noon.replace(hour=14, minute=0)
    assert e.sends_at("email", now=noon) == noon
    tracker.ask("nick", "intro", channel="phone")
    (entry,) = store.outbox()
    assert entry.next_attempt_at == noon.replace(hour=14, minute=0)


def test_seller_alerts_without_a_default_window_fire_when_due(store: Any) -> None:
    """A next step overdue is the seller's alert: with no `default` window it is not moved."""
    ladder = cl.Ladder.from_yaml(WINDOWS_YAML)
    friday = FRIDAY_EVENING_NY
    tracker = cl.Tracker(store=store, ladders=[ladder], clock=cl.SteppableClock(friday))
    tracker.enroll("nick", ladder="outreach")
    tracker.ask("nick", "intro", channel="email")
    tracker.commit("nick", ladder="outreach")
    (overdue,) = tracker.get("nick", ladder="outreach").timers
    assert overdue.kind == "next_step_overdue"
    assert overdue.due_at == friday + timedelta(days=1)
    with_default = cl.Ladder.from_yaml(
        WINDOWS_YAML.replace(
            '    email: ["08:00-18:00"]', '    default: ["09:00-17:00"]\n    email: ["08:00-18:00"]'
        )
    )
    e = with_default.enroll("kim", now=friday)
    e.ask("intro", channel="email", now=friday)
    e.commit(now=friday)
    (moved,) = e.timers
    assert moved.due_at == datetime(2026, 12, 7, 9, 0, tzinfo=NEW_YORK)  # Monday 09:00


@pytest.mark.parametrize(
    ("window", "says"),
    [
        ('"18:00-08:00"', "closes before it opens"),
        ('"8am-6pm"', "is not a window"),
        ('"08:00-12:00", "11:00-13:00"', "windows overlap"),
    ],
)
def test_window_problems_are_located(window: str, says: str) -> None:
    text = WINDOWS_YAML.replace('email: ["08:00-18:00"]', f"email: [{window}]")
    with pytest.raises(cl.DefinitionError) as caught:
        cl.Ladder.from_yaml(text)
    (problem,) = caught.value.problems
    assert says in problem.message
    assert problem.line == 7


def test_a_follow_up_says_when_it_goes_out_and_a_timely_one_clears_it() -> None:
    """The open ask's ``sends_at`` follows its latest touch: a follow-up made at night waits
    for the morning; one made in the window goes out at once (``not_before`` is None)."""
    ladder = cl.Ladder.from_yaml(WINDOWS_YAML.replace("every: 1bd", "every: 1h"))
    tuesday_9 = datetime(2026, 12, 8, 9, 0, tzinfo=NEW_YORK)
    e = ladder.enroll("nick", now=tuesday_9)
    e.ask("intro", channel="email", now=tuesday_9)
    night = tuesday_9.replace(hour=22)
    e.follow_up(now=night)
    assert e.pending is not None
    wednesday_8 = datetime(2026, 12, 9, 8, 0, tzinfo=NEW_YORK)
    assert e.pending.sends_at == e.pending.not_before == e.sends_at() == wednesday_8
    replayed = cl.Enrollment.replay(ladder, e.history)
    assert replayed.pending == e.pending
    restored = cl.Enrollment.from_snapshot(ladder, e.snapshot())
    assert restored.pending == e.pending
    e.follow_up(now=wednesday_8 + timedelta(hours=2))
    assert e.pending.not_before is None
    assert e.pending.sends_at == wednesday_8 + timedelta(hours=2)


def test_without_windows_an_ask_goes_out_when_made() -> None:
    """A ladder with no calendar: ``not_before`` stays None and ``sends_at`` is the touch;
    a dict written before ``sends_at`` existed reads back to the same ask."""
    plain = WINDOWS_YAML.split("defaults:")[1].replace("bd", "d")
    ladder = cl.Ladder.from_yaml("ladder: outreach\nstart: intro\ndefaults:" + plain)
    at = datetime(2026, 12, 5, 3, 0, tzinfo=UTC)
    e = ladder.enroll("nick", now=at)
    ask = e.ask("intro", channel="email", now=at)
    assert ask.not_before is None
    assert ask.sends_at == at
    data = ask.to_dict()
    assert data["sends_at"] == data["last_touch_at"]
    assert cl.Ask.from_dict(ask.enrollment_id, data) == ask
    del data["sends_at"]
    assert cl.Ask.from_dict(ask.enrollment_id, data) == ask
