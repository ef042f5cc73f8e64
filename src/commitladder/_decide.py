"""The rules: one pure function decides what a command records, or why it is refused.

``decide(ladder, state, command, now)`` returns the events the command records,
or the ``Refused`` it meets; it never changes anything, reads no clock and keeps
no state, so ``Enrollment``, ``Tracker`` and ``ladder.machine`` all call the same
rules, and ``why_not`` is the same check as an ask. A wrong argument type is a
``TypeError`` naming the argument; a command dated before the last event is a
``TimeOrderError``: neither is a refusal, both are the caller's mistake.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any, assert_never

from ._calendar import after
from ._clock import aware, later
from ._errors import (
    AskLapsed,
    AskLimitReached,
    AskNotOpen,
    AskPending,
    ChannelNotAllowed,
    EnrollmentEnded,
    EnrollmentParked,
    FollowUpLimitReached,
    FollowUpTooSoon,
    InCooldown,
    MissingFacts,
    NoOpenAsk,
    NotExpiredYet,
    NotNextStep,
    NotParked,
    OutcomeRequired,
    Refused,
    TimeOrderError,
    UnknownEnd,
    UnknownRung,
    check_text,
    did_you_mean,
)
from ._events import (
    AskExpired,
    AskIssued,
    AskWithdrawn,
    Committed,
    Declined,
    Ended,
    Event,
    FollowedUp,
    LateCommitment,
    Parked,
    Resumed,
)
from ._names import prospect_name, speaking
from ._state import ASK_WINDOW
from ._values import PARK, Ask, Timer
from ._windows import sending, windowed
from .commands import AskFor, Command, Commit, Decline, End, Expire, FollowUp, Resume, Withdraw

if TYPE_CHECKING:
    from ._ladder import Ladder, Rung
    from ._state import State

__all__ = ["allowed", "check_facts", "decide", "due", "when", "why_not"]

Decision = tuple[Event, ...] | Refused

# Events are built from their fields in order, as one tuple: the rules make one on every
# command, and the keyword constructor parses its arguments in Python first.
_new = tuple.__new__


def decide(ladder: Ladder, state: State, command: Command, now: datetime) -> Decision:
    """The events ``command`` records on ``state`` at ``now``, or the ``Refused`` it meets."""
    if now < state.at:
        raise TimeOrderError(
            f"now={now.isoformat()} is before the last event of {state.ident.id} "
            f"({state.at.isoformat()}); commands are recorded in time order"
        )
    match command:
        case AskFor():
            return _ask(ladder, state, command, now)
        case Commit():
            return _commit(ladder, state, command, now)
        case FollowUp():
            return _follow_up(ladder, state, command, now)
        case Decline():
            return _answer(ladder, state, command, now, declined=True)
        case Expire():
            return _answer(ladder, state, command, now, declined=False)
        case Withdraw():
            return _withdraw(ladder, state, command, now)
        case Resume():
            return _resume(ladder, state, command, now)
        case End():
            return _end(ladder, state, command, now)
        case _:
            assert_never(command)


def allowed(ladder: Ladder, s: State) -> tuple[str, ...]:
    """The rungs the ladder offers next from ``s`` (a redirect after a no, else the
    next steps from the position), whatever the limits say."""
    if s.redirect is not None:
        return (s.redirect,)
    return ladder.tables.after.get((s.position, s.outcome), ())


def why_not(
    ladder: Ladder, s: State, rung: object, channel: object, now: datetime
) -> Refused | None:
    """The ``Refused`` an ask for ``rung`` over ``channel`` would meet at ``now``, or None."""
    checked = _check_ask(ladder, s, _text(rung, "rung"), _text(channel, "channel", True), now)
    return checked if isinstance(checked, Refused) else None


def due(ladder: Ladder, s: State) -> tuple[Timer, ...]:
    """What is due when on ``s``: the open ask's expiry and next follow-up, an overdue next
    step after a commitment, a parked prospect's resume date."""
    rungs = ladder.rungs
    timers: list[Timer] = []
    if s.pending is not None:
        ask = s.pending
        rung = rungs[ask.rung]
        if ask.expires_at is not None:
            timers.append(Timer("expire", ask.expires_at, ask.rung))
        if ask.follow_ups < rung.follow_ups_max and rung.follow_ups_every is not None:
            every = after(
                ask.last_touch_at, rung.follow_ups_every, ladder.calendar, s.ident.timezone
            )
            timers.append(Timer("follow_up", every, ask.rung))
    elif s.status == "ready" and s.position is not None:
        # committed (or back to ready) with no ask open: there must be a next step soon
        within = rungs[s.position].next_ask_within
        if within is not None:
            overdue = after(s.since, within, ladder.calendar, s.ident.timezone)
            timers.append(Timer("next_step_overdue", overdue, s.position))
    elif s.status == "parked" and s.resume_at is not None:
        timers.append(Timer("resume", s.resume_at, None))
    calendar = ladder.calendar
    if calendar is not None and calendar.windows and timers:
        return windowed(ladder, calendar, s, timers)
    return tuple(timers)


