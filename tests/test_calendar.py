"""Business days and holidays: ``3bd`` parses and round-trips; business-day arithmetic
agrees with a brute-force count, in any zone, DST included; real public holidays of the US,
UK, DE and IN count as days off; a ladder's ``calendar:`` times asks on every store."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given
from hypothesis import strategies as st

import commitladder as cl
from commitladder._calendar import (
    BUSINESS_DAYS_PATTERN,
    MAX_BUSINESS_DAYS,
    BusinessDays,
    Calendar,
    holiday_source,
    parse_span,
)
from commitladder._schema import ladder_schema

pytest_plugins = ["dbfixtures"]

NEW_YORK, KOLKATA = ZoneInfo("America/New_York"), ZoneInfo("Asia/Kolkata")
# zones with DST in either hemisphere, half- and quarter-hour offsets, a 30-minute DST
ZONES = [
    "UTC",
    "America/New_York",
    "Europe/London",
    "Europe/Berlin",
    "Asia/Kolkata",
    "Asia/Kathmandu",
    "Australia/Adelaide",
    "Australia/Lord_Howe",
    "America/St_Johns",
    "America/Santiago",
    "Pacific/Chatham",
]

# a working week: the first 1-7 days of a shuffled week (every draw is a valid week: no
# retries for duplicates, as a set of integers 0-6 made)
weeks = st.tuples(st.permutations(range(7)), st.integers(1, 7)).map(
    lambda drawn: frozenset(drawn[0][: drawn[1]])
)
days = st.dates(date(2000, 1, 1), date(2060, 12, 31))
instants = st.datetimes(
    datetime(2000, 1, 1), datetime(2060, 12, 31), timezones=st.just(UTC), allow_imaginary=False
)


def brute_force_business_days(calendar: Calendar, start: date, end: date) -> int:
    """How many business days lie in ``(start, end]``, counted one day at a time."""
    span = (end - start).days
    return sum(calendar.is_business_day(start + timedelta(days=i)) for i in range(1, span + 1))


# ---- the duration -------------------------------------------------------------------------


@pytest.mark.parametrize("text", ["3bd", " 3bd ", "3 bd", "3BD", "03bd", "2600bd"])
def test_business_days_are_a_count_and_bd(text: str) -> None:
    assert parse_span(text) == BusinessDays(int(text.strip().lower().removesuffix("bd")))


@pytest.mark.parametrize(
    ("text", "says"),
    [("0bd", "not a positive duration"), ("2601bd", "at most 2600bd"), ("1.5bd", "not a duration")],
)
def test_bad_business_days_are_refused_saying_why(text: str, says: str) -> None:
    with pytest.raises(ValueError, match=says):
        parse_span(text)


@given(st.text(alphabet="0123456789 bBdDhmwPT\t", max_size=8))
def test_the_schema_pattern_accepts_exactly_what_the_loader_reads(text: str) -> None:
    schema_pattern = ladder_schema()["$defs"]["Defaults"]["properties"]["cooldown"]["anyOf"][0]
    try:
        parse_span(text)
        reads = True
    except ValueError:
        reads = False
    assert bool(re.search(schema_pattern["pattern"], text)) == reads


@given(st.integers(1, MAX_BUSINESS_DAYS))
def test_business_days_round_trip_through_text(count: int) -> None:
    span = BusinessDays(count)
    assert parse_span(str(span)) == span
    assert re.fullmatch(BUSINESS_DAYS_PATTERN, str(span))


# ---- the arithmetic ----------------------------------------------------------------------


@given(
    week=weeks,
    # holidays as days from the start, where the count runs (a week of one day and 60
    # business days reach ~420 days), a few before it; repeats just collapse
    offsets=st.lists(st.integers(-30, 450), max_size=40),
    start=days,
    count=st.integers(0, 60),
)
def test_the_nth_business_day_agrees_with_a_brute_force_count(
    week: frozenset[int], offsets: list[int], start: date, count: int
) -> None:
    extra = {start + timedelta(days=n) for n in offsets}
    calendar = Calendar(working_days=week, extra=extra)
    found = calendar.business_day_after(start, count)
    assert brute_force_business_days(calendar, start, found) == count
    if count:  # the earliest such day: it is itself a business day
        assert calendar.is_business_day(found)
    else:
        assert found == start


@given(
    moment=instants,
    name=st.sampled_from(ZONES),
    week=weeks,
    count=st.integers(1, 30),
)
def test_business_days_keep_the_local_time_and_count_in_the_zone(
    moment: datetime, name: str, week: frozenset[int], count: int
) -> None:
    calendar = Calendar(timezone=name, working_days=week)
    result = calendar.add(moment, BusinessDays(count))
    tz = ZoneInfo(name)
    before, after = moment.astimezone(tz), result.astimezone(tz)
    assert result > moment
    assert result.tzinfo is moment.tzinfo
    assert calendar.is_business_day(after.date())
    assert brute_force_business_days(calendar, before.date(), after.date()) == count
    wall = datetime.combine(after.date(), before.time())
    exists = wall.replace(tzinfo=tz).astimezone(UTC).astimezone(tz).replace(tzinfo=None) == wall
    if exists:
        assert after.time() == before.time()
    else:  # the clock skipped that time that day: it moves forward by the gap, no more
        gap = after.utcoffset() - wall.replace(tzinfo=tz, fold=0).utcoffset()  # type: ignore[operator]
        assert after.replace(tzinfo=None) == wall + gap


def test_a_wall_time_in_the_spring_forward_gap_moves_forward_by_the_gap() -> None:
    """New York skipped 02:00-03:00 on 2026-03-08 (a Sunday): with a seven-day week, one
    business day after Saturday 02:30 is Sunday 03:30, an hour later than 02:30 would be."""
    calendar = Calendar(timezone="America/New_York", working_days=range(7))
    saturday = datetime(2026, 3, 7, 2, 30, tzinfo=NEW_YORK)
    assert calendar.add(saturday, BusinessDays(1)) == datetime(2026, 3, 8, 3, 30, tzinfo=NEW_YORK)


def test_a_repeated_wall_time_takes_its_first_occurrence() -> None:
    """New York repeated 01:00-02:00 on 2026-11-01: 01:30 is the earlier, EDT one."""
    calendar = Calendar(timezone="America/New_York", working_days=range(7))
    saturday = datetime(2026, 10, 31, 1, 30, tzinfo=NEW_YORK)
    result = calendar.add(saturday, BusinessDays(1))
    assert result.astimezone(UTC) == datetime(2026, 11, 1, 5, 30, tzinfo=UTC)  # 01:30 EDT


def test_a_friday_ask_waits_over_the_weekend_in_the_prospects_zone() -> None:
    """Friday 17:30 in New York is Saturday 04:00 in Kolkata: 1bd there is Monday 04:00."""
    calendar = Calendar(timezone="Asia/Kolkata")
    friday = datetime(2026, 12, 4, 17, 30, tzinfo=NEW_YORK)
    assert calendar.add(friday, BusinessDays(1)) == datetime(2026, 12, 7, 4, 0, tzinfo=KOLKATA)
    in_new_york = calendar.add(friday, BusinessDays(1), "America/New_York")
    assert in_new_york == datetime(2026, 12, 7, 17, 30, tzinfo=NEW_YORK)


def test_plain_durations_are_plain_time_whatever_the_calendar() -> None:
    calendar = Calendar(timezone="Asia/Kolkata", working_days=[0])
    friday = datetime(2026, 12, 4, 17, 30, tzinfo=NEW_YORK)
    assert calendar.add(friday, timedelta(days=3)) == friday + timedelta(days=3)


def test_a_calendar_with_no_working_day_in_a_year_says_so() -> None:
    year = [date(2026, 1, 1) + timedelta(days=i) for i in range(400)]
    calendar = Calendar(working_days=range(7), extra=year)
    with pytest.raises(ValueError, match="no business day in the 366 days after"):
        calendar.business_day_after(date(2025, 12, 31), 1)


def test_an_empty_working_week_is_refused() -> None:
    with pytest.raises(ValueError, match="1 to 7 days"):
        Calendar(working_days=())


# ---- real holidays --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("country", "subdivision", "day"),
    [
        ("US", None, date(2026, 7, 3)),  # Independence Day, observed on the Friday
        ("US", None, date(2026, 11, 26)),  # Thanksgiving
        ("GB", "ENG", date(2026, 12, 28)),  # Boxing Day, observed on the Monday
        ("GB", "SCT", date(2026, 8, 3)),  # Scotland's summer bank holiday
        ("DE", None, date(2026, 5, 1)),  # Labour Day
        ("DE", "BY", date(2026, 1, 6)),  # Epiphany, in Bavaria
        ("IN", None, date(2026, 1, 26)),  # Republic Day
        ("IN", None, date(2026, 10, 2)),  # Gandhi Jayanti
    ],
    ids=lambda v: str(v),
)
def test_public_holidays_from_the_holidays_package_are_days_off(
    country: str, subdivision: str | None, day: date
) -> None:
    calendar = Calendar(holidays=holiday_source(country, subdivision))
    assert day.weekday() < 5
    assert calendar.is_holiday(day)
    assert not calendar.is_business_day(day)
    assert Calendar().is_business_day(day)


def test_a_subdivisions_holiday_is_not_the_whole_countrys() -> None:
    assert not Calendar(holidays=holiday_source("DE")).is_holiday(date(2026, 1, 6))
    assert not Calendar(holidays=holiday_source("GB", "ENG")).is_holiday(date(2026, 8, 3))


@given(start=st.dates(date(2020, 1, 1), date(2035, 12, 31)), count=st.integers(1, 40))
def test_arithmetic_over_real_holidays_agrees_with_a_brute_force_count(
    start: date, count: int
) -> None:
    calendar = US_NY
    found = calendar.business_day_after(start, count)
    assert brute_force_business_days(calendar, start, found) == count
    assert calendar.is_business_day(found)


US_NY = Calendar(timezone="America/New_York", holidays=holiday_source("US", "NY"))


@pytest.mark.parametrize(
    ("country", "subdivision", "says"),
    [
        ("XX", None, "'XX' is not a country the holidays package knows"),
        ("US", "ZZ", "'ZZ' is not a subdivision of US: write one of"),
    ],
)
def test_unknown_countries_and_subdivisions_are_named(
    country: str, subdivision: str | None, says: str
) -> None:
    with pytest.raises(ValueError, match=re.escape(says)):
        holiday_source(country, subdivision)


def test_without_the_holidays_package_the_error_names_the_extra(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setitem(__import__("sys").modules, "holidays", None)
    with pytest.raises(ValueError, match=re.escape("pip install 'commitladder[calendars]'")):
        holiday_source("US")


# ---- in a ladder ---------------------------------------------------------------------------

CALENDAR_YAML = """\
ladder: bd
start: intro
calendar:
  timezone: America/New_York
  working_days: [mon, tue, wed, thu, fri]
  holidays: {country: US, subdivision: NY, dates: [2026-12-24]}
