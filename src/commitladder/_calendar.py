"""Working calendars: which days count as business days, and time arithmetic on them.

A ``Calendar`` is a working week, a set of holidays (a country's and subdivision's
from the ``holidays`` package, plus extra dates) and a default time zone. It is pure:
it reads no clock, and the same question always gets the same answer. ``holidays`` is
imported only by a calendar that names a country, so ``import commitladder`` and every
ladder without one never load it. ``BusinessDays`` is the ``3bd`` duration: a count of
business days, which only a calendar can turn into an instant.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta, tzinfo
from functools import lru_cache
from types import MappingProxyType
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from ._durations import format_duration, parse_duration
from ._errors import UnknownTimeZone

__all__ = [
    "BUSINESS_DAYS_PATTERN",
    "MAX_BUSINESS_DAYS",
    "WEEKDAYS",
    "BusinessDays",
    "Calendar",
    "Span",
    "Window",
    "after",
    "check_zone",
    "format_span",
    "format_window",
    "holiday_source",
    "next_open",
    "parse_span",
    "parse_window",
    "zone",
]

#: The most business days a ladder duration may count: ten years of working weeks.
MAX_BUSINESS_DAYS = 2600
#: Weekday names as a ladder writes them, Monday first (``date.weekday()`` order).
WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
#: ``3bd`` as one regular expression (JSON Schema's ``pattern``): 1 to 2600 business days.
BUSINESS_DAYS_PATTERN = (
    "^[ \\t\\r\\n]*0*(?:[1-9][0-9]{0,2}|1[0-9]{3}|2[0-5][0-9]{2}|2600)[ \\t]*[bB][dD][ \\t\\r\\n]*$"
)
_LATEST = datetime.max.replace(tzinfo=UTC)
_BUSINESS = re.compile(r"^\s*0*([0-9]{1,6})[ \t]*bd\s*$", re.IGNORECASE)
# the longest run of days with no business day a calendar may have (a holiday season in
# a four-day week is far below it): a lookup gives up rather than loop for ever
_LONGEST_BREAK = 366


@dataclass(frozen=True, slots=True)
class BusinessDays:
    """A duration counted in business days (``3bd``): the same local time of day on the
    ``count``-th business day after the start, in the enrollment's time zone."""

    count: int

    def __post_init__(self) -> None:
        if type(self.count) is not int or not 0 < self.count <= MAX_BUSINESS_DAYS:
            raise ValueError(
                f"{self.count!r} is not a business-day count: give 1 to {MAX_BUSINESS_DAYS}"
            )

    def __str__(self) -> str:
        return f"{self.count}bd"


#: A ladder duration: calendar time (``timedelta``) or business days.
Span = timedelta | BusinessDays


def parse_span(value: object) -> Span:
    """``'3bd'`` -> ``BusinessDays(3)``; anything else as ``parse_duration`` reads it."""
    if isinstance(value, BusinessDays):
        return value
    if isinstance(value, str):
        match = _BUSINESS.match(value)
        if match is not None:
            count = int(match.group(1))
            if count == 0:
                raise ValueError(f"{value!r} is not a positive duration: write 1bd or more")
            if count > MAX_BUSINESS_DAYS:
                raise ValueError(
                    f"{value!r} is longer than a ladder duration may be: "
                    f"at most {MAX_BUSINESS_DAYS}bd"
                )
            return BusinessDays(count)
    return parse_duration(value)


def format_span(span: Span) -> str:
    """The short form of ``span``, which ``parse_span`` reads back (``'3bd'``, ``'2w'``)."""
    return str(span) if isinstance(span, BusinessDays) else format_duration(span)


@lru_cache(maxsize=512)
def zone(name: str) -> ZoneInfo:
    """The IANA time zone ``name`` (``'Asia/Kolkata'``), or a ``ValueError`` that says
    what to write instead."""
    if not isinstance(name, str) or not name or len(name) > 64 or "\x00" in name:
        raise ValueError(f"{name!r} is not a time zone: write an IANA name such as Europe/Berlin")
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, OSError) as exc:
        raise ValueError(
            f"{name!r} is not a time zone this system knows: write an IANA name such as "
            "Europe/Berlin or America/New_York (install the `tzdata` package where the "
            "system has no zone data)"
        ) from exc


