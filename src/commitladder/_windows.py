"""Send windows applied to an enrollment's timers: what would fire outside its window
fires at the window's next opening.

Only ladders whose calendar declares ``send_windows`` come here; ``due`` never calls in
otherwise, so ladders without windows pay nothing. A follow-up timer keeps to the open
ask's channel window; the seller's alerts (a next step overdue, a resume date) keep to
the ``default`` window. An expiry is not a message and is never moved.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ._values import Timer

if TYPE_CHECKING:
    from ._calendar import Calendar
    from ._state import State

__all__ = ["windowed"]


def windowed(calendar: Calendar, s: State, timers: list[Timer]) -> tuple[Timer, ...]:
    """``timers`` with each due time moved to its window's next opening."""
    zone = s.ident.timezone
    channel = s.pending.channel if s.pending is not None else None
    out = []
    for timer in timers:
        if timer.kind == "expire":
            out.append(timer)
            continue
        which = channel if timer.kind == "follow_up" else None
        opens = calendar.opens(timer.due_at, which, zone)
        out.append(timer if opens == timer.due_at else Timer(timer.kind, opens, timer.rung))
    return tuple(out)