# ---- ask ---------------------------------------------------------------------------------


def _ask(ladder: Ladder, s: State, cmd: AskFor, now: datetime) -> Decision:
    rung_id, channel = cmd.rung, cmd.channel
    if type(rung_id) is not str:
        rung_id = _text(rung_id, "rung")
    if channel is not None and (
        type(channel) is not str or not channel.isascii() or "\x00" in channel
    ):
        channel = _text(channel, "channel", True)
    checked = _check_ask(ladder, s, rung_id, channel, now)
    if isinstance(checked, Refused):
        return checked
    rung, channel = checked
    if rung.channels is None:  # any channel goes: it reaches the store's columns as given
        channel = _text(channel, "channel")
    expires = None
    span = rung.expires_after
    if span is not None:
        if type(span) is timedelta:
            try:
                expires = now + span
            except OverflowError:
                expires = later(now, span)
        else:  # business days, on the ladder's calendar
            expires = after(now, span, ladder.calendar, s.ident.timezone)
    actor, reason = cmd.actor, cmd.reason
    if actor is not None or reason is not None:
        _who(cmd)
    return (
        _new(AskIssued, (s.ident.id, s.seq + 1, now, rung.id, channel, expires, actor, reason)),
    )


def _check_ask(
    ladder: Ladder, s: State, rung_id: str, channel: str | None, now: datetime
) -> Refused | tuple[Rung, str]:
    """The first refusal an ask meets, or the rung and the channel it goes over."""
    if s.status == "ended":
        return _ended_refusal(ladder, s, rung_id)
    rung = ladder.rungs.get(rung_id)
    eid = s.ident.id
    if rung is None:
        return UnknownRung(
            f"ladder {ladder.name!r} has no rung {rung_id!r}{did_you_mean(rung_id, ladder.rungs)}",
            enrollment_id=eid,
            rung=rung_id,
        )
    if s.pending is not None:
        ask = s.pending
        return AskPending(
            f"{_who_is(s)} already has an open ask for {_step(ladder, ask.rung)} "
            f"(asked {when(ask.asked_at)} by {ask.channel}{sending(ladder, s, ask)}); "
            "one commitment at a time: wait for the answer, follow up, or withdraw it first",
            enrollment_id=eid,
            rung=rung_id,
            retry_after=ask.expires_at,
            ask=ask,
        )
    if s.status == "parked":
        return _parked_refusal(s, rung_id)
    # allowed(), inlined: this runs on every ask
    offered = (
        (s.redirect,)
        if s.redirect is not None
        else ladder.tables.after.get((s.position, s.outcome), ())
    )
    if rung_id not in offered:
        where = f"after {_step(ladder, s.position)}" if s.position else "at the start"
        steps = ", ".join(_step(ladder, r) for r in offered) or "none (end the enrollment)"
        return NotNextStep(
            f"{_step(ladder, rung_id)} is not the next step for {_who_is(s)}: {where} the "
            f"next step is {steps}. Ask for one small step at a time; don't jump ahead",
            enrollment_id=eid,
            rung=rung_id,
            position=s.position,
            askable=offered,
        )
    if channel is None:
        channel = rung.channels[0] if rung.channels else "unspecified"
    elif rung.channels is not None and channel not in rung.channels:
        return ChannelNotAllowed(
            f"{_step(ladder, rung_id)} is asked by {', '.join(rung.channels)}, not by {channel}"
            f"{did_you_mean(channel, rung.channels)}",
            enrollment_id=eid,
            rung=rung_id,
            channel=channel,
            allowed=rung.channels,
        )
    asked = s.asked_count(rung_id)
    if rung.max_asks is not None and asked >= rung.max_asks:
        return AskLimitReached(
            f"{_step(ladder, rung_id)} was already asked {asked} time{'s' if asked != 1 else ''} "
            f"(the ladder allows {rung.max_asks}); ask for something else or end the "
            "enrollment",
            enrollment_id=eid,
            rung=rung_id,
            asked=asked,
            max_asks=rung.max_asks,
        )
    until = s.cooldowns.get(rung_id)
    if until is not None and now < until:
        return InCooldown(
            f"{_who_is(s)} turned down or let {_step(ladder, rung_id)} lapse recently; give them "
            f"room and ask again after {when(until)}",
            enrollment_id=eid,
            rung=rung_id,
            retry_after=until,
        )
    return rung, channel


