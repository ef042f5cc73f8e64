"""One prospect's climb on one ladder, in memory: a thin handle over the rules.

An ``Enrollment`` holds a ladder, the current ``State``, the packed history, a
clock and listeners. Every command goes the same way: ``decide`` checks it
against the state and returns the events it records or the ``Refused`` it meets;
``fold`` turns the events into the next state, which replaces the current one with
one assignment; the events are kept, then heard by the listeners. A refused command
therefore changes nothing, and replaying the history runs the very same fold.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from types import MappingProxyType
from typing import TYPE_CHECKING, Any

from ._calendar import check_zone
from ._clock import Clock, SystemClock, aware
from ._decide import allowed, decide, due, why_not
from ._errors import LadderError, ReadOnlyEnrollment, Refused, check_text
from ._events import Enrolled, Event, Migrated, event_from_dict
from ._fold import fold, fold_all, start
from ._log import History
from ._names import DisplayName, naming
from ._state import State, restore
from ._values import Ask, Status, Timer
from .commands import (
    AskFor,
    Command,
    Commit,
    Decline,
    End,
    Expire,
    FollowUp,
    Resume,
    Withdraw,
    checked,
)

if TYPE_CHECKING:
    from ._ladder import Ladder

__all__ = ["Enrollment", "Listener", "Preview"]

_log = logging.getLogger("commitladder")
_SYSTEM_CLOCK = SystemClock()

Listener = Callable[[Event], object]

# the convenience methods build their command from its fields in order, as one tuple
_new = tuple.__new__


@dataclass(frozen=True, slots=True)
class Preview:
    """What a command would do, without doing it (``Enrollment.preview``)."""

    #: the events it would record
    events: tuple[Event, ...]
    #: the machine state it would lead to
    state: str
    status: Status
    position: str | None
    #: the ask open afterwards
    pending: Ask | None
    #: the end reached, if any
    ended: str | None


class Enrollment:
    """One prospect's climb on one ladder, in memory.

    Create it with ``ladder.enroll(prospect)``; rebuild it with ``Enrollment.replay``
    or ``Enrollment.from_snapshot``. Every command either records events and moves
    on, or raises a ``Refused`` and changes nothing.
    """

    __slots__ = (
        "_clock",
        "_display_name",
        "_hearing",
        "_history",
        "_listeners",
        "_load_history",
        "_read_only",
        "_s",
        "ladder",
    )

    _s: State
    _history: History | None  # None until an event is kept (a restore often takes no command)
    _load_history: Callable[[], Sequence[Event]] | None
    _hearing: list[Event] | None  # events queued for listeners
    _read_only: bool
    _display_name: DisplayName | None  # names the prospect in refusal sentences

    def __init__(
        self,
        ladder: Ladder,
        enrolled: Enrolled,
        *,
        clock: Clock | None = None,
        listeners: Iterable[Listener] = (),
        display_name: DisplayName | None = None,
    ) -> None:
        self._attach(ladder, start(ladder, enrolled), clock, listeners, display_name=display_name)
        self._keep((enrolled,))

    def _attach(
        self,
        ladder: Ladder,
        state: State,
        clock: Clock | None,
        listeners: Iterable[Listener],
        *,
        read_only: bool = False,
        history: Callable[[], Sequence[Event]] | None = None,
        display_name: DisplayName | None = None,
    ) -> None:
        self.ladder = ladder
        self._display_name = display_name
        self._s = state
        self._clock = clock or _SYSTEM_CLOCK
        self._listeners: tuple[Listener, ...] = tuple(listeners)
        self._history = self._hearing = None
        self._load_history = history
        self._read_only = read_only

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
        display_name: DisplayName | None = None,
        timezone: str | None = None,
    ) -> Enrollment:
        """Enroll ``prospect`` on ``ladder`` (what ``ladder.enroll`` does).

        ``display_name(prospect_id)``, when given, names the prospect in the sentences
        of refusals, which then also use the rungs' and ends' titles."""
        check_text(prospect, "prospect")
        check_zone(timezone)
        if enrollment_id is not None:
            check_text(enrollment_id, "enrollment_id")
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
            timezone=timezone,
        )
        enrollment = cls(
            ladder, enrolled, clock=clock, listeners=listeners, display_name=display_name
        )
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
        display_name: DisplayName | None = None,
        versions: Iterable[Ladder] = (),
    ) -> Enrollment:
        """Rebuild an enrollment from its events (objects or their ``to_dict()`` form).

        A history that crosses versions (``Migrated`` events) replays given the older
        versions it crossed, ``versions``: each event folds on the version it was made on,
        and the enrollment ends up on ``ladder``, the newest."""
        events = [e if isinstance(e, Event) else event_from_dict(e) for e in history]
        if not events or not isinstance(events[0], Enrolled):
            raise LadderError("a history starts with an Enrolled event")
        by_version = {v.version: v for v in versions if v.name == ladder.name}
        by_version[ladder.version] = ladder
        first = by_version.get(events[0].version, ladder)
        enrollment = cls(
            first, events[0], clock=clock, listeners=listeners, display_name=display_name
        )
        on = first
        s = enrollment._s
        for expected, event in enumerate(events[1:], start=2):
            if event.seq != expected or event.enrollment_id != s.ident.id:
                raise LadderError(
                    f"event {event.seq} of {event.enrollment_id!r} does not follow event "
                    f"{expected - 1} of {s.ident.id!r}; the history has a gap or is mixed"
                )
            if isinstance(event, Migrated):
                on = by_version.get(event.to_version) or _missing(ladder, event.to_version)
            try:
                s = fold(on, s, event)
            except (KeyError, AttributeError) as exc:
                raise LadderError(
                    f"event {event.seq} ({event.type}) does not fit ladder {on.name!r} "
                    f"v{on.version}: unknown {exc}; a history that crosses versions replays "
                    "given them: replay(..., versions=[...])"
                ) from exc
        enrollment.ladder = on
        enrollment._s = s
        enrollment._keep(events[1:])
        return enrollment

    @classmethod
    def from_snapshot(
        cls,
        ladder: Ladder,
        data: Mapping[str, Any],
        *,
        clock: Clock | None = None,
        listeners: Iterable[Listener] = (),
        history: Callable[[], Sequence[Event]] | None = None,
        read_only: bool = False,
        display_name: DisplayName | None = None,
    ) -> Enrollment:
        """Restore from ``snapshot()`` output; ``history`` then holds only later events.

        ``history``, when given, is called on the first read of ``history`` to load the
        events before the snapshot (a store's log). ``read_only=True`` makes every command
        raise ``ReadOnlyEnrollment``: ``Tracker.get`` hands those out, since a command on
        a copy in memory would never reach the store.
        """
        state = restore(ladder, data)
        enrollment = cls.__new__(cls)
        cls._attach(
            enrollment,
            ladder,
            state,
            clock,
            listeners,
            read_only=read_only,
            history=history,
            display_name=display_name,
        )
        return enrollment

    def snapshot(self) -> dict[str, Any]:
        """A JSON-ready snapshot: ``from_snapshot`` restores the state without the history."""
        return self._s.to_dict()

    # ---- reading --------------------------------------------------------------------------

    @property
    def id(self) -> str:
        """The enrollment's id (``"<ladder>/<prospect>"`` unless given)."""
        return self._s.ident.id

    @property
    def prospect(self) -> str:
        """The prospect's id in the host's CRM."""
        return self._s.ident.prospect

    @property
    def version(self) -> int:
        """The version of the ladder the prospect was enrolled on."""
        return self._s.ident.version

    def sends_at(self, channel: str | None = None, *, now: datetime | None = None) -> datetime:
        """When a message goes out under the ladder's send windows, in this prospect's zone.

        With no ``channel``: the open ask's latest message (the ask, or its last follow-up).
        With a ``channel``: one made over it at ``now``. A message made inside its window
        goes out when made; one made outside waits for the window's next opening."""
        ask = self._s.pending
        if channel is None and ask is not None:
            moment, channel = ask.last_touch_at, ask.channel
        else:
            if channel is not None:
                check_text(channel, "channel")
            moment = aware(now) if now is not None else self._clock.now()
        calendar = self.ladder.calendar
        if calendar is None:
            return moment
        return calendar.opens(moment, channel, self._s.ident.timezone)

    @property
    def timezone(self) -> str:
        """The IANA time zone business days are counted in: the prospect's, given at
        enroll, else the ladder calendar's, else ``"UTC"``."""
        calendar = self.ladder.calendar
        return self._s.ident.timezone or (calendar.timezone if calendar else "UTC")

    @property
    def tenant(self) -> str | None:
        """The tenant (account, department) the enrollment belongs to: ``None`` unless
        it was enrolled through ``Tracker.tenant(...)``."""
        return self._s.ident.tenant

    @property
    def state(self) -> str:
        """The machine state (``'intro_call:asking:qualify'``); ``status`` is the plain word."""
        return self._s.state

    @state.setter
    def state(self, value: str) -> None:
        # ``transitions`` sets the state after a transition's condition ran the command
        # (see _machine); anything else would move the machine without the rules
        if value != self._s.state:
            raise LadderError("an enrollment's state changes only through its commands")

    @property
    def status(self) -> Status:
        """``'ready'``, ``'pending'``, ``'parked'`` or ``'ended'``."""
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
    def expired_ask(self) -> Ask | None:
        """The ask that expired unanswered with no ask since: a yes to it still counts."""
        return self._s.expired

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
        """When a parked deal is planned to resume (a ``resume`` timer fires then)."""
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
    def next_steps(self) -> tuple[str, ...]:
        """The rungs the ladder offers next from here (the redirect after a no, else the
        next steps from the position), whatever limits and cooldowns say: ``askable``
        is the subset an ask would pass now."""
        return allowed(self.ladder, self._s)

    @property
    def read_only(self) -> bool:
        """True for an enrollment read from a tracker: commands go through the tracker."""
        return self._read_only

    @property
    def history(self) -> tuple[Event, ...]:
        """Every event, oldest first (after ``from_snapshot``: only the later ones, unless
        it was given a way to load the earlier ones)."""
        kept = self._history.events() if self._history is not None else []
        if self._load_history is not None:
            earlier = tuple(self._load_history())
            first = kept[0].seq if kept else None
            return (*(e for e in earlier if first is None or e.seq < first), *kept)
        return tuple(kept)

    @property
    def timers(self) -> tuple[Timer, ...]:
        """What is due when: the open ask's expiry and next follow-up, an overdue next step,
        a parked prospect's resume date."""
        return due(self.ladder, self._s)

    def askable(self, *, now: datetime | None = None) -> list[str]:
        """The rungs an ask would be accepted for now (over some allowed channel)."""
        s = self._s
        if s.status != "ready":
            return []
        at = self._now(now)
        return [r for r in allowed(self.ladder, s) if why_not(self.ladder, s, r, None, at) is None]

    def why_not(
        self, rung: str, *, channel: str | None = None, now: datetime | None = None
    ) -> Refused | None:
        """The ``Refused`` an ask for ``rung`` would meet now, or ``None`` if it would pass."""
        at = self._now(now)
        if self._display_name is None:
            return why_not(self.ladder, self._s, rung, channel, at)
        with naming(self._display_name):
            return why_not(self.ladder, self._s, rung, channel, at)

    def preview(self, command: Command, *, now: datetime | None = None) -> Preview:
        """What ``command`` would record and where it would lead, changing nothing.

        Raises the ``Refused`` the command would meet."""
        events = self._decided(self._s, checked(command), self._now(now))
        s = fold_all(self.ladder, self._s, events)
        return Preview(events, s.state, s.status, s.position, s.pending, s.end)

    # ---- commands -------------------------------------------------------------------------

    def execute(self, command: Command, *, now: datetime | None = None) -> tuple[Event, ...]:
        """Run ``command`` (a value of ``commitladder.commands``) at ``now``: the events it
        recorded, or the ``Refused`` it met is raised and nothing changed."""
        return self._execute(checked(command), now)

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
        self._execute(_new(AskFor, (rung, channel, actor, reason)), now)
        pending = self._s.pending
        assert pending is not None  # an accepted ask opens one
        return pending

    def follow_up(
        self,
        *,
        channel: str | None = None,
        now: datetime | None = None,
        actor: str | None = None,
        reason: str | None = None,
    ) -> tuple[Event, ...]:
        """Touch the open ask again (bounded by the rung's ``follow_ups``)."""
        return self._execute(_new(FollowUp, (channel, actor, reason)), now)

    def commit(
        self,
        *,
        outcome: str | None = None,
        facts: Mapping[str, Any] | None = None,
        ask_id: str | None = None,
        now: datetime | None = None,
        actor: str | None = None,
        reason: str | None = None,
    ) -> tuple[Event, ...]:
        """The prospect said yes: to the open ask, or to the ask ``ask_id`` names (a yes
        to an older ask is recorded late and moves nothing)."""
        return self._execute(_new(Commit, (outcome, facts, ask_id, actor, reason)), now)

    def decline(
        self,
        *,
        needs: str | None = None,
        resume_at: datetime | None = None,
        ask_id: str | None = None,
        now: datetime | None = None,
        actor: str | None = None,
        reason: str | None = None,
    ) -> tuple[Event, ...]:
        """The prospect said no: park (with what they need), or follow ``on_decline``."""
        return self._execute(_new(Decline, (needs, resume_at, ask_id, actor, reason)), now)

    def expire(
        self,
        *,
        ask_id: str | None = None,
        now: datetime | None = None,
        actor: str | None = None,
        reason: str | None = None,
    ) -> tuple[Event, ...]:
        """Expire the open ask once its ``expires_at`` has passed, then follow ``on_expire``."""
        return self._execute(_new(Expire, (ask_id, actor, reason)), now)

    def withdraw(
        self,
        *,
        ask_id: str | None = None,
        now: datetime | None = None,
        actor: str | None = None,
        reason: str | None = None,
    ) -> tuple[Event, ...]:
        """The seller takes the open ask back; the prospect is ready for another ask."""
        return self._execute(_new(Withdraw, (ask_id, actor, reason)), now)

    def resume(
        self, *, now: datetime | None = None, actor: str | None = None, reason: str | None = None
    ) -> tuple[Event, ...]:
        """Take a parked deal out of neutral."""
        return self._execute(_new(Resume, (actor, reason)), now)

    def end(
        self,
        end: str,
        *,
        now: datetime | None = None,
        actor: str | None = None,
        reason: str | None = None,
    ) -> tuple[Event, ...]:
        """Exit to a declared end from any live state, closing an open ask."""
        return self._execute(_new(End, (end, actor, reason)), now)

    def add_listener(self, listener: Listener) -> None:
        """Call ``listener(event)`` after each event of this enrollment."""
        self._listeners = (*self._listeners, listener)

    # ---- machinery ------------------------------------------------------------------------

    def _now(self, now: datetime | None) -> datetime:
        if now is None:
            return self._clock.now()
        if type(now) is datetime and now.tzinfo is UTC:
            return now  # the common case, checked without a call
        return aware(now)

    def _decided(self, s: State, command: Command, now: datetime) -> tuple[Event, ...]:
        if self._read_only:
            raise ReadOnlyEnrollment(
                f"{s.ident.id} was read from a tracker, so a {command.name} here would never "
                f"reach the store; run it through the tracker: tracker.{command.name}"
                f"({s.ident.prospect!r}, ...) or tracker.execute(command, "
                f"prospect={s.ident.prospect!r})"
            )
        if self._display_name is None:
            decision = decide(self.ladder, s, command, now)
        else:
            with naming(self._display_name):
                decision = decide(self.ladder, s, command, now)
        if isinstance(decision, Refused):
            raise decision
        return decision

    def _execute(self, command: Command, now: datetime | None) -> tuple[Event, ...]:
        # _now and _decided, inlined: this runs once per command
        if now is None:
            now = self._clock.now()
        elif type(now) is not datetime or now.tzinfo is not UTC:
            now = aware(now)
        if self._read_only:
            self._decided(self._s, command, now)  # raises ReadOnlyEnrollment
        ladder = self.ladder
        if self._display_name is None:
            events = decide(ladder, self._s, command, now)
        else:
            with naming(self._display_name):
                events = decide(ladder, self._s, command, now)
        if isinstance(events, Refused):
            raise events
        s = self._s = fold_all(ladder, self._s, events)
        history = self._history
        if history is None:
            history = self._history = History(s.ident.id, ladder.tables.symbols)
        history.append(events)
        if self._listeners or ladder.listeners:
            self._notify(events)
        return events

    def _keep(self, events: Sequence[Event]) -> None:
        if self._history is None:
            self._history = History(self._s.ident.id, self.ladder.tables.symbols)
        self._history.append(events)

    def _notify(self, events: Sequence[Event]) -> None:
        """Hand each event to every listener, in order, after it was applied.

        A listener may issue commands itself: their events queue behind the ones
        being delivered, so every listener hears the history in order."""
        if not self._listeners and not self.ladder.listeners:
            return
        if self._hearing is not None:
            self._hearing.extend(events)
            return
        queue = self._hearing = list(events)
        try:
            for event in queue:  # grows while listeners issue commands
                for listener in (*self.ladder.listeners, *self._listeners):
                    try:
                        listener(event)
                    except Exception:
                        _log.exception(
                            "listener %r failed on %s #%d of %s; the state change stands",
                            listener,
                            event.type,
                            event.seq,
                            event.enrollment_id,
                        )
        finally:
            self._hearing = None

    def __repr__(self) -> str:
        s = self._s
        if s.status == "ended":
            return f"<Enrollment {s.ident.id!r} ended at {s.end!r} ({self.result})>"
        pending = f", pending={s.pending.rung!r}" if s.pending else ""
        return f"<Enrollment {s.ident.id!r} {s.status} at {s.position!r}{pending}>"


def _missing(ladder: Ladder, version: int) -> Ladder:
    raise LadderError(
        f"the history moves to v{version} of {ladder.name!r}, which replay was not given: "
        "pass it, and every version the history crossed, as versions=[...]"
    )
