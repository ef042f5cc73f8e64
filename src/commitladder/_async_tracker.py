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
import functools
import inspect
from collections import Counter
from collections.abc import Awaitable, Callable, Coroutine, Iterable, Mapping
from datetime import datetime, timedelta
from typing import Any, Concatenate, ParamSpec, TypeVar, cast

from ._clock import Clock, aware, later
from ._enrollment import Enrollment, Listener
from ._errors import LadderError
from ._ladder import Ladder
from ._memory_store import MemoryStore
from ._messaging import AsyncMessenger, Message, Messenger
from ._tracker import RelayReport, Tracker
from .store import AsyncStore, OutboxEntry, Store

__all__ = ["AsyncTracker"]

_T = TypeVar("_T")
_P = ParamSpec("_P")


def _loaded(tracker: Tracker, enrollment: Enrollment) -> Enrollment:
    """``enrollment`` with its history read now, while the store is lent."""
    history = enrollment.history
    return Enrollment.from_snapshot(
        enrollment.ladder,
        enrollment.snapshot(),
        clock=tracker.clock,
        read_only=True,
        history=lambda: history,
    )


def _awaited(
    method: Callable[Concatenate[Tracker, _P], _T],
    *,
    then: Callable[[Tracker, _T], _T] | None = None,
) -> Callable[Concatenate[AsyncTracker, _P], Coroutine[Any, Any, _T]]:
    """``Tracker``'s ``method`` as an ``AsyncTracker`` coroutine method: the same
    signature, docstring and code, run on the store the call is lent (and ``then``
    applied to its result there)."""

    def work(tracker: Tracker, *args: _P.args, **kwargs: _P.kwargs) -> _T:
        result = method(tracker, *args, **kwargs)
        return then(tracker, result) if then is not None else result

    @functools.wraps(method)
    async def awaited(self: AsyncTracker, /, *args: _P.args, **kwargs: _P.kwargs) -> _T:
        return await self._call(lambda tracker: work(tracker, *args, **kwargs))

    return awaited


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
    underneath, so sync and async workers can share one database. ``enroll`` and ``get``
    return the enrollment with its stored history loaded, since a property cannot await
    the store later. Listeners are called on the event loop after the commit: keep them
    quick.
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

    def register(self, ladder: Ladder, *, tenant: str | None = None) -> Ladder:
        """Make ``ladder`` known by its name, to every tenant or to ``tenant`` only (see
        ``Tracker.register``)."""
        return self._tracker.register(ladder, tenant=tenant)

    @property
    def ladders(self) -> Mapping[str, Ladder]:
        """The registered ladders by name (on a tenant's view: its own and the shared)."""
        return self._tracker.ladders

    def tenant(self, tenant: str) -> AsyncTracker:
        """This tracker scoped to ``tenant``: its calls see only that tenant's enrollments
        and ladders (see ``Tracker.tenant``)."""
        view = copy.copy(self)
        view._tracker = self._tracker.tenant(tenant)  # noqa: SLF001 - a copy of this class
        return view

    @property
    def tenant_id(self) -> str | None:
        """The tenant this tracker is scoped to; ``None`` on the unscoped tracker."""
        return self._tracker.tenant_id

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

    enroll = _awaited(Tracker.enroll, then=_loaded)
    """``Tracker.enroll``, awaited; the enrollment comes with its history loaded."""

    # the commands: each runs the Tracker's method of that name, its signature and all
    execute = _awaited(Tracker.execute)
    """``Tracker.execute``, awaited: run a command value on a prospect's enrollment."""
    ask = _awaited(Tracker.ask)
    """``Tracker.ask``, awaited: one ask at a time, the store decides a race."""
    follow_up = _awaited(Tracker.follow_up)
    """``Tracker.follow_up``, awaited."""
    commit = _awaited(Tracker.commit)
    """``Tracker.commit``, awaited."""
    decline = _awaited(Tracker.decline)
    """``Tracker.decline``, awaited."""
    withdraw = _awaited(Tracker.withdraw)
    """``Tracker.withdraw``, awaited."""
    expire = _awaited(Tracker.expire)
    """``Tracker.expire``, awaited."""
    resume = _awaited(Tracker.resume)
    """``Tracker.resume``, awaited."""
    end = _awaited(Tracker.end)
    """``Tracker.end``, awaited."""

    # ---- reading --------------------------------------------------------------------------

    get = _awaited(Tracker.get, then=_loaded)
    """``Tracker.get``, awaited; the enrollment comes with its history loaded."""
    history = _awaited(Tracker.history)
    """``Tracker.history``, awaited."""
    sends_at = _awaited(Tracker.sends_at)
    """``Tracker.sends_at``, awaited: when the open ask's message goes out."""

    # ---- timers and outbox ----------------------------------------------------------------

    run_due = _awaited(Tracker.run_due)
    """``Tracker.run_due``, awaited; sync and async workers may run it at once."""

    async def relay(
        self, *, limit: int = 100, now: datetime | None = None, tenant: str | None = None
    ) -> RelayReport:
        """Hand due outbox messages to the messenger, one after another, awaiting each;
        failures retry with backoff, then dead-letter after ``max_attempts``. Nothing is
        marked sent before ``send`` returned (a cancelled relay leaves its claimed
        messages to be sent again once their lease ends). With ``tenant`` (or on a
        tenant's view) only that tenant's messages."""
        send = self._send
        if send is None:
            raise LadderError("relay() needs a messenger: AsyncTracker(messenger=...)")
        own = self._tracker.tenant(tenant).tenant_id if tenant is not None else self.tenant_id
        scope = {"tenant": own} if own is not None else {}
        at = aware(now) if now is not None else self.clock.now()
        claimed = await self._call(
            lambda t: t.store.claim_messages(at, limit, later(at, t.lease), **scope)
        )
        done: Counter[str] = Counter()
        for entry in claimed:
            error: Exception | None = None
            try:
                await send(entry.message)
            except Exception as exc:
                error = exc
            done[await self._call(_record(entry, error, at))] += 1
        return RelayReport(**done)

    redrive = _awaited(Tracker.redrive)
    """``Tracker.redrive``, awaited."""

    def __repr__(self) -> str:
        return f"<AsyncTracker store={self.store!r} ladders={sorted(self.ladders)}>"


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
