"""Outgoing messages: what the tracker asks a host to deliver, and the ``Messenger`` hook.

Messages are derived from events (an ask to send, a follow-up, a commitment, an
expiry) or from timers (a follow-up due, a next step overdue, a resume date). Each
has a stable ``key`` that doubles as the idempotency key a messenger passes on to
its provider: a message may be delivered more than once, never with another key.
This module must never deliver anything itself; the relay in the tracker does.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from types import MappingProxyType
from typing import TYPE_CHECKING, Any, Protocol, assert_never, runtime_checkable

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
from ._throttle import Throttle, follows
from ._values import iso

if TYPE_CHECKING:
    from ._ladder import Ladder

__all__ = [
    "MESSAGE_KINDS",
    "AsyncMessenger",
    "Message",
    "Messenger",
    "RecordingMessenger",
    "messages_for",
]

# event type -> message kind; timers add 'follow_up_due', 'next_step_overdue', 'resume_due'
MESSAGE_KINDS: Mapping[str, str] = MappingProxyType(
    {
        "AskIssued": "ask",
        "FollowedUp": "follow_up",
        "Committed": "committed",
        "AskExpired": "ask_expired",
        "LateCommitment": "late_commitment",
    }
)
TIMER_MESSAGES: Mapping[str, str] = MappingProxyType(
    {
        "follow_up": "follow_up_due",
        "next_step_overdue": "next_step_overdue",
        "resume": "resume_due",
    }
)


@dataclass(frozen=True, slots=True, kw_only=True)
class Message:
    """One message to deliver over ``channel``; ``key`` is stable across every retry.

    ``kind`` is what happened: ``ask`` (an ask to send; ``text`` is the rung's ``ask``
    script), ``follow_up``, ``committed`` and ``ask_expired`` from commands, and
    ``follow_up_due``, ``next_step_overdue`` and ``resume_due`` from timers. ``prospect``,
    ``enrollment_id`` and ``ladder`` say whose it is; ``at`` when it was made; ``channel``
    and ``rung`` what it is about, where there is one; ``data`` the rest, JSON-ready.
    ``not_before`` is when a message made outside its channel's send window goes out
    (the window's next opening); the outbox holds it until then.
    ``to_dict()`` / ``Message.from_dict(data)`` convert it to and from plain data.
    """

    key: str
    kind: str
    prospect: str
    enrollment_id: str
    ladder: str
    at: datetime
    channel: str | None = None
    rung: str | None = None
    text: str | None = None
    data: Mapping[str, Any] = field(default_factory=dict)
    not_before: datetime | None = None
    #: the caps an ask's message counts against (the store queues it for the first
    #: period with room); not part of the message's data
    throttle: Throttle | None = field(default=None, compare=False, repr=False)

    def due(self, now: datetime) -> datetime:
        """When the outbox may first deliver it, written at ``now``."""
        not_before = self.not_before
        if not_before is None or (now.tzinfo is not None and not_before <= now):
            return now
        return not_before

    @property
    def idempotency_key(self) -> str:
        """The key to hand to the delivery provider so a retried message is sent once."""
        return self.key

    def to_dict(self) -> dict[str, Any]:
        data = {
            "key": self.key,
            "kind": self.kind,
            "prospect": self.prospect,
            "enrollment_id": self.enrollment_id,
            "ladder": self.ladder,
            "at": iso(self.at),
            "channel": self.channel,
            "rung": self.rung,
            "text": self.text,
            "data": dict(self.data),
        }
        if self.not_before is not None:  # written only when set, as before windows
            data["not_before"] = iso(self.not_before)
        return data

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Message:
        return cls(
            key=data["key"],
            kind=data["kind"],
            prospect=data["prospect"],
            enrollment_id=data["enrollment_id"],
            ladder=data["ladder"],
            at=datetime.fromisoformat(data["at"]),
            channel=data.get("channel"),
            rung=data.get("rung"),
            text=data.get("text"),
            data=dict(data.get("data") or {}),
            not_before=datetime.fromisoformat(data["not_before"])
            if data.get("not_before")
            else None,
        )


@runtime_checkable
class Messenger(Protocol):
    """Delivers one message (an email, a task in the CRM, a push...).

    Return normally once the message is handed over; raise any exception to have
    it retried later with backoff. Pass ``message.idempotency_key`` on to the
    provider: delivery is at least once, so the same message can come again.
    """

    def send(self, message: Message) -> None: ...


@runtime_checkable
class AsyncMessenger(Protocol):
    """A ``Messenger`` for asyncio hosts: ``AsyncTracker.relay`` awaits its ``send``.

    The same contract: return once the message is handed over, raise to have it retried
    with backoff, pass ``message.idempotency_key`` on. ``AsyncTracker`` also takes a
    plain ``Messenger``, whose ``send`` then runs in a worker thread.
    """

    async def send(self, message: Message) -> None: ...


class RecordingMessenger:
    """A messenger for tests and demos: records what it was given, fails on request."""

    def __init__(self, *, fail: Callable[[Message], bool] | None = None) -> None:
        self.sent: list[Message] = []
        self.attempts: list[Message] = []
        self._fail = fail
        self._fail_next = 0

    def fail_next(self, times: int = 1) -> None:
        """Make the next ``times`` calls raise ``ConnectionError``."""
        self._fail_next += times

    def send(self, message: Message) -> None:
        self.attempts.append(message)
        if self._fail_next > 0:
            self._fail_next -= 1
            raise ConnectionError(f"recording messenger: {message.key} failed on request")
        if self._fail is not None and self._fail(message):
            raise ConnectionError(f"recording messenger: {message.key} failed on request")
        self.sent.append(message)

    @property
    def keys(self) -> list[str]:
        """Idempotency keys of the messages delivered, in order."""
        return [m.key for m in self.sent]

    def of_kind(self, kind: str) -> list[Message]:
        return [m for m in self.sent if m.kind == kind]

    def clear(self) -> None:
        self.sent.clear()
        self.attempts.clear()

    def __repr__(self) -> str:
        return f"<RecordingMessenger sent={len(self.sent)}>"


def messages_for(
    ladder: Ladder,
    prospect: str,
    events: Iterable[Event],
    *,
    rung_of: Mapping[int, str],
    timezone: str | None = None,
) -> list[Message]:
    """The messages ``events`` send; ``rung_of`` maps an ask's seq to its rung. Asks and
    follow-ups made outside their send window (in ``timezone``) wait for its opening."""
    out: list[Message] = []
    calendar = ladder.calendar
    windows = calendar is not None and bool(calendar.windows)
    throttles = ladder.throttles
    for event in events:
        channel: str | None = None
        rung: str | None = None
        text: str | None = None
        data: dict[str, Any] = {}
        match event:
            case AskIssued():
                kind, channel, rung = "ask", event.channel, event.rung
                text = ladder.rungs[rung].ask
                if event.expires_at is not None:
                    data["expires_at"] = iso(event.expires_at)
            case FollowedUp():
                kind, channel, rung = "follow_up", event.channel, rung_of.get(event.ask_seq)
                text = ladder.rungs[rung].ask if rung is not None else None
                data["number"] = event.number
            case Committed():
                kind, rung = "committed", event.rung
                data = {"outcome": event.outcome, "late": event.late}
            case AskExpired():
                kind, rung = "ask_expired", event.rung
                text = ladder.rungs[rung].ask
                data["then"] = event.then
            case LateCommitment():
                # the seller hears of a yes that came too late to move the climb
                kind, rung = "late_commitment", event.rung
                data = {"ask_seq": event.ask_seq, "outcome": event.outcome}
            case Enrolled() | Declined() | AskWithdrawn() | Parked() | Resumed():
                continue
            case Ended() | Rekeyed() | Migrated():
                continue
            case _:
                assert_never(event)
        not_before = None
        if windows and kind in ("ask", "follow_up"):
            assert calendar is not None
            opens = calendar.opens(event.at, channel, timezone)
            not_before = opens if opens != event.at else None
        throttle = None
        if throttles and kind == "ask":
            assert channel is not None
            assert rung is not None
            throttle = _throttle(ladder, rung, channel, event.actor, timezone)
        out.append(
            Message(
                key=f"{event.enrollment_id}#{event.seq}:{kind}",
                kind=kind,
                prospect=prospect,
                enrollment_id=event.enrollment_id,
                ladder=ladder.name,
                at=event.at,
                channel=channel,
                rung=rung,
                text=text,
                data=data,
                not_before=not_before,
                throttle=throttle,
            )
        )
    return out


def _throttle(
    ladder: Ladder, rung: str, channel: str, actor: str | None, timezone: str | None
) -> Throttle | None:
    """The caps an ask over ``channel`` by ``actor`` counts against, counted in the
    ladder's zone (the sender's day), and its window, in the prospect's zone."""
    calendar = ladder.calendar
    sender_zone = calendar.timezone if calendar is not None else "UTC"
    caps = (rule.cap(ladder.name, channel, actor, sender_zone) for rule in ladder.throttles)

    def opens(moment: datetime) -> datetime:
        return calendar.opens(moment, channel, timezone) if calendar is not None else moment

    found = tuple(cap for cap in caps if cap is not None)
    return Throttle(found, opens, follows(ladder, rung, channel, timezone)) if found else None
