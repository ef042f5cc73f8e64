"""One prospect's climb on one ladder: guards decide, events record, the fold applies.

Every command goes the same way: the guard (a condition on the ladder's machine)
checks the command against the current snapshot and either raises the ``Refused``
it meets or returns the events it would record; the fold turns those events into
the next snapshot; only then does the machine set the state, which swaps the new
snapshot in with one assignment. A refused command therefore changes nothing, and
replaying the history runs the very same fold.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import datetime
from types import MappingProxyType
from typing import TYPE_CHECKING, Any, Literal, NamedTuple

from ._clock import Clock, SystemClock, TimeOrderError, aware
from ._definition import PARK
from ._errors import (
    AskLimitReached,
    AskPending,
    ChannelNotAllowed,
    EnrollmentEnded,
    EnrollmentParked,
    FollowUpLimitReached,
    FollowUpTooSoon,
    InCooldown,
    LadderError,
    MissingFacts,
    NoOpenAsk,
    NotExpiredYet,
    NotNextStep,
    NotParked,
    OutcomeRequired,
    Refused,
    UnknownEnd,
    UnknownRung,
    did_you_mean,
)
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
    Parked,
    Resumed,
    event_from_dict,
)
from ._log import History

if TYPE_CHECKING:
    from ._ladder import Ladder, Rung

__all__ = ["Ask", "Enrollment", "Status", "Timer"]

_log = logging.getLogger("commitladder")
_SYSTEM_CLOCK = SystemClock()
_EMPTY: Mapping[str, Any] = MappingProxyType({})

Status = Literal["ready", "pending", "parked", "ended"]
"""An enrollment's status: ``ready`` (may ask), ``pending`` (one ask open), ``parked``
(stalled until resumed) or ``ended``."""
READY: Status = "ready"
PENDING: Status = "pending"
PARKED: Status = "parked"
ENDED: Status = "ended"

Listener = Callable[[Event], object]


def _when(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%d %H:%M %Z").strip()


class Ask:
    """An open request for one rung's commitment over one channel (immutable)."""

    __slots__ = (
        "asked_at",
        "channel",
        "enrollment_id",
        "expires_at",
        "follow_ups",
        "last_touch_at",
        "rung",
        "seq",
    )

    enrollment_id: str
    seq: int
    rung: str
    channel: str
    asked_at: datetime
    expires_at: datetime | None
    follow_ups: int
    last_touch_at: datetime

    def __init__(
        self,
        enrollment_id: str,
        seq: int,
        rung: str,
        channel: str,
        asked_at: datetime,
        expires_at: datetime | None,
        follow_ups: int = 0,
        last_touch_at: datetime | None = None,
    ) -> None:
        setter = object.__setattr__
        setter(self, "enrollment_id", enrollment_id)
        setter(self, "seq", seq)
        setter(self, "rung", rung)
        setter(self, "channel", channel)
        setter(self, "asked_at", asked_at)
        setter(self, "expires_at", expires_at)
        setter(self, "follow_ups", follow_ups)
        setter(self, "last_touch_at", last_touch_at or asked_at)

    def __setattr__(self, name: str, value: object) -> None:
        raise AttributeError("an Ask is immutable")

    @property
    def id(self) -> str:
        """Stable id: the enrollment id and the number of the event that opened the ask."""
        return f"{self.enrollment_id}#{self.seq}"

    def _touched(self, at: datetime) -> Ask:
        return Ask(
            self.enrollment_id,
            self.seq,
            self.rung,
            self.channel,
            self.asked_at,
            self.expires_at,
            self.follow_ups + 1,
            at,
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "seq": self.seq,
            "rung": self.rung,
            "channel": self.channel,
            "asked_at": self.asked_at.isoformat(),
            "expires_at": self.expires_at.isoformat() if self.expires_at else None,
            "follow_ups": self.follow_ups,
            "last_touch_at": self.last_touch_at.isoformat(),
        }

    @classmethod
    def from_dict(cls, enrollment_id: str, data: Mapping[str, Any]) -> Ask:
        expires = data.get("expires_at")
        return cls(
            enrollment_id,
            int(data["seq"]),
            data["rung"],
            data["channel"],
            datetime.fromisoformat(data["asked_at"]),
            datetime.fromisoformat(expires) if expires else None,
            int(data.get("follow_ups", 0)),
            datetime.fromisoformat(data["last_touch_at"]),
        )

    def _key(self) -> tuple[Any, ...]:
        return tuple(getattr(self, name) for name in Ask.__slots__)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Ask) and self._key() == other._key()

    def __hash__(self) -> int:
        return hash((self.enrollment_id, self.seq, self.follow_ups))

    def __repr__(self) -> str:
        return f"Ask(id={self.id!r}, rung={self.rung!r}, channel={self.channel!r})"


class Timer(NamedTuple):
    """Something due at a time: ``expire``, ``follow_up``, ``next_step_overdue``, ``resume``."""

    kind: str
    due_at: datetime
    rung: str | None


