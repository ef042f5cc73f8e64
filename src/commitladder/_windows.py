"""Send windows applied to an enrollment's timers: what would fire outside its window
fires at the window's next opening.

Only ladders whose calendar declares ``send_windows`` come here; ``due`` never calls in
otherwise, so ladders without windows pay nothing. A follow-up falls due its spacing
after the last touch's message went out (not after it was made: a follow-up must not
land with the message it follows), at its channel's window; the seller's alerts (a next
step overdue, a resume date) keep to the ``default`` window. An expiry is not a message
and is never moved.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ._calendar import after
from ._values import Timer

if TYPE_CHECKING:
    from ._calendar import Calendar
    from ._ladder import Ladder
    from ._state import State
    from ._values import Ask

__all__ = ["sending", "windowed"]


def windowed(
    ladder: Ladder, calendar: Calendar, s: State, timers: list[Timer]
) -> tuple[Timer, ...]:
    """``timers`` with each due time moved to its window's next opening."""
    zone = s.ident.timezone
    ask = s.pending
    out = []
    for timer in timers:
        if timer.kind == "expire":
            out.append(timer)
            continue
        which, due = None, timer.due_at
        if timer.kind == "follow_up" and ask is not None:
            which = ask.channel
            every = ladder.rungs[ask.rung].follow_ups_every
            sent = calendar.opens(ask.last_touch_at, which, zone)
            if every is not None and sent != ask.last_touch_at:
                due = after(sent, every, calendar, zone)
        opens = calendar.opens(due, which, zone)
        out.append(timer if opens == timer.due_at else Timer(timer.kind, opens, timer.rung))
    return tuple(out)


def sending(ladder: Ladder, s: State, ask: Ask) -> str:
    """``"; its message goes out <when>"`` for an open ask whose latest message waits for
    its send window, and what a throttle may add, else ``""`` (refusals that name the
    open ask say it). A throttle's queue is the store's: this can only say it may."""
    throttled = not ask.follow_ups and any(
        rule.channel in (None, ask.channel) for rule in ladder.throttles
    )
    calendar = ladder.calendar
    opens = ask.not_before
    if calendar is None or opens is None:
        return "; a throttle may hold its message later" if throttled else ""
    shown = opens.astimezone(calendar.zone(s.ident.timezone))
    later = ", or later if a throttle queued it" if throttled else ""
    return f"; its message goes out {shown:%Y-%m-%d %H:%M} {shown.tzname()}{later}"