defaults:
  expires_after: 3bd
  follow_ups: {max: 1, every: 1bd}
  cooldown: 2bd
  next_ask_within: 1bd
rungs:
  intro: {kind: call, size: 1, next: demo, channels: [email]}
  demo: {kind: meeting, size: 2, next: won, channels: [email]}
ends:
  won: {result: won}
"""
WEDNESDAY = datetime(2026, 12, 23, 17, 30, tzinfo=NEW_YORK)  # then Christmas Eve and Day


def local(moment: datetime | None) -> datetime:
    assert moment is not None
    return moment.astimezone(NEW_YORK)


def test_a_ladder_times_asks_in_business_days_on_its_calendar(store: Any) -> None:
    """Asked Wednesday 23 December 17:30: the 24th (listed), the 25th (Christmas) and the
    weekend do not count, so the follow-up is due Monday 28th and the ask expires the 30th."""
    ladder = cl.Ladder.from_yaml(CALENDAR_YAML)
    tracker = cl.Tracker(store=store, ladders=[ladder], clock=cl.SteppableClock(WEDNESDAY))
    tracker.enroll("p", ladder="bd")
    ask = tracker.ask("p", "intro", channel="email")
    assert local(ask.expires_at) == datetime(2026, 12, 30, 17, 30, tzinfo=NEW_YORK)
    e = tracker.get("p", ladder="bd")
    timers = {t.kind: local(t.due_at) for t in e.timers}
    assert timers["follow_up"] == datetime(2026, 12, 28, 17, 30, tzinfo=NEW_YORK)
    declined = WEDNESDAY + timedelta(hours=1)  # 18:30, still Wednesday
    tracker.decline("p", ladder="bd", now=declined)
    tracker.resume("p", ladder="bd", now=declined)
    refusal = tracker.get("p", ladder="bd").why_not("intro", channel="email", now=declined)
    assert isinstance(refusal, cl.InCooldown)
    assert local(refusal.retry_after) == datetime(2026, 12, 29, 18, 30, tzinfo=NEW_YORK)


def test_a_calendar_round_trips_through_dict_and_yaml() -> None:
    ladder = cl.Ladder.from_yaml(CALENDAR_YAML)
    again = cl.Ladder.from_dict(ladder.to_dict())
    assert again.definition == ladder.definition
    assert again.rungs["intro"].expires_after == BusinessDays(3)


def test_business_days_without_a_calendar_mean_monday_to_friday_in_utc() -> None:
    text = CALENDAR_YAML.replace(
        CALENDAR_YAML[CALENDAR_YAML.index("calendar:") :].split("defaults:")[0], ""
    )
    ladder = cl.Ladder.from_yaml(text)
    assert ladder.calendar is None
    friday = datetime(2026, 12, 25, 12, tzinfo=UTC)  # no holidays without a calendar
    e = ladder.enroll("p", now=friday)
    ask = e.ask("intro", channel="email", now=friday)
    assert ask.expires_at == datetime(2026, 12, 30, 12, tzinfo=UTC)


@pytest.mark.parametrize(
    ("change", "where", "says"),
    [
        ("timezone: America/New_York", "timezone: Mars/Base", "not a time zone this system knows"),
        ("country: US", "country: XX", "'XX' is not a country the holidays package knows"),
        ("subdivision: NY", "subdivision: QQ", "'QQ' is not a subdivision of US"),
        ("expires_after: 3bd", "expires_after: 0bd", "not a positive duration"),
        ("working_days: [mon", "working_days: [mon, mon", "mon listed more than once"),
        ("working_days: [mon", "working_days: [mun", "'mon'"),
    ],
)
def test_calendar_problems_are_located(change: str, where: str, says: str) -> None:
    with pytest.raises(cl.DefinitionError) as caught:
        cl.Ladder.from_yaml(CALENDAR_YAML.replace(change, where), source="bd.yaml")
    (problem,) = caught.value.problems
    assert says in problem.message
    assert problem.line == next(
        n for n, line in enumerate(CALENDAR_YAML.splitlines(), 1) if change in line
    )


def test_an_unknown_calendar_field_gets_a_did_you_mean() -> None:
    text = CALENDAR_YAML.replace("working_days:", "workdays:")
    with pytest.raises(cl.DefinitionError, match="did you mean 'working_days'"):
        cl.Ladder.from_yaml(text)


def test_holidays_load_only_for_a_ladder_that_names_a_country(tmp_path: Any) -> None:
    import json
    import subprocess
    import sys

    def loaded(text: str) -> bool:
        path = tmp_path / "ladder.yaml"
        path.write_text(text)
        script = (
            f"import json, sys, commitladder as cl\ncl.load({str(path)!r})\n"
            "print(json.dumps('holidays' in sys.modules))"
        )
        return bool(json.loads(subprocess.check_output([sys.executable, "-c", script])))

    assert loaded(CALENDAR_YAML)
    assert not loaded(CALENDAR_YAML.replace("{country: US, subdivision: NY, dates:", "{dates:"))
