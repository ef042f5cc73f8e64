"""Durations as people write them in ladders: ``30m``, ``12h``, ``3d``, ``2w`` or ISO 8601.

Parsing never guesses: a bare number has no unit and is refused, and so is zero.
A duration is at most ten years (``MAX_DURATION``), so that ``now + duration`` stays
thousands of years away from the end of ``datetime``'s range: a ladder that loads can
never overflow at run time because of its own durations. ``DURATION_PATTERN`` is the
text form as one regular expression, valid in Python and in JavaScript, for the JSON
Schema editors use.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import timedelta

__all__ = ["DURATION_PATTERN", "MAX_DURATION", "format_duration", "parse_duration"]

#: The longest duration a ladder may use: ten years of 365 days.
MAX_DURATION = timedelta(days=3650)

_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}
_MAX_SECONDS = int(MAX_DURATION.total_seconds())
_HINT = "write a number and a unit (30m, 12h, 3d, 2w) or an ISO 8601 duration such as P3D"
_LONGEST = "10 years (3650d)"


def _up_to(limit: int) -> str:
    """A regular expression for the decimal numbers 0..``limit``, leading zeros allowed."""
    digits = str(limit)
    width = len(digits)

    def any_digits(count: int) -> str:
        return "" if count == 0 else "[0-9]" if count == 1 else f"[0-9]{{{count}}}"

    def between(low: int, high: int) -> str:
        return str(low) if low == high else f"[{low}-{high}]"

    if width == 1:
        return f"0*{between(0, limit)}"
    shorter = ["[0-9]", *(f"[1-9]{any_digits(n - 1)}" for n in range(2, width))]
    as_wide = []  # width digits: the limit's first i digits, then a smaller one, then any
    for i, digit in enumerate(digits):
        low = 1 if i == 0 else 0
        if int(digit) > low:
            as_wide.append(digits[:i] + between(low, int(digit) - 1) + any_digits(width - i - 1))
    return "0*(?:" + "|".join([*shorter, *as_wide, digits]) + ")"


def _template(number: Callable[[str], str], *, lookahead: str = "") -> str:
    """The duration syntax, with ``number(unit)`` standing for each number in it.

    One template gives both the loader's reading (numbers of any size) and the schema's
    pattern (each number within ten years of its unit), so the two cannot drift apart.
    """
    space, gap = "[ \\t\\r\\n]*", "[ \\t]*"
    short = "|".join(f"{number(u)}{gap}{u}" for u in "wdhms")
    iso = (
        f"[Pp](?:{number('w')}[Ww])?(?:{number('d')}[Dd])?"
        f"(?:[Tt](?=[0-9])(?:{number('h')}[Hh])?(?:{number('m')}[Mm])?(?:{number('s')}[Ss])?)?"
    )
    return f"^{lookahead}{space}(?:{short}|{iso}){space}$"


#: The text forms the loader accepts, as one pattern (JSON Schema's ``pattern``): a
#: number and a unit, or ISO 8601 weeks, days, hours, minutes and seconds, not zero, and
#: no number over ten years of its unit. An ISO duration adds its parts, which a pattern
#: cannot: the loader also refuses one whose parts add up to more than ten years.
DURATION_PATTERN = _template(
    lambda unit: _up_to(_MAX_SECONDS // _UNITS[unit]),
    lookahead="(?=[^1-9]*[1-9])",  # some digit is not 0: the duration is not zero
)

_READ = re.compile(_template(lambda unit: "[0-9]+"))
_PART = re.compile(r"([0-9]+)[ \t]*([A-Za-z])")  # in text _READ matched: a number, its unit
_YEARS_OR_MONTHS = re.compile(r"^\s*P[0-9]+[YM]", re.IGNORECASE)


def parse_duration(value: object) -> timedelta:
    """Turn ``'3d'``, ``'PT12H'`` or a ``timedelta`` into a positive ``timedelta``.

    Raises ``ValueError`` with a message fit for a ladder author: for anything that is
    not a duration, for zero, for a fraction of a second and for more than ten years.
    """
    if isinstance(value, timedelta):
        if value % timedelta(seconds=1):
            raise ValueError(
                f"{value!r} is not a whole number of seconds, and a ladder duration is: round it"
            )
        seconds = value // timedelta(seconds=1)
    elif isinstance(value, bool) or not isinstance(value, str):
        raise ValueError(f"{_shown(value)} is not a duration: {_HINT}")
    else:
        seconds = _seconds(value)
    if seconds <= 0:
        raise ValueError(f"{_shown(value)} is not a positive duration: {_HINT}")
    if seconds > _MAX_SECONDS:
        raise ValueError(
            f"{_shown(value)} is longer than a ladder duration may be: at most {_LONGEST}"
        )
    return timedelta(seconds=seconds)


def _shown(value: object) -> str:
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


def _seconds(text: str) -> int:
    """The seconds ``text`` stands for, never building a number too big to matter."""
    match = _READ.match(text)
    if match is None:
        if _YEARS_OR_MONTHS.match(text):
            raise ValueError(
                f"{_shown(text)} is not a duration: years and months have no fixed length; "
                "write weeks or days instead (52w, 30d)"
            )
        raise ValueError(f"{_shown(text)} is not a duration: {_HINT}")
    total = 0
    for digits, unit in _PART.findall(text):
        significant = digits.lstrip("0")
        if len(significant) > len(str(_MAX_SECONDS)):  # over the limit, whatever the unit
            return _MAX_SECONDS + 1
        total += int(significant or "0") * _UNITS[unit.lower()]
    return total


def format_duration(delta: timedelta) -> str:
    """The shortest short form that parses back to ``delta`` exactly (``'2w'``, ``'36h'``)."""
    seconds = int(delta.total_seconds())
    if seconds != delta.total_seconds() or seconds <= 0:
        raise ValueError(f"{delta!r} cannot be written as a ladder duration")
    for unit in ("w", "d", "h", "m"):
        size = _UNITS[unit]
        if seconds % size == 0:
            return f"{seconds // size}{unit}"
    return f"{seconds}s"
