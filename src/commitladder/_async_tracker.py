"""``AsyncTracker``: the ``Tracker`` for asyncio hosts (FastAPI, async Django, workers).

It decides nothing and keeps nothing of its own: each call runs the very ``Tracker``
code (the pure decide and fold, idempotency receipts, the open-ask slot, the outbox
rows, the retries of a lost race, the timers) on a ``Store`` that its ``AsyncStore``
lends for the call; ``AsyncSqlStore`` lends one whose every statement awaits an asyncio
driver, so the event loop never waits on the database. Only delivery is async of its
own: the relay awaits an ``AsyncMessenger``, and a plain ``Messenger`` runs in a worker
thread. This module must never import a database driver, nor hold a store between calls.
"""

from __future__ import annotations

import asyncio
import copy
import inspect
from collections import Counter
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any, TypeVar, cast

from ._clock import Clock, aware, later
from ._enrollment import Enrollment, Listener
from ._errors import LadderError
from ._events import Event
from ._ladder import Ladder
from ._memory_store import MemoryStore
from ._messaging import AsyncMessenger, Message, Messenger
from ._tracker import DueReport, RelayReport, Tracker
from ._values import Ask
from .commands import Command
from .store import AsyncStore, OutboxEntry, Store

__all__ = ["AsyncTracker"]

_T = TypeVar("_T")


class _Direct:
    """A ``MemoryStore`` as an ``AsyncStore``: it never waits, so it is called directly."""

    def __init__(self, store: MemoryStore) -> None:
        self.store = store

    async def run(self, call: Callable[[Store], _T]) -> _T:
        return call(self.store)


