"""``MemoryStore``: the ``Store`` semantics in one process's memory, for tests and demos.

It keeps every promise ``SqlStore`` keeps (version checks, one open ask per
prospect, atomic changes, timers, outbox, receipts) behind one lock, so the
tracker's behaviour can be specified once and checked on both. It must never be
mistaken for durable: everything is gone when the process ends.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import replace
from datetime import datetime
from typing import Any

from ._errors import ConflictError
from ._text import clean_text
from ._throttle import queued_timers, slot
from .store import (
    Change,
    DueTimer,
    OpenAsk,
    OutboxEntry,
    OutboxStatus,
    PurgeReport,
    Receipt,
    StoredEnrollment,
    ask_pending,
    tenant_prefix,
)

__all__ = ["MemoryStore"]


class MemoryStore:
    """A ``Store`` in memory: thread-safe, with the same guarantees as ``SqlStore``."""

    def __init__(self) -> None:
        self._lock = threading.RLock()
        self._enrollments: dict[str, StoredEnrollment] = {}
        self._by_prospect: dict[str, list[str]] = {}
        self._events: dict[str, list[dict[str, Any]]] = {}
        self._asks: dict[str, OpenAsk] = {}
        self._slot_of: dict[str, str] = {}
        self._timers: dict[str, list[DueTimer]] = {}
        self._leases: dict[DueTimer, datetime] = {}
        self._outbox: dict[str, OutboxEntry] = {}
        self._outbox_leases: dict[str, datetime] = {}
        self._receipts: dict[str, Receipt] = {}
        # places taken per throttle cap and period (issue 17)
        self._throttle: dict[tuple[str, datetime], int] = {}
        self._receipt_at: dict[str, datetime] = {}

    def create_schema(self) -> None:
        """Nothing to create; present so a ``MemoryStore`` can stand in for ``SqlStore``."""

    @contextmanager
    def session(self) -> Iterator[MemoryStore]:
        """The store itself, locked for the block: no other thread writes between a
        session's reads and its writes, so a session that applies several changes (a
        rekey) checks them all before it writes any and applies them together."""
        with self._lock:
            yield self

    # ---- enrollments ----------------------------------------------------------------------

    def load(self, enrollment_id: str) -> StoredEnrollment | None:
        with self._lock:
            return self._enrollments.get(enrollment_id)

    def find(self, prospect: str) -> list[StoredEnrollment]:
        with self._lock:
            return [self._enrollments[i] for i in self._by_prospect.get(prospect, ())]

    def events(self, enrollment_id: str) -> list[dict[str, Any]]:
        with self._lock:
            return list(self._events.get(enrollment_id, ()))

    def event_log(self, *, ladder: str | None = None) -> Iterator[list[dict[str, Any]]]:
        """Every enrollment's events (of ``ladder``, or of all), one list per enrollment,
        oldest first: what the funnel and the forecast read."""
        with self._lock:
            logs = [
                list(self._events.get(eid, ()))
                for eid, stored in self._enrollments.items()
                if ladder is None or stored.ladder == ladder
            ]
        yield from logs

    def apply(self, change: Change) -> Receipt | None:
        eid = change.enrollment_id
        with self._lock:
            # every check first: a refused change writes nothing
            current = self._enrollments.get(eid)
            version = current.version if current is not None else 0
            if version != change.expected_version:
                raise ConflictError(
                    f"enrollment {eid!r} is at version {version}, "
                    f"not {change.expected_version}; another writer changed it first"
                )
            if change.receipt is not None and change.receipt.key in self._receipts:
                return self._receipts[change.receipt.key]  # a replay: nothing is written
            new_ask = change.open_ask if change.ask_changed else None
            if new_ask is not None:
                holder = self._asks.get(new_ask.slot)
                if holder is not None and holder.enrollment_id != eid:
                    raise ask_pending(holder, eid, new_ask.rung)
            # then every write
            self._enrollments[eid] = StoredEnrollment(
                id=eid,
                prospect=change.prospect,
                ladder=change.ladder,
                status=change.status,
                version=version + 1,
                snapshot=change.snapshot,
                fired=change.fired,
            )
            if current is None:
                self._by_prospect.setdefault(change.prospect, []).append(eid)
            self._events.setdefault(eid, []).extend(dict(e) for e in change.events)
            if change.ask_changed:
                old = self._slot_of.pop(eid, None)
                if old is not None:
                    del self._asks[old]
                if new_ask is not None:
                    self._asks[new_ask.slot] = new_ask
                    self._slot_of[eid] = new_ask.slot
            timers = list(change.timers)
            now = change.now or datetime.min
            for message in change.messages:
                due = message.due(now)
                throttle = message.throttle
                if throttle is not None and throttle.caps:  # issue 17: queue under the caps
                    start = due if due.tzinfo is not None else message.at
                    due = slot(throttle.caps, start, throttle.opens, self._take, self._give)
                    if due != start:
                        message = replace(message, not_before=due)
                        timers = queued_timers(timers, throttle, due)
                self._outbox[message.key] = OutboxEntry(message, "pending", 0, due)
            if change.timers_changed or current is None:  # else the stored ones stand
                for timer in self._timers.pop(eid, ()):
                    self._leases.pop(timer, None)
                if timers:
                    self._timers[eid] = timers
            if change.receipt is not None:
                self._receipts[change.receipt.key] = change.receipt
                self._receipt_at[change.receipt.key] = now
            return None

    def _take(self, key: str, period: datetime, most: int) -> bool:
        used = self._throttle.get((key, period), 0)
        if used >= most:
            return False
        self._throttle[key, period] = used + 1
        return True

    def _give(self, key: str, period: datetime) -> None:
        self._throttle[key, period] -= 1

    def recall(self, key: str) -> Receipt | None:
        with self._lock:
            return self._receipts.get(key)

    def remember(self, receipt: Receipt, now: datetime) -> Receipt | None:
        with self._lock:
            first = self._receipts.setdefault(receipt.key, receipt)
            self._receipt_at.setdefault(receipt.key, now)
        return None if first is receipt else first

    def enrollments(self) -> list[StoredEnrollment]:
        """Every stored enrollment, in the order they were enrolled (for tests and
        inspection)."""
        with self._lock:
            return list(self._enrollments.values())

    def open_asks(self) -> list[OpenAsk]:
        """Every open ask held now (for tests and inspection)."""
        with self._lock:
            return list(self._asks.values())

    # ---- timers ---------------------------------------------------------------------------

    def claim_timers(
        self, now: datetime, limit: int, lease_until: datetime, *, tenant: str | None = None
    ) -> list[DueTimer]:
        prefix = tenant_prefix(tenant) if tenant is not None else ""
        with self._lock:
            due = sorted(
                (
                    t
                    for timers in self._timers.values()
                    for t in timers
                    if t.due_at <= now
                    and self._leases.get(t, now) <= now
                    and t.enrollment_id.startswith(prefix)
                ),
                key=lambda t: t.due_at,
            )[:limit]
            for timer in due:
                self._leases[timer] = lease_until
            return due

    def timers(self) -> list[DueTimer]:
        """Every stored timer, soonest first (for tests and inspection)."""
        with self._lock:
            return sorted((t for ts in self._timers.values() for t in ts), key=lambda t: t.due_at)

    # ---- outbox ---------------------------------------------------------------------------

    def claim_messages(
        self, now: datetime, limit: int, lease_until: datetime, *, tenant: str | None = None
    ) -> list[OutboxEntry]:
        prefix = tenant_prefix(tenant) if tenant is not None else ""
        with self._lock:
            out: list[OutboxEntry] = []
            for key, entry in self._outbox.items():
                if len(out) >= limit:
                    break
                if entry.status != "pending" or entry.next_attempt_at > now:
                    continue
                if not entry.message.enrollment_id.startswith(prefix):
                    continue
                if self._outbox_leases.get(key, now) > now:
                    continue
                self._outbox_leases[key] = lease_until
                out.append(entry)
            return out

    def message_sent(self, key: str, now: datetime) -> None:
        with self._lock:
            entry = self._outbox[key]
            self._outbox[key] = replace(
                entry, status="sent", attempts=entry.attempts + 1, sent_at=now, last_error=None
            )
            self._outbox_leases.pop(key, None)

    def message_failed(self, key: str, error: str, retry_at: datetime | None) -> None:
        with self._lock:
            entry = self._outbox[key]
            self._outbox[key] = replace(
                entry,
                status="pending" if retry_at is not None else "dead",
                attempts=entry.attempts + 1,
                next_attempt_at=retry_at or entry.next_attempt_at,
                last_error=clean_text(error),
            )
            self._outbox_leases.pop(key, None)

    def outbox(self, status: OutboxStatus | None = None) -> list[OutboxEntry]:
        """The outbox, oldest first; ``status`` keeps only ``pending``, ``sent`` or ``dead``."""
        with self._lock:
            return [e for e in self._outbox.values() if status is None or e.status == status]

    def redrive(self, keys: Sequence[str] | None, now: datetime) -> int:
        with self._lock:
            chosen = self._outbox if keys is None else {k: self._outbox[k] for k in keys}
            count = 0
            for key, entry in list(chosen.items()):
                if entry.status == "dead":
                    self._outbox[key] = replace(
                        entry, status="pending", attempts=0, next_attempt_at=now
                    )
                    count += 1
            return count

    def readdress(self, enrollment_id: str, prospect: str) -> int:
        with self._lock:
            for prospect_of, ids in self._by_prospect.items():
                if enrollment_id in ids and prospect_of != prospect:
                    ids.remove(enrollment_id)
                    self._by_prospect.setdefault(prospect, []).append(enrollment_id)
                    break
            stored = self._enrollments[enrollment_id]
            self._enrollments[enrollment_id] = replace(stored, prospect=prospect)
            keys = [
                k
                for k, e in self._outbox.items()
                if e.message.enrollment_id == enrollment_id and e.status != "sent"
            ]
            for key in keys:
                entry = self._outbox[key]
                message = replace(entry.message, prospect=prospect)
                self._outbox[key] = replace(entry, message=message)
            return len(keys)

    def find_many(self, prospects: Sequence[str]) -> list[StoredEnrollment]:
        with self._lock:
            by = self._by_prospect
            return [self._enrollments[i] for p in dict.fromkeys(prospects) for i in by.get(p, ())]

    def enroll_all(self, changes: Sequence[Change]) -> None:
        with self._lock:
            taken = [c.enrollment_id for c in changes if c.enrollment_id in self._enrollments]
            if taken or len({c.enrollment_id for c in changes}) < len(changes):
                raise ConflictError(f"enrollments {taken} exist already; nothing was written")
            for change in changes:
                self.apply(change)

    def scan(self, ladder: str, *, after: str | None, limit: int) -> list[StoredEnrollment]:
        with self._lock:
            live = [
                s for s in self._enrollments.values() if s.ladder == ladder and s.status != "ended"
            ]
            found = sorted((s for s in live if after is None or s.id > after), key=lambda s: s.id)
            return found[:limit]

    def erase(
        self,
        enrollment_id: str,
        *,
        new_id: str,
        prospect: str,
        snapshot: Mapping[str, Any],
        events: Sequence[Mapping[str, Any]],
    ) -> tuple[int, int]:
        with self._lock:
            old = self._enrollments.pop(enrollment_id)
            self._by_prospect[old.prospect].remove(enrollment_id)
            if not self._by_prospect[old.prospect]:
                del self._by_prospect[old.prospect]
            del self._events[enrollment_id]
            slot = self._slot_of.pop(enrollment_id, None)
            if slot is not None:
                del self._asks[slot]
            for timer in self._timers.pop(enrollment_id, ()):
                self._leases.pop(timer, None)
            outbox = self._outbox.items()
            messages = [k for k, e in outbox if e.message.enrollment_id == enrollment_id]
            for key in messages:
                del self._outbox[key]
                self._outbox_leases.pop(key, None)
            receipts = [k for k, r in self._receipts.items() if r.enrollment_id == enrollment_id]
            for key in receipts:
                del self._receipts[key]
                self._receipt_at.pop(key, None)
            self._enrollments[new_id] = StoredEnrollment(
                id=new_id,
                prospect=prospect,
                ladder=old.ladder,
                status=old.status,
                version=old.version + 1,
                snapshot=snapshot,
            )
            self._by_prospect.setdefault(prospect, []).append(new_id)
            self._events[new_id] = [dict(e) for e in events]
            return len(messages), len(receipts)

    def purge(
        self,
        *,
        sent_before: datetime | None,
        dead_before: datetime | None,
        receipts_before: datetime | None,
        limit: int,
    ) -> PurgeReport:
        """Delete delivered and dead outbox rows and receipts older than their horizons."""
        with self._lock:
            sent = [
                k
                for k, e in self._outbox.items()
                if sent_before is not None
                and e.status == "sent"
                and e.sent_at is not None
                and e.sent_at < sent_before
            ][:limit]
            dead = [
                k
                for k, e in self._outbox.items()
                if dead_before is not None
                and e.status == "dead"
                and e.next_attempt_at < dead_before
            ][:limit]
            receipts = [
                k
                for k, at in self._receipt_at.items()
                if receipts_before is not None and at < receipts_before
            ][:limit]
            for key in (*sent, *dead):
                del self._outbox[key]
                self._outbox_leases.pop(key, None)
            for key in receipts:
                del self._receipts[key], self._receipt_at[key]
            return PurgeReport(sent=len(sent), dead=len(dead), receipts=len(receipts))

    def after_commit(self, callback: Callable[[], None]) -> None:
        callback()  # every apply is final the moment it returns

    def __repr__(self) -> str:
        return f"<MemoryStore enrollments={len(self._enrollments)}>"
