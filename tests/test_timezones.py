"""Time zones: an enrollment carries the prospect's IANA time zone, given at enroll (else
the ladder's); business days are counted there, DST included, on every store; the zone
survives the store, a replay and the history's JSON; a zone nobody knows is refused."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest

import commitladder as cl

pytest_plugins = ["dbfixtures"]

NEW_YORK, KOLKATA = ZoneInfo("America/New_York"), ZoneInfo("Asia/Kolkata")

LADDER_YAML = """\
ladder: outreach
start: intro
calendar:
  timezone: America/New_York
  holidays: {country: US}
defaults:
  expires_after: 2bd
  follow_ups: {max: 2, every: 1bd}
  cooldown: 1bd
rungs:
  intro: {kind: call, size: 1, next: won, channels: [email]}
ends:
  won: {result: won}
"""
# Friday 4 December 2026, 17:30 in New York: already Saturday 04:00 in Kolkata
FRIDAY_EVENING_NY = datetime(2026, 12, 4, 17, 30, tzinfo=NEW_YORK)


@pytest.fixture
def ladder() -> cl.Ladder:
    return cl.Ladder.from_yaml(LADDER_YAML)


def test_the_prospects_zone_counts_business_days_there(store: Any, ladder: cl.Ladder) -> None:
    """The worked example: asked Friday 17:30 seller time, the Kolkata prospect's follow-up
    is due Monday 04:00 their time (Sunday 17:30 in New York), and the ask expires Tuesday
    04:00 Kolkata; a New York prospect asked at the same instant waits till Monday 17:30."""
    tracker = cl.Tracker(store=store, ladders=[ladder], clock=cl.SteppableClock(FRIDAY_EVENING_NY))
    tracker.enroll("priya", ladder="outreach", timezone="Asia/Kolkata")
    tracker.enroll("nick", ladder="outreach")
    priya = tracker.ask("priya", "intro", channel="email")
    nick = tracker.ask("nick", "intro", channel="email")
    assert priya.expires_at is not None
    assert nick.expires_at is not None
    assert priya.expires_at.astimezone(KOLKATA) == datetime(2026, 12, 8, 4, 0, tzinfo=KOLKATA)
    assert nick.expires_at.astimezone(NEW_YORK) == datetime(2026, 12, 8, 17, 30, tzinfo=NEW_YORK)
    read = tracker.get("priya", ladder="outreach")
    assert read.timezone == "Asia/Kolkata"
    assert tracker.get("nick", ladder="outreach").timezone == "America/New_York"
    (follow_up,) = [t for t in read.timers if t.kind == "follow_up"]
    assert follow_up.due_at.astimezone(KOLKATA) == datetime(2026, 12, 7, 4, 0, tzinfo=KOLKATA)


def test_the_zone_survives_replay_and_json(ladder: cl.Ladder) -> None:
    e = ladder.enroll("priya", now=FRIDAY_EVENING_NY, timezone="Asia/Kolkata")
    e.ask("intro", channel="email", now=FRIDAY_EVENING_NY)
    history = json.loads(json.dumps([event.to_dict() for event in e.history]))
    again = cl.Enrollment.replay(ladder, history)
    assert again.timezone == "Asia/Kolkata"
    assert again.pending == e.pending
    assert again.timers == e.timers
    restored = cl.Enrollment.from_snapshot(ladder, e.snapshot())
    assert restored.timezone == "Asia/Kolkata"
    assert restored.timers == e.timers


def test_events_and_snapshots_without_a_zone_read_as_before(ladder: cl.Ladder) -> None:
    """Histories and snapshots written before time zones have no ``timezone`` key."""
    e = ladder.enroll("nick", now=FRIDAY_EVENING_NY)
    assert "timezone" not in e.history[0].to_dict()["data"]
    assert "timezone" not in e.snapshot()
    assert cl.Enrollment.replay(ladder, e.history).timezone == "America/New_York"


def test_a_ladder_without_a_calendar_counts_in_the_prospects_zone() -> None:
    calendar = "calendar:\n  timezone: America/New_York\n  holidays: {country: US}\n"
    bare = cl.Ladder.from_yaml(LADDER_YAML.replace(calendar, ""))
    assert bare.enroll("x", now=FRIDAY_EVENING_NY).timezone == "UTC"
    e = bare.enroll("priya", now=FRIDAY_EVENING_NY, timezone="Asia/Kolkata")
    ask = e.ask("intro", channel="email", now=FRIDAY_EVENING_NY)
    assert ask.expires_at == datetime(2026, 12, 8, 4, 0, tzinfo=KOLKATA)


def test_dst_in_the_prospects_zone_keeps_their_wall_clock(ladder: cl.Ladder) -> None:
    """Berlin leaves summer time on Sunday 25 October 2026: 2bd after Friday 09:00 there is
    Tuesday 09:00 there, 97 hours later, not 96."""
    friday = datetime(2026, 10, 23, 9, 0, tzinfo=ZoneInfo("Europe/Berlin"))
    e = ladder.enroll("kai", now=friday, timezone="Europe/Berlin")
    ask = e.ask("intro", channel="email", now=friday)
    assert ask.expires_at is not None
    assert ask.expires_at.astimezone(UTC) - friday.astimezone(UTC) == timedelta(hours=4 * 24 + 1)
    assert ask.expires_at.astimezone(friday.tzinfo).hour == 9


@pytest.mark.parametrize("zone", ["Mars/Olympus_Mons", "", "Asia/Kolkata\x00", "../etc/passwd"])
def test_an_unknown_zone_is_refused_and_nothing_is_stored(
    store: Any, ladder: cl.Ladder, zone: str
) -> None:
    tracker = cl.Tracker(store=store, ladders=[ladder], clock=cl.SteppableClock(FRIDAY_EVENING_NY))
    with pytest.raises(cl.UnknownTimeZone, match=r"timezone=.* is not a time zone"):
        tracker.enroll("p", ladder="outreach", timezone=zone)
    with pytest.raises(cl.NotEnrolled):
        tracker.get("p", ladder="outreach")
    with pytest.raises(cl.UnknownTimeZone):
        ladder.enroll("p", now=FRIDAY_EVENING_NY, timezone=zone)


def test_a_zone_that_is_not_text_is_a_type_error(ladder: cl.Ladder) -> None:
    with pytest.raises(TypeError, match="timezone must be an IANA time zone name, not int"):
        ladder.enroll("p", now=FRIDAY_EVENING_NY, timezone=5)  # type: ignore[arg-type]


def test_a_reused_key_with_another_zone_is_flagged(store: Any, ladder: cl.Ladder) -> None:
    tracker = cl.Tracker(store=store, ladders=[ladder], clock=cl.SteppableClock(FRIDAY_EVENING_NY))
    tracker.enroll("p", ladder="outreach", timezone="Asia/Kolkata", idempotency_key="k1")
    again = tracker.enroll("p", ladder="outreach", timezone="Asia/Kolkata", idempotency_key="k1")
    assert again.timezone == "Asia/Kolkata"
    with pytest.raises(cl.KeyReused):
        tracker.enroll("p", ladder="outreach", timezone="Europe/Berlin", idempotency_key="k1")


def test_instants_stay_the_same_instants_whatever_zone_now_is_given_in(ladder: cl.Ladder) -> None:
    in_utc = FRIDAY_EVENING_NY.astimezone(UTC)
    a = ladder.enroll("a", now=FRIDAY_EVENING_NY, timezone="Asia/Kolkata")
    b = ladder.enroll("b", now=in_utc, timezone="Asia/Kolkata")
    ask_a = a.ask("intro", channel="email", now=FRIDAY_EVENING_NY)
    ask_b = b.ask("intro", channel="email", now=in_utc)
    assert ask_a.expires_at == ask_b.expires_at