def check_zone(value: object, name: str = "timezone") -> str | None:
    """``value`` when it is None or a time zone this system knows, else ``UnknownTimeZone``
    (or a ``TypeError`` for what is not a string) naming the argument."""
    if value is None:
        return None
    if not isinstance(value, str):
        raise TypeError(f"{name} must be an IANA time zone name, not {type(value).__name__}")
    try:
        zone(value)
    except ValueError as exc:
        raise UnknownTimeZone(f"{name}={exc}") from None
    return value


def holiday_source(
    country: str, subdivision: str | None = None
) -> Callable[[int], frozenset[date]]:
    """The public holidays of ``country`` (and ``subdivision``) per year, from the
    ``holidays`` package; a ``ValueError`` names the codes it knows when one is wrong."""
    try:
        import holidays  # only ladders that name a country load it
    except ImportError as exc:
        raise ValueError(
            f"holidays for {country!r} need the `holidays` package: "
            "pip install 'commitladder[calendars]'"
        ) from exc
    supported: dict[str, Any] = holidays.list_supported_countries()
    if country not in supported:
        close = [c for c in supported if len(c) == 2 and c[:1] == country[:1].upper()][:8]
        raise ValueError(
            f"{country!r} is not a country the holidays package knows: write an ISO 3166 "
            f"code such as US, GB, DE or IN"
            + (f" (codes starting alike: {', '.join(close)})" if close else "")
        )
    subdivisions = [str(s) for s in supported[country]]
    if subdivision is not None and subdivision not in subdivisions:
        shown = ", ".join(subdivisions[:12]) + (", ..." if len(subdivisions) > 12 else "")
        raise ValueError(
            f"{subdivision!r} is not a subdivision of {country}: "
            + (f"write one of {shown}" if subdivisions else f"{country} has none; leave it out")
        )

    def year(number: int) -> frozenset[date]:
        days = holidays.country_holidays(country, subdiv=subdivision, years=number)
        return frozenset(days)

    return year