class _Snapshot:
    """Everything an enrollment's guards read; replaced whole, never mutated in place."""

    __slots__ = (
        "asks",
        "at",
        "committed_at",
        "cooldowns",
        "end",
        "expired",
        "facts",
        "needs",
        "outcome",
        "pending",
        "position",
        "redirect",
        "resume_at",
        "seq",
        "since",
        "state",
        "status",
        "unanswered",
    )

    state: str
    status: Status
    position: str | None
    outcome: str | None
    pending: Ask | None
    redirect: str | None
    expired: Ask | None
    needs: str | None
    resume_at: datetime | None
    end: str | None
    asks: Mapping[str, int]
    cooldowns: Mapping[str, datetime]
    facts: Mapping[str, Any]
    committed_at: datetime | None
    unanswered: int
    seq: int
    at: datetime
    since: datetime

    def copy(self) -> _Snapshot:
        new = _Snapshot.__new__(_Snapshot)
        # unrolled: this runs once per event, on the hot path
        new.asks = self.asks
        new.at = self.at
        new.committed_at = self.committed_at
        new.cooldowns = self.cooldowns
        new.end = self.end
        new.expired = self.expired
        new.facts = self.facts
        new.needs = self.needs
        new.outcome = self.outcome
        new.pending = self.pending
        new.position = self.position
        new.redirect = self.redirect
        new.resume_at = self.resume_at
        new.seq = self.seq
        new.since = self.since
        new.state = self.state
        new.status = self.status
        new.unanswered = self.unanswered
        return new

    def to_dict(self) -> dict[str, Any]:
        def iso(value: datetime | None) -> str | None:
            return value.isoformat() if value else None

        return {
            "state": self.state,
            "status": self.status,
            "position": self.position,
            "outcome": self.outcome,
            "pending": self.pending.to_dict() if self.pending else None,
            "redirect": self.redirect,
            "expired": self.expired.to_dict() if self.expired else None,
            "needs": self.needs,
            "resume_at": iso(self.resume_at),
            "end": self.end,
            "asks": dict(self.asks),
            "cooldowns": {k: v.isoformat() for k, v in self.cooldowns.items()},
            "facts": dict(self.facts),
            "committed_at": iso(self.committed_at),
            "unanswered": self.unanswered,
            "seq": self.seq,
            "at": self.at.isoformat(),
            "since": self.since.isoformat(),
        }


def _fold(ladder: Ladder, snap: _Snapshot, event: Event, enrollment_id: str) -> _Snapshot:
    """The next snapshot after ``event``. Live commands and replay both use this."""
    s = snap.copy()
    s.seq = event.seq
    s.at = event.at
    kind = type(event)
    if kind is not FollowedUp:
        s.since = event.at
    position = s.position
    if kind is AskIssued:
        assert isinstance(event, AskIssued)
        s.state = ladder._asking[(position, event.rung)]
        s.status = PENDING
        s.pending = Ask(
            enrollment_id, event.seq, event.rung, event.channel, event.at, event.expires_at
        )
        s.asks = {**s.asks, event.rung: s.asks.get(event.rung, 0) + 1}
        s.expired = None
        s.unanswered += 1
    elif kind is FollowedUp:
        assert isinstance(event, FollowedUp)
        assert s.pending is not None
        s.pending = s.pending._touched(event.at)
    elif kind is Committed:
        assert isinstance(event, Committed)
        s.position = event.rung
        s.outcome = event.outcome
        s.state = ladder._ready[event.rung]
        s.status = READY
        s.pending = s.expired = s.redirect = s.needs = s.resume_at = None
        if event.facts:
            s.facts = {**s.facts, **event.facts}
        s.committed_at = event.at
        s.unanswered = 0
    elif kind is Declined or kind is AskExpired:
        assert isinstance(event, (Declined, AskExpired))
        rung = ladder.rungs[event.rung]
        if kind is AskExpired:
            s.expired = s.pending
        s.pending = None
        if rung.cooldown is not None:
            s.cooldowns = {**s.cooldowns, event.rung: event.at + rung.cooldown}
        s.state = ladder._ready[position]
        s.status = READY
        # a redirect is the only next ask; an answer to it (not a withdraw) uses it up
        s.redirect = event.then if event.then in ladder.rungs else None
    elif kind is AskWithdrawn:
        s.pending = None
        s.state = ladder._ready[position]
        s.status = READY
    elif kind is Parked:
        assert isinstance(event, Parked)
        s.state = ladder._parked[position]
        s.status = PARKED
        s.needs = event.needs
        s.resume_at = event.resume_at
    elif kind is Resumed:
        s.state = ladder._ready[position]
        s.status = READY
        s.needs = s.resume_at = None
    elif kind is Ended:
        assert isinstance(event, Ended)
        s.state = event.end
        s.status = ENDED
        s.end = event.end
        s.pending = s.expired = s.redirect = s.needs = s.resume_at = None
    else:
        raise LadderError(f"{type(event).__name__} cannot be applied to a running enrollment")
    return s


