"""``Tracker``: the durable service object that ties ladders, a store, a messenger and a clock.

Every command takes one path, ``execute``: in one store session (one
transaction) it checks the idempotency key, finds the prospect's enrollment,
restores its state from the snapshot, lets the rules decide (the events, or the
refusal), folds the events, and hands the store one ``Change``: events, new
snapshot, open ask, timers, outgoing messages and the receipt, written together or
not at all. A lost optimistic race is decided again on the fresh snapshot. A key
used before returns the first answer as a value (``Replay``), never by unwinding a
transaction. Listeners run only after the store committed; a failing one never
undoes a stored command.
"""

from __future__ import annotations

import copy
import json
import logging
import uuid
from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from typing import Any, Literal, assert_never

from ._calendar import check_zone
from ._clock import Clock, SystemClock, aware, later
from ._decide import decide, due
from ._enrollment import Enrollment, Listener
from ._errors import (
    AskPending,
    ConflictError,
    KeyReused,
    LadderError,
    NotEnrolled,
    Refused,
    RekeyConflict,
    check_tenant,
    check_text,
)
from ._events import AskIssued, Enrolled, Event, Rekeyed, event_from_dict
from ._fold import fold, fold_all, start
from ._hooks import Hook, stage_change
from ._ladder import Ladder
from ._lifecycle import (
    BulkReport,
    ForgetReport,
    anonymous_events,
    anonymous_id,
    anonymous_snapshot,
    current_runs,
    next_run,
    rekey_conflicts,
    run_number,
)
from ._messaging import TIMER_MESSAGES, Message, Messenger, messages_for
from ._migrate import MigrationReport, Planned, plan
from ._names import DisplayName, naming
from ._state import State, restore
from ._text import safe_error_text
from ._values import Ask, Timer, iso
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
from .store import (
    BatchStore,
    Change,
    ClaimReadStore,
    DueTimer,
    LifecycleStore,
    OpenAsk,
    OutboxEntry,
    PurgeReport,
    Receipt,
    SavepointStore,
    Store,
    StoredEnrollment,
    tenant_prefix,
)

__all__ = ["DueReport", "RelayReport", "Tracker"]

_log = logging.getLogger("commitladder")

#: timers claimed per batch when ``run_due`` drains
BATCH = 100


@dataclass(frozen=True, slots=True)
class RelayReport:
    """What one ``Tracker.relay`` call did: messages ``sent``, failed and ``retrying`` later
    (with backoff), and failed for the last time (``dead``: see ``Tracker.redrive``)."""

    sent: int = 0
    retrying: int = 0
    dead: int = 0


class DueReport(int):
    """What one ``Tracker.run_due`` call did: it is the number of timers fired, and says
    what it left for later.

    ``skipped`` lists ``(enrollment_id, kind, why)`` for timers this worker could not
    fire (a ladder it does not have, an enrollment dated ahead of its clock, an error);
    they stay in the store and another run (or another worker) takes them later.
    """

    skipped: tuple[tuple[str, str, str], ...]

    def __new__(cls, fired: int = 0, skipped: Iterable[tuple[str, str, str]] = ()) -> DueReport:
        report = super().__new__(cls, fired)
        report.skipped = tuple(skipped)
        return report

    @property
    def fired(self) -> int:
        """How many timers fired."""
        return int(self)

    def __repr__(self) -> str:
        return f"DueReport(fired={int(self)}, skipped={len(self.skipped)})"

    def __str__(self) -> str:
        return str(int(self))  # an int: "fired 5 timers" reads as before


@dataclass(frozen=True, slots=True)
class _Replay:
    """The first answer stored under an idempotency key."""

    receipt: Receipt


def _timer_key(kind: str, due_at: datetime) -> str:
    return f"{kind}@{iso(due_at if due_at.tzinfo is UTC else due_at.astimezone(UTC))}"


