"""The fold: the one function that turns an event into the next state.

Live commands and replay both run it, so a history always replays to the state
the commands left. It trusts its events (the rules made them, or a store kept
them) and never refuses anything: an event that does not fit the ladder is a
``LadderError`` naming it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, assert_never

from ._calendar import after
from ._errors import LadderError
from ._events import (
    AskExpired,
    AskIssued,
    AskWithdrawn,
    Committed,
    Declined,
    Ended,
    Enrolled,
    Event,
    FollowedUp,
    LateCommitment,
    Migrated,
    Parked,
    Rekeyed,
    Resumed,
)
from ._remap import remap
from ._state import ASK_WINDOW, EMPTY, Identity, State
from ._values import Ask

if TYPE_CHECKING:
    from datetime import datetime

    from ._ladder import Ladder

__all__ = ["fold", "fold_all", "start"]

_new = tuple.__new__  # an Ask from its fields in order, on every ask


def start(ladder: Ladder, enrolled: Enrolled) -> State:
    """The state right after ``enrolled``: ready at the start of ``ladder``."""
    if enrolled.ladder != ladder.name:
        raise LadderError(
            f"enrollment {enrolled.enrollment_id!r} is on ladder {enrolled.ladder!r}, "
            f"not {ladder.name!r}"
        )
    s = State.__new__(State)
    s.ident = Identity(
        enrolled.enrollment_id,
        enrolled.prospect,
        enrolled.ladder,
        enrolled.version,
        enrolled.timezone,
        enrolled.tenant,
    )
    s.state = ladder.tables.ready[None]
    s.status = "ready"
    s.position = s.outcome = s.pending = s.redirect = s.expired = None
    s.needs = s.resume_at = s.end = s.committed_at = None
    s.cooldowns = s.facts = EMPTY
    s.asked = ()
    s.earlier = EMPTY
    s.unanswered = 0
    s.seq = enrolled.seq
    s.at = s.since = enrolled.at
    return s


def fold(ladder: Ladder, state: State, event: Event) -> State:
    """The state after ``event`` (``state`` itself is left as it was)."""
    s = state.copy()
    _apply(ladder, s, event)
    return s


def fold_all(ladder: Ladder, state: State, events: tuple[Event, ...]) -> State:
    """The state after ``events``, folded one by one (``state`` is left as it was).

    The same as folding each with ``fold``, with one copy for the lot: a command records
    one or two events, and copying the state is most of a fold's cost."""
    s = state.copy()
    for event in events:
        _apply(ladder, s, event)
    return s


def _waits(ladder: Ladder, s: State, at: datetime, channel: str) -> datetime | None:
    """When a message made at ``at`` over ``channel`` goes out if it waits for its send
    window, else None (ladders without windows stop at the first test)."""
    calendar = ladder.calendar
    if calendar is None or not calendar.windows:
        return None
    opens = calendar.opens(at, channel, s.ident.timezone)
    return opens.astimezone(at.tzinfo) if opens != at else None  # in the touch's zone


def _apply(ladder: Ladder, s: State, event: Event) -> None:
    """Fold ``event`` into ``s``, a copy no one else holds yet."""
    s.seq = event.seq
    s.at = event.at
    position = s.position
    tables = ladder.tables
    match event:
        case AskIssued():
            s.since = event.at
            s.state = tables.asking[(position, event.rung)]
            s.status = "pending"
            s.pending = _new(
                Ask,
                (
                    s.ident.id,
                    event.seq,
                    event.rung,
                    event.channel,
                    event.at,
                    event.expires_at,
                    0,
                    event.at,
                    None if ladder.calendar is None else _waits(ladder, s, event.at, event.channel),
                ),
            )
            asked = (*s.asked, event.seq, event.rung)
            if len(asked) > 2 * ASK_WINDOW:  # the oldest ask leaves the window: count it
                oldest = str(asked[1])
                s.earlier = {**s.earlier, oldest: s.earlier.get(oldest, 0) + 1}
                asked = asked[2:]
            s.asked = asked
            s.expired = None
            s.unanswered += 1
        case FollowedUp():
            assert s.pending is not None, "a follow-up with no open ask"
            s.pending = s.pending.touched(event.at, _waits(ladder, s, event.at, event.channel))
        case Committed():
            s.since = event.at
            s.position = event.rung
            s.outcome = event.outcome
            s.state = tables.ready[event.rung]
            s.status = "ready"
            s.pending = s.expired = s.redirect = s.needs = s.resume_at = None
            if event.facts:
                s.facts = {**s.facts, **event.facts}
            s.committed_at = event.at
            s.unanswered = 0
        case Declined() | AskExpired():
            s.since = event.at
            rung = ladder.rungs[event.rung]
            if isinstance(event, AskExpired):
                s.expired = s.pending
            s.pending = None
            if rung.cooldown is not None:
                until = after(event.at, rung.cooldown, ladder.calendar, s.ident.timezone)
                s.cooldowns = {**s.cooldowns, event.rung: until}
            s.state = tables.ready[position]
            s.status = "ready"
            # a redirect is the only next ask; an answer to it (not a withdraw) uses it up
            s.redirect = event.then if event.then in ladder.rungs else None
        case AskWithdrawn():
            s.since = event.at
            s.pending = None
            s.state = tables.ready[position]
            s.status = "ready"
        case Parked():
            s.since = event.at
            s.state = tables.parked[position]
            s.status = "parked"
            s.needs = event.needs
            s.resume_at = event.resume_at
        case Resumed():
            s.since = event.at
            s.state = tables.ready[position]
            s.status = "ready"
            s.needs = s.resume_at = None
        case Ended():
            s.since = event.at
            s.state = event.end
            s.status = "ended"
            s.end = event.end
            # ``expired`` stays: a late yes to the ask that expired into this end is kept
            s.pending = s.redirect = s.needs = s.resume_at = None
        case LateCommitment():
            pass  # recorded for the seller; the climb does not move
        case Migrated():
            remap(ladder, s, event)
        case Rekeyed():
            s.ident = s.ident._replace(prospect=event.prospect)  # the zone and tenant stay
        case Enrolled():
            raise LadderError(
                f"event {event.seq} of {event.enrollment_id!r} is a second Enrolled; "
                "a history has one, first"
            )
        case _:
            assert_never(event)