# ---- answers -----------------------------------------------------------------------------


def _follow_up(ladder: Ladder, s: State, cmd: FollowUp, now: datetime) -> Decision:
    ask = s.pending
    if ask is None:
        return _no_ask(ladder, s)
    rung = ladder.rungs[ask.rung]
    channel = cmd.channel
    channel = ask.channel if channel is None else _text(channel, "channel")
    eid = s.ident.id
    if ask.expires_at is not None and now >= ask.expires_at:
        return AskLapsed(
            f"the ask for {_step(ladder, rung.id)} expired at {when(ask.expires_at)}: following "
            "it up now "
            "would chase an answer the ladder no longer waits for; expire it (run_due does) "
            "and ask again when the ladder allows",
            enrollment_id=eid,
            rung=rung.id,
            expired_at=ask.expires_at,
        )
    if rung.channels is not None and channel not in rung.channels:
        return ChannelNotAllowed(
            f"{_step(ladder, rung.id)} is followed up by {', '.join(rung.channels)}, "
            f"not by {channel}",
            enrollment_id=eid,
            rung=rung.id,
            channel=channel,
            allowed=rung.channels,
        )
    limit = rung.follow_ups_max
    if ask.follow_ups >= limit:
        step = _step(ladder, rung.id)
        if limit == 1:
            used = f"the one follow-up of the ask for {step} is used"
        elif limit:
            used = f"all {limit} follow-ups of the ask for {step} are used"
        else:
            used = f"{step} allows no follow-ups"
        return FollowUpLimitReached(
            used + "; wait for the answer or let the ask expire",
            enrollment_id=eid,
            rung=rung.id,
            max=limit,
        )
    assert rung.follow_ups_every is not None  # a rung with follow-ups has a spacing
    due_at = after(ask.last_touch_at, rung.follow_ups_every, ladder.calendar, s.ident.timezone)
    if now < due_at:
        return FollowUpTooSoon(
            f"the last touch on {_step(ladder, rung.id)} was {when(ask.last_touch_at)}; "
            f"follow up again after {when(due_at)}",
            enrollment_id=eid,
            rung=rung.id,
            retry_after=due_at,
        )
    actor, reason = _who(cmd)
    return (
        _new(
            FollowedUp, (eid, s.seq + 1, now, ask.seq, channel, ask.follow_ups + 1, actor, reason)
        ),
    )


