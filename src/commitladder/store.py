"""The ``Store`` protocol: what a durable home for enrollments must guarantee.

A store keeps, per enrollment, a snapshot with a version (loading never reads the
history), the event log, the prospect's open ask (unique per prospect: the store,
not the Python process, enforces one open ask at a time), the timers with their
due times, the outbox and the idempotency receipts. ``apply`` writes one command's
``Change`` all at once or not at all. A store must never decide anything about
the ladder: the tracker decides, the store only keeps its promises.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal, Protocol, TypeVar, runtime_checkable

from ._errors import AskPending, NotEnrolled
from ._messaging import Message
from ._values import Ask

__all__ = [
    "SCHEMA_VERSION",
    "AsyncStore",
    "BatchStore",
    "Change",
    "ClaimReadStore",
    "DueTimer",
    "LifecycleStore",
    "NotEnrolled",
    "OpenAsk",
    "OutboxEntry",
    "PurgeReport",
    "Receipt",
    "SavepointStore",
    "Store",
    "StoredEnrollment",
    "ask_pending",
    "tenant_prefix",
]

SCHEMA_VERSION = 3  # 3: throttle counters (issue 17)
"""The version of the tables a durable store writes; ``create_schema`` records it (2: an
enrollment's timers live in its own row)."""

OutboxStatus = Literal["pending", "sent", "dead"]


@dataclass(frozen=True, slots=True)
class StoredEnrollment:
    """An enrollment as stored: its snapshot, version, and the alerts already fired."""

    id: str
    prospect: str
    ladder: str
    status: str
    version: int
    snapshot: Mapping[str, Any]
    fired: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class OpenAsk:
    """The row that holds a prospect's one open ask (``slot`` is unique in the store)."""

    slot: str
    enrollment_id: str
    prospect: str
    rung: str
    channel: str
    seq: int
    asked_at: datetime
    expires_at: datetime | None


@dataclass(frozen=True, slots=True)
class DueTimer:
    """Something to run at ``due_at``: ``expire``, ``follow_up``, ``next_step_overdue``,
    ``resume``."""

    enrollment_id: str
    kind: str
    due_at: datetime
    rung: str | None = None


@dataclass(frozen=True, slots=True)
class Receipt:
    """The first result of a command run under an idempotency key."""

    key: str
    command: str
    enrollment_id: str
    result: Mapping[str, Any]


@dataclass(frozen=True, slots=True)
class OutboxEntry:
    """A message in the outbox and where its delivery stands."""

    message: Message
    status: OutboxStatus
    attempts: int
    next_attempt_at: datetime
    last_error: str | None = None
    sent_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class Change:
    """Everything one command writes, applied atomically by ``Store.apply``.

    ``expected_version`` is the version the command read (0: a new enrollment);
    the store refuses the change with ``ConflictError`` if another writer moved it.
    ``had_ask``, ``timers_changed`` and ``had_timers`` say what the command knows of the
    stored side rows, so a store can skip statements with nothing to do; their
    defaults (replace everything) are always correct.
    """

    enrollment_id: str
    prospect: str
    ladder: str
    status: str
    expected_version: int
    snapshot: Mapping[str, Any]
    fired: tuple[str, ...] = ()
    events: Sequence[Mapping[str, Any]] = ()
    ask_changed: bool = False
    had_ask: bool = True
    open_ask: OpenAsk | None = None
    timers_changed: bool = True
    had_timers: bool = True
    timers: Sequence[DueTimer] = ()
    messages: Sequence[Message] = ()
    receipt: Receipt | None = None
    now: datetime | None = field(default=None, compare=False)


@runtime_checkable
class Store(Protocol):
    """Where a ``Tracker`` keeps enrollments, events, open asks, timers and the outbox.

    Implementations: ``MemoryStore`` (tests, demos) and ``commitladder.sql.SqlStore``.
    Every method is atomic on its own; ``apply`` is the one that writes a command.
    """

    def session(self) -> AbstractContextManager[Store]:
        """A store whose calls share one transaction, committed when the block ends.

        A command reads and applies inside one session; if the block raises, nothing
        it applied is kept. Listeners wait for ``after_commit`` after the block.
        """

    def create_schema(self) -> None:
        """Create what the store needs; safe to call again."""

    def load(self, enrollment_id: str) -> StoredEnrollment | None:
        """The stored snapshot of one enrollment (never its history)."""

    def find(self, prospect: str) -> list[StoredEnrollment]:
        """Every enrollment of ``prospect``, on any ladder."""

    def events(self, enrollment_id: str) -> list[dict[str, Any]]:
        """The enrollment's events as ``Event.to_dict()`` dicts, oldest first."""

    def apply(self, change: Change) -> Receipt | None:
        """Write ``change`` atomically; return ``None`` once it is written.

        When ``change.receipt``'s idempotency key was used already, write nothing and
        return the first ``Receipt`` stored under it: a replay is an answer, not an
        error. Raises ``ConflictError`` when the version moved and ``AskPending`` when
        the prospect's open-ask slot is held by another enrollment; on any error
        nothing is written.
        """

    def recall(self, key: str) -> Receipt | None:
        """The receipt stored under an idempotency key, if any."""

    def remember(self, receipt: Receipt, now: datetime) -> Receipt | None:
        """Store the receipt of a refused command, and nothing else; ``None`` once stored.

        When the key was used already, write nothing and return the first ``Receipt``.
        """

    def claim_timers(
        self, now: datetime, limit: int, lease_until: datetime, *, tenant: str | None = None
    ) -> list[DueTimer]:
        """Timers due at ``now`` not leased by another worker, of at most ``limit``
        enrollments, soonest first; lease them until ``lease_until``. With ``tenant``,
        only that tenant's (enrollment ids starting ``@<tenant>/``; see ``tenant_prefix``);
        the tracker passes it only to a tenant's worker."""

    def claim_messages(
        self, now: datetime, limit: int, lease_until: datetime, *, tenant: str | None = None
    ) -> list[OutboxEntry]:
        """Up to ``limit`` pending messages due for an attempt; lease them. With
        ``tenant``, only that tenant's, as ``claim_timers``."""

    def message_sent(self, key: str, now: datetime) -> None:
        """Mark a message delivered (only after the messenger returned)."""

    def message_failed(self, key: str, error: str, retry_at: datetime | None) -> None:
        """Record a failed attempt: retry at ``retry_at``, or dead-letter it when ``None``.

        ``error`` may be any ``str``: a store keeps what it cannot store as text
        (lone surrogates, NUL) escaped, never refuses it.
        """

    def outbox(self, status: OutboxStatus | None = None) -> list[OutboxEntry]:
        """The outbox, oldest first, optionally only one status."""

    def redrive(self, keys: Sequence[str] | None, now: datetime) -> int:
        """Put dead messages (all, or those ``keys``) back to pending; returns how many."""

    def after_commit(self, callback: Callable[[], None]) -> None:
        """Run ``callback`` once the last ``apply`` is durably committed."""


_T = TypeVar("_T")


@runtime_checkable
class AsyncStore(Protocol):
    """Where an ``AsyncTracker`` keeps everything: a ``Store`` lent to synchronous code
    whose I/O never blocks the event loop.

    ``run(call)`` calls ``call(store)`` with a ``Store`` whose transactions are committed
    before ``run`` returns, and returns what ``call`` returned (or raises what it raised).
    Shipped: ``commitladder.sql.AsyncSqlStore``, which runs ``call`` in SQLAlchemy's
    greenlet with every statement awaited; a ``MemoryStore`` given to ``AsyncTracker``
    is called directly (it never waits).
    """

    async def run(self, call: Callable[[Store], _T]) -> _T:
        """Run ``call`` with a ``Store`` for one unit of work; return its result."""
        ...


@dataclass(frozen=True, slots=True)
class PurgeReport:
    """What ``Tracker.purge`` deleted: delivered (``sent``) and dead-lettered (``dead``)
    outbox rows, and idempotency ``receipts`` past their horizon."""

    sent: int = 0
    dead: int = 0
    receipts: int = 0

    @property
    def total(self) -> int:
        """Every row deleted."""
        return self.sent + self.dead + self.receipts


@runtime_checkable
class LifecycleStore(Protocol):
    """A store that can look after a prospect's data over the years (``MemoryStore``,
    ``SqlStore``, and the session of ``DjangoStore``): ``Tracker.purge``, ``rekey`` and
    ``forget`` call it inside a session, beside ``apply``."""

    def readdress(self, enrollment_id: str, prospect: str) -> int:
        """Give the enrollment, and its messages not yet delivered, to ``prospect`` (after
        the ``apply`` that recorded it; the snapshot says so already). Returns how many
        messages it readdressed."""

    def find_many(self, prospects: Sequence[str]) -> list[StoredEnrollment]:
        """Every enrollment of any of ``prospects``, in one read."""

    def enroll_all(self, changes: Sequence[Change]) -> None:
        """Write new enrollments (each ``Change`` an ``Enrolled`` one: no open ask, timer,
        message or receipt) together, with as few statements as the database allows.
        ``ConflictError`` when one of the ids exists already; then nothing is written."""

    def scan(self, ladder: str, *, after: str | None, limit: int) -> list[StoredEnrollment]:
        """Up to ``limit`` live (not ended) enrollments on ``ladder`` whose id sorts after
        ``after`` (from the first when ``None``), by id: pages that stay right while
        other writers work."""

    def erase(
        self,
        enrollment_id: str,
        *,
        new_id: str,
        prospect: str,
        snapshot: Mapping[str, Any],
        events: Sequence[Mapping[str, Any]],
    ) -> tuple[int, int]:
        """Replace an ended enrollment by an anonymous one: its row and events under
        ``new_id`` and ``prospect`` with ``snapshot`` and ``events`` (the tracker made
        them anonymous), and delete its outbox messages, open-ask row and idempotency
        receipts. Returns how many messages and receipts it deleted."""

    def purge(
        self,
        *,
        sent_before: datetime | None,
        dead_before: datetime | None,
        receipts_before: datetime | None,
        limit: int,
    ) -> PurgeReport:
        """Delete up to ``limit`` rows of each kind: outbox rows delivered before
        ``sent_before``, dead-lettered rows whose last attempt was due before
        ``dead_before``, receipts stored before ``receipts_before`` (``None``: keep that
        kind). Never a pending message."""


def tenant_prefix(tenant: str) -> str:
    """How every enrollment id of ``tenant`` starts (and so every message key of it)."""
    return f"@{tenant}/"


@runtime_checkable
class SavepointStore(Protocol):
    """A session's store that can nest a transaction (``SqlStore``'s session, and so
    ``DjangoStore``'s): ``Tracker.run_due`` then fires a batch of timers in one
    transaction, each enrollment in a savepoint of its own, so one failing enrollment is
    rolled back alone. Without it, each timer takes a transaction of its own."""

    def savepoint(self) -> AbstractContextManager[None]:
        """A savepoint inside this session's transaction: what the block wrote is rolled
        back alone when the block raises (the error goes on), kept when it ends."""


@runtime_checkable
class BatchStore(Protocol):
    """A session's store that reads and writes many enrollments with a statement per
    kind of row (``SqlStore``'s session): ``Tracker.run_due`` (without hooks) then fires
    a claimed batch of timers with a handful of statements in all, where each timer
    took seven. If anything of the batch fails, the session is rolled back whole and each
    timer fires on its own."""

    def load_many(self, enrollment_ids: Sequence[str]) -> dict[str, StoredEnrollment]:
        """The stored enrollments among ``enrollment_ids``, by id, in one read."""

    def apply_all(self, changes: Sequence[Change]) -> None:
        """Write ``changes`` (each of an enrollment stored already) in this session's
        transaction, with as few statements as the database allows. ``ConflictError``
        when another writer moved one of them: the session must then be rolled back."""


@runtime_checkable
class ClaimReadStore(Protocol):
    """A store whose claim of due timers reads their enrollments in the same statement
    (``SqlStore``, ``DjangoStore``): ``Tracker.run_due`` (without hooks, on a
    ``BatchStore`` session) then fires a claimed batch without reading it again. What
    the claim read may be older than the batch's write (a command ran in between): the
    write's version check refuses it (``ConflictError``), the batch is rolled back and
    each timer fires on its own, reading its enrollment afresh."""

    def claim_due(
        self, now: datetime, limit: int, lease_until: datetime, *, tenant: str | None = None
    ) -> tuple[list[DueTimer], dict[str, StoredEnrollment]]:
        """What ``claim_timers`` claims, and the claimed enrollments by id (as
        ``load_many`` reads them), read when they were leased."""


def ask_pending(holder: OpenAsk, enrollment_id: str, rung: str | None) -> AskPending:
    """The refusal a command meets when another enrollment of the prospect holds an ask."""
    ask = Ask(
        holder.enrollment_id,
        holder.seq,
        holder.rung,
        holder.channel,
        holder.asked_at,
        holder.expires_at,
    )
    elsewhere = f" on {holder.enrollment_id}" if holder.enrollment_id != enrollment_id else ""
    return AskPending(
        f"{holder.prospect} already has an open ask for {holder.rung}{elsewhere} "
        f"(asked {holder.asked_at.strftime('%Y-%m-%d %H:%M %Z').strip()} by {holder.channel}); "
        "one commitment at a time: wait for the answer, follow up, or withdraw it first",
        enrollment_id=enrollment_id,
        rung=rung,
        retry_after=holder.expires_at,
        ask=ask,
    )