class Calendar:
    """Business days: a working week, holidays and a default time zone.

    ``holidays`` is a function from a year to that year's holidays (``holiday_source``
    builds one from the ``holidays`` package); ``extra`` lists more days off. A calendar
    keeps each year's holidays once asked, so it is cheap to share among enrollments.
    """

    __slots__ = ("_extra", "_holidays", "_lock", "_years", "timezone", "windows", "working_days")

    def __init__(
        self,
        *,
        timezone: str = "UTC",
        working_days: Iterable[int] = (0, 1, 2, 3, 4),
        holidays: Callable[[int], frozenset[date]] | None = None,
        extra: Iterable[date] = (),
        windows: Mapping[str, Iterable[Window]] | None = None,
    ) -> None:
        days = frozenset(working_days)
        if not days or not days <= set(range(7)):
            raise ValueError("a working week has 1 to 7 days, numbered 0 (Monday) to 6 (Sunday)")
        zone(timezone)
        self.timezone = timezone
        self.working_days = days
        self._holidays = holidays
        self._extra = frozenset(extra)
        #: send windows by channel (``"default"``: every channel not named), sorted
        self.windows: Mapping[str, tuple[Window, ...]] = MappingProxyType(
            {k: tuple(sorted(v)) for k, v in (windows or {}).items()}
        )
        self._years: dict[int, frozenset[date]] = {}
        self._lock = threading.Lock()

    def __repr__(self) -> str:
        week = ",".join(WEEKDAYS[d] for d in sorted(self.working_days))
        return f"Calendar(timezone={self.timezone!r}, working_days={week!r})"

    def zone(self, name: str | None = None) -> ZoneInfo:
        """The zone ``name``, or the calendar's own when ``name`` is None."""
        return zone(name if name is not None else self.timezone)

    def window(self, channel: str | None) -> tuple[Window, ...]:
        """The send windows of ``channel`` (else the ``default`` ones); empty: any time."""
        windows = self.windows
        found = windows.get(channel) if channel is not None else None
        return found if found is not None else windows.get("default", ())

    def opens(self, moment: datetime, channel: str | None, timezone: str | None = None) -> datetime:
        """When a message over ``channel`` made at ``moment`` goes out: ``moment`` when
        its window is open (or it has none), else the window's next opening."""
        spans = self.window(channel)
        return next_open(self, moment, spans, timezone) if spans else moment

    def is_holiday(self, day: date) -> bool:
        """Whether ``day`` is a public holiday or one of the extra days off."""
        if day in self._extra:
            return True
        if self._holidays is None:
            return False
        year = self._years.get(day.year)
        if year is None:
            with self._lock:
                year = self._years.get(day.year)
                if year is None:
                    year = self._years[day.year] = self._holidays(day.year)
        return day in year

    def is_business_day(self, day: date) -> bool:
        """Whether ``day`` is in the working week and not a holiday."""
        return day.weekday() in self.working_days and not self.is_holiday(day)

    def business_day_after(self, day: date, count: int = 1) -> date:
        """The ``count``-th business day after ``day`` (``day`` itself never counts)."""
        if count < 0:
            raise ValueError("count business days forward: give 0 or more")
        one = timedelta(days=1)
        found, gap = 0, 0
        while found < count:
            if day >= date.max - one:
                return date.max
            day += one
            if self.is_business_day(day):
                found, gap = found + 1, 0
            else:
                gap += 1
                if gap > _LONGEST_BREAK:
                    raise ValueError(
                        f"no business day in the {_LONGEST_BREAK} days after {day - one * gap}: "
                        "the calendar's working week and holidays leave no day to work"
                    )
        return day

    def add(self, moment: datetime, span: Span, timezone: str | None = None) -> datetime:
        """``moment`` plus ``span``: plain time for a ``timedelta``, and for business days
        the same local time of day (in ``timezone``, else the calendar's) on the
        ``count``-th business day after ``moment``'s local date. A local time that the
        day's clock change skips moves forward by the gap; it is never earlier than
        ``moment``."""
        if isinstance(span, timedelta):
            try:
                return moment + span
            except OverflowError:
                return _LATEST
        here = self.zone(timezone)
        local = moment.astimezone(here)
        target = self.business_day_after(local.date(), span.count)
        if target.year >= date.max.year:
            return _LATEST
        wall = datetime.combine(target, local.time(), tzinfo=here)  # fold 0: a gap moves forward
        return normal(wall).astimezone(moment.tzinfo)


def normal(wall: datetime) -> datetime:
    """``wall`` (a local time in its zone) as a real instant: a time in a spring-forward
    gap moves forward by the gap (02:30 becomes 03:30), a repeated time keeps its fold."""
    tz: tzinfo | None = wall.tzinfo
    return wall.astimezone(UTC).astimezone(tz)


#: The calendar of a ladder with business-day durations and no ``calendar:`` section:
#: Monday to Friday, in UTC, no holidays.
PLAIN = Calendar()


def after(
    moment: datetime, span: Span, calendar: Calendar | None, timezone: str | None = None
) -> datetime:
    """``moment`` plus ``span`` on ``calendar`` (Monday to Friday in UTC when None), in
    ``timezone`` (else the calendar's); clamped at the end of ``datetime``'s range."""
    if type(span) is timedelta:
        try:
            return moment + span
        except OverflowError:
            return _LATEST
    return (calendar or PLAIN).add(moment, span, timezone)


#: One send window: from ``start`` to ``end`` seconds after local midnight (end 86400 is
#: midnight at the end of the day); a window never spans midnight.
Window = tuple[int, int]
_DAY = 86400


