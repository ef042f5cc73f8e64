"""Durations: short forms and ISO 8601 parse; ambiguous input is refused; at most ten years;
formats round-trip."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from commitladder import format_duration, parse_duration
from commitladder._durations import DURATION_PATTERN, MAX_DURATION


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("45s", timedelta(seconds=45)),
        ("30m", timedelta(minutes=30)),
        ("12h", timedelta(hours=12)),
        ("3d", timedelta(days=3)),
        ("2w", timedelta(weeks=2)),
        (" 3d ", timedelta(days=3)),
    ],
    ids=lambda v: repr(v) if isinstance(v, str) else "",
)
def test_short_form_is_a_number_and_a_unit(text: str, expected: timedelta) -> None:
    assert parse_duration(text) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("P3D", timedelta(days=3)),
        ("PT12H", timedelta(hours=12)),
        ("P1W", timedelta(weeks=1)),
        ("P1DT2H", timedelta(days=1, hours=2)),
        ("PT30M", timedelta(minutes=30)),
        ("PT45S", timedelta(seconds=45)),
        ("p14d", timedelta(days=14)),
    ],
    ids=lambda v: v if isinstance(v, str) else "",
)
def test_iso_8601_durations_parse(text: str, expected: timedelta) -> None:
    assert parse_duration(text) == expected


def test_a_timedelta_passes_through() -> None:
    assert parse_duration(timedelta(hours=5)) == timedelta(hours=5)


@pytest.mark.parametrize(
    "value",
    [
        "3",  # a bare number has no unit
        3,
        3.5,
        "0d",  # zero is not a duration
        "PT0S",
        timedelta(0),
        "-3d",  # negative
        timedelta(days=-1),
        "soon",  # garbage
        "",
        "3 days",
        "3dd",
        "P",
        "PT",
        "P1Y",  # years and months have no fixed length
        "P1M",
        True,  # bool is an int in Python, never a duration
        False,
        None,
        ["3d"],
        "\uff13d",  # a fullwidth 3: only ASCII digits are numbers here
        "\u0663d",  # an Arabic-Indic 3
        "pt1\u017f",  # a long s, which upper() would turn into S
        "3d\u00a0",  # a no-break space is not the space around a duration
        "P1DT",  # T announces a time part that never comes
        "3D",  # short-form units are lowercase
        timedelta(milliseconds=1500),  # a ladder counts whole seconds
    ],
    ids=repr,
)
def test_anything_else_is_refused_with_a_hint(value: object) -> None:
    with pytest.raises(ValueError, match="duration"):
        parse_duration(value)


@pytest.mark.parametrize(
    ("delta", "text"),
    [
        (timedelta(weeks=2), "2w"),
        (timedelta(days=3), "3d"),
        (timedelta(hours=36), "36h"),
        (timedelta(minutes=90), "90m"),
        (timedelta(seconds=61), "61s"),
    ],
    ids=lambda v: v if isinstance(v, str) else "",
)
def test_format_picks_the_largest_exact_unit(delta: timedelta, text: str) -> None:
    assert format_duration(delta) == text


@pytest.mark.parametrize(
    "delta",
    [timedelta(0), timedelta(seconds=-5), timedelta(milliseconds=1500)],
    ids=["zero", "negative", "fractional"],
)
def test_format_refuses_what_a_ladder_cannot_say(delta: timedelta) -> None:
    with pytest.raises(ValueError, match="cannot be written"):
        format_duration(delta)


@given(
    st.integers(min_value=1, max_value=int(MAX_DURATION.total_seconds())).map(
        lambda s: timedelta(seconds=s)
    )
)
def test_format_round_trips_every_duration_a_ladder_may_hold(delta: timedelta) -> None:
    text = format_duration(delta)
    assert parse_duration(text) == delta
    assert text[-1] in "smhdw"
    assert text[:-1].isdigit()


@given(
    st.integers(0, 60),
    st.integers(0, 400),
    st.integers(0, 48),
    st.integers(0, 120),
    st.integers(0, 120),
)
def test_iso_components_add_up(
    weeks: int, days: int, hours: int, minutes: int, seconds: int
) -> None:
    expected = timedelta(weeks=weeks, days=days, hours=hours, minutes=minutes, seconds=seconds)
    time = f"{hours}H{minutes}M{seconds}S"
    text = f"P{weeks}W{days}DT{time}"
    if expected > timedelta(0):
        assert parse_duration(text) == expected
    else:
        with pytest.raises(ValueError, match="not a positive duration"):
            parse_duration(text)


# ---- the longest duration ------------------------------------------------------------------


def test_ten_years_is_the_longest_duration_in_every_unit() -> None:
    assert timedelta(days=3650) == MAX_DURATION
    for text in ("3650d", "521w", "87600h", "5256000m", "315360000s", "P3650D", "P521W3D"):
        assert parse_duration(text) <= MAX_DURATION
    assert parse_duration("3650d") == MAX_DURATION
    assert parse_duration(MAX_DURATION) == MAX_DURATION


@pytest.mark.parametrize(
    "value",
    [
        "3651d",
        "522w",
        "87601h",
        "P3650DT1S",  # the parts add up to one second too many
        "P521W4D",
        "9999999999w",
        "99999999999999999999d",
        "P99999999999999999999D",
        "PT" + "9" * 5000 + "S",  # more digits than int() reads by default
        "0" * 5000 + "99999999999d",
        MAX_DURATION + timedelta(seconds=1),
        timedelta(days=999_999_999),  # the largest timedelta, in whole days
    ],
    ids=lambda v: repr(v)[:24],
)
def test_longer_than_ten_years_is_a_value_error_never_an_overflow(value: object) -> None:
    """Regression: '9999999999w' raised OverflowError, which the docs never promised."""
    with pytest.raises(ValueError, match=r"at most 10 years \(3650d\)"):
        parse_duration(value)


def test_leading_zeros_do_not_count_towards_the_limit() -> None:
    assert parse_duration("0" * 5000 + "3d") == timedelta(days=3)


@given(st.integers(min_value=1, max_value=int(MAX_DURATION.total_seconds())))
def test_now_plus_any_duration_stays_far_from_the_end_of_time(seconds: int) -> None:
    """Why ten years: from any date a CRM will see, adding a duration cannot overflow."""
    delta = parse_duration(format_duration(timedelta(seconds=seconds)))
    assert datetime(9000, 1, 1, tzinfo=UTC) + delta < datetime.max.replace(tzinfo=UTC)


def test_years_and_months_are_refused_with_a_hint() -> None:
    with pytest.raises(ValueError, match="years and months have no fixed length"):
        parse_duration("P1M")


# ---- the pattern the editor schema uses ------------------------------------------------------


def accepted_by_pattern(text: str) -> bool:
    """What jsonschema does with a ``pattern``: ``re.search`` in the whole string."""
    return re.search(DURATION_PATTERN, text) is not None


def accepted_by_loader(text: str) -> bool:
    try:
        parse_duration(text)
    except ValueError:
        return False
    return True


def parts_over_the_limit(text: str) -> bool:
    """An ISO duration whose parts each fit in ten years but whose sum does not."""
    units = {"w": 604800, "d": 86400, "h": 3600, "m": 60, "s": 1}
    parts = re.findall(r"([0-9]+)([A-Za-z])", text)
    if not text.strip().upper().startswith("P") or len(parts) < 2:
        return False
    total = sum(int(n) * units[u.lower()] for n, u in parts)
    return total > MAX_DURATION.total_seconds()


@pytest.mark.parametrize(
    "text",
    [
        "3d",
        " 3d ",
        "3 d",
        "P3D",
        "p14d",
        "PT12H",
        "P1DT2H",
        "3650d",
        "3651d",
        "522w",
        "0d",
        "PT0S",
        "P1M",
        "Pfoo",
        "P",
        "PT",
        "P1DT",
        "3dd",
        "-3d",
        "3",
        "",
        "3d\n",
        "\n3d",
    ],
    ids=repr,
)
def test_pattern_and_loader_agree_on_known_cases(text: str) -> None:
    """Regression: the schema's pattern accepted P1M, 0d and Pfoo, which the loader refuses."""
    assert accepted_by_pattern(text) == accepted_by_loader(text)