def _commit(ladder: Ladder, s: State, cmd: Commit, now: datetime) -> Decision:
    ask_id = cmd.ask_id
    if ask_id is not None:
        ask_id = _text(ask_id, "ask_id")
    pending, expired = s.pending, s.expired
    late = False
    if ask_id is not None and (pending is None or ask_id != pending.id):
        if expired is None or ask_id != expired.id or pending is not None:
            return _late_yes(ladder, s, cmd, ask_id, now)
        ask, late = expired, True
    elif pending is not None:
        ask = pending
    elif expired is not None:
        ask, late = expired, True
    else:
        return _no_ask(ladder, s)
    if s.status == "ended":  # the ask expired into an end: keep the yes for the seller
        return _late_yes(ladder, s, cmd, ask.id, now, rung=ask.rung)
    rung = ladder.rungs[ask.rung]
    outcome = cmd.outcome
    if outcome is not None and type(outcome) is not str:
        outcome = _text(outcome, "outcome")
    eid = s.ident.id
    if rung.outcomes is not None:
        if outcome not in rung.outcomes:
            given = f"{outcome!r} is not one of them" if outcome is not None else "none given"
            return OutcomeRequired(
                f"{_step(ladder, rung.id)} branches on the answer: give outcome= one of "
                f"{', '.join(rung.outcomes)} ({given}){did_you_mean(outcome, rung.outcomes)}",
                enrollment_id=eid,
                rung=rung.id,
                outcome=outcome,
                choices=list(rung.outcomes),
            )
    elif outcome is not None:
        return OutcomeRequired(
            f"{_step(ladder, rung.id)} does not branch; commit without an outcome",
            enrollment_id=eid,
            rung=rung.id,
            outcome=outcome,
            choices=[],
        )
    facts = check_facts(cmd.facts) if cmd.facts is not None else {}
    if rung.requires:
        known = {k for k, v in {**s.facts, **facts}.items() if v is not None and v != ""}
        missing = sorted(rung.requires - known)
        if missing:
            many = len(missing) > 1
            return MissingFacts(
                f"committing to {_step(ladder, rung.id)} needs the fact{'s' if many else ''} "
                f"{', '.join(missing)}; pass {'them' if many else 'it'} in facts={{...}}",
                enrollment_id=eid,
                rung=rung.id,
                missing=missing,
            )
    actor, reason = _who(cmd)
    seq = s.seq + 1
    yes = _new(
        Committed, (eid, seq, now, ask.seq, rung.id, outcome, facts or None, late, actor, reason)
    )
    end = ladder.tables.finish.get((rung.id, outcome))
    if end is None:
        return (yes,)
    result = ladder.ends[end].result
    return yes, _new(Ended, (eid, seq + 1, now, end, result, None, actor, reason))


def _late_yes(
    ladder: Ladder, s: State, cmd: Commit, ask_id: str, now: datetime, *, rung: str | None = None
) -> Decision:
    """A yes to an ask that can no longer be answered: recorded, nothing else moves."""
    eid = s.ident.id
    head, _, number = ask_id.rpartition("#")
    seq = int(number) if head == eid and number.isdigit() else 0
    rung = rung or s.rung_of(seq)
    if rung is None and s.status == "ended":
        return _ended_refusal(ladder, s)
    if rung is None:
        open_id = s.pending.id if s.pending is not None else None
        oldest = s.asked[0] if s.asked else None
        too_old = s.earlier and isinstance(oldest, int) and 0 < seq < oldest
        return AskNotOpen(
            f"{ask_id!r} is older than the last {ASK_WINDOW} asks {eid} remembers; a yes "
            "to it cannot be recorded"
            if too_old
            else f"{ask_id!r} is not an ask of {_who_is(s)}'s enrollment {eid}; "
            "pass the id of the ask the prospect answered (Ask.id), or no ask_id",
            enrollment_id=eid,
            ask_id=ask_id,
            open_ask_id=open_id,
        )
    outcome = _text(cmd.outcome, "outcome", True)
    facts = check_facts(cmd.facts) or None
    actor, reason = _who(cmd)
    return (
        LateCommitment(
            enrollment_id=eid,
            seq=s.seq + 1,
            at=now,
            actor=actor,
            reason=reason,
            ask_seq=seq,
            rung=rung,
            outcome=outcome,
            facts=facts,
        ),
    )


