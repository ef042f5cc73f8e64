"""Durations: short forms and ISO 8601 parse; ambiguous input is refused; formats round-trip."""

from __future__ import annotations

from datetime import timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from commitladder import format_duration, parse_duration


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


@given(st.integers(min_value=1, max_value=10**9).map(lambda s: timedelta(seconds=s)))
def test_format_round_trips_every_positive_whole_second_duration(delta: timedelta) -> None:
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