def parse_window(text: object) -> Window:
    """``'08:00-18:00'`` -> ``(28800, 64800)``; ``'24:00'`` may end a window."""
    if not isinstance(text, str):
        raise ValueError(f"{text!r} is not a window: write HH:MM-HH:MM, such as 08:00-18:00")
    match = re.fullmatch(r"\s*([0-9]{1,2}):([0-9]{2})\s*-\s*([0-9]{1,2}):([0-9]{2})\s*", text)
    if match is None:
        raise ValueError(f"{text!r} is not a window: write HH:MM-HH:MM, such as 08:00-18:00")
    h1, m1, h2, m2 = (int(g) for g in match.groups())
    if h1 > 23 or m1 > 59 or m2 > 59 or h2 > 24 or (h2 == 24 and m2):
        raise ValueError(f"{text!r} is not a window: hours run 00-23 (24:00 may end one)")
    start, end = h1 * 3600 + m1 * 60, h2 * 3600 + m2 * 60
    if start >= end:
        raise ValueError(
            f"{text!r} closes before it opens: a window lies within one day "
            "(write 22:00-24:00 and 00:00-06:00 for a night)"
        )
    return start, end


def format_window(window: Window) -> str:
    """``(28800, 64800)`` -> ``'08:00-18:00'``."""
    (h1, m1), (h2, m2) = (divmod(window[0] // 60, 60)), (divmod(window[1] // 60, 60))
    return f"{h1:02d}:{m1:02d}-{h2:02d}:{m2:02d}"


def _wall(moment: datetime, here: ZoneInfo) -> tuple[date, float]:
    local = moment.astimezone(here)
    seconds = local.hour * 3600 + local.minute * 60 + local.second + local.microsecond / 1e6
    return local.date(), seconds


def _first_at_or_after(day: date, seconds: int, here: ZoneInfo) -> tuple[datetime, datetime]:
    """The earliest instant whose wall time on ``day`` is at least ``seconds`` past
    midnight, and the later occurrence of that wall time when the clock repeats it (else
    the same instant)."""
    wall = datetime.combine(day, datetime.min.time()) + timedelta(seconds=seconds)
    first = wall.replace(tzinfo=here).astimezone(UTC)
    second = wall.replace(tzinfo=here, fold=1).astimezone(UTC)
    if first.astimezone(here).replace(tzinfo=None) == wall:  # the wall time exists
        return first, max(first, second)
    # skipped by the clock: the first instant after the gap (found to the second)
    low, high = second, first  # wall(low) is before the gap, wall(high) after it
    while high - low > timedelta(seconds=1):
        middle = low + (high - low) / 2
        middle = middle.replace(microsecond=0)
        if middle <= low:
            break
        if middle.astimezone(here).replace(tzinfo=None) >= wall:
            high = middle
        else:
            low = middle
    return high, high


def next_open(
    calendar: Calendar, moment: datetime, windows: tuple[Window, ...], timezone: str | None = None
) -> datetime:
    """The earliest instant at or after ``moment`` inside one of ``windows`` on a business
    day of ``calendar``, in ``timezone`` (else the calendar's); ``moment`` itself when it
    is inside one. A window's times are wall-clock times: on the day the clock skips its
    opening, it opens when the clock reaches a later time; when the clock repeats an hour,
    the window holds both. The result is in ``moment``'s time zone."""
    here = calendar.zone(timezone)
    found: datetime | None = None
    start_day = moment.astimezone(here).date() - timedelta(days=1)
    for offset in range(_LONGEST_BREAK + 3):
        try:
            day = start_day + timedelta(days=offset)
        except OverflowError:
            break
        if found is not None and day > found.astimezone(here).date() + timedelta(days=1):
            break  # a day later than one found cannot hold an earlier instant
        if not calendar.is_business_day(day):
            continue
        for start, end in windows:
            first, again = _first_at_or_after(day, start, here)
            for candidate in sorted({first, again, moment}):
                if candidate < moment or (found is not None and candidate >= found):
                    continue
                on, seconds = _wall(candidate, here)
                if on == day and start <= seconds < end:
                    found = candidate
                    break
    if found is None:
        raise ValueError(
            f"no send window opens in the {_LONGEST_BREAK} days after {moment.isoformat()}: "
            "the calendar's working week and holidays leave it no day"
        )
    return found.astimezone(moment.tzinfo)