def _answer(
    ladder: Ladder, s: State, cmd: Decline | Expire, now: datetime, *, declined: bool
) -> Decision:
    ask = _answered(ladder, s, cmd.ask_id)
    if isinstance(ask, Refused):
        return ask
    rung = ladder.rungs[ask.rung]
    eid = s.ident.id
    actor, reason = _who(cmd)
    seq = s.seq + 1
    needs: str | None = None
    resume_at: datetime | None = None
    first: Event
    if isinstance(cmd, Decline):
        then = rung.on_decline
        needs = _text(cmd.needs, "needs", True)
        resume_at = _instant(cmd.resume_at, "resume_at")
        first = _new(
            Declined, (eid, seq, now, ask.seq, rung.id, then, needs, resume_at, actor, reason)
        )
    else:
        then = rung.on_expire
        if ask.expires_at is None or now < ask.expires_at:
            lasts = (
                f"runs until {when(ask.expires_at)}"
                if ask.expires_at
                else "never expires (the rung has no expires_after)"
            )
            return NotExpiredYet(
                f"the ask for {_step(ladder, rung.id)} {lasts}; it cannot expire before that",
                enrollment_id=eid,
                rung=rung.id,
                retry_after=ask.expires_at,
            )
        first = _new(AskExpired, (eid, seq, now, ask.seq, rung.id, then, actor, reason))
    if then == PARK:
        cause = "declined" if declined else "expired"
        return first, _new(Parked, (eid, seq + 1, now, cause, needs, resume_at, actor, reason))
    if then in ladder.ends:
        result = ladder.ends[then].result
        return first, _new(Ended, (eid, seq + 1, now, then, result, None, actor, reason))
    return (first,)


def _withdraw(ladder: Ladder, s: State, cmd: Withdraw, now: datetime) -> Decision:
    ask = _answered(ladder, s, cmd.ask_id)
    if isinstance(ask, Refused):
        return ask
    actor, reason = _who(cmd)
    return (
        AskWithdrawn(
            enrollment_id=s.ident.id,
            seq=s.seq + 1,
            at=now,
            actor=actor,
            reason=reason,
            ask_seq=ask.seq,
            rung=ask.rung,
        ),
    )


def _answered(ladder: Ladder | None, s: State, ask_id: object) -> Ask | Refused:
    """The open ask a no, an expiry or a withdrawal answers (the one ``ask_id`` names)."""
    named = _text(ask_id, "ask_id", True)
    if s.status == "ended":
        return _ended_refusal(ladder, s)
    ask = s.pending
    if ask is None:
        return _no_ask(ladder, s)
    if named is not None and named != ask.id:
        return AskNotOpen(
            f"the ask {named!r} is not open; {_who_is(s)}'s open ask is {ask.id} "
            f"(for {_step(ladder, ask.rung)}). Only a yes can be recorded late",
            enrollment_id=s.ident.id,
            rung=ask.rung,
            ask_id=named,
            open_ask_id=ask.id,
        )
    return ask


def _resume(ladder: Ladder, s: State, cmd: Resume, now: datetime) -> Decision:
    if s.status == "ended":
        return _ended_refusal(ladder, s)
    if s.status != "parked":
        return NotParked(
            f"{_who_is(s)} is not parked ({s.status}); there is nothing to resume",
            enrollment_id=s.ident.id,
            status=s.status,
        )
    actor, reason = _who(cmd)
    return (Resumed(enrollment_id=s.ident.id, seq=s.seq + 1, at=now, actor=actor, reason=reason),)


def _end(ladder: Ladder, s: State, cmd: End, now: datetime) -> Decision:
    end = _text(cmd.end, "end")
    if s.status == "ended":
        return _ended_refusal(ladder, s)
    ends = ladder.ends
    if end not in ends:
        return UnknownEnd(
            f"ladder {ladder.name!r} has no end {end!r} (its ends are "
            f"{', '.join(ends)}){did_you_mean(end, ends)}",
            enrollment_id=s.ident.id,
            end=end,
        )
    closed = s.pending.seq if s.pending is not None else None
    actor, reason = _who(cmd)
    return (
        _new(Ended, (s.ident.id, s.seq + 1, now, end, ends[end].result, closed, actor, reason)),
    )


# ---- refusals and checks -----------------------------------------------------------------


def when(moment: datetime) -> str:
    """A moment as a salesperson reads it: ``2026-01-05 09:00 UTC``."""
    return moment.strftime("%Y-%m-%d %H:%M %Z").strip()