class Tracker:
    """Run ladders durably: commands, timers and the outbox on top of a ``Store``.

    ``store`` keeps everything; ``messenger`` delivers what ``relay`` takes from the
    outbox; ``clock`` tells the time when a call gives no ``now=``. Commands address a
    prospect; pass ``ladder=`` when the prospect is on several ladders and the
    command alone does not say which (and to save the store a search).

    Every command also takes ``now=``, ``actor=`` and ``reason=`` (recorded in its
    events) and ``idempotency_key=``: the same key again returns the first result (or
    raises the first refusal) without applying anything twice; the key is bound to the
    command and the prospect (``KeyReused`` otherwise). A command raises the
    ``Refused`` the rules meet, ``NotEnrolled`` for an unknown prospect, and
    ``ConflictError`` if it lost ``retries`` optimistic races in a row. Listeners run
    after the store committed. ``max_attempts``, ``backoff`` and ``max_backoff`` shape
    the relay's retries; ``lease`` is how long a claimed timer or message stays with the
    worker that claimed it before another may take it. ``display_name(prospect_id)``
    names prospects in the sentences of refusals (which then use the rungs' and ends'
    titles too); ``to_dict()`` keeps the ids.
    """

    def __init__(
        self,
        *,
        store: Store,
        messenger: Messenger | None = None,
        clock: Clock | None = None,
        ladders: Iterable[Ladder] = (),
        listeners: Iterable[Listener] = (),
        hooks: Iterable[Hook] = (),
        max_attempts: int = 8,
        backoff: timedelta = timedelta(seconds=30),
        max_backoff: timedelta = timedelta(hours=1),
        lease: timedelta = timedelta(minutes=5),
        retries: int = 20,
        display_name: DisplayName | None = None,
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
        #: prospect id -> the name refusal sentences use (with the rungs' and ends' titles)
        self.display_name = display_name
        # name -> version -> ladder: versions of one ladder live side by side
        self._ladders: dict[str, dict[int, Ladder]] = {}
        self._timed = False
        #: tenant -> its own ladders, versioned the same way (shared with every view made
        #: by ``tenant``)
        self._tenant_ladders: dict[str, dict[str, dict[int, Ladder]]] = {}
        #: the tenant this tracker is scoped to (``None``: the enrollments without one)
        self._tenant: str | None = None
        self._listeners: list[Listener] = list(listeners)
        self._hooks: list[Hook] = list(hooks)
        for ladder in ladders:
            self.register(ladder)

    # ---- set-up ---------------------------------------------------------------------------

    def register(self, ladder: Ladder, *, tenant: str | None = None) -> Ladder:
        """Make ``ladder`` known by its name and version.

        Several versions of one ladder may be registered side by side: new enrollments go
        to the newest, and every enrollment keeps running on the version it was enrolled
        on (until migrated). Registering another ladder under a name and version already
        taken is refused. With ``tenant`` (or on a view made by ``tenant(...)``) only that
        tenant sees it; without, every tenant does. A tenant's ladder may not take a
        shared ladder's name."""
        tenant = self._own(tenant)
        if tenant is None:
            owners = [t for t, own in self._tenant_ladders.items() if ladder.name in own]
            if owners:
                raise LadderError(
                    f"tenant {owners[0]!r} has its own ladder named {ladder.name!r}; "
                    "give the shared one another name"
                )
            table = self._ladders
        else:
            if ladder.name in self._ladders:
                raise LadderError(
                    f"a shared ladder named {ladder.name!r} is registered already and every "
                    f"tenant sees it; give tenant {tenant!r}'s own ladder another name"
                )
            table = self._tenant_ladders.setdefault(tenant, {})
        versions = table.setdefault(ladder.name, {})
        known = versions.get(ladder.version)
        if known is not None and known != ladder:
            raise LadderError(
                f"another ladder named {ladder.name!r} v{ladder.version} is registered "
                f"already; give the changed ladder a new version (version: "
                f"{max(versions) + 1})"
            )
        versions[ladder.version] = ladder
        table[ladder.name] = dict(sorted(versions.items()))
        calendar = ladder.calendar
        if calendar is not None and calendar.windows:
            self._timed = True  # ``ask`` reads back when its message goes out
        return ladder

    @property
    def ladders(self) -> Mapping[str, Ladder]:
        """The registered ladders by name, each at its newest version (on a tenant's view:
        its own and the shared)."""
        return {name: versions[max(versions)] for name, versions in self._visible().items()}

    def versions(self, name: str) -> tuple[Ladder, ...]:
        """Every registered version of the ladder ``name``, oldest first."""
        self._ladder(name)
        return tuple(self._visible()[name].values())

    def _visible(self, tenant: str | None = None) -> dict[str, dict[int, Ladder]]:
        """The ladders (every version) ``tenant`` sees, this tracker's when ``None``."""
        tenant = tenant if tenant is not None else self._tenant
        if tenant is None:
            return self._ladders
        return {**self._ladders, **self._tenant_ladders.get(tenant, {})}

    # ---- tenants --------------------------------------------------------------------------

    def tenant(self, tenant: str) -> Tracker:
        """This tracker scoped to ``tenant`` (a customer account, a department).

        The view shares the store, messenger, clock, listeners and hooks; its commands,
        ``get``, ``history``, ``enroll``, ``run_due``, ``relay`` and funnel see only the
        tenant's enrollments, and it sees the tenant's own ladders beside the shared ones.
        The same prospect id in two tenants is two prospects, each with its own one open
        ask. A view cannot be turned into another tenant's.
        """
        tenant = check_tenant(tenant)
        if self._tenant is not None and tenant != self._tenant:
            raise LadderError(
                f"this tracker is scoped to tenant {self._tenant!r} and cannot see tenant "
                f"{tenant!r}; make that view from the unscoped tracker"
            )
        view = copy.copy(self)  # shares the store, the ladder tables and the listener lists
        view._tenant = tenant  # noqa: SLF001 - a copy of this very class
        return view

    @property
    def tenant_id(self) -> str | None:
        """The tenant this tracker is scoped to; ``None`` on the unscoped tracker."""
        return self._tenant

    def _own(self, tenant: str | None) -> str | None:
        """The tenant a call names: this view's, or the one given (the same, on a view)."""
        if tenant is None:
            return self._tenant
        return self.tenant(tenant).tenant_id

    def _scope(self, tenant: str | None) -> dict[str, str]:
        """The ``tenant=`` a worker passes its store: none for the unscoped tracker, so a
        store written before tenants keeps working."""
        own = self._own(tenant)
        return {"tenant": own} if own is not None else {}

    def _eid(self, ladder: str, prospect: str) -> str:
        """The enrollment id of ``prospect`` on ``ladder`` in this tracker's tenant."""
        if self._tenant is None:
            return f"{ladder}/{prospect}"
        return f"{tenant_prefix(self._tenant)}{ladder}/{prospect}"

    def _mine(self, stored: StoredEnrollment) -> bool:
        """Whether ``stored`` belongs to this tracker's tenant (or, unscoped, to none)."""
        return stored.snapshot.get("tenant") == self._tenant

    def add_listener(self, listener: Listener) -> None:
        """Call ``listener(event)`` for each stored event, after its commit."""
        self._listeners.append(listener)

    def add_hook(self, hook: Hook) -> None:
        """Call ``hook(change)`` with each write's ``StageChange``, inside the store's
        transaction, before it commits: what the hook writes through the store's
        connection commits or rolls back with the ladder, and a hook that raises rolls
        the command back and the error reaches the caller. (``MemoryStore`` has no
        transaction: there the ladder's write stands.)"""
        self._hooks.append(hook)

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
        timezone: str | None = None,
    ) -> Enrollment:
        """Start ``prospect`` on ``ladder`` (its newest version).

        ``timezone`` is the prospect's IANA time zone: business days are counted there
        (default: the ladder calendar's zone).

        Enrolling a prospect whose run on the ladder is live returns that run. Once it
        ended, the ladder's ``reentry`` policy decides: a new run (a new enrollment, id
        ``ladder/prospect~2`` and so on), or ``ReentryRefused`` saying when it will be
        allowed. An ``enrollment_id`` given by hand is the host's choice: enrolling under
        it again returns that enrollment, and no policy applies. The enrollment returned
        is read from the store: reading works, commands go through the tracker
        (``ReadOnlyEnrollment`` otherwise)."""
        lad = (
            self._ladder(ladder.name, ladder.version)
            if isinstance(ladder, Ladder)
            else self._ladder(ladder)
        )
        check_text(prospect, "prospect")
        eid = check_text(enrollment_id, "enrollment_id") if enrollment_id else None
        if eid is not None and eid.startswith("@") and self._tenant is None:
            raise LadderError(
                f"enrollment ids starting with '@' belong to tenants, not {eid!r}; "
                "choose another id"
            )
        if eid is not None and self._tenant is not None:
            eid = tenant_prefix(self._tenant) + eid  # never another tenant's id
        base = eid or self._eid(lad.name, prospect)
        key = self._key(idempotency_key)
        target = self._target(prospect, lad.name)
        args = {"command": "enroll", "enrollment_id": base}
        zone = check_zone(timezone)
        if zone is not None:
            args["timezone"] = zone
        for _ in range(self._retries):
            eid = base
            try:
                with self.store.session() as store:
                    replay = self._recall(store, key, "enroll", target, args)
                    if replay is not None:
                        return self._get_id(store, replay.receipt.enrollment_id)
                    stored = store.load(eid)
                    at = self._now(now)
                    if enrollment_id:  # the host's own id: its choice, no policy applies
                        if stored is not None:
                            return self._view(store, stored)
                    elif stored is None or stored.prospect != prospect:
                        # a run moved here from another prospect id (rekey) has that id; a
                        # run moved away keeps this one, so a new run needs another
                        mine = [
                            s
                            for s in store.find(prospect)
                            if s.ladder == lad.name and self._mine(s)
                        ]
                        if not mine and stored is not None:
                            eid = f"{base}~{uuid.uuid4().hex[:8]}"
                        stored = mine[0] if mine else None
                    if stored is not None:
                        run = next_run(
                            store,
                            lad,
                            prospect,
                            stored,
                            at,
                            base=self._eid(lad.name, prospect),
                            mine=self._mine,
                        )
                        if not isinstance(run, str):
                            return self._view(store, run)
                        eid = run
                    enrolled = self._enrolled(lad, eid, prospect, at, actor, reason, timezone)
                    state = start(lad, enrolled)
                    events = (enrolled,)
                    receipt = self._receipt(key, "enroll", eid, target, args, events)
                    change = self._change(lad, None, None, state, events, receipt, at)
                    first = store.apply(change)
                    if first is not None:
                        self._check_binding(first, "enroll", target, args)
                        return self._get_id(store, first.enrollment_id)
                    self._hooked(store, lad, None, state, events)
            except ConflictError:
                continue  # enrolled by someone else meanwhile: return theirs
            self._committed(lad, events)
            return Enrollment.from_snapshot(
                lad, state.to_dict(), clock=self.clock, read_only=True, history=_given(events)
            )
        raise ConflictError(f"could not enroll {prospect!r}: too many concurrent writers")

    def _enrolled(
        self,
        ladder: Ladder,
        eid: str,
        prospect: str,
        at: datetime,
        actor: str | None,
        reason: str | None,
        timezone: str | None = None,
    ) -> Enrolled:
        """The first event of a new enrollment, in this tracker's tenant (both ``enroll``
        and ``enroll_many`` make it here, so neither can forget the tenant)."""
        return Enrolled(
            enrollment_id=eid,
            seq=1,
            at=at,
            actor=actor,
            reason=reason,
            prospect=prospect,
            ladder=ladder.name,
            version=ladder.version,
            timezone=timezone,
            tenant=self._tenant,
        )

    def enroll_many(
        self,
        prospects: Iterable[str],
        *,
        ladder: str | Ladder,
        now: datetime | None = None,
        actor: str | None = None,
        reason: str | None = None,
        batch: int = 1_000,
    ) -> BulkReport:
        """Enroll a list of prospects on ``ladder``, ``batch`` of them per transaction.

        A prospect already live on the ladder is skipped and reported, as is one its
        ``reentry`` policy keeps out (with the refusal's sentence); a prospect listed twice
        is enrolled once. Each batch is read in one query and written with one multi-row
        insert per table; if a batch meets an enrollment made meanwhile, it is enrolled
        one by one instead. Listeners hear every ``Enrolled`` after its batch committed."""
        lad = (
            self._ladder(ladder.name, ladder.version)
            if isinstance(ladder, Ladder)
            else self._ladder(ladder)
        )
        if batch < 1:
            raise ValueError("batch must be at least 1")
        wanted = [check_text(p, "prospect") for p in dict.fromkeys(prospects)]
        enrolled: list[str] = []
        skipped: list[tuple[str, str]] = []
        for start_at in range(0, len(wanted), batch):
            chunk = wanted[start_at : start_at + batch]
            try:
                done, passed = self._enroll_batch(chunk, lad, now, actor, reason)
            except ConflictError:  # someone enrolled one of them meanwhile: go one by one
                done, passed = [], []
                for prospect in chunk:
                    try:
                        before = len(self.store.find(prospect))
                        made = self.enroll(
                            prospect, ladder=lad, now=now, actor=actor, reason=reason
                        )
                    except Refused as refusal:
                        passed.append((prospect, str(refusal)))
                        continue
                    if len(self.store.find(prospect)) > before:
                        done.append(prospect)
                    else:
                        passed.append((prospect, f"already enrolled ({made.id})"))
            enrolled.extend(done)
            skipped.extend(passed)
        return BulkReport(tuple(enrolled), tuple(skipped))

    def _enroll_batch(
        self,
        chunk: Sequence[str],
        lad: Ladder,
        now: datetime | None,
        actor: str | None,
        reason: str | None,
    ) -> tuple[list[str], list[tuple[str, str]]]:
        done: list[str] = []
        passed: list[tuple[str, str]] = []
        events: list[Enrolled] = []
        with self.store.session() as store:
            lifecycle = _lifecycle_store(store, "enroll_many")
            at = self._now(now)
            runs: dict[str, list[StoredEnrollment]] = {}
            for stored in lifecycle.find_many(chunk):
                if stored.ladder == lad.name and self._mine(stored):
                    runs.setdefault(stored.prospect, []).append(stored)
            changes = []
            quiet: bool | None = None
            for prospect in chunk:
                eid = self._eid(lad.name, prospect)
                mine = runs.get(prospect)
                if mine:
                    try:
                        run = next_run(
                            store,
                            lad,
                            prospect,
                            mine[0],
                            at,
                            base=self._eid(lad.name, prospect),
                            mine=self._mine,
                        )
                    except Refused as refusal:
                        passed.append((prospect, str(refusal)))
                        continue
                    if not isinstance(run, str):
                        passed.append((prospect, f"already enrolled ({run.id})"))
                        continue
                    eid = run
                enrolled = self._enrolled(lad, eid, prospect, at, actor, reason)
                state = start(lad, enrolled)
                if quiet is None:  # a fresh enrollment makes no timer or message: check once
                    made = self._change(lad, None, None, state, (enrolled,), None, at)
                    quiet = not (made.timers or made.messages or made.open_ask)
                if quiet:
                    # what ``_change`` makes of a fresh enrollment, without working it out
                    change = Change(
                        enrollment_id=eid,
                        prospect=prospect,
                        ladder=lad.name,
                        status=state.status,
                        expected_version=0,
                        snapshot=state.to_dict(),
                        events=[enrolled.to_dict()],
                        had_ask=False,
                        timers_changed=False,
                        had_timers=False,
                        now=at,
                    )
                else:
                    change = self._change(lad, None, None, state, (enrolled,), None, at)
                changes.append(change)
                events.append(enrolled)
                done.append(prospect)
            if quiet:
                lifecycle.enroll_all(changes)
            else:  # enroll_all writes no timer, message or ask: each with all it holds
                for change in changes:
                    store.apply(change)
        self._committed(lad, events)
        return done, passed

    def execute(
        self,
        command: Command,
        *,
        prospect: str,
        ladder: str | Ladder | None = None,
        now: datetime | None = None,
        idempotency_key: str | None = None,
    ) -> tuple[Event, ...]:
        """Run ``command`` (a value of ``commitladder.commands``) on ``prospect``'s
        enrollment, durably: the events it recorded, or the ``Refused`` it met is raised.

        With ``idempotency_key`` the command applies once: the same key again returns the
        first answer (events, or the same refusal) without running anything; the key is
        bound to this command and this prospect, and ``KeyReused`` says so when it comes
        back with another.
        """
        checked(command)
        check_text(prospect, "prospect")
        name = ladder.name if isinstance(ladder, Ladder) else ladder
        if name is not None:
            self._ladder(name)
        key = self._key(idempotency_key)
        target = self._target(prospect, name)
        args = _args(command) if key is not None else {}
        for _ in range(self._retries):
            refused: Refused | None = None
            try:
                with self.store.session() as store:
                    replay = self._recall(store, key, command.name, target, args)
                    if replay is not None:
                        return self._replayed(replay.receipt)
                    stored = self._resolve(store, prospect, name, command)
                    lad = self._ladder_of(stored)
                    state = restore(lad, stored.snapshot)
                    # the clock is read after the snapshot: a writer we waited for is older
                    at = self._now(now)
                    with naming(self.display_name):
                        decision = decide(lad, state, command, at)
                    if isinstance(decision, Refused):
                        if key is None:
                            raise decision
                        said_no = self._refusal(
                            key, command.name, stored.id, target, args, decision
                        )
                        first = store.remember(said_no, at)
                        if first is not None:
                            self._check_binding(first, command.name, target, args)
                            return self._replayed(first)
                        refused = decision  # raised once the receipt is committed
                    else:
                        events = decision
                        after = fold_all(lad, state, events)
                        receipt = self._receipt(key, command.name, stored.id, target, args, events)
                        change = self._change(lad, stored, state, after, events, receipt, at)
                        first = store.apply(change)
                        if first is not None:
                            self._check_binding(first, command.name, target, args)
                            return self._replayed(first)
                        self._hooked(store, lad, state, after, events)
            except ConflictError:
                continue  # another writer moved first: decide again on the fresh snapshot
            except Refused as refusal:
                # the store's own rule (another enrollment of the prospect holds the ask)
                if key is None or refusal is refused:
                    raise
                return self._refused_once(key, command.name, target, args, refusal)
            if refused is not None:
                raise refused
            self._committed(lad, events)
            return events
        raise ConflictError(
            f"{command.name} for {prospect!r} lost the race {self._retries} times in a row; "
            "try again"
        )

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
        """Ask ``prospect`` for ``rung``; refused while any exclusive ask of theirs is open.

        The ask's ``sends_at`` is when its message goes out under the send windows; where
        a throttle queued it later, ``sends_at(prospect)`` says when."""
        events = self.execute(
            AskFor(rung, channel, actor=actor, reason=reason),
            prospect=prospect,
            ladder=ladder,
            now=now,
            idempotency_key=idempotency_key,
        )
        first = events[0]
        assert isinstance(first, AskIssued)  # an accepted ask records AskIssued first
        ask = Ask(
            first.enrollment_id, first.seq, first.rung, first.channel, first.at, first.expires_at
        )
        if not self._timed:  # no send windows: it goes out when made (or as throttled)
            return ask
        # the state folded the window's opening into the ask; a throttle's place is left
        # to sends_at(), which scans the outbox: not on every ask
        held = self.get(prospect, ladder=ladder).pending
        return held if held is not None and held.id == ask.id else ask

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
        command = FollowUp(channel, actor=actor, reason=reason)
        return self.execute(
            command, prospect=prospect, ladder=ladder, now=now, idempotency_key=idempotency_key
        )

    def commit(
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
        """The prospect said yes: to their open ask, or to the ask ``ask_id`` names (a yes
        to an older ask is recorded late, as a ``LateCommitment``, and moves nothing)."""
        command = Commit(outcome, facts, ask_id, actor=actor, reason=reason)
        return self.execute(
            command, prospect=prospect, ladder=ladder, now=now, idempotency_key=idempotency_key
        )

    def decline(
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
        command = Decline(needs, resume_at, ask_id, actor=actor, reason=reason)
        return self.execute(
            command, prospect=prospect, ladder=ladder, now=now, idempotency_key=idempotency_key
        )

    def withdraw(
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
        command = Withdraw(ask_id, actor=actor, reason=reason)
        return self.execute(
            command, prospect=prospect, ladder=ladder, now=now, idempotency_key=idempotency_key
        )

    def expire(
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
        command = Expire(ask_id, actor=actor, reason=reason)
        return self.execute(
            command, prospect=prospect, ladder=ladder, now=now, idempotency_key=idempotency_key
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
        command = Resume(actor=actor, reason=reason)
        return self.execute(
            command, prospect=prospect, ladder=ladder, now=now, idempotency_key=idempotency_key
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
        command = End(end, actor=actor, reason=reason)
        return self.execute(
            command, prospect=prospect, ladder=ladder, now=now, idempotency_key=idempotency_key
        )

    # ---- a prospect's lifecycle --------------------------------------------------------------

    def rekey(
        self,
        old: str,
        new: str,
        *,
        now: datetime | None = None,
        actor: str | None = None,
        reason: str | None = None,
    ) -> list[Enrollment]:
        """Move every enrollment of prospect ``old`` to prospect ``new`` (a lead converted
        into a contact, two records merged), in one transaction: the open ask, timers and
        messages not yet delivered go along, and each history records a ``Rekeyed`` event.
        Enrollment and ask ids stay as they were, so links to them keep working.

        Refused with ``RekeyConflict``, moving nothing, when ``new`` already holds an open
        ask while one of ``old``'s moves (one open ask per prospect), or a live run on a
        ladder where one of ``old``'s moves live. Returns the moved enrollments."""
        check_text(old, "old")
        check_text(new, "new")
        if old == new:
            raise ValueError(f"rekey needs two prospect ids, got {old!r} twice")
        for _ in range(self._retries):
            moved: list[tuple[Ladder, tuple[Event, ...]]] = []
            try:
                with self.store.session() as store:
                    lifecycle = _lifecycle_store(store, "rekey")
                    moving = [s for s in store.find(old) if self._mine(s)]
                    if not moving:
                        raise NotEnrolled(f"{old!r} is not enrolled on any ladder; nothing to move")
                    clash = rekey_conflicts(
                        moving,
                        [s for s in store.find(new) if self._mine(s)],
                        lambda name: self._ladder(name).exclusive,
                        lambda name: self._ladder(name).reentry.policy == "any_time",
                    )
                    if clash:
                        raise _rekey_conflict(old, new, moving[0].id, clash)
                    for stored in moving:
                        lad = self._ladder_of(stored)
                        state = restore(lad, stored.snapshot)
                        at = max(self._now(now), state.at)
                        event = Rekeyed(
                            stored.id, state.seq + 1, at, old, new, actor=actor, reason=reason
                        )
                        after = fold(lad, state, event)
                        change = self._change(lad, stored, state, after, (event,), None, at)
                        if after.pending is not None:  # the open ask moves to new's slot
                            change = replace(
                                change,
                                ask_changed=True,
                                open_ask=self._open_ask(lad, after),
                            )
                        store.apply(change)
                        lifecycle.readdress(stored.id, new)
                        moved.append((lad, (event,)))
            except ConflictError:
                continue
            except AskPending as taken:  # an ask on ``new`` won the race for its slot
                clash = [taken.ask.enrollment_id]
                raise _rekey_conflict(old, new, taken.enrollment_id, clash) from taken
            for lad, events in moved:
                self._committed(lad, events)
            return self.enrollments(new)
        raise ConflictError(f"could not rekey {old!r}: too many concurrent writers; try again")

    def forget(
        self,
        prospect: str,
        *,
        reason: str,
        end: str | None = None,
        now: datetime | None = None,
        actor: str | None = None,
    ) -> ForgetReport:
        """Erase ``prospect`` (a GDPR erasure request), in one transaction.

        Live enrollments are ended first, at ``end`` (default: the ladder's first end whose
        result is ``neutral``, else ``lost``), closing any open ask. Then every enrollment
        of the prospect is replaced by an anonymous one: a new id and prospect id that
        name no one, its events without facts, needs or reasons, and its outbox messages
        and idempotency receipts deleted. What stays is anonymous: the rungs asked,
        answered and reached, their times and outcomes, and the ends, so funnel figures
        stay right. ``reason`` is required (an erasure is accountable) and is logged, not
        stored with the prospect."""
        check_text(prospect, "prospect")
        check_text(reason, "reason")
        for _ in range(self._retries):
            ended: list[tuple[Ladder, tuple[Event, ...]]] = []
            messages = receipts = 0
            try:
                with self.store.session() as store:
                    lifecycle = _lifecycle_store(store, "forget")
                    found = [s for s in store.find(prospect) if self._mine(s)]
                    if not found:
                        raise NotEnrolled(f"{prospect!r} is not enrolled; nothing to forget")
                    for stored in found:
                        lad = self._ladder_of(stored)
                        state = restore(lad, stored.snapshot)
                        if state.status != "ended":
                            at = max(self._now(now), state.at)
                            command = End(end or _quiet_end(lad), actor=actor, reason="erased")
                            decision = decide(lad, state, command, at)
                            if isinstance(decision, Refused):
                                raise decision
                            after = fold_all(lad, state, decision)
                            store.apply(self._change(lad, stored, state, after, decision, None, at))
                            state = after
                            ended.append((lad, decision))
                        new_id = f"{lad.name}/{anonymous_id()}"
                        who = anonymous_id()
                        gone = lifecycle.erase(
                            stored.id,
                            new_id=new_id,
                            prospect=who,
                            snapshot=anonymous_snapshot(state.to_dict(), new_id, who),
                            events=anonymous_events(store.events(stored.id), new_id, who),
                        )
                        messages += gone[0]
                        receipts += gone[1]
            except ConflictError:
                continue
            _log.info(
                "forgot a prospect (%d enrollment(s), %d ended) by %s: %s",
                len(found),
                len(ended),
                actor or "someone",
                reason,
            )
            return ForgetReport(len(found), len(ended), messages, receipts)
        raise ConflictError(f"could not forget {prospect!r}: too many concurrent writers")

    def migrate(
        self,
        name: str,
        *,
        to_version: int | None = None,
        dry_run: bool = True,
        batch: int = 500,
        now: datetime | None = None,
        actor: str | None = None,
        reason: str | None = None,
        progress: Callable[[int], object] | None = None,
    ) -> MigrationReport:
        """Move live enrollments of ladder ``name`` onto ``to_version`` (the newest
        registered), by the migrations that version declares.

        A dry run (the default) writes nothing and reports how many enrollments would move
        from each state to each state, and which cannot move and why. With
        ``dry_run=False`` each enrollment moves in its own transaction, recording a
        ``Migrated`` event: a run that stops half-way (a crash, a deploy) is resumed by
        running it again, and moves each enrollment exactly once. Open asks survive a
        renamed rung; an open ask on a removed rung is withdrawn (its mapped rung becomes
        the next ask). ``progress(n)`` is called after each page of ``batch`` enrollments.
        Only the target version needs to be registered: the old names come from the
        snapshots. Ended enrollments stay on the version they ended on."""
        target = self._ladder(name, to_version)
        if batch < 1:
            raise ValueError("batch must be at least 1")
        at = self._now(now)
        moves: dict[tuple[str, str], int] = {}
        blocked: list[tuple[str, str, str]] = []
        migrated = current = 0
        after: str | None = None
        while True:
            with self.store.session() as store:
                page = _lifecycle_store(store, "migrate").scan(name, after=after, limit=batch)
            if not page:
                break
            after = page[-1].id
            for stored in page:
                if self._tenant is not None and not self._mine(stored):
                    continue  # on a tenant's view, only its own enrollments move
                if int(stored.snapshot["version"]) == target.version:
                    current += 1
                    continue
                planned = plan(stored.snapshot, target, at, actor=actor, reason=reason)
                if planned.target is None:
                    blocked.append((stored.id, planned.source, str(planned.why)))
                    continue
                if not dry_run:
                    done = self._migrate_one(stored.id, target, at, actor, reason)
                    if done is None:
                        current += 1
                        continue
                    if done.target is None:
                        blocked.append((stored.id, done.source, str(done.why)))
                        continue
                    migrated += 1
                    planned = done
                key = (planned.source, planned.target or "")
                moves[key] = moves.get(key, 0) + 1
            if progress is not None:
                progress(len(page))
        return MigrationReport(
            name, target.version, dry_run, moves, tuple(blocked), migrated, current
        )

    def _migrate_one(
        self, eid: str, target: Ladder, at: datetime, actor: str | None, reason: str | None
    ) -> Planned | None:
        """Migrate one enrollment in its own transaction: what was done, or ``None`` when
        it is on the target version already (another run moved it)."""
        for _ in range(self._retries):
            try:
                with self.store.session() as store:
                    stored = store.load(eid)
                    if stored is None or int(stored.snapshot["version"]) == target.version:
                        return None
                    planned = plan(stored.snapshot, target, at, actor=actor, reason=reason)
                    if planned.event is None or planned.state is None:
                        return planned
                    after, events = planned.state, (planned.event,)
                    change = self._change(target, stored, None, after, events, None, at)
                    change = replace(
                        change,
                        expected_version=stored.version,
                        ask_changed=True,
                        had_ask=stored.snapshot.get("pending") is not None,
                        open_ask=self._open_ask(target, after) if after.pending else None,
                        timers_changed=True,
                        had_timers=True,
                    )
                    store.apply(change)
            except ConflictError:
                continue
            self._committed(target, events)
            return planned
        raise ConflictError(f"could not migrate {eid!r}: too many concurrent writers; try again")

    # ---- reading --------------------------------------------------------------------------

    def get(self, prospect: str, *, ladder: str | None = None) -> Enrollment:
        """The prospect's enrollment (on ``ladder``), as stored.

        It is read-only: its commands raise ``ReadOnlyEnrollment`` (run them through the
        tracker, which stores them), and its ``history`` is the stored one, loaded when
        first read."""
        check_text(prospect, "prospect")
        return self._view(self.store, self._resolve(self.store, prospect, ladder, None))

    def enrollments(self, prospect: str, *, ladder: str | None = None) -> list[Enrollment]:
        """Every enrollment of ``prospect`` (on ``ladder``), each run of a ladder one of
        them, oldest first (by enrollment time, then run), read-only as ``get``'s."""
        check_text(prospect, "prospect")
        with self.store.session() as store:
            found = [
                s
                for s in store.find(prospect)
                if (ladder is None or s.ladder == ladder) and self._mine(s)
            ]
            began = {s.id: (store.events(s.id)[:1] or [{"at": ""}])[0]["at"] for s in found}
            found.sort(key=lambda s: (began[s.id], run_number(s), s.id))
            return [self._view(store, s) for s in found]

    def sends_at(self, prospect: str, *, ladder: str | None = None) -> datetime | None:
        """When the message of the prospect's open ask (its latest touch) goes out, or
        ``None`` with no open ask.

        The ask's own ``sends_at`` (its send window, in the prospect's zone), or later
        when a throttle queued a first ask's message for a period with room: that time is
        read from the message's outbox row, as the store reserved it. (It scans the
        outbox, so call it for one prospect at a time, not in a loop over many.)"""
        check_text(prospect, "prospect")
        ask = self._queued_ask(prospect, ladder)
        return ask.sends_at if ask is not None else None

    def _queued_ask(self, prospect: str, ladder: str | None) -> Ask | None:
        """The stored open ask, its ``not_before`` the throttle's time where one queued it."""
        e = self.get(prospect, ladder=ladder)
        ask = e.pending
        if ask is None or ask.follow_ups or not e.ladder.throttles:
            return ask  # throttles count first asks only
        key = f"{ask.id}:ask"
        for entry in self.store.outbox():
            if entry.message.key == key:
                queued = entry.message.not_before
                if queued is not None and queued > ask.sends_at:
                    return ask._replace(not_before=queued)
                break
        return ask

    def history(self, prospect: str, *, ladder: str | None = None) -> tuple[Event, ...]:
        """Every stored event of the prospect's enrollment (on ``ladder``), oldest first."""
        check_text(prospect, "prospect")
        stored = self._resolve(self.store, prospect, ladder, None)
        return tuple(event_from_dict(d) for d in self.store.events(stored.id))

    # ---- timers and outbox ----------------------------------------------------------------

    def run_due(
        self, now: datetime | None = None, *, limit: int | None = None, tenant: str | None = None
    ) -> DueReport:
        """Run the timers due at ``now``: expire asks, send follow-up-due, overdue and resume
        alerts. Returns how many fired (a ``DueReport``, an int that also lists what it
        skipped). Several workers may run this at once.

        Without ``limit`` it drains: it claims batches of ``BATCH`` until none is due.
        With ``limit`` it claims at most that many. One bad timer never stops the others:
        a timer of a ladder this tracker does not have, of an enrollment dated after
        ``now`` (a worker whose clock lags) or that fails is skipped, stays stored and is
        claimed again once its lease (``lease``) ends.

        With ``tenant`` (or on a tenant's view) it runs only that tenant's timers; the
        unscoped tracker without ``tenant`` serves every tenant.
        """
        scope = self._scope(tenant)
        at = self._now(now)
        if limit is not None and limit < 1:
            raise ValueError("limit must be at least 1, or None to drain")
        fired = 0
        skipped: list[tuple[str, str, str]] = []
        batch = limit or BATCH
        lease_until = later(at, self.lease)
        store = self.store
        # without hooks a batch is fired from one read: the claim's own, where it can
        claim_read = (
            store.claim_due if isinstance(store, ClaimReadStore) and not self._hooks else None
        )
        while True:
            read: Mapping[str, StoredEnrollment] | None = None
            if claim_read is not None:
                claimed, read = claim_read(at, batch, lease_until, **scope)
            else:
                claimed = store.claim_timers(at, batch, lease_until, **scope)
            for timer, why in zip(claimed, self._fire_all(claimed, at, read), strict=True):
                if why is None:
                    fired += 1
                elif why:
                    skipped.append((timer.enrollment_id, timer.kind, why))
            if limit is not None or len(claimed) < batch:
                break
        if skipped:
            _log.warning(
                "run_due left %d timer(s) for later: %s",
                len(skipped),
                "; ".join(f"{eid} {kind}: {why}" for eid, kind, why in skipped[:5]),
            )
        return DueReport(fired, skipped)

    def relay(
        self, *, limit: int = 100, now: datetime | None = None, tenant: str | None = None
    ) -> RelayReport:
        """Hand due outbox messages to the messenger; failures retry with backoff, then
        dead-letter after ``max_attempts``. Nothing is marked sent before ``send`` returned.
        With ``tenant`` (or on a tenant's view) it relays only that tenant's messages; the
        unscoped tracker without ``tenant`` relays every tenant's."""
        if self.messenger is None:
            raise LadderError("relay() needs a messenger: Tracker(messenger=...)")
        scope = self._scope(tenant)
        at = self._now(now)
        attempts: list[tuple[OutboxEntry, BaseException | None]] = []
        try:
            for entry in self.store.claim_messages(at, limit, later(at, self.lease), **scope):
                try:
                    self.messenger.send(entry.message)
                except Exception as exc:
                    attempts.append((entry, exc))
                else:
                    attempts.append((entry, None))
        finally:  # interrupted too: what was sent is recorded, the rest waits for its lease
            done = self._record_all(attempts, at)
        return RelayReport(**done)

    def _record_all(
        self, attempts: Sequence[tuple[OutboxEntry, BaseException | None]], at: datetime
    ) -> Counter[str]:
        """Record a relay's attempts in one transaction; if it fails, one by one (each in
        its own, as ``record_attempt``). Until then a sent message is still pending under
        its lease: at worst sent again after it, as delivery is at least once."""
        if len(attempts) > 1:
            try:
                with self.store.session() as store:
                    done: Counter[str] = Counter(
                        self._record(store, e, error, at) for e, error in attempts
                    )
            except Exception:
                _log.warning("recording %d deliveries together failed; one by one",
                             len(attempts), exc_info=True)  # fmt: skip
            else:
                return done
        return Counter(self._record(self.store, e, error, at) for e, error in attempts)

    def record_attempt(
        self, entry: OutboxEntry, error: BaseException | None, *, now: datetime | None = None
    ) -> Literal["sent", "retrying", "dead"]:
        """Record one delivery attempt of a claimed outbox ``entry``: ``error`` is what the
        messenger raised, ``None`` once it returned. A failure retries with backoff, or
        dead-letters after ``max_attempts``. ``relay`` calls this; so may a host's own
        delivery loop."""
        return self._record(self.store, entry, error, self._now(now))

    def _record(
        self, store: Store, entry: OutboxEntry, error: BaseException | None, at: datetime
    ) -> Literal["sent", "retrying", "dead"]:
        key = entry.message.key
        if error is None:
            store.message_sent(key, at)
            return "sent"
        attempts = entry.attempts + 1
        text = safe_error_text(error)
        if attempts >= self.max_attempts:
            store.message_failed(key, text, None)
            _log.error("message %s dead after %d attempts: %s", key, attempts, text)
            return "dead"
        delay = min(self.backoff * 2 ** (attempts - 1), self.max_backoff)
        store.message_failed(key, text, later(at, delay))
        return "retrying"

    def redrive(self, keys: Sequence[str] | None = None, *, now: datetime | None = None) -> int:
        """Give dead-lettered messages (all, or ``keys``) a fresh retry budget; on a
        tenant's view, only the tenant's own."""
        if self._tenant is not None:
            prefix = tenant_prefix(self._tenant)  # a message key starts with its enrollment id
            if keys is None:
                keys = [e.message.key for e in self.store.outbox("dead")]
            keys = [k for k in keys if k.startswith(prefix)]
            if not keys:
                return 0
        return self.store.redrive(keys, self._now(now))

    def purge(
        self,
        *,
        sent_before: datetime | None = None,
        dead_before: datetime | None = None,
        receipts_before: datetime | None = None,
        batch: int = 5_000,
    ) -> PurgeReport:
        """Delete what the store no longer needs, past each horizon given: outbox messages
        delivered before ``sent_before``, dead-lettered ones last tried before
        ``dead_before``, idempotency receipts stored before ``receipts_before`` (a key
        retried after that runs again). Never a message not yet delivered, an enrollment
        or an event: funnels stay right. Deletes in batches of ``batch`` rows, each in its
        own transaction, so a large purge never holds locks for long."""
        if self._tenant is not None:
            raise LadderError(
                f"purge deletes old rows of every tenant, so it runs on the unscoped tracker, "
                f"not on tenant {self._tenant!r}'s view"
            )
        if batch < 1:
            raise ValueError("batch must be at least 1")
        horizons = {
            "sent_before": sent_before,
            "dead_before": dead_before,
            "receipts_before": receipts_before,
        }
        for name, value in horizons.items():
            if value is not None:
                horizons[name] = aware(value)
        total = PurgeReport()
        while any(v is not None for v in horizons.values()):
            with self.store.session() as store:
                done = _lifecycle_store(store, "purge").purge(**horizons, limit=batch)
            total = PurgeReport(
                total.sent + done.sent, total.dead + done.dead, total.receipts + done.receipts
            )
            for name, count in zip(horizons, (done.sent, done.dead, done.receipts), strict=True):
                if count < batch:
                    horizons[name] = None  # that kind is drained
        return total

    # ---- finding the enrollment -------------------------------------------------------------

    def _now(self, now: datetime | None) -> datetime:
        return aware(now) if now is not None else self.clock.now()

    def _ladder(self, name: str, version: int | None = None, tenant: str | None = None) -> Ladder:
        """The ladder ``name`` at ``version`` (the newest when ``None``), as ``tenant`` (this
        tracker's when ``None``) sees it."""
        versions = self._visible(tenant).get(name)
        if versions is None:
            known = ", ".join(sorted(self.ladders)) or "none yet"
            raise LadderError(
                f"ladder {name!r} is not registered with this tracker (registered: {known}); "
                "call tracker.register(ladder)"
            )
        if version is None:
            return versions[max(versions)]
        found = versions.get(version)
        if found is None:
            have = ", ".join(f"v{v}" for v in versions)
            raise LadderError(
                f"ladder {name!r} v{version} is not registered with this tracker (it has "
                f"{have}); enrollments on v{version} need it: register it beside the newer "
                "version, or migrate them (tracker.migrate)"
            )
        return found

    def _ladder_of(self, stored: StoredEnrollment) -> Ladder:
        """The ladder, at the version it runs on, of a stored enrollment."""
        version = stored.snapshot.get("version")
        return self._ladder(
            stored.ladder,
            int(version) if version is not None else None,
            tenant=stored.snapshot.get("tenant"),
        )

    def _view(self, store: Store, stored: StoredEnrollment) -> Enrollment:
        """A read-only enrollment of ``stored``, its history loaded from the store on use."""
        events = self.store.events
        return Enrollment.from_snapshot(
            self._ladder_of(stored),
            stored.snapshot,
            clock=self.clock,
            read_only=True,
            history=lambda: [event_from_dict(d) for d in events(stored.id)],
            display_name=self.display_name,
        )

    def _get_id(self, store: Store, eid: str) -> Enrollment:
        stored = store.load(eid)
        if stored is None:
            raise NotEnrolled(f"no enrollment {eid!r} in the store")
        return self._view(store, stored)

    def _resolve(
        self, store: Store, prospect: str, ladder: str | None, command: Command | None
    ) -> StoredEnrollment:
        """The enrollment of ``prospect`` a command addresses: on ``ladder`` when given (a live
        one before an ended one), else the only one, or the only one the command fits."""
        if ladder is not None:
            stored = store.load(self._eid(ladder, prospect))
            if (
                stored is not None
                and stored.status != "ended"
                and stored.prospect == prospect
                and self._mine(stored)
                and self._ladder(ladder).reentry.policy != "any_time"  # else runs overlap
            ):
                return stored  # the common case, in one read
        found = [
            s
            for s in store.find(prospect)
            if (ladder is None or s.ladder == ladder) and self._mine(s)
        ]
        found = current_runs(found)  # the newest live run of each ladder, else its newest
        if not found:
            on = f" on ladder {ladder!r}" if ladder else ""
            raise NotEnrolled(f"{prospect!r} is not enrolled{on}; enroll them first")
        if len(found) == 1:
            return found[0]
        live = [s for s in found if s.status != "ended"]
        fitting = [s for s in live if self._fits(s, command)] if command is not None else []
        for choice in (fitting, live):
            if len(choice) == 1:
                return choice[0]
        several = fitting or live or found
        names = ", ".join(sorted(f"{s.id} ({s.status})" for s in several))
        raise LadderError(
            f"{prospect!r} has several enrollments that could take this command ({names}); "
            "say which with ladder=..."
        )

    def _fits(self, stored: StoredEnrollment, command: Command) -> bool:
        """Whether ``command`` makes sense on ``stored`` (to pick among several ladders)."""
        snap = stored.snapshot
        try:
            lad: Ladder | None = self._ladder_of(stored)
        except LadderError:
            lad = None
        match command:
            case AskFor():
                return lad is not None and command.rung in lad.rungs
            case Commit():
                if command.ask_id is not None:
                    return command.ask_id.startswith(f"{stored.id}#")
                return bool(snap.get("pending") or snap.get("expired"))
            case FollowUp() | Decline() | Expire() | Withdraw():
                return snap.get("pending") is not None
            case Resume():
                return stored.status == "parked"
            case End():
                return lad is not None and command.end in lad.ends
            case _:
                assert_never(command)

    # ---- idempotency ------------------------------------------------------------------------

    def _key(self, key: str | None) -> str | None:
        if key is None:
            return None
        check_text(key, "idempotency_key")
        # a tenant's keys live in its own namespace: never another tenant's receipt
        return key if self._tenant is None else tenant_prefix(self._tenant) + key

    def _target(self, prospect: str, ladder: str | None) -> dict[str, Any]:
        target: dict[str, Any] = {"prospect": prospect, "ladder": ladder}
        if self._tenant is not None:
            target["tenant"] = self._tenant
        return target

    def _recall(
        self,
        store: Store,
        key: str | None,
        name: str,
        target: Mapping[str, Any],
        args: Mapping[str, Any],
    ) -> _Replay | None:
        if key is None:  # checked on every try: the winner may be a twin
            return None
        first = store.recall(key)
        if first is None:
            return None
        self._check_binding(first, name, target, args)
        return _Replay(first)

    @staticmethod
    def _check_binding(
        first: Receipt, name: str, target: Mapping[str, Any], args: Mapping[str, Any]
    ) -> None:
        """A key is bound to the command it first ran and to its prospect (and ladder)."""
        was = first.result.get("target") or {}
        same = (
            first.command == name
            and was.get("prospect", target["prospect"]) == target["prospect"]
            and was.get("tenant") == target.get("tenant")
        )
        if same and target.get("ladder") is not None and was.get("ladder") is not None:
            same = was["ladder"] == target["ladder"]
        if same and "args" in first.result:
            same = _canonical(first.result["args"]) == _canonical(args)
        if not same:
            raise KeyReused(
                f"idempotency key {first.key!r} was used for {_describe(first.command, was)}; "
                f"this call is {_describe(name, target)}. A key names one intended command: "
                "use a new key for another command or another prospect",
                key=first.key,
                first=_describe(first.command, was),
                now=_describe(name, target),
            )

    @staticmethod
    def _receipt(
        key: str | None,
        name: str,
        eid: str,
        target: Mapping[str, Any],
        args: Mapping[str, Any],
        events: Sequence[Event],
    ) -> Receipt | None:
        if key is None:
            return None
        result = {
            "target": dict(target),
            "args": dict(args),
            "events": [e.to_dict() for e in events],
        }
        return Receipt(key, name, eid, result)

    @staticmethod
    def _refusal(
        key: str,
        name: str,
        eid: str,
        target: Mapping[str, Any],
        args: Mapping[str, Any],
        refusal: Refused,
    ) -> Receipt:
        result = {"target": dict(target), "args": dict(args), "refused": refusal.to_dict()}
        return Receipt(key, name, eid, result)

    @staticmethod
    def _replayed(receipt: Receipt) -> tuple[Event, ...]:
        refused = receipt.result.get("refused")
        if refused is not None:
            raise Refused.from_dict(refused)  # the first answer was no: it stays no
        return tuple(event_from_dict(d) for d in receipt.result["events"])

    def _refused_once(
        self,
        key: str,
        name: str,
        target: Mapping[str, Any],
        args: Mapping[str, Any],
        refusal: Refused,
    ) -> tuple[Event, ...]:
        """Keep a refusal the store raised under ``key`` (its own transaction), then raise it;
        if a twin stored a result under the key first, that result is the answer."""
        receipt = self._refusal(key, name, refusal.enrollment_id, target, args, refusal)
        for _ in range(self._retries):
            try:
                with self.store.session() as store:
                    first = store.remember(receipt, self._now(None))
            except ConflictError:
                continue
            if first is not None:
                self._check_binding(first, name, target, args)
                return self._replayed(first)
            raise refusal
        raise ConflictError(f"could not store the refusal under key {key!r}; try again")

    # ---- writing ----------------------------------------------------------------------------

    def _change(
        self,
        ladder: Ladder,
        stored: StoredEnrollment | None,
        before: State | None,
        after: State,
        events: Sequence[Event],
        receipt: Receipt | None,
        now: datetime,
        *,
        fired: tuple[str, ...] | None = None,
        alerts: Sequence[Message] = (),
        due_before: Sequence[Timer] | None = None,
    ) -> Change:
        """The one ``Change`` a command (or a timer) writes (``due_before``: what was due
        on ``before``, when the caller knows it already)."""
        was_fired = stored.fired if stored is not None else ()
        fired = was_fired if fired is None else fired
        ask_before = before.pending if before is not None else None
        ask_after = after.pending
        ident = after.ident
        rung_of = {a.seq: a.rung for a in (ask_before, ask_after) if a is not None}
        zone = ident.timezone
        made = messages_for(ladder, ident.prospect, events, rung_of=rung_of, timezone=zone)
        messages = [*made, *alerts]
        after_timers = due(ladder, after)
        if due_before is not None:
            before_timers: Sequence[Timer] = due_before
        else:
            before_timers = due(ladder, before) if before is not None else ()
        if fired or was_fired:  # some alert fired already: the store keeps only the others
            current = {_timer_key(t.kind, t.due_at): t for t in after_timers}
            kept = tuple(k for k in fired if k in current)
            after_timers = tuple(t for k, t in current.items() if k not in kept)
            before_timers = tuple(
                t for t in before_timers if _timer_key(t.kind, t.due_at) not in was_fired
            )
        else:
            kept = ()
        timers = [DueTimer(ident.id, t.kind, t.due_at, t.rung) for t in after_timers]
        changed = (ask_before.seq if ask_before else None) != (ask_after.seq if ask_after else None)
        open_ask = None
        if changed and ask_after is not None:
            open_ask = self._open_ask(ladder, after)
        return Change(
            enrollment_id=ident.id,
            prospect=ident.prospect,
            ladder=ladder.name,
            status=after.status,
            expected_version=stored.version if stored is not None else 0,
            snapshot=after.to_dict(),
            fired=kept,
            events=[ev.to_dict() for ev in events],
            ask_changed=changed,
            had_ask=ask_before is not None,
            open_ask=open_ask,
            timers_changed=set(after_timers) != set(before_timers),
            had_timers=bool(before_timers),
            timers=timers,
            messages=messages,
            receipt=receipt,
            now=now,
        )

    def _hooked(
        self,
        store: Store,
        ladder: Ladder,
        before: State | None,
        after: State,
        events: Sequence[Event],
    ) -> None:
        """Run the hooks inside ``store``'s transaction (an error rolls the write back)."""
        if self._hooks:
            change = stage_change(ladder, store, before, after, events)
            for hook in self._hooks:
                hook(change)

    @staticmethod
    def _open_ask(ladder: Ladder, state: State) -> OpenAsk:
        """The open-ask row of ``state``'s pending ask, in the prospect's slot (within its
        tenant), or the enrollment's own off an exclusive ladder."""
        ask, ident = state.pending, state.ident
        assert ask is not None
        if not ladder.exclusive:
            slot = f"enrollment:{ident.id}"
        elif ident.tenant is None:
            slot = f"prospect:{ident.prospect}"
        else:  # one open ask per prospect within the tenant
            slot = f"tenant:{ident.tenant}/prospect:{ident.prospect}"
        return OpenAsk(
            slot,
            ident.id,
            ident.prospect,
            ask.rung,
            ask.channel,
            ask.seq,
            ask.asked_at,
            ask.expires_at,
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

    # ---- timers -----------------------------------------------------------------------------

    def _fire_all(
        self,
        timers: Sequence[DueTimer],
        now: datetime,
        read: Mapping[str, StoredEnrollment] | None,
    ) -> list[str | None]:
        """Fire claimed ``timers`` (what ``_fire`` says of each), ``BATCH`` of them per
        transaction where the store can nest one (``SavepointStore``): each in a savepoint,
        so a failing one is rolled back alone and left for later. One that lost a race
        is fired again on its own; if a batch's transaction fails as a whole (MySQL ends
        a transaction on a deadlock), nothing of it was kept and each is fired on its own.
        ``read``: their enrollments as the claim read them (``ClaimReadStore``)."""
        said: list[str | None] = []
        for start_at in range(0, len(timers), BATCH):
            chunk = timers[start_at : start_at + BATCH]
            batched = self._fire_batch(chunk, now, read) if len(chunk) > 1 else None
            if batched is None:
                said.extend(self._fire(timer, now) for timer in chunk)
                continue
            answers, raced = batched
            for i in raced:  # lost a race inside the batch: again on its own
                answers[i] = self._fire(chunk[i], now)
            said.extend(answers)
        return said

    def _fire_batch(
        self,
        timers: Sequence[DueTimer],
        now: datetime,
        read: Mapping[str, StoredEnrollment] | None,
    ) -> tuple[list[str | None], list[int]] | None:
        """Fire ``timers`` in one transaction: what ``_fire`` says of each, and the
        indexes of those to fire again on their own (they lost a race, or another timer
        of their enrollment fired in the batch). ``None`` when the store cannot nest
        transactions or the batch's transaction failed as a whole (then nothing of it
        was kept).

        Without hooks, on a ``BatchStore``, the batch is read in one query (or taken
        from ``read``, what the claim read) and written with a statement per kind of row;
        with hooks (host code, which may fail for one enrollment), each enrollment is
        fired in a savepoint of its own."""
        said: list[str | None] = []
        raced: list[int] = []
        done: list[tuple[Ladder, tuple[Event, ...]]] = []
        try:
            with self.store.session() as store:
                if not self._hooks and isinstance(store, BatchStore):
                    self._fire_together(store, timers, now, said, raced, done, read)
                elif isinstance(store, SavepointStore):
                    self._fire_each(store, timers, now, said, raced, done)
                else:
                    return None
        except Exception:
            _log.warning("a batch of %d timers failed as a whole; firing them one by one",
                         len(timers), exc_info=True)  # fmt: skip
            return None
        for lad, events in done:
            self._committed(lad, events)
        return said, raced

    def _fire_together(
        self,
        store: BatchStore,
        timers: Sequence[DueTimer],
        now: datetime,
        said: list[str | None],
        again: list[int],
        done: list[tuple[Ladder, tuple[Event, ...]]],
        read: Mapping[str, StoredEnrollment] | None,
    ) -> None:
        """Fire ``timers`` from one read (``read``, the claim's, or ``load_many``'s),
        writing every change with ``apply_all``; a second timer of an enrollment is left
        to fire ``again`` on its own."""
        found = read if read is not None else store.load_many([t.enrollment_id for t in timers])
        changes: list[Change] = []
        seen: set[str] = set()
        for timer in timers:
            stored = found.get(timer.enrollment_id)
            if timer.enrollment_id in seen:
                again.append(len(said))
                said.append("")
                continue
            if stored is None:
                said.append("")
                continue
            try:
                planned = self._plan(stored, timer, _timer_key(timer.kind, timer.due_at), now)
            except Exception as exc:  # one bad timer never stops the others
                said.append(_failed(timer, exc))
                continue
            if isinstance(planned, str):
                said.append(planned)
                continue
            lad, _, _, events, change = planned
            seen.add(timer.enrollment_id)
            changes.append(change)
            done.append((lad, events))
            said.append(None)
        store.apply_all(changes)

    def _fire_each(
        self,
        store: Store,
        timers: Sequence[DueTimer],
        now: datetime,
        said: list[str | None],
        raced: list[int],
        done: list[tuple[Ladder, tuple[Event, ...]]],
    ) -> None:
        """Fire ``timers`` one after another, each in a savepoint of its own: a failing
        one is rolled back alone; one that lost a race is left to fire again."""
        assert isinstance(store, SavepointStore)
        for timer in timers:
            try:
                with store.savepoint():
                    fired = self._fire_in(store, timer, _timer_key(timer.kind, timer.due_at), now)
            except ConflictError:
                raced.append(len(said))
                said.append("")
                continue
            except Exception as exc:  # one bad timer never stops the others
                said.append(_failed(timer, exc))
                continue
            if isinstance(fired, str):
                said.append(fired)
            else:
                said.append(None)
                done.append(fired)

    def _fire(self, timer: DueTimer, now: datetime) -> str | None:
        """Fire ``timer``: ``None`` when it fired, ``""`` when it was stale (answered or
        moved on since), else why it was left for later."""
        key = _timer_key(timer.kind, timer.due_at)
        for _ in range(self._retries):
            try:
                with self.store.session() as store:
                    fired = self._fire_in(store, timer, key, now)
                    if isinstance(fired, str):
                        return fired
            except ConflictError:
                continue
            except Exception as exc:  # one bad timer never stops the others
                return _failed(timer, exc)
            self._committed(*fired)
            return None
        return "lost the race to other writers; it runs again later"

    def _fire_in(
        self, store: Store, timer: DueTimer, key: str, now: datetime
    ) -> tuple[Ladder, tuple[Event, ...]] | str:
        """Fire ``timer`` inside ``store``'s session (see ``_fire`` for what a string says)."""
        stored = store.load(timer.enrollment_id)
        if stored is None:
            return ""
        planned = self._plan(stored, timer, key, now)
        if isinstance(planned, str):
            return planned
        lad, state, after, events, change = planned
        store.apply(change)
        if events:
            self._hooked(store, lad, state, after, events)
        return lad, events

    def _plan(
        self, stored: StoredEnrollment, timer: DueTimer, key: str, now: datetime
    ) -> tuple[Ladder, State, State, tuple[Event, ...], Change] | str:
        """What firing ``timer`` on ``stored`` writes (the ladder, the state before and
        after, the events and the change), or a string as ``_fire`` says it."""
        try:
            lad = self._ladder_of(stored)
        except LadderError:
            version = stored.snapshot.get("version")
            return f"ladder {stored.ladder!r} v{version} is not registered with this worker"
        state = restore(lad, stored.snapshot)
        if state.at > now:
            return f"its last event ({state.at.isoformat()}) is after this worker's clock"
        timers = due(lad, state)
        if timer.kind == "follow_up":
            # a throttle's queue moved it later (the store did): it is the ask's follow-up
            key = next(
                (
                    _timer_key(t.kind, t.due_at)
                    for t in timers
                    if t.kind == "follow_up" and t.due_at <= timer.due_at
                ),
                key,
            )
        current = {_timer_key(t.kind, t.due_at) for t in timers}
        if key not in current or key in stored.fired or timer.due_at > now:
            return ""  # answered or moved on since: the timer is stale
        if timer.kind != "expire" and any(t.kind == "expire" and t.due_at <= now for t in timers):
            return ""  # the ask expires now: a reminder about it would come too late
        events: tuple[Event, ...] = ()
        alerts: list[Message] = []
        fired = stored.fired
        after = state
        if timer.kind == "expire":
            assert state.pending is not None  # an expire timer exists only with an open ask
            decision = decide(lad, state, Expire(state.pending.id, actor="timer"), now)
            if isinstance(decision, Refused):
                return ""
            events = decision
            after = fold_all(lad, state, events)
        else:
            fired = (*fired, key)
            alerts.append(self._alert(lad, state, timer, key, now))
        change = self._change(
            lad,
            stored,
            state,
            after,
            events,
            None,
            now,
            fired=fired,
            alerts=alerts,
            due_before=timers,
        )
        return lad, state, after, events, change

    @staticmethod
    def _alert(ladder: Ladder, state: State, timer: DueTimer, key: str, now: datetime) -> Message:
        ask = state.pending
        rung = timer.rung
        return Message(
            key=f"{state.ident.id}@{key}",
            kind=TIMER_MESSAGES[timer.kind],
            prospect=state.ident.prospect,
            enrollment_id=state.ident.id,
            ladder=ladder.name,
            at=now,
            channel=ask.channel if ask is not None else None,
            rung=rung,
            text=ladder.rungs[rung].ask if rung is not None and ask else None,
            data={"due_at": timer.due_at.isoformat(), "needs": state.needs},
        )


def _failed(timer: DueTimer, exc: Exception) -> str:
    """Log a timer that failed; what ``run_due`` reports of it."""
    _log.exception("timer %s of %s failed", timer.kind, timer.enrollment_id)
    return f"failed: {type(exc).__name__}: {exc}"


def _lifecycle_store(store: Store, what: str) -> LifecycleStore:
    if not isinstance(store, LifecycleStore):
        raise LadderError(
            f"{type(store).__name__} cannot {what}: it has none of LifecycleStore's methods "
            "(MemoryStore, SqlStore and DjangoStore have them)"
        )
    return store


def _rekey_conflict(old: str, new: str, eid: str, clash: Sequence[str]) -> RekeyConflict:
    return RekeyConflict(
        f"cannot move {old} to {new}: {new} already has {', '.join(clash)}, which would "
        f"clash (a second open ask, or a second live run on one ladder); answer, withdraw "
        "or end it first, then rekey again",
        enrollment_id=eid,
        target=new,
        conflicts=clash,
    )


def _quiet_end(ladder: Ladder) -> str:
    """The end a forgotten prospect's live enrollment goes to: a neutral one, else lost."""
    for result in ("neutral", "lost"):
        for end in ladder.ends.values():
            if end.result == result:
                return end.id
    return next(iter(ladder.ends))


def _given(events: Sequence[Event]) -> Callable[[], Sequence[Event]]:
    """A history loader that already holds every event (a fresh enrollment's one)."""
    return lambda: events


def _args(command: Command) -> dict[str, Any]:
    """What binds an idempotency key to its command: the command without actor and reason."""
    data = command.to_dict()
    data.pop("actor", None)
    data.pop("reason", None)
    return data


def _canonical(args: Mapping[str, Any]) -> str:
    # as stored (JSON): tuples and lists alike, keys in order
    return json.dumps(args, sort_keys=True, default=str)


def _describe(name: str, target: Mapping[str, Any]) -> str:
    on = f" on {target['ladder']}" if target.get("ladder") else ""
    return f"{name} for {target.get('prospect', '?')!r}{on}"
