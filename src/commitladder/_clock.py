"""Clocks: the only way commitladder learns the time.

Nothing reads the wall clock behind the caller's back: enrollments and trackers
ask their clock, and every time-dependent call also takes ``now=``. Times are
always timezone-aware; a naive datetime is refused, never guessed at.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Protocol, runtime_checkable

from ._errors import NaiveDatetimeError

__all__ = ["Clock", "SteppableClock", "SystemClock", "aware", "later"]

_LATEST = datetime.max.replace(tzinfo=UTC)


@runtime_checkable
class Clock(Protocol):
    """Something that tells the current time as an aware ``datetime``."""

    def now(self) -> datetime: ...


class SystemClock:
    """The real time, in UTC."""

    def now(self) -> datetime:
        return datetime.now(UTC)

    def __repr__(self) -> str:
        return "SystemClock()"


class SteppableClock:
    """A clock for tests and simulations: stands still until told to move."""

    def __init__(self, start: datetime | None = None) -> None:
        self._now = (
            aware(start, "start") if start is not None else datetime(2026, 1, 5, 9, tzinfo=UTC)
        )

    def now(self) -> datetime:
        return self._now

    def advance(self, delta: timedelta | None = None, /, **units: float) -> datetime:
        """Move forward by ``delta`` or by ``days=``, ``hours=`` ...; returns the new time."""
        step = (delta or timedelta()) + timedelta(**units)
        if step < timedelta(0):
            raise ValueError("a clock only moves forward")
        self._now += step
        return self._now

    def set(self, when: datetime) -> None:
        """Jump to ``when`` (not before the current time)."""
        when = aware(when, "when")
        if when < self._now:
            raise ValueError("a clock only moves forward")
        self._now = when

    def __repr__(self) -> str:
        return f"SteppableClock({self._now.isoformat()})"


def later(moment: datetime, delta: timedelta) -> datetime:
    """``moment + delta``, or the last instant ``datetime`` can hold when that is later:
    time arithmetic near the end of the calendar clamps, it never crashes."""
    try:
        return moment + delta
    except OverflowError:
        return _LATEST if delta > timedelta(0) else datetime.min.replace(tzinfo=UTC)


def aware(value: datetime, name: str = "now") -> datetime:
    """Return ``value`` if it is an aware datetime, else raise a clear error."""
    if not isinstance(value, datetime):
        raise TypeError(f"{name} must be an aware datetime, not {type(value).__name__}")
    if value.tzinfo is None or value.utcoffset() is None:
        raise NaiveDatetimeError(
            f"{name}={value.isoformat()} has no timezone; pass an aware datetime, "
            "e.g. datetime.now(timezone.utc)"
        )
    return value