def _who_is(s: State) -> str:
    """The prospect as a sentence names them (the host's name under ``naming``)."""
    return prospect_name(s.ident.prospect)


def _step(ladder: Ladder | None, rung_id: str | None) -> str:
    """A rung as a sentence names it: its title under ``naming``, else its id."""
    if rung_id is None:
        return "?"
    if ladder is None or not speaking():
        return rung_id
    rung = ladder.rungs.get(rung_id)
    return rung.title if rung is not None and rung.title else rung_id


def _ended_refusal(ladder: Ladder | None, s: State, rung: str | None = None) -> EnrollmentEnded:
    end = s.end or "?"
    result, said = "", end
    if ladder is not None and end in ladder.ends:
        result = f" ({ladder.ends[end].result})"
        title = ladder.ends[end].title
        said = title if title and speaking() else end
    return EnrollmentEnded(
        f"{_who_is(s)}'s enrollment on {s.ident.ladder} ended at {said}{result}; "
        "it accepts nothing more",
        enrollment_id=s.ident.id,
        end=end,
        rung=rung,
    )


def _parked_refusal(s: State, rung: str | None = None) -> EnrollmentParked:
    needs = f" (needs: {s.needs})" if s.needs else ""
    planned = f"; a resume is planned for {when(s.resume_at)}" if s.resume_at else ""
    return EnrollmentParked(
        f"{_who_is(s)}'s deal is parked{needs}{planned}; resume() it once they have what they need",
        enrollment_id=s.ident.id,
        rung=rung,
        needs=s.needs,
        resume_at=s.resume_at,
    )


def _no_ask(ladder: Ladder | None, s: State) -> Refused:
    if s.status == "ended":
        return _ended_refusal(ladder, s)
    if s.status == "parked":
        return _parked_refusal(s)
    return NoOpenAsk(
        f"{_who_is(s)} has no open ask; ask for a commitment first",
        enrollment_id=s.ident.id,
    )


def _who(cmd: Command) -> tuple[str | None, str | None]:
    actor, reason = cmd.actor, cmd.reason
    if actor is None and reason is None:
        return actor, reason
    if actor is not None and type(actor) is not str:
        raise TypeError(f"actor must be a string (who did it) or None, not {_kind(actor)}")
    if reason is not None and type(reason) is not str:
        raise TypeError(f"reason must be a string or None, not {_kind(reason)}")
    return actor, reason


def _kind(value: object) -> str:
    return type(value).__name__


def _text(value: Any, name: str, optional: bool = False) -> Any:
    """``value`` when it is a string (or ``None`` where that is allowed), else a TypeError
    that names the argument, before the value reaches a lookup or a sentence."""
    if type(value) is str:
        return value if value.isascii() and "\x00" not in value else check_text(value, name)
    if optional and value is None:
        return value
    if isinstance(value, str):
        return check_text(value, name)
    expected = "a string or None" if optional else "a string"
    raise TypeError(f"{name} must be {expected}, not {_kind(value)}")


def _instant(value: object, name: str) -> datetime | None:
    if value is None:
        return None
    if not isinstance(value, datetime):
        raise TypeError(f"{name} must be an aware datetime or None, not {_kind(value)}")
    return aware(value, name)


def check_facts(facts: object) -> dict[str, Any]:
    """``facts`` as a plain dict of JSON values (``{}`` for ``None``), else a TypeError."""
    if facts is None:
        return {}
    if not isinstance(facts, Mapping) or not all(isinstance(k, str) for k in facts):
        raise TypeError(f"facts must be a mapping with string keys, not {_kind(facts)}")
    for key, value in facts.items():
        if not _json_value(value):
            raise TypeError(
                f"fact {key!r} is a {_kind(value)}; facts hold JSON values only "
                "(strings, numbers, booleans, lists, mappings)"
            )
    return dict(facts)


def _json_value(value: object) -> bool:
    if value is None or isinstance(value, (str, int, float, bool)):
        return True
    if isinstance(value, (list, tuple)):
        return all(_json_value(v) for v in value)
    if isinstance(value, Mapping):
        return all(isinstance(k, str) and _json_value(v) for k, v in value.items())
    return False