class AsyncTracker:
    """``Tracker``'s commands, timers and relay, awaited: for asyncio hosts.

    ``store`` is an ``AsyncStore`` (``commitladder.sql.AsyncSqlStore``; a
    ``MemoryStore`` for tests and demos); ``messenger`` an ``AsyncMessenger`` or a plain
    ``Messenger`` (its ``send`` then runs in a worker thread). Every other argument, and
    every method's arguments, results and errors, are ``Tracker``'s: the same code runs
    underneath, so sync and async workers can share one database. Listeners are called
    on the event loop after the commit: keep them quick.
    """

    def __init__(
        self,
        *,
        store: AsyncStore | MemoryStore,
        messenger: Messenger | AsyncMessenger | None = None,
        clock: Clock | None = None,
        ladders: Iterable[Ladder] = (),
        listeners: Iterable[Listener] = (),
        max_attempts: int = 8,
        backoff: timedelta = timedelta(seconds=30),
        max_backoff: timedelta = timedelta(hours=1),
        lease: timedelta = timedelta(minutes=5),
        retries: int = 20,
    ) -> None:
        if isinstance(store, MemoryStore):
            store = _Direct(store)
        elif not isinstance(store, AsyncStore):
            blocking = " (a SqlStore would block the event loop on every statement)"
            raise TypeError(
                f"AsyncTracker needs an AsyncStore such as commitladder.sql.AsyncSqlStore, "
                f"not {type(store).__name__}"
                f"{blocking if isinstance(store, Store) else ''}"
            )
        self.store: AsyncStore = store
        self.messenger = messenger
        self._send = _sender(messenger)
        # the Tracker every call copies, with the store lent for that call
        self._tracker = Tracker(
            store=cast(Store, None),  # only the copies made in _call hold a store
            clock=clock,
            ladders=ladders,
            listeners=listeners,
            max_attempts=max_attempts,
            backoff=backoff,
            max_backoff=max_backoff,
            lease=lease,
            retries=retries,
        )

    # ---- set-up ---------------------------------------------------------------------------

    @property
    def clock(self) -> Clock:
        """The clock a call reads when it gives no ``now=``."""
        return self._tracker.clock

    @clock.setter
    def clock(self, clock: Clock) -> None:
        self._tracker.clock = clock

    def register(self, ladder: Ladder) -> Ladder:
        """Make ``ladder`` known by its name (see ``Tracker.register``)."""
        return self._tracker.register(ladder)

    @property
    def ladders(self) -> Mapping[str, Ladder]:
        """The registered ladders by name."""
        return self._tracker.ladders

    def add_listener(self, listener: Listener) -> None:
        """Call ``listener(event)`` for each stored event, after its commit."""
        self._tracker.add_listener(listener)

    async def _call(self, work: Callable[[Tracker], _T]) -> _T:
        """Run ``work`` on a copy of the tracker holding the store lent for this call."""
        template = self._tracker

        def lent(store: Store) -> _T:
            tracker = copy.copy(template)
            tracker.store = store
            return work(tracker)

        return await self.store.run(lent)

    # ---- commands -------------------------------------------------------------------------

    async def enroll(
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
        """Start ``prospect`` on ``ladder``; enrolling again returns the existing enrollment
        (read-only, its history loaded)."""
        return await self._call(
            lambda t: _loaded(
                t.enroll(
                    prospect,
                    ladder=ladder,
                    enrollment_id=enrollment_id,
                    now=now,
                    actor=actor,
                    reason=reason,
                    idempotency_key=idempotency_key,
                ),
                t.clock,
            )
        )

    async def execute(
        self,
        command: Command,
        *,
        prospect: str,
        ladder: str | Ladder | None = None,
        now: datetime | None = None,
        idempotency_key: str | None = None,
    ) -> tuple[Event, ...]:
        """Run ``command`` on ``prospect``'s enrollment, durably (see ``Tracker.execute``)."""
        return await self._call(
            lambda t: t.execute(
                command, prospect=prospect, ladder=ladder, now=now, idempotency_key=idempotency_key
            )
        )

    async def ask(
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
        return await self._call(
            lambda t: t.ask(
                prospect,
                rung,
                ladder=ladder,
                channel=channel,
                now=now,
                actor=actor,
                reason=reason,
                idempotency_key=idempotency_key,
            )
        )

    async def follow_up(
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
        return await self._call(
            lambda t: t.follow_up(
                prospect,
                ladder=ladder,
                channel=channel,
                now=now,
                actor=actor,
                reason=reason,
                idempotency_key=idempotency_key,
            )
        )

    async def commit(
        self,
        prospect: str,
        *,
        ladder: str | None = None,
        outcome: str | None = None,
        facts: Mapping[str, Any] | None = None,
        ask_id: str | None = None,
        now: datetime | None = None,
        actor: str | None = None,
        reason: str | None = None,
        idempotency_key: str | None = None,
    ) -> tuple[Event, ...]:
        """The prospect said yes (see ``Tracker.commit``)."""
        return await self._call(
            lambda t: t.commit(
                prospect,
                ladder=ladder,
                outcome=outcome,
                facts=facts,
                ask_id=ask_id,
                now=now,
                actor=actor,
                reason=reason,
                idempotency_key=idempotency_key,
            )
        )

    async def decline(
        self,
        prospect: str,
        *,
        ladder: str | None = None,
        needs: str | None = None,
        resume_at: datetime | None = None,
        ask_id: str | None = None,
        now: datetime | None = None,
        actor: str | None = None,
        reason: str | None = None,
        idempotency_key: str | None = None,
    ) -> tuple[Event, ...]:
        """The prospect said no: park with what they need, or follow ``on_decline``."""
        return await self._call(
            lambda t: t.decline(
                prospect,
                ladder=ladder,
                needs=needs,
                resume_at=resume_at,
                ask_id=ask_id,
                now=now,
                actor=actor,
                reason=reason,
                idempotency_key=idempotency_key,
            )
        )

    async def withdraw(
        self,
        prospect: str,
        *,
        ladder: str | None = None,
        ask_id: str | None = None,
        now: datetime | None = None,
        actor: str | None = None,
        reason: str | None = None,
        idempotency_key: str | None = None,
    ) -> tuple[Event, ...]:
        """The seller takes the open ask back."""
        return await self._call(
            lambda t: t.withdraw(
                prospect,
                ladder=ladder,
                ask_id=ask_id,
                now=now,
                actor=actor,
                reason=reason,
                idempotency_key=idempotency_key,
            )
        )

    async def expire(
        self,
        prospect: str,
        *,
        ladder: str | None = None,
        ask_id: str | None = None,
        now: datetime | None = None,
        actor: str | None = None,
        reason: str | None = None,
        idempotency_key: str | None = None,
    ) -> tuple[Event, ...]:
        """Expire the open ask once past its ``expires_at`` (``run_due`` does this itself)."""
        return await self._call(
            lambda t: t.expire(
                prospect,
                ladder=ladder,
                ask_id=ask_id,
                now=now,
                actor=actor,
                reason=reason,
                idempotency_key=idempotency_key,
            )
        )

    async def resume(
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
        return await self._call(
            lambda t: t.resume(
                prospect,
                ladder=ladder,
                now=now,
                actor=actor,
                reason=reason,
                idempotency_key=idempotency_key,
            )
        )

    async def end(
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
        return await self._call(
            lambda t: t.end(
                prospect,
                end,
                ladder=ladder,
                now=now,
                actor=actor,
                reason=reason,
                idempotency_key=idempotency_key,
            )
        )

    # ---- reading --------------------------------------------------------------------------

    async def get(self, prospect: str, *, ladder: str | None = None) -> Enrollment:
        """The prospect's enrollment (on ``ladder``), as stored: read-only, with its stored
        history loaded (a property cannot await the store later)."""
        return await self._call(lambda t: _loaded(t.get(prospect, ladder=ladder), t.clock))

    async def history(self, prospect: str, *, ladder: str | None = None) -> tuple[Event, ...]:
        """Every stored event of the prospect's enrollment (on ``ladder``), oldest first."""
        return await self._call(lambda t: t.history(prospect, ladder=ladder))

    # ---- timers and outbox ----------------------------------------------------------------

    async def run_due(self, now: datetime | None = None, *, limit: int | None = None) -> DueReport:
        """Run the timers due at ``now`` (see ``Tracker.run_due``); several workers, sync
        or async, may run this at once."""
        return await self._call(lambda t: t.run_due(now, limit=limit))

    async def relay(self, *, limit: int = 100, now: datetime | None = None) -> RelayReport:
        """Hand due outbox messages to the messenger, one after another, awaiting each;
        failures retry with backoff, then dead-letter after ``max_attempts``. Nothing is
        marked sent before ``send`` returned (a cancelled relay leaves its claimed
        messages to be sent again once their lease ends)."""
        send = self._send
        if send is None:
            raise LadderError("relay() needs a messenger: AsyncTracker(messenger=...)")
        at = aware(now) if now is not None else self.clock.now()
        claimed = await self._call(lambda t: t.store.claim_messages(at, limit, later(at, t.lease)))
        done: Counter[str] = Counter()
        for entry in claimed:
            error: Exception | None = None
            try:
                await send(entry.message)
            except Exception as exc:
                error = exc
            done[await self._call(_record(entry, error, at))] += 1
        return RelayReport(**done)

    async def redrive(
        self, keys: Sequence[str] | None = None, *, now: datetime | None = None
    ) -> int:
        """Give dead-lettered messages (all, or ``keys``) a fresh retry budget."""
        return await self._call(lambda t: t.redrive(keys, now=now))

    def __repr__(self) -> str:
        return f"<AsyncTracker store={self.store!r} ladders={sorted(self.ladders)}>"


def _loaded(enrollment: Enrollment, clock: Clock) -> Enrollment:
    """``enrollment`` with its history read now, while the store is lent."""
    history = enrollment.history
    return Enrollment.from_snapshot(
        enrollment.ladder,
        enrollment.snapshot(),
        clock=clock,
        read_only=True,
        history=lambda: history,
    )


def _record(entry: OutboxEntry, error: Exception | None, at: datetime) -> Callable[[Tracker], str]:
    return lambda tracker: tracker.record_attempt(entry, error, now=at)


def _sender(
    messenger: Messenger | AsyncMessenger | None,
) -> Callable[[Message], Awaitable[None]] | None:
    """How the relay awaits a delivery: an async ``send`` as it is, a sync one in a thread."""
    if messenger is None:
        return None
    send = messenger.send
    if inspect.iscoroutinefunction(send):
        return cast(Callable[[Message], Awaitable[None]], send)
    blocking = cast(Callable[[Message], None], send)
    return lambda message: asyncio.to_thread(blocking, message)
