"""Throttles: at most N first asks per day or per hour, per ladder, channel or sender.

An ask over its cap is never refused: its message is queued for the first period with
room, in the order asks were made, and the outbox holds it until then. This module is
the pure part: which caps a message counts against, period arithmetic in the sender's
zone, and ``slot``, the search for the first time every cap has room. The stores supply
the atomic reservation (a counter per cap and period, raised only while under the cap),
so many workers and relays never put more than N in one period. A queued ask's first
follow-up counts from the queued time (``Throttle.follows``): the stores move its timer
in the same transaction, so a follow-up never goes out before, or with, the ask it
follows. It never reads a clock.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Literal

from ._calendar import after
from ._calendar import zone as _zone

if TYPE_CHECKING:
    from ._ladder import Ladder
    from .store import DueTimer

__all__ = [
    "Cap",
    "Throttle",
    "ThrottleRule",
    "follows",
    "next_period",
    "period_start",
    "queued_timers",
    "slot",
]

Per = Literal["day", "hour"]
#: how many periods ``slot`` looks ahead before it gives up (years of hours)
_MAX_PERIODS = 100_000


@dataclass(frozen=True, slots=True)
class Cap:
    """One counter: at most ``most`` messages per ``per`` (in ``timezone``) under ``key``."""

    key: str
    most: int
    per: Per
    timezone: str = "UTC"


@dataclass(frozen=True, slots=True)
class Throttle:
    """What a message counts against, and where its channel's window next opens."""

    caps: tuple[Cap, ...]
    opens: Callable[[datetime], datetime]
    #: when the ask's first follow-up falls due if its message goes out at an instant
    #: (None: its rung has no follow-ups)
    follows: Callable[[datetime], datetime] | None = None


def follows(
    ladder: Ladder, rung: str, channel: str, timezone: str | None
) -> Callable[[datetime], datetime] | None:
    """When a follow-up of an ask for ``rung`` over ``channel`` falls due if the ask's
    message goes out at an instant: its spacing later, at its window (as ``due`` reckons
    from the send window), or None for a rung without follow-ups."""
    spec = ladder.rungs[rung]
    every = spec.follow_ups_every
    if every is None or spec.follow_ups_max < 1:
        return None
    calendar = ladder.calendar

    def follow_up(sent: datetime) -> datetime:
        due = after(sent, every, calendar, timezone)
        return calendar.opens(due, channel, timezone) if calendar is not None else due

    return follow_up


def queued_timers(timers: Sequence[DueTimer], throttle: Throttle, sent: datetime) -> list[DueTimer]:
    """``timers`` of an ask whose message a throttle queued until ``sent``: its follow-up
    falls due after that, never before; the expiry (and every other timer) stays."""
    if throttle.follows is None:
        return list(timers)
    later = throttle.follows(sent)
    return [
        replace(t, due_at=later) if t.kind == "follow_up" and t.due_at < later else t
        for t in timers
    ]


def period_start(moment: datetime, per: Per, timezone: str) -> datetime:
    """The start (in UTC) of the day or hour, in ``timezone``, that holds ``moment``."""
    here = _zone(timezone)
    local = moment.astimezone(here)
    if per == "hour":
        start = local.replace(minute=0, second=0, microsecond=0)
    else:
        midnight = datetime.combine(local.date(), datetime.min.time())
        start = midnight.replace(tzinfo=here)
    start = start.astimezone(UTC)
    if start > moment:  # a midnight the clock skipped: the day began when it jumped
        start = moment.astimezone(UTC)
    return start


def next_period(start: datetime, per: Per, timezone: str) -> datetime:
    """The start (in UTC) of the period after the one starting at ``start``."""
    step = timedelta(hours=1) if per == "hour" else timedelta(days=1)
    probe = start + step
    begun = period_start(probe, per, timezone)
    while begun <= start:  # a repeated hour or a short day: step on
        probe += step
        begun = period_start(probe, per, timezone)
    return begun


Reserve = Callable[[str, datetime, int], bool]
Release = Callable[[str, datetime], None]


def slot(
    caps: Sequence[Cap],
    earliest: datetime,
    opens: Callable[[datetime], datetime],
    reserve: Reserve,
    release: Release,
) -> datetime:
    """The first instant at or after ``earliest`` when every cap has room, reserved.

    ``reserve(key, period, most)`` takes one place in a period if fewer than ``most``
    are taken (atomically, in the store), ``release`` gives one back; ``opens`` moves an
    instant to its channel's send window. A cap that is full moves the search to the
    start of its next period, where the window next opens."""
    when = earliest
    for _ in range(_MAX_PERIODS):
        taken: list[tuple[str, datetime]] = []
        full: Cap | None = None
        for cap in caps:
            period = period_start(when, cap.per, cap.timezone)
            if reserve(cap.key, period, cap.most):
                taken.append((cap.key, period))
            else:
                full = cap
                break
        if full is None:
            return when
        for key, period in taken:
            release(key, period)
        begun = period_start(when, full.per, full.timezone)
        when = opens(next_period(begun, full.per, full.timezone).astimezone(earliest.tzinfo))
    raise ValueError(
        f"no room under the throttles {', '.join(c.key for c in caps)} in "
        f"{_MAX_PERIODS} periods after {earliest.isoformat()}"
    )


@dataclass(frozen=True, slots=True)
class ThrottleRule:
    """A ladder's ``throttles:`` entry: at most ``most`` first asks per ``per``, over
    ``channel`` (every channel when None), per ``sender`` (``"actor"``: whoever asked; a
    mailbox name: everyone asking from it; None: the ladder as a whole)."""

    most: int
    per: Per
    channel: str | None = None
    sender: str | None = None

    def cap(self, ladder: str, channel: str, actor: str | None, timezone: str) -> Cap | None:
        """The counter an ask over ``channel`` by ``actor`` takes a place in, if any.

        A sender's counter is shared by every ladder that caps the same sender: a mail
        provider counts the mailbox, not the ladder."""
        if self.channel is not None and self.channel != channel:
            return None
        over = self.channel or "*"
        if self.sender is None:
            key = f"ladder:{ladder}|{over}|{self.per}"
        else:
            who = (actor or "(no actor)") if self.sender == "actor" else self.sender
            key = f"sender:{who}|{over}|{self.per}"
        return Cap(key, self.most, self.per, timezone)
