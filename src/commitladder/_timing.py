"""When things happen for one prospect: the times the library itself computes for an ask.

``timeline`` runs an in-memory enrollment through an ask and its follow-ups (each made
the moment it falls due) and reads the times back from it, so what it shows is what a
tracker would do, not a second reckoning: when the ask's message goes out, when each
follow-up falls due and goes out, when the ask expires. Throttles are left out: where a
capped ask lands depends on the other asks in the store.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ._ladder import Ladder

__all__ = ["Moment", "timeline"]


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
) -> list[Moment]:
    """The times of an ask for ``rung`` over ``channel`` made at ``at`` to a prospect in
    ``timezone``: the ask, its message, each follow-up (made when due) and the expiry."""
    from ._enrollment import Enrollment

    rung = rung or ladder.start[0]
    allowed = ladder.rungs[rung].channels if rung in ladder.rungs else None
    channel = channel or (allowed[0] if allowed else "email")
    e = Enrollment.start(ladder, "prospect", now=at, timezone=timezone)
    ask = e.ask(rung, channel=channel, now=at)
    moments = [Moment("asked", at), Moment("ask goes out", e.sends_at())]
    for number in range(1, ladder.rungs[rung].follow_ups_max + 1):
        due = [t for t in e.timers if t.kind == "follow_up"]
        if not due or (ask.expires_at is not None and due[0].due_at >= ask.expires_at):
            break
        moments.append(Moment(f"follow-up {number} due", due[0].due_at))
        e.follow_up(now=due[0].due_at)
        moments.append(Moment(f"follow-up {number} goes out", e.sends_at()))
    if ask.expires_at is not None:
        moments.append(Moment("expires", ask.expires_at))
    return moments
