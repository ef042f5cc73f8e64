"""Calendar tools: `check` warns of a send window that never opens and of an expiry shorter
than the wait for the window; `explain-time` shows the times the library computes, in both
zones; `simulate` replies to messages when they go out, inside their windows."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from typer.testing import CliRunner

import commitladder as cl
from commitladder._timing import Moment, timeline
from commitladder.cli import app
from support import simulate_into

OUTREACH = Path(__file__).parent.parent / "docs" / "how-to" / "outreach.yaml"
NEW_YORK, KOLKATA = ZoneInfo("America/New_York"), ZoneInfo("Asia/Kolkata")
runner = CliRunner()

LINTED = """\
ladder: l
start: intro
calendar:
  timezone: America/New_York
  send_windows:
    email: ["08:00-18:00"]
    fax: ["09:00-10:00"]
defaults:
  expires_after: 2d
rungs:
  intro: {kind: call, size: 1, next: won, channels: [email], on_decline: lost}
ends:
  won: {result: won}
  lost: {result: lost}
"""


def codes(ladder: cl.Ladder) -> dict[str, list[str]]:
    found: dict[str, list[str]] = {}
    for finding in ladder.lint():
        found.setdefault(finding.code, []).append(finding.message)
    return found


def test_check_warns_of_an_expiry_shorter_than_the_weekend_gap() -> None:
    found = codes(cl.Ladder.from_yaml(LINTED))
    (message,) = found["expires_before_window"]
    assert "made as the window closes (Fri 18:00) expires (2d)" in message
    assert "before the window opens again (Mon 08:00)" in message
    longer = cl.Ladder.from_yaml(LINTED.replace("expires_after: 2d", "expires_after: 3bd"))
    assert "expires_before_window" not in codes(longer)


def test_check_warns_of_a_window_no_ask_can_use() -> None:
    (message,) = codes(cl.Ladder.from_yaml(LINTED))["window_never_opens"]
    assert message == "the fax window never opens for an ask: no rung asks over fax"


def test_check_warns_of_a_window_with_no_day_to_open_on() -> None:
    wednesdays = [date(2026, 1, 7) + timedelta(weeks=n) for n in range(104)]  # to 2027's end
    days = ", ".join(d.isoformat() for d in wednesdays)
    text = LINTED.replace(
        "  send_windows:",
        f"  working_days: [wed]\n  holidays: {{dates: [{days}]}}\n  send_windows:",
    ).replace('    fax: ["09:00-10:00"]\n', "")
    messages = codes(cl.Ladder.from_yaml(text))["window_never_opens"]
    assert messages == ["the email window never opens: no business day in a year"]


def test_ladders_without_calendars_get_no_calendar_findings() -> None:
    plain = cl.load(Path(cl.__file__).parent / "seed" / "solopreneur.yaml")
    assert not {"expires_before_window", "window_never_opens"} & set(codes(plain))


def test_the_timeline_is_what_an_enrollment_does() -> None:
    ladder = cl.load(OUTREACH)
    friday = datetime(2026, 12, 4, 17, 30, tzinfo=NEW_YORK)
    moments = {m.what: m.at for m in timeline(ladder, at=friday, timezone="Asia/Kolkata")}
    assert moments["ask goes out"] == datetime(2026, 12, 7, 8, tzinfo=KOLKATA)
    assert moments["follow-up 1 due"] == datetime(2026, 12, 8, 8, tzinfo=KOLKATA)
    assert moments["expires"] == datetime(2026, 12, 9, 4, tzinfo=KOLKATA)
    assert "follow-up 2 due" not in moments  # it would fall after the expiry
    e = ladder.enroll("p", now=friday, timezone="Asia/Kolkata")
    ask = e.ask("intro", channel="email", now=friday)
    assert (e.sends_at(), ask.expires_at) == (moments["ask goes out"], moments["expires"])


def test_explain_time_prints_both_zones() -> None:
    result = runner.invoke(
        app, ["explain-time", str(OUTREACH), "--at", "2026-12-04T17:30-05:00", "-z", "Asia/Kolkata"]
    )
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert lines[0] == "seller zone America/New_York, prospect zone Asia/Kolkata"
    assert lines[2] == (
        "ask goes out          Sun 2026-12-06 21:30 America/New_York  |  "
        "Mon 2026-12-07 08:00 Asia/Kolkata"
    )


def test_the_timeline_places_a_capped_ask_after_those_queued_ahead() -> None:
    """50 first emails a day per sender: with 120 queued ahead on a Friday morning, the
    ask goes out Tuesday 08:00 (50 Friday, 50 Monday, 20 Tuesday, then this one), where a
    tracker with 120 asks before it puts it too."""
    ladder = cl.load(OUTREACH)
    friday = datetime(2026, 12, 4, 10, 0, tzinfo=NEW_YORK)
    moments = timeline(ladder, at=friday, ahead=120)
    assert moments[1] == Moment(
        "ask goes out (120 ahead under the throttle)", datetime(2026, 12, 8, 8, tzinfo=NEW_YORK)
    )
    assert timeline(ladder, at=friday, ahead=49)[1] == Moment("ask goes out", friday)
    tracker = cl.Tracker(store=cl.MemoryStore(), ladders=[ladder], clock=cl.SteppableClock(friday))
    for n in range(121):
        tracker.enroll(f"p{n}", ladder="outreach")
        tracker.ask(f"p{n}", "intro", channel="email", actor="sam")
    assert tracker.sends_at("p120") == moments[1].at
    assert tracker.sends_at("p49") == friday
    with pytest.raises(ValueError, match="ahead must be 0 or more"):
        timeline(ladder, at=friday, ahead=-1)


def test_explain_time_says_a_throttle_may_hold_the_ask_and_what_that_does() -> None:
    args = ["explain-time", str(OUTREACH), "--at", "2026-12-04T10:00-05:00"]
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    assert result.output.splitlines()[-1] == (
        "throttled: at most 50 a day per sender; this counts 0 first asks queued ahead of it "
        "(--ahead N; tracker.sends_at(prospect) reads a stored ask's place)"
    )
    queued = runner.invoke(app, [*args, "--ahead", "120"])
    assert queued.exit_code == 0, queued.output
    assert (
        "ask goes out (120 ahead under the throttle)  Tue 2026-12-08 08:00 America/New_York"
        in queued.output
    )
    # a queued ask's follow-up counts from its queued time (Tuesday), not Friday's window
    assert (
        "follow-up 1 due                              Wed 2026-12-09 08:00 America/New_York"
        in queued.output
    )
    assert "note:" not in queued.output
    assert runner.invoke(app, [*args, "--ahead", "-1"]).exit_code == 2


@pytest.mark.parametrize(
    ("at", "says"),
    [("Friday", "is not an ISO 8601 time"), ("2026-12-04T17:30", "has no offset")],
)
def test_explain_time_says_what_to_write(at: str, says: str) -> None:
    result = runner.invoke(app, ["explain-time", str(OUTREACH), "--at", at])
    assert result.exit_code == 2
    assert says in result.output


def test_explain_time_names_an_unknown_zone() -> None:
    result = runner.invoke(
        app, ["explain-time", str(OUTREACH), "--at", "2026-12-04T17:30Z", "-z", "Mars/Base"]
    )
    assert result.exit_code != 0
    assert "timezone='Mars/Base' is not a time zone" in result.output


def test_simulated_prospects_hear_asks_only_inside_the_window(tmp_path: Any) -> None:
    """Every simulated ask and follow-up is delivered inside its window, in New York."""
    from commitladder.sql import SqlStore

    ladder = cl.load(OUTREACH)
    url = f"sqlite:///{tmp_path / 'sim.db'}"
    report = simulate_into(url, ladder, prospects=40, seed=7, days=20)
    assert report.commands > 40
    store = SqlStore(url)
    try:
        entries = [e for e in store.outbox() if e.message.kind in ("ask", "follow_up")]
    finally:
        store.close()
    assert entries
    calendar = ladder.calendar
    assert calendar is not None
    for entry in entries:
        due = entry.next_attempt_at.astimezone(NEW_YORK)
        channel = entry.message.channel
        assert calendar.opens(due, channel) == due, (channel, due)
    assert any(e.next_attempt_at > e.message.at for e in entries)  # some waited
    assert all(e.next_attempt_at >= e.message.at.astimezone(UTC) for e in entries)


def test_check_warns_of_a_daily_cap_the_hourly_one_cannot_drain() -> None:
    """50 a day over email, 5 an hour, and the email window open 08:00-18:00: 10 hours let
    50 through (fine); 08:00-12:00 lets 20 through, and the queue only grows."""
    caps = "throttles:\n  - {max: 50, per: day, channel: email}\n  - {max: 5, per: hour}\n"
    fits = cl.Ladder.from_yaml(LINTED.replace("defaults:", caps + "defaults:"))
    assert "throttle_cannot_drain" not in codes(fits)
    short = LINTED.replace("08:00-18:00", "08:00-12:00").replace("defaults:", caps + "defaults:")
    (message,) = codes(cl.Ladder.from_yaml(short))["throttle_cannot_drain"]
    assert message.startswith(
        "50 first asks a day over email cannot all go out: 5 an hour over the 4 hours the "
        "window is open lets 20 through"
    )


@pytest.mark.parametrize("stateful", [False, True], ids=["climbs", "stateful"])
def test_the_testing_kit_holds_on_a_calendar_ladder(stateful: bool) -> None:
    """Business-day expiries, windows and a throttle keep every built-in invariant (one
    open ask, replay equals state, timers as the ladder says) over random climbs."""
    from commitladder.testing import prove

    verdict = prove(cl.load(OUTREACH), seed=3, max_examples=100, stateful=stateful, steps=15)
    assert verdict.ok, verdict
    assert verdict.examples >= 100  # the stateful engine reported 104 runs for 100 examples
