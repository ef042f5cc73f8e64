"""When things happen for one prospect: the times the library itself computes for an ask.

``timeline`` runs an in-memory enrollment through an ask and its follow-ups (each made
the moment it falls due) and reads the times back from it, so what it shows is what a
tracker would do, not a second reckoning: when the ask's message goes out, when each
follow-up falls due and goes out, when the ask expires. Where a throttle caps the ask,
``ahead`` says how many first asks under the same caps are queued before it (the store
knows; this cannot), and ``slot``, the stores' own search, places it after them; its
first follow-up then counts from that time, as the stores count it.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING

from ._throttle import Cap, follows, slot

if TYPE_CHECKING:
    from ._ladder import Ladder

__all__ = ["Moment", "caps", "timeline"]


@dataclass(frozen=True, slots=True)
class Moment:
    """One step of the timeline: what, and when."""

    what: str
    at: datetime


def timeline(
    ladder: Ladder,
    *,
    at: datetime,
    rung: str | None = None,
    channel: str | None = None,
    timezone: str | None = None,
    ahead: int = 0,
) -> list[Moment]:
    """The times of an ask for ``rung`` over ``channel`` made at ``at`` to a prospect in
    ``timezone``: the ask, its message, each follow-up (made when due) and the expiry.

    ``ahead`` first asks under the same throttles are taken to be queued before this
    one (made at ``at`` too); the ask's message then goes out after theirs."""
    from ._enrollment import Enrollment

    if ahead < 0:
        raise ValueError(f"ahead must be 0 or more asks, not {ahead}")
    rung = rung or ladder.start[0]
    allowed = ladder.rungs[rung].channels if rung in ladder.rungs else None
    channel = channel or (allowed[0] if allowed else "email")
    e = Enrollment.start(ladder, "prospect", now=at, timezone=timezone)
    ask = e.ask(rung, channel=channel, now=at)
    moments = [Moment("asked", at), Moment("ask goes out", e.sends_at())]
    capped = caps(ladder, channel)
    if capped:
        calendar = ladder.calendar

        def opens(moment: datetime) -> datetime:
            return moment if calendar is None else calendar.opens(moment, channel, timezone)

        used: Counter[tuple[str, datetime]] = Counter()

        def reserve(key: str, period: datetime, most: int) -> bool:
            if used[key, period] >= most:
                return False
            used[key, period] += 1
            return True

        def release(key: str, period: datetime) -> None:
            used[key, period] -= 1

        queued = e.sends_at()
        for _ in range(ahead + 1):
            queued = slot(capped, e.sends_at(), opens, reserve, release)
        if queued != moments[-1].at:
            moments[-1] = Moment(f"ask goes out ({ahead} ahead under the throttle)", queued)
    # the stores count a queued ask's first follow-up from its queued time, as here
    follow = follows(ladder, rung, channel, timezone) if capped else None
    for number in range(1, ladder.rungs[rung].follow_ups_max + 1):
        due = [t.due_at for t in e.timers if t.kind == "follow_up"]
        if due and number == 1 and follow is not None:
            due[0] = max(due[0], follow(moments[1].at))
        if not due or (ask.expires_at is not None and due[0] >= ask.expires_at):
            break
        moments.append(Moment(f"follow-up {number} due", due[0]))
        e.follow_up(now=due[0])
        moments.append(Moment(f"follow-up {number} goes out", e.sends_at()))
    if ask.expires_at is not None:
        moments.append(Moment("expires", ask.expires_at))
    return moments


def caps(ladder: Ladder, channel: str) -> tuple[Cap, ...]:
    """The throttle caps a first ask over ``channel`` counts against (one sender's)."""
    calendar = ladder.calendar
    zone = calendar.timezone if calendar is not None else "UTC"
    found = (rule.cap(ladder.name, channel, "sender", zone) for rule in ladder.throttles)
    return tuple(cap for cap in found if cap is not None)
