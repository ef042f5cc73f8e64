"""``Tracker``: the durable service object that ties ladders, a store, a messenger and a clock.

Every command runs in one store session (one transaction): it loads the
enrollment's snapshot, lets the in-memory ``Enrollment`` decide (its guards raise
the refusal, or return the events), and hands the store one ``Change``: events, new
snapshot, open ask, timers, outgoing messages and the idempotency receipt, written
together or not at all. A lost optimistic race is
retried on the fresh snapshot, so it either succeeds or raises the refusal it now
meets. Listeners run only after the store committed; they must never run inside
the transaction, and a failing listener never undoes a stored command.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar

from ._clock import Clock, SystemClock, aware
from ._enrollment import Ask, Enrollment
from ._errors import ConflictError, LadderError, Refused
from ._events import AskIssued, Event, event_from_dict
from ._ladder import Ladder
from ._messaging import TIMER_MESSAGES, Message, Messenger, messages_for
from ._text import safe_error_text
from .store import (
    Change,
    DueTimer,
    NotEnrolled,
    OpenAsk,
    Receipt,
    Store,
    StoredEnrollment,
)

__all__ = ["RelayReport", "Tracker"]

_log = logging.getLogger("commitladder")

T = TypeVar("T")
Listener = Callable[[Event], object]


class _Quiet(Enrollment):
    """An enrollment whose listeners wait: the tracker calls them after the commit."""

    __slots__ = ()

    def _notify(self, events: Sequence[Event]) -> None:
        pass


@dataclass(frozen=True, slots=True)
class RelayReport:
    """What one ``Tracker.relay`` call did."""

    sent: int = 0
    retrying: int = 0
    dead: int = 0


def _timer_key(kind: str, due_at: datetime) -> str:
    return f"{kind}@{due_at.astimezone(UTC).isoformat()}"


class Tracker:
    """Run ladders durably: commands, timers and the outbox on top of a ``Store``.

    ``store`` keeps everything; ``messenger`` delivers what ``relay`` takes from the
    outbox; ``clock`` tells the time when a call gives no ``now=``. Commands address a
    prospect; pass ``ladder=`` when the prospect is on several ladders and the
    command alone does not say which.
    """

    def __init__(
        self,
        *,
        store: Store,
        messenger: Messenger | None = None,
        clock: Clock | None = None,
        ladders: Iterable[Ladder] = (),
        listeners: Iterable[Listener] = (),
        max_attempts: int = 8,
        backoff: timedelta = timedelta(seconds=30),
        max_backoff: timedelta = timedelta(hours=1),
        lease: timedelta = timedelta(minutes=5),
        retries: int = 20,
    ) -> None:
        if max_attempts < 1 or retries < 1:
            raise ValueError("max_attempts and retries must be at least 1")
        self.store = store
        self.messenger = messenger
        self.clock: Clock = clock or SystemClock()
        self.max_attempts = max_attempts
        self.backoff = backoff
        self.max_backoff = max_backoff
        self.lease = lease
        self._retries = retries
        self._ladders: dict[str, Ladder] = {}
        self._listeners: list[Listener] = list(listeners)
        for ladder in ladders:
            self.register(ladder)

    # ---- set-up ---------------------------------------------------------------------------

    def register(self, ladder: Ladder) -> Ladder:
        """Make ``ladder`` known by its name (enrollments name the ladder they are on)."""
        known = self._ladders.get(ladder.name)
        if known is not None and known != ladder:
            raise LadderError(
                f"another ladder named {ladder.name!r} is registered already "
                f"(v{known.version}); give the new one another name"
            )
        self._ladders[ladder.name] = ladder
        return ladder

    @property
    def ladders(self) -> Mapping[str, Ladder]:
        return dict(self._ladders)

    def add_listener(self, listener: Listener) -> None:
        """Call ``listener(event)`` for each stored event, after its commit."""
        self._listeners.append(listener)

    # ---- commands -------------------------------------------------------------------------

    def enroll(
        self,
        prospect: str,
        *,
        ladder: str | Ladder,
        enrollment_id: str | None = None,
        now: datetime | None = None,
        actor: str | None = None,
        reason: str | None = None,
        idempotency_key: str | None = None,
    ) -> Enrollment:
        """Start ``prospect`` on ``ladder``; enrolling again returns the existing enrollment."""
        lad = self._ladder(ladder.name if isinstance(ladder, Ladder) else ladder)
        eid = enrollment_id or f"{lad.name}/{prospect}"
        for _ in range(self._retries):
            try:
                with self.store.session() as store:
                    if idempotency_key is not None:
                        receipt = store.recall(idempotency_key)
                        if receipt is not None:
                            return self._get_id(store, receipt.enrollment_id)
                    stored = store.load(eid)
                    if stored is not None:
                        return self._restore(stored, quiet=False)
                    at = self._now(now)
                    e = _Quiet.start(
                        lad,
                        prospect,
                        enrollment_id=eid,
                        now=at,
                        clock=self.clock,
                        actor=actor,
                        reason=reason,
                    )
                    events = e.history
                    receipt = self._receipt(idempotency_key, "enroll", eid, events)
                    first = self._store(store, lad, e, None, (), 0, (), events, receipt, at)
                    if first is not None:  # the key was used meanwhile: its enrollment
                        return self._get_id(store, first.enrollment_id)
            except ConflictError:
                continue  # enrolled by someone else meanwhile: return theirs
            self._committed(lad, events)
            return Enrollment.from_snapshot(lad, e.snapshot(), clock=self.clock)
        raise ConflictError(f"could not enroll {prospect!r}: too many concurrent writers")

    def ask(
        self,
        prospect: str,
        rung: str,
        *,
        ladder: str | None = None,
        channel: str | None = None,
        now: datetime | None = None,
        actor: str | None = None,
        reason: str | None = None,
        idempotency_key: str | None = None,
    ) -> Ask:
        """Ask ``prospect`` for ``rung``; refused while any exclusive ask of theirs is open."""

        def run(e: Enrollment, at: datetime) -> tuple[Event, ...]:
            e.ask(rung, channel=channel, now=at, actor=actor, reason=reason)
            return e.history  # restored from its snapshot: only this command's events

        events = self._command(
            "ask",
            prospect,
            ladder,
            lambda s: s.status != "ended" and rung in self._ladder(s.ladder).rungs,
            run,
            now,
            idempotency_key,
        )
        first = events[0]
        assert isinstance(first, AskIssued)
        return Ask(
            first.enrollment_id, first.seq, first.rung, first.channel, first.at, first.expires_at
        )

    def follow_up(
        self,
        prospect: str,
        *,
        ladder: str | None = None,
        channel: str | None = None,
        now: datetime | None = None,
        actor: str | None = None,
        reason: str | None = None,
        idempotency_key: str | None = None,
    ) -> tuple[Event, ...]:
        """Touch the prospect's open ask again."""
        return self._answer(
            "follow_up",
            prospect,
            ladder,
            now,
            idempotency_key,
            lambda e, at: e.follow_up(channel=channel, now=at, actor=actor, reason=reason),
        )

    def commit(
        self,
        prospect: str,
        *,
        ladder: str | None = None,
        outcome: str | None = None,
        facts: Mapping[str, Any] | None = None,
        now: datetime | None = None,
        actor: str | None = None,
        reason: str | None = None,
        idempotency_key: str | None = None,
    ) -> tuple[Event, ...]:
        """The prospect said yes to their open ask (or, late, to the one that just expired)."""
        return self._answer(
            "commit",
            prospect,
            ladder,
            now,
            idempotency_key,
            lambda e, at: e.commit(
                outcome=outcome, facts=facts, now=at, actor=actor, reason=reason
            ),
        )

    def decline(
        self,
        prospect: str,
        *,
        ladder: str | None = None,
        needs: str | None = None,
        resume_at: datetime | None = None,
        now: datetime | None = None,
        actor: str | None = None,
        reason: str | None = None,
        idempotency_key: str | None = None,
    ) -> tuple[Event, ...]:
        """The prospect said no: park with what they need, or follow ``on_decline``."""
        return self._answer(
            "decline",
            prospect,
            ladder,
            now,
            idempotency_key,
            lambda e, at: e.decline(
                needs=needs, resume_at=resume_at, now=at, actor=actor, reason=reason
            ),
        )

    def withdraw(
        self,
        prospect: str,
        *,
        ladder: str | None = None,
        now: datetime | None = None,
        actor: str | None = None,
        reason: str | None = None,
        idempotency_key: str | None = None,
    ) -> tuple[Event, ...]:
        """The seller takes the open ask back."""
        return self._answer(
            "withdraw",
            prospect,
            ladder,
            now,
            idempotency_key,
            lambda e, at: e.withdraw(now=at, actor=actor, reason=reason),
        )

    def expire(
        self,
        prospect: str,
        *,
        ladder: str | None = None,
        now: datetime | None = None,
        actor: str | None = None,
        reason: str | None = None,
        idempotency_key: str | None = None,
    ) -> tuple[Event, ...]:
        """Expire the open ask once past its ``expires_at`` (``run_due`` does this itself)."""
        return self._answer(
            "expire",
            prospect,
            ladder,
            now,
            idempotency_key,
            lambda e, at: e.expire(now=at, actor=actor, reason=reason),
        )

    def resume(
        self,
        prospect: str,
        *,
        ladder: str | None = None,
        now: datetime | None = None,
        actor: str | None = None,
        reason: str | None = None,
        idempotency_key: str | None = None,
    ) -> tuple[Event, ...]:
        """Take a parked deal out of neutral."""
        return self._command(
            "resume",
            prospect,
            ladder,
            lambda s: s.status == "parked",
            lambda e, at: e.resume(now=at, actor=actor, reason=reason),
            now,
            idempotency_key,
        )

    def end(
        self,
        prospect: str,
        end: str,
        *,
        ladder: str | None = None,
        now: datetime | None = None,
        actor: str | None = None,
        reason: str | None = None,
        idempotency_key: str | None = None,
    ) -> tuple[Event, ...]:
        """Exit to a declared end, closing an open ask."""
        return self._command(
            "end",
            prospect,
            ladder,
            lambda s: s.status != "ended" and end in self._ladder(s.ladder).ends,
            lambda e, at: e.end(end, now=at, actor=actor, reason=reason),
            now,
            idempotency_key,
        )

    # ---- reading --------------------------------------------------------------------------

    def get(self, prospect: str, *, ladder: str | None = None) -> Enrollment:
        """The prospect's enrollment (on ``ladder``), restored from its snapshot."""
        return self._restore(
            self._resolve(self.store, prospect, ladder, lambda s: True), quiet=False
        )

    def history(self, prospect: str, *, ladder: str | None = None) -> tuple[Event, ...]:
        """Every stored event of the prospect's enrollment (on ``ladder``), oldest first."""
        stored = self._resolve(self.store, prospect, ladder, lambda s: True)
        return tuple(event_from_dict(d) for d in self.store.events(stored.id))

    # ---- timers and outbox ----------------------------------------------------------------

    def run_due(self, now: datetime | None = None, *, limit: int = 100) -> int:
        """Run the timers due at ``now`` (expire asks, send follow-up-due, overdue and resume
        alerts); returns how many fired. Several workers may run this at once."""
        at = self._now(now)
        fired = 0
        for timer in self.store.claim_timers(at, limit, at + self.lease):
            fired += self._fire(timer, at)
        return fired

    def relay(self, *, limit: int = 100, now: datetime | None = None) -> RelayReport:
        """Hand due outbox messages to the messenger; failures retry with backoff, then
        dead-letter after ``max_attempts``. Nothing is marked sent before ``send`` returned."""
        if self.messenger is None:
            raise LadderError("relay() needs a messenger: Tracker(messenger=...)")
        at = self._now(now)
        sent = retrying = dead = 0
        for entry in self.store.claim_messages(at, limit, at + self.lease):
            try:
                self.messenger.send(entry.message)
            except Exception as exc:
                attempts = entry.attempts + 1
                error = safe_error_text(exc)
                if attempts >= self.max_attempts:
                    self.store.message_failed(entry.message.key, error, None)
                    dead += 1
                    _log.error(
                        "message %s dead after %d attempts: %s", entry.message.key, attempts, error
                    )
                else:
                    delay = min(self.backoff * 2 ** (attempts - 1), self.max_backoff)
                    self.store.message_failed(entry.message.key, error, at + delay)
                    retrying += 1
            else:
                self.store.message_sent(entry.message.key, at)
                sent += 1
        return RelayReport(sent=sent, retrying=retrying, dead=dead)

    def redrive(self, keys: Sequence[str] | None = None, *, now: datetime | None = None) -> int:
        """Give dead-lettered messages (all, or ``keys``) a fresh retry budget."""
        return self.store.redrive(keys, self._now(now))

    # ---- machinery ------------------------------------------------------------------------

    def _now(self, now: datetime | None) -> datetime:
        return aware(now) if now is not None else self.clock.now()

    def _ladder(self, name: str) -> Ladder:
        try:
            return self._ladders[name]
        except KeyError:
            known = ", ".join(sorted(self._ladders)) or "none yet"
            raise LadderError(
                f"ladder {name!r} is not registered with this tracker (registered: {known}); "
                "call tracker.register(ladder)"
            ) from None

    def _get_id(self, store: Store, eid: str) -> Enrollment:
        stored = store.load(eid)
        if stored is None:
            raise NotEnrolled(f"no enrollment {eid!r} in the store")
        return self._restore(stored, quiet=False)

    def _restore(self, stored: StoredEnrollment, *, quiet: bool) -> Enrollment:
        cls = _Quiet if quiet else Enrollment
        return cls.from_snapshot(self._ladder(stored.ladder), stored.snapshot, clock=self.clock)

    def _resolve(
        self,
        store: Store,
        prospect: str,
        ladder: str | None,
        fits: Callable[[StoredEnrollment], bool],
    ) -> StoredEnrollment:
        if ladder is not None:
            stored = store.load(f"{ladder}/{prospect}")
            if stored is not None:
                return stored
        found = [s for s in store.find(prospect) if ladder is None or s.ladder == ladder]
        if not found:
            on = f" on ladder {ladder!r}" if ladder else ""
            raise NotEnrolled(f"{prospect!r} is not enrolled{on}; enroll them first")
        if len(found) == 1:
            return found[0]
        fitting = [s for s in found if fits(s)] or [s for s in found if s.status != "ended"]
        if len(fitting) == 1:
            return fitting[0]
        names = ", ".join(sorted(s.ladder for s in (fitting or found)))
        raise LadderError(
            f"{prospect!r} is on several ladders ({names}); say which with ladder=..."
        )

    def _answer(
        self,
        command: str,
        prospect: str,
        ladder: str | None,
        now: datetime | None,
        key: str | None,
        run: Callable[[Enrollment, datetime], tuple[Event, ...]],
    ) -> tuple[Event, ...]:
        def fits(s: StoredEnrollment) -> bool:
            snap = s.snapshot
            return snap["pending"] is not None or (command == "commit" and bool(snap["expired"]))

        return self._command(command, prospect, ladder, fits, run, now, key)

    def _command(
        self,
        command: str,
        prospect: str,
        ladder: str | None,
        fits: Callable[[StoredEnrollment], bool],
        run: Callable[[Enrollment, datetime], tuple[Event, ...]],
        now: datetime | None,
        key: str | None,
    ) -> tuple[Event, ...]:
        for _ in range(self._retries):
            refused: Refused | None = None
            first: Receipt | None = None
            try:
                # one transaction: the receipt check, the snapshot read and the write
                with self.store.session() as store:
                    if key is not None:  # checked on every try: the winner may be a twin
                        first = store.recall(key)
                        if first is not None:
                            return self._replayed(first, command)
                    stored = self._resolve(store, prospect, ladder, fits)
                    # the clock is read after the snapshot: a writer we waited for is older
                    at = self._now(now)
                    lad = self._ladder(stored.ladder)
                    e = self._restore(stored, quiet=True)
                    before, was = e.pending, self._unfired(e, stored.fired)
                    try:
                        events = run(e, at)  # a refusal writes nothing but its receipt
                    except Refused as refusal:
                        if key is None:
                            raise
                        refused = refusal
                        kept = self._refusal_receipt(key, command, e.id, refusal)
                        first = store.remember(kept, at)
                        if first is not None:  # a twin stored its answer meanwhile
                            return self._replayed(first, command)
                    else:
                        receipt = self._receipt(key, command, e.id, events)
                        first = self._store(
                            store,
                            lad,
                            e,
                            before,
                            was,
                            stored.version,
                            stored.fired,
                            events,
                            receipt,
                            at,
                        )
                        if first is not None:  # a twin stored its answer meanwhile
                            return self._replayed(first, command)
            except ConflictError:
                continue  # another writer moved first: decide again on the fresh snapshot
            except Refused as refusal:
                # the store's own rule (another enrollment of the prospect holds the ask)
                if key is None or first is not None:
                    raise
                return self._refused_once(key, command, refusal)
            if refused is not None:
                raise refused
            self._committed(lad, events)
            return events
        raise ConflictError(
            f"{command} for {prospect!r} lost the race {self._retries} times in a row; try again"
        )

    def _refused_once(self, key: str, command: str, refusal: Refused) -> tuple[Event, ...]:
        """Keep a refusal the store raised under ``key`` (its own transaction), then raise it;
        if a twin stored a result under the key first, that result is the answer."""
        receipt = self._refusal_receipt(key, command, refusal.enrollment_id, refusal)
        for _ in range(self._retries):
            try:
                with self.store.session() as store:
                    first = store.remember(receipt, self._now(None))
                    if first is not None:
                        return self._replayed(first, command)
            except ConflictError:
                continue
            raise refusal
        raise ConflictError(f"could not store the refusal under key {key!r}; try again")

    @staticmethod
    def _refusal_receipt(key: str, command: str, eid: str, refusal: Refused) -> Receipt:
        return Receipt(key, command, eid, {"refused": refusal.to_dict()})

    def _receipt(
        self, key: str | None, command: str, eid: str, events: Sequence[Event]
    ) -> Receipt | None:
        if key is None:
            return None
        return Receipt(key, command, eid, {"events": [e.to_dict() for e in events]})

    def _replayed(self, receipt: Receipt, command: str) -> tuple[Event, ...]:
        if receipt.command != command:
            raise LadderError(
                f"idempotency key {receipt.key!r} was used for {receipt.command}, "
                f"not {command}; use one key per intended command"
            )
        refused = receipt.result.get("refused")
        if refused is not None:
            raise Refused.from_dict(refused)  # the first answer was no: it stays no
        return tuple(event_from_dict(dict(d)) for d in receipt.result["events"])

    @staticmethod
    def _unfired(e: Enrollment, fired: tuple[str, ...]) -> tuple[DueTimer, ...]:
        """The timers the store holds for ``e`` as loaded: its timers not fired yet."""
        current = {_timer_key(t.kind, t.due_at): t for t in e.timers}
        return tuple(
            DueTimer(e.id, t.kind, t.due_at, t.rung) for k, t in current.items() if k not in fired
        )

    def _store(
        self,
        store: Store,
        ladder: Ladder,
        e: Enrollment,
        before: Ask | None,
        was: tuple[DueTimer, ...],
        version: int,
        fired: tuple[str, ...],
        events: Sequence[Event],
        receipt: Receipt | None,
        now: datetime,
        *,
        alerts: Sequence[Message] = (),
    ) -> Receipt | None:
        """Hand the store one command's change (the caller's session commits it); the
        first receipt when the change's idempotency key was used already."""
        after = e.pending
        rung_of = {a.seq: a.rung for a in (before, after) if a is not None}
        messages = [*messages_for(ladder, e.prospect, events, rung_of=rung_of), *alerts]
        current = {_timer_key(t.kind, t.due_at): t for t in e.timers}
        kept = tuple(k for k in fired if k in current)
        timers = [
            DueTimer(e.id, t.kind, t.due_at, t.rung) for k, t in current.items() if k not in kept
        ]
        changed = (before.seq if before else None) != (after.seq if after else None)
        open_ask = None
        if changed and after is not None:
            slot = f"prospect:{e.prospect}" if ladder.exclusive else f"enrollment:{e.id}"
            open_ask = OpenAsk(
                slot,
                e.id,
                e.prospect,
                after.rung,
                after.channel,
                after.seq,
                after.asked_at,
                after.expires_at,
            )
        return store.apply(
            Change(
                enrollment_id=e.id,
                prospect=e.prospect,
                ladder=ladder.name,
                status=e.status,
                expected_version=version,
                snapshot=e.snapshot(),
                fired=kept,
                events=[ev.to_dict() for ev in events],
                ask_changed=changed,
                had_ask=before is not None,
                open_ask=open_ask,
                timers_changed=set(timers) != set(was),
                had_timers=bool(was),
                timers=timers,
                messages=messages,
                receipt=receipt,
                now=now,
            )
        )

    def _committed(self, ladder: Ladder, events: Sequence[Event]) -> None:
        """Tell the listeners, once the store says the command is durably committed."""
        if events:
            self.store.after_commit(lambda: self._notify(ladder, events))

    def _notify(self, ladder: Ladder, events: Sequence[Event]) -> None:
        for listener in (*ladder.listeners, *self._listeners):
            for event in events:
                try:
                    listener(event)
                except Exception:
                    _log.exception(
                        "listener %r failed on %s #%d of %s; the stored command stands",
                        listener,
                        event.type,
                        event.seq,
                        event.enrollment_id,
                    )

    def _fire(self, timer: DueTimer, now: datetime) -> int:
        key = _timer_key(timer.kind, timer.due_at)
        for _ in range(self._retries):
            try:
                with self.store.session() as store:
                    fired = self._fire_in(store, timer, key, now)
                    if fired is None:
                        return 0
            except ConflictError:
                continue
            self._committed(*fired)
            return 1
        return 0

    def _fire_in(
        self, store: Store, timer: DueTimer, key: str, now: datetime
    ) -> tuple[Ladder, tuple[Event, ...]] | None:
        """Fire ``timer`` inside ``store``'s session; ``None`` when it is stale."""
        stored = store.load(timer.enrollment_id)
        if stored is None:
            return None
        lad = self._ladder(stored.ladder)
        e = self._restore(stored, quiet=True)
        timers = e.timers
        current = {_timer_key(t.kind, t.due_at) for t in timers}
        if key not in current or key in stored.fired or timer.due_at > now:
            return None  # answered or moved on since: the timer is stale
        if timer.kind != "expire" and any(t.kind == "expire" and t.due_at <= now for t in timers):
            return None  # the ask expires now: a reminder about it would come too late
        before, was = e.pending, self._unfired(e, stored.fired)
        events: tuple[Event, ...] = ()
        alerts: list[Message] = []
        fired = stored.fired
        if timer.kind == "expire":
            events = e.expire(now=now, actor="timer")
        else:
            fired = (*fired, key)
            kind = TIMER_MESSAGES[timer.kind]
            ask = e.pending
            rung = timer.rung
            alerts.append(
                Message(
                    key=f"{e.id}@{key}",
                    kind=kind,
                    prospect=e.prospect,
                    enrollment_id=e.id,
                    ladder=lad.name,
                    at=now,
                    channel=ask.channel if ask is not None else None,
                    rung=rung,
                    text=lad.rungs[rung].ask if rung is not None and ask else None,
                    data={"due_at": timer.due_at.isoformat(), "needs": e.needs},
                )
            )
        self._store(
            store, lad, e, before, was, stored.version, fired, events, None, now, alerts=alerts
        )
        return lad, events
