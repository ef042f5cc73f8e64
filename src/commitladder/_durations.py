"""Durations as people write them in ladders: ``30m``, ``12h``, ``3d``, ``2w`` or ISO 8601.

Parsing never guesses: a bare number has no unit and is refused, and so is zero.
"""

from __future__ import annotations

import re
from datetime import timedelta

__all__ = ["format_duration", "parse_duration"]

_SHORT = re.compile(r"^\s*(\d+)\s*([smhdw])\s*$")
_ISO = re.compile(
    r"^P(?!$)(?:(?P<weeks>\d+)W)?(?:(?P<days>\d+)D)?"
    r"(?:T(?=\d)(?:(?P<hours>\d+)H)?(?:(?P<minutes>\d+)M)?(?:(?P<seconds>\d+)S)?)?$"
)
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}
_HINT = "write a number and a unit (30m, 12h, 3d, 2w) or an ISO 8601 duration such as P3D"


def parse_duration(value: object) -> timedelta:
    """Turn ``'3d'``, ``'PT12H'`` or a ``timedelta`` into a positive ``timedelta``.

    Raises ``ValueError`` with a message fit for a ladder author.
    """
    if isinstance(value, timedelta):
        delta = value
    elif isinstance(value, bool) or not isinstance(value, str):
        raise ValueError(f"{value!r} is not a duration: {_HINT}")
    else:
        delta = _parse_text(value)
    if delta <= timedelta(0):
        raise ValueError(f"{value!r} is not a positive duration: {_HINT}")
    return delta


def _parse_text(text: str) -> timedelta:
    short = _SHORT.match(text)
    if short:
        return timedelta(seconds=int(short.group(1)) * _UNITS[short.group(2)])
    iso = _ISO.match(text.strip().upper())
    if iso:
        parts = {k: int(v) for k, v in iso.groupdict().items() if v is not None}
        return timedelta(**parts)
    raise ValueError(f"{text!r} is not a duration: {_HINT}")


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