def _check_facts(facts: Mapping[str, Any]) -> dict[str, Any]:
    def ok(value: Any) -> bool:
        if value is None or isinstance(value, (str, int, float, bool)):
            return True
        if isinstance(value, (list, tuple)):
            return all(ok(v) for v in value)
        if isinstance(value, Mapping):
            return all(isinstance(k, str) and ok(v) for k, v in value.items())
        return False

    if not isinstance(facts, Mapping) or not all(isinstance(k, str) for k in facts):
        raise TypeError("facts must be a mapping with string keys")
    for key, value in facts.items():
        if not ok(value):
            raise TypeError(
                f"fact {key!r} is a {type(value).__name__}; facts hold JSON values only "
                "(strings, numbers, booleans, lists, mappings)"
            )
    return dict(facts)


class Enrollment:
    """One prospect's climb on one ladder, in memory.

    Create it with ``ladder.enroll(prospect)``; rebuild it with ``Enrollment.replay``
    or ``Enrollment.from_snapshot``. Every command either records events and moves
    on, or raises a ``Refused`` and changes nothing.
    """

    __slots__ = (
        "_clock",
        "_hearing",
        "_history",
        "_listeners",
        "_s",
        "_staged",
        "id",
        "ladder",
        "prospect",
        "version",
    )

    _listeners: tuple[Listener, ...]
    _history: History | None  # None until an event is kept (a restore often takes no command)
    _staged: tuple[object, tuple[Event, ...], _Snapshot] | None
    _hearing: list[Event] | None  # events queued for listeners

    def __init__(
        self,
        ladder: Ladder,
        enrolled: Enrolled,
        *,
        clock: Clock | None = None,
        listeners: Iterable[Listener] = (),
    ) -> None:
        s = self._attach(
            ladder,
            enrolled.enrollment_id,
            enrolled.prospect,
            enrolled.ladder,
            enrolled.version,
            clock,
            listeners,
        )
        self._history = History(enrolled.enrollment_id, ladder._symbols)
        self._history.append((enrolled,))
        s.state = ladder._ready[None]
        s.status = READY
        s.position = s.outcome = s.pending = s.redirect = s.expired = None
        s.needs = s.resume_at = s.end = s.committed_at = None
        s.asks = s.cooldowns = s.facts = _EMPTY
        s.unanswered = 0
        s.seq = enrolled.seq
        s.at = s.since = enrolled.at

    def _attach(
        self,
        ladder: Ladder,
        enrollment_id: str,
        prospect: str,
        on_ladder: str,
        version: int,
        clock: Clock | None,
        listeners: Iterable[Listener],
    ) -> _Snapshot:
        """Set every slot (no history, nothing staged) and return the blank snapshot in
        ``_s`` for the caller to fill: shared by ``__init__`` and ``from_snapshot``."""
        if on_ladder != ladder.name:
            raise LadderError(
                f"enrollment {enrollment_id!r} is on ladder {on_ladder!r}, not {ladder.name!r}"
            )
        self.ladder = ladder
        self.id = enrollment_id
        self.prospect = prospect
        self.version = version
        self._clock = clock or _SYSTEM_CLOCK
        self._listeners = tuple(listeners)
        self._history = self._staged = self._hearing = None
        self._s = _Snapshot.__new__(_Snapshot)
        return self._s

    # ---- construction ---------------------------------------------------------------------

    @classmethod
    def start(
        cls,
        ladder: Ladder,
        prospect: str,
        *,
        enrollment_id: str | None = None,
        now: datetime | None = None,
        clock: Clock | None = None,
        actor: str | None = None,
        reason: str | None = None,
        listeners: Iterable[Listener] = (),
    ) -> Enrollment:
        if not isinstance(prospect, str) or not prospect:
            raise TypeError("prospect must be a non-empty string (your CRM's id for them)")
        clock = clock or _SYSTEM_CLOCK
        at = aware(now) if now is not None else clock.now()
        enrolled = Enrolled(
            enrollment_id=enrollment_id or f"{ladder.name}/{prospect}",
            seq=1,
            at=at,
            actor=actor,
            reason=reason,
            prospect=prospect,
            ladder=ladder.name,
            version=ladder.version,
        )
        enrollment = cls(ladder, enrolled, clock=clock, listeners=listeners)
        enrollment._notify((enrolled,))
        return enrollment

    @classmethod
    def replay(
        cls,
        ladder: Ladder,
        history: Iterable[Event | Mapping[str, Any]],
        *,
        clock: Clock | None = None,
        listeners: Iterable[Listener] = (),
    ) -> Enrollment:
        """Rebuild an enrollment from its events (objects or their ``to_dict()`` form)."""
        events = [e if isinstance(e, Event) else event_from_dict(dict(e)) for e in history]
        if not events or not isinstance(events[0], Enrolled):
            raise LadderError("a history starts with an Enrolled event")
        enrollment = cls(ladder, events[0], clock=clock, listeners=listeners)
        s = enrollment._s
        for expected, event in enumerate(events[1:], start=2):
            if event.seq != expected or event.enrollment_id != enrollment.id:
                raise LadderError(
                    f"event {event.seq} of {event.enrollment_id!r} does not follow event "
                    f"{expected - 1} of {enrollment.id!r}; the history has a gap or is mixed"
                )
            try:
                s = _fold(ladder, s, event, enrollment.id)
            except KeyError as exc:
                raise LadderError(
                    f"event {event.seq} ({event.type}) does not fit ladder {ladder.name!r} "
                    f"v{ladder.version}: unknown {exc}"
                ) from exc
        enrollment._s = s
        assert enrollment._history is not None  # replay keeps history
        enrollment._history.append(events[1:])
        return enrollment

    def snapshot(self) -> dict[str, Any]:
        """A JSON-ready snapshot: ``from_snapshot`` restores the state without the history."""
        return {
            "id": self.id,
            "prospect": self.prospect,
            "ladder": self.ladder.name,
            "version": self.version,
            **self._s.to_dict(),
        }

    @classmethod
    def from_snapshot(
        cls,
        ladder: Ladder,
        data: Mapping[str, Any],
        *,
        clock: Clock | None = None,
        listeners: Iterable[Listener] = (),
    ) -> Enrollment:
        """Restore from ``snapshot()`` output; ``history`` then holds only later events."""
        # not through __init__, which would build an Enrolled event and a blank state only
        # to throw them away: services rehydrate once per request
        enrollment = cls.__new__(cls)
        eid = data["id"]
        s = enrollment._attach(
            ladder, eid, data["prospect"], data["ladder"], int(data["version"]), clock, listeners
        )

        def ask(value: Mapping[str, Any] | None) -> Ask | None:
            return Ask.from_dict(eid, value) if value else None

        def when(value: str | None) -> datetime | None:
            return datetime.fromisoformat(value) if value else None

        s.state = data["state"]
        s.status = data["status"]
        s.position = data["position"]
        s.outcome = data["outcome"]
        s.pending = ask(data["pending"])
        s.redirect = data["redirect"]
        s.expired = ask(data["expired"])
        s.needs = data["needs"]
        s.resume_at = when(data["resume_at"])
        s.end = data["end"]
        s.asks = dict(data["asks"]) or _EMPTY
        s.cooldowns = {k: datetime.fromisoformat(v) for k, v in data["cooldowns"].items()} or _EMPTY
        s.facts = dict(data["facts"]) or _EMPTY
        s.committed_at = when(data["committed_at"])
        s.unanswered = int(data["unanswered"])
        s.seq = int(data["seq"])
        s.at = datetime.fromisoformat(data["at"])
        s.since = s.at if data["since"] == data["at"] else datetime.fromisoformat(data["since"])
        if s.state not in ladder.machine.states:
            raise LadderError(
                f"snapshot state {s.state!r} does not exist on ladder {ladder.name!r}"
            )
        return enrollment

    # ---- reading --------------------------------------------------------------------------

    @property
    def state(self) -> str:
        """The machine state (``'intro_call:asking:qualify'``); ``status`` is the plain word."""
        return self._s.state

    @state.setter
    def state(self, value: str) -> None:
        # Called by ``transitions`` once every guard passed: swap the staged snapshot in.
        staged = self._staged
        if staged is None or staged[2].state != value:
            raise LadderError("an enrollment's state changes only through its commands")
        self._staged = None
        self._s = staged[2]
        self._keep(staged[1])
        self._notify(staged[1])

    @property
    def status(self) -> Status:
        return self._s.status

    @property
    def position(self) -> str | None:
        """The last rung committed to (``None`` before the first commitment)."""
        return self._s.position

    @property
    def pending(self) -> Ask | None:
        """The open ask, if any."""
        return self._s.pending

    @property
    def outcome(self) -> str | None:
        """The outcome given with the last commitment (on a branching rung)."""
        return self._s.outcome

    @property
    def ended(self) -> str | None:
        """The end reached (``'won'``, ...), or ``None`` while the enrollment is live."""
        return self._s.end

    @property
    def result(self) -> str | None:
        """``'won'``, ``'lost'`` or ``'neutral'`` once ended."""
        end = self._s.end
        return self.ladder.ends[end].result if end is not None else None

    @property
    def needs(self) -> str | None:
        """What a parked prospect needs before the deal can move again."""
        return self._s.needs

    @property
    def resume_at(self) -> datetime | None:
        return self._s.resume_at

    @property
    def facts(self) -> Mapping[str, Any]:
        """Facts captured with commitments so far (later ones win)."""
        return MappingProxyType(dict(self._s.facts))

    @property
    def seq(self) -> int:
        """Number of the last event."""
        return self._s.seq

    @property
    def asks_without_commitment(self) -> int:
        """Asks issued since the last commitment (or since enrolling)."""
        return self._s.unanswered

    @property
    def history(self) -> tuple[Event, ...]:
        """Every event, oldest first (after ``from_snapshot``: only the later ones)."""
        return tuple(self._history.events()) if self._history is not None else ()

    @property
    def timers(self) -> tuple[Timer, ...]:
        """What is due when: the open ask's expiry and next follow-up, an overdue next step,
        a parked prospect's resume date."""
        s = self._s
        rungs = self.ladder.rungs
        due: list[Timer] = []
        if s.pending is not None:
            ask = s.pending
            rung = rungs[ask.rung]
            if ask.expires_at is not None:
                due.append(Timer("expire", ask.expires_at, ask.rung))
            if ask.follow_ups < rung.follow_ups_max and rung.follow_ups_every is not None:
                due.append(Timer("follow_up", ask.last_touch_at + rung.follow_ups_every, ask.rung))
        elif s.status == READY and s.position is not None:
            # committed (or back to ready) with no ask open: there must be a next step soon
            within = rungs[s.position].next_ask_within
            if within is not None:
                due.append(Timer("next_step_overdue", s.since + within, s.position))
        elif s.status == PARKED and s.resume_at is not None:
            due.append(Timer("resume", s.resume_at, None))
        return tuple(due)

    def askable(self, *, now: datetime | None = None) -> list[str]:
        """The rungs an ask would be accepted for now (over some allowed channel)."""
        s = self._s
        if s.status != READY:
            return []
        at = self._now(now)
        return [r for r in self._allowed(s) if self._ask_refusal(s, r, None, at) is None]

    def why_not(
        self, rung: str, *, channel: str | None = None, now: datetime | None = None
    ) -> Refused | None:
        """The ``Refused`` an ask for ``rung`` would meet now, or ``None`` if it would pass."""
        return self._ask_refusal(self._s, rung, channel, self._now(now))

    # ---- commands -------------------------------------------------------------------------

    def ask(
        self,
        rung: str,
        *,
        channel: str | None = None,
        now: datetime | None = None,
        actor: str | None = None,
        reason: str | None = None,
    ) -> Ask:
        """Ask the prospect for ``rung``'s commitment. Refused while another ask is open."""
        self._run(f"ask:{rung}", {"channel": channel, "now": now, "actor": actor, "reason": reason})
        assert self._s.pending is not None
        return self._s.pending

    def follow_up(
        self,
        *,
        channel: str | None = None,
        now: datetime | None = None,
        actor: str | None = None,
        reason: str | None = None,
    ) -> tuple[Event, ...]:
        """Touch the open ask again (bounded by the rung's ``follow_ups``)."""
        return self._run(
            "follow_up", {"channel": channel, "now": now, "actor": actor, "reason": reason}
        )

    def commit(
        self,
        *,
        outcome: str | None = None,
        facts: Mapping[str, Any] | None = None,
        now: datetime | None = None,
        actor: str | None = None,
        reason: str | None = None,
    ) -> tuple[Event, ...]:
        """The prospect said yes to the open ask (or, late, to the ask that just expired)."""
        return self._run(
            "commit",
            {"outcome": outcome, "facts": facts, "now": now, "actor": actor, "reason": reason},
        )

    def decline(
        self,
        *,
        needs: str | None = None,
        resume_at: datetime | None = None,
        now: datetime | None = None,
        actor: str | None = None,
        reason: str | None = None,
    ) -> tuple[Event, ...]:
        """The prospect said no: park (with what they need), or follow ``on_decline``."""
        return self._run(
            "decline",
            {"needs": needs, "resume_at": resume_at, "now": now, "actor": actor, "reason": reason},
        )

    def expire(
        self, *, now: datetime | None = None, actor: str | None = None, reason: str | None = None
    ) -> tuple[Event, ...]:
        """Expire the open ask once its ``expires_at`` has passed, then follow ``on_expire``."""
        return self._run("expire", {"now": now, "actor": actor, "reason": reason})

    def withdraw(
        self, *, now: datetime | None = None, actor: str | None = None, reason: str | None = None
    ) -> tuple[Event, ...]:
        """The seller takes the open ask back; the prospect is ready for another ask."""
        return self._run("withdraw", {"now": now, "actor": actor, "reason": reason})

    def resume(
        self, *, now: datetime | None = None, actor: str | None = None, reason: str | None = None
    ) -> tuple[Event, ...]:
        """Take a parked deal out of neutral."""
        return self._run("resume", {"now": now, "actor": actor, "reason": reason})

    def end(
        self,
        end: str,
        *,
        now: datetime | None = None,
        actor: str | None = None,
        reason: str | None = None,
    ) -> tuple[Event, ...]:
        """Exit to a declared end from any live state, closing an open ask."""
        return self._run(f"end:{end}", {"now": now, "actor": actor, "reason": reason})

    def add_listener(self, listener: Listener) -> None:
        """Call ``listener(event)`` after each event of this enrollment."""
        self._listeners = (*self._listeners, listener)

    # ---- machinery ------------------------------------------------------------------------

    def _now(self, now: datetime | None) -> datetime:
        return aware(now) if now is not None else self._clock.now()

    def _run(self, trigger: str, kwargs: dict[str, Any]) -> tuple[Event, ...]:
        # The machine's transition table, looked up without ``Event.trigger``'s dispatch
        # (logging, callback lists, EventData): the same guard decides, the same
        # destinations are allowed, and the new snapshot is swapped in only at the end.
        dests = self.ladder._routes.get((trigger, self._s.state))
        events, snap = self._decide(trigger, kwargs)  # raises the refusal it meets
        if dests is None or snap.state not in dests:
            raise LadderError(
                f"the machine has no transition {trigger!r} from {self._s.state!r} "
                f"to {snap.state!r} (a bug in commitladder)"
            )
        self._s = snap
        history = self._history  # _keep, inlined: this runs once per command
        if history is None:
            history = self._history = History(self.id, self.ladder._symbols)
        history.append(events)
        self._notify(events)
        return events

    def _keep(self, events: tuple[Event, ...]) -> None:
        if self._history is None:
            self._history = History(self.id, self.ladder._symbols)
        self._history.append(events)

    def _stage(self, token: object, trigger: str, kwargs: Mapping[str, Any]) -> str:
        """Guard entry point for the machine: decide once per firing, return the new state."""
        staged = self._staged
        if staged is None or staged[0] is not token:
            events, snap = self._decide(trigger, kwargs)
            staged = self._staged = (token, events, snap)
        return staged[2].state

    def _notify(self, events: Sequence[Event]) -> None:
        """Hand each event to every listener, in order, after it was applied.

        A listener may issue commands itself: their events queue behind the ones
        being delivered, so every listener hears the history in order."""
        if not self._listeners and not self.ladder._listeners:
            return
        if self._hearing is not None:
            self._hearing.extend(events)
            return
        queue = self._hearing = list(events)
        try:
            for event in queue:  # grows while listeners issue commands
                for listener in (*self.ladder._listeners, *self._listeners):
                    try:
                        listener(event)
                    except Exception:
                        _log.exception(
                            "listener %r failed on %s #%d of %s; the state change stands",
                            listener,
                            event.type,
                            event.seq,
                            self.id,
                        )
        finally:
            self._hearing = None

    def _decide(
        self, trigger: str, kwargs: Mapping[str, Any]
    ) -> tuple[tuple[Event, ...], _Snapshot]:
        """Check ``trigger`` against the current snapshot: the events it records and the
        snapshot they lead to, or raise the refusal it meets."""
        s = self._s
        kind, _, arg = trigger.partition(":")
        now = self._now(kwargs.get("now"))
        if now < s.at:
            raise TimeOrderError(
                f"now={now.isoformat()} is before the last event of {self.id} "
                f"({s.at.isoformat()}); commands are recorded in time order"
            )
        common: dict[str, Any] = {
            "enrollment_id": self.id,
            "at": now,
            "actor": kwargs.get("actor"),
            "reason": kwargs.get("reason"),
        }
        seq = s.seq + 1
        events: tuple[Event, ...]
        if kind == "ask":
            rung, channel = self._check_ask(s, arg, kwargs.get("channel"), now)
            expires = now + rung.expires_after if rung.expires_after is not None else None
            events = (
                AskIssued(seq=seq, rung=rung.id, channel=channel, expires_at=expires, **common),
            )
        elif kind == "end":
            events = (self._end_event(s, arg, seq, common),)
        else:
            if s.status == ENDED:
                raise self._ended(s)
            decide = _DECIDERS.get(kind)
            if decide is None:
                raise LadderError(f"unknown command {trigger!r}")
            events = decide(self, s, kwargs, now, seq, common)
        snap = s
        for event in events:
            snap = _fold(self.ladder, snap, event, self.id)
        return events, snap

    # -- guards, one per command; each raises the first refusal it meets --

    def _allowed(self, s: _Snapshot) -> tuple[str, ...]:
        if s.redirect is not None:
            return (s.redirect,)
        return self.ladder._after.get((s.position, s.outcome), ())

    def _ask_refusal(
        self, s: _Snapshot, rung: str, channel: str | None, now: datetime
    ) -> Refused | None:
        try:
            self._check_ask(s, rung, channel, now)
        except Refused as refusal:
            return refusal
        return None

    def _check_ask(
        self, s: _Snapshot, rung_id: str, channel: str | None, now: datetime
    ) -> tuple[Rung, str]:
        ladder = self.ladder
        if s.status == ENDED:
            raise self._ended(s)
        rung = ladder.rungs.get(rung_id)
        if rung is None:
            raise UnknownRung(
                f"ladder {ladder.name!r} has no rung {rung_id!r}"
                f"{did_you_mean(rung_id, ladder.rungs)}",
                enrollment_id=self.id,
                rung=rung_id,
            )
        if s.pending is not None:
            ask = s.pending
            raise AskPending(
                f"{self.prospect} already has an open ask for {ask.rung} "
                f"(asked {_when(ask.asked_at)} by {ask.channel}); one commitment at a time: "
                "wait for the answer, follow up, or withdraw it first",
                enrollment_id=self.id,
                rung=rung_id,
                retry_after=ask.expires_at,
                ask=ask,
            )
        if s.status == PARKED:
            raise self._parked(s, rung_id)
        allowed = self._allowed(s)
        if rung_id not in allowed:
            where = f"after {s.position}" if s.position else "at the start"
            steps = ", ".join(allowed) or "none (end the enrollment)"
            raise NotNextStep(
                f"{rung_id} is not the next step for {self.prospect}: {where} the next step "
                f"is {steps}. Ask for one small step at a time; don't jump ahead",
                enrollment_id=self.id,
                rung=rung_id,
                position=s.position,
                askable=list(allowed),
            )
        if channel is None:
            channel = rung.channels[0] if rung.channels else "unspecified"
        elif rung.channels is not None and channel not in rung.channels:
            raise ChannelNotAllowed(
                f"{rung_id} is asked by {', '.join(rung.channels)}, not by {channel}"
                f"{did_you_mean(channel, rung.channels)}",
                enrollment_id=self.id,
                rung=rung_id,
                channel=channel,
                allowed=list(rung.channels),
            )
        asked = s.asks.get(rung_id, 0)
        if rung.max_asks is not None and asked >= rung.max_asks:
            raise AskLimitReached(
                f"{rung_id} was already asked {asked} time{'s' if asked != 1 else ''} "
                f"(the ladder allows {rung.max_asks}); ask for something else or end the "
                "enrollment",
                enrollment_id=self.id,
                rung=rung_id,
                asked=asked,
                max_asks=rung.max_asks,
            )
        until = s.cooldowns.get(rung_id)
        if until is not None and now < until:
            raise InCooldown(
                f"{self.prospect} turned down or let {rung_id} lapse recently; give them "
                f"room and ask again after {_when(until)}",
                enrollment_id=self.id,
                rung=rung_id,
                retry_after=until,
            )
        return rung, channel

    def _ended(self, s: _Snapshot) -> EnrollmentEnded:
        end = s.end or "?"
        result = self.ladder.ends[end].result if end in self.ladder.ends else "?"
        return EnrollmentEnded(
            f"{self.prospect}'s enrollment on {self.ladder.name} ended at {end} ({result}); "
            "it accepts nothing more",
            enrollment_id=self.id,
            end=end,
        )

    def _parked(self, s: _Snapshot, rung: str | None = None) -> EnrollmentParked:
        needs = f" (needs: {s.needs})" if s.needs else ""
        when = f"; a resume is planned for {_when(s.resume_at)}" if s.resume_at else ""
        return EnrollmentParked(
            f"{self.prospect}'s deal is parked{needs}{when}; resume() it once they have "
            "what they need",
            enrollment_id=self.id,
            rung=rung,
            needs=s.needs,
            resume_at=s.resume_at,
        )

    def _no_ask(self, s: _Snapshot) -> Refused:
        if s.status == PARKED:
            return self._parked(s)
        return NoOpenAsk(
            f"{self.prospect} has no open ask; ask for a commitment first",
            enrollment_id=self.id,
        )

    def _open_ask(self, s: _Snapshot) -> Ask:
        if s.pending is None:
            raise self._no_ask(s)
        return s.pending

    def _end_event(self, s: _Snapshot, end: str, seq: int, common: dict[str, Any]) -> Ended:
        if s.status == ENDED:
            raise self._ended(s)
        ends = self.ladder.ends
        if end not in ends:
            raise UnknownEnd(
                f"ladder {self.ladder.name!r} has no end {end!r} (its ends are "
                f"{', '.join(ends)}){did_you_mean(end, ends)}",
                enrollment_id=self.id,
                end=end,
            )
        closed = s.pending.seq if s.pending is not None else None
        return Ended(seq=seq, end=end, result=ends[end].result, ask_seq=closed, **common)

    def _decide_follow_up(
        self, s: _Snapshot, kw: Mapping[str, Any], now: datetime, seq: int, common: dict[str, Any]
    ) -> tuple[Event, ...]:
        ask = self._open_ask(s)
        rung = self.ladder.rungs[ask.rung]
        channel = kw.get("channel") or ask.channel
        if rung.channels is not None and channel not in rung.channels:
            raise ChannelNotAllowed(
                f"{rung.id} is followed up by {', '.join(rung.channels)}, not by {channel}",
                enrollment_id=self.id,
                rung=rung.id,
                channel=channel,
                allowed=list(rung.channels),
            )
        if ask.follow_ups >= rung.follow_ups_max:
            raise FollowUpLimitReached(
                (
                    f"the one follow-up of the ask for {rung.id} is used"
                    if rung.follow_ups_max == 1
                    else f"all {rung.follow_ups_max} follow-ups of the ask for {rung.id} are used"
                    if rung.follow_ups_max
                    else f"{rung.id} allows no follow-ups"
                )
                + "; wait for the answer or let the ask expire",
                enrollment_id=self.id,
                rung=rung.id,
                max=rung.follow_ups_max,
            )
        assert rung.follow_ups_every is not None
        due = ask.last_touch_at + rung.follow_ups_every
        if now < due:
            raise FollowUpTooSoon(
                f"the last touch on {rung.id} was {_when(ask.last_touch_at)}; "
                f"follow up again after {_when(due)}",
                enrollment_id=self.id,
                rung=rung.id,
                retry_after=due,
            )
        return (
            FollowedUp(
                seq=seq, ask_seq=ask.seq, channel=channel, number=ask.follow_ups + 1, **common
            ),
        )

    def _decide_commit(
        self, s: _Snapshot, kw: Mapping[str, Any], now: datetime, seq: int, common: dict[str, Any]
    ) -> tuple[Event, ...]:
        late = False
        if s.pending is not None:
            ask = s.pending
        elif s.expired is not None:
            ask, late = s.expired, True
        else:
            raise self._no_ask(s)
        rung = self.ladder.rungs[ask.rung]
        outcome = kw.get("outcome")
        if rung.outcomes is not None:
            if outcome not in rung.outcomes:
                given = f"{outcome!r} is not one of them" if outcome is not None else "none given"
                hint = did_you_mean(outcome, rung.outcomes) if isinstance(outcome, str) else ""
                raise OutcomeRequired(
                    f"{rung.id} branches on the answer: give outcome= one of "
                    f"{', '.join(rung.outcomes)} ({given}){hint}",
                    enrollment_id=self.id,
                    rung=rung.id,
                    outcome=outcome,
                    choices=list(rung.outcomes),
                )
        elif outcome is not None:
            raise OutcomeRequired(
                f"{rung.id} does not branch; commit without an outcome",
                enrollment_id=self.id,
                rung=rung.id,
                outcome=outcome,
                choices=[],
            )
        facts = _check_facts(kw.get("facts") or {})
        if rung.requires:
            known = {k for k, v in {**s.facts, **facts}.items() if v is not None and v != ""}
            missing = sorted(rung.requires - known)
            if missing:
                raise MissingFacts(
                    f"committing to {rung.id} needs the fact{'s' if len(missing) > 1 else ''} "
                    f"{', '.join(missing)}; pass {'them' if len(missing) > 1 else 'it'} "
                    "in facts={...}",
                    enrollment_id=self.id,
                    rung=rung.id,
                    missing=missing,
                )
        committed = Committed(
            seq=seq,
            ask_seq=ask.seq,
            rung=rung.id,
            outcome=outcome,
            facts=facts or None,
            late=late,
            **common,
        )
        end = self.ladder.finishes(rung.id, outcome)
        if end is None:
            return (committed,)
        result = self.ladder.ends[end].result
        return committed, Ended(seq=seq + 1, end=end, result=result, **common)

    def _decide_answer(
        self,
        s: _Snapshot,
        kw: Mapping[str, Any],
        now: datetime,
        seq: int,
        common: dict[str, Any],
        *,
        declined: bool,
    ) -> tuple[Event, ...]:
        ask = self._open_ask(s)
        rung = self.ladder.rungs[ask.rung]
        needs: str | None = None
        resume_at: datetime | None = None
        if declined:
            then = rung.on_decline
            needs = kw.get("needs")
            raw_resume = kw.get("resume_at")
            resume_at = aware(raw_resume, "resume_at") if raw_resume is not None else None
            first: Event = Declined(
                seq=seq,
                ask_seq=ask.seq,
                rung=rung.id,
                then=then,
                needs=needs,
                resume_at=resume_at,
                **common,
            )
        else:
            then = rung.on_expire
            if ask.expires_at is None or now < ask.expires_at:
                when = (
                    f"runs until {_when(ask.expires_at)}"
                    if ask.expires_at
                    else "never expires (the rung has no expires_after)"
                )
                raise NotExpiredYet(
                    f"the ask for {rung.id} {when}; it cannot expire before that",
                    enrollment_id=self.id,
                    rung=rung.id,
                    retry_after=ask.expires_at,
                )
            first = AskExpired(seq=seq, ask_seq=ask.seq, rung=rung.id, then=then, **common)
        if then == PARK:
            cause = "declined" if declined else "expired"
            parked = Parked(seq=seq + 1, cause=cause, needs=needs, resume_at=resume_at, **common)
            return first, parked
        if then in self.ladder.ends:
            result = self.ladder.ends[then].result
            return first, Ended(seq=seq + 1, end=then, result=result, **common)
        return (first,)

    def _decide_withdraw(
        self, s: _Snapshot, kw: Mapping[str, Any], now: datetime, seq: int, common: dict[str, Any]
    ) -> tuple[Event, ...]:
        ask = self._open_ask(s)
        return (AskWithdrawn(seq=seq, ask_seq=ask.seq, rung=ask.rung, **common),)

    def _decide_resume(
        self, s: _Snapshot, kw: Mapping[str, Any], now: datetime, seq: int, common: dict[str, Any]
    ) -> tuple[Event, ...]:
        if s.status != PARKED:
            raise NotParked(
                f"{self.prospect} is not parked ({s.status}); there is nothing to resume",
                enrollment_id=self.id,
                status=s.status,
            )
        return (Resumed(seq=seq, **common),)

    def __repr__(self) -> str:
        pending = f", pending={self._s.pending.rung!r}" if self._s.pending else ""
        return f"<Enrollment {self.id!r} {self._s.status} at {self._s.position!r}{pending}>"


def _decline(
    e: Enrollment, s: _Snapshot, kw: Mapping[str, Any], now: datetime, seq: int, c: dict[str, Any]
) -> tuple[Event, ...]:
    return e._decide_answer(s, kw, now, seq, c, declined=True)


def _expire(
    e: Enrollment, s: _Snapshot, kw: Mapping[str, Any], now: datetime, seq: int, c: dict[str, Any]
) -> tuple[Event, ...]:
    return e._decide_answer(s, kw, now, seq, c, declined=False)


_Decider = Callable[
    [Enrollment, _Snapshot, Mapping[str, Any], datetime, int, dict[str, Any]], tuple[Event, ...]
]
_DECIDERS: dict[str, _Decider] = {
    "follow_up": Enrollment._decide_follow_up,
    "commit": Enrollment._decide_commit,
    "decline": _decline,
    "expire": _expire,
    "withdraw": Enrollment._decide_withdraw,
    "resume": Enrollment._decide_resume,
}
