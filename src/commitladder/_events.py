"""Events: the history of an enrollment, and the only input its state is folded from.

``Event`` is a closed union of frozen dataclasses. Everything that interprets
events (the fold, the messages, the funnel, the packed history, the testing kit's
referee and narration) matches over the union and ends in ``assert_never``, so a
new kind of event is a type error until every one of them handles it. Events say
what happened, never what to do; they are JSON-serialisable (``to_dict`` /
``event_from_dict``).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, fields
from datetime import datetime
from typing import Any, ClassVar, TypeAlias, TypeVar

from ._errors import LadderError

__all__ = [
    "EVENT_TYPES",
    "AskExpired",
    "AskIssued",
    "AskWithdrawn",
    "Committed",
    "Declined",
    "Ended",
    "Enrolled",
    "Event",
    "FollowedUp",
    "LateCommitment",
    "Parked",
    "Resumed",
    "event_from_dict",
]


@dataclass(frozen=True, slots=True, kw_only=True)
class _EventBase:
    """What every event has: its enrollment, its number (from 1), its time, who and why."""

    enrollment_id: str
    seq: int
    at: datetime
    actor: str | None = None
    reason: str | None = None

    #: the event's kind, its class name (``"AskIssued"``)
    type: ClassVar[str] = "Event"
    #: the fields particular to this kind of event, in order
    data_fields: ClassVar[tuple[str, ...]] = ()
    #: of those, the ones holding a datetime
    time_fields: ClassVar[tuple[str, ...]] = ()

    def data(self) -> dict[str, Any]:
        """The fields particular to this kind of event."""
        return {name: getattr(self, name) for name in self.data_fields}

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict; ``event_from_dict`` reads it back to an equal event."""
        data = self.data()
        for name in self.time_fields:
            value = data[name]
            data[name] = value.isoformat() if value is not None else None
        return {
            "type": self.type,
            "enrollment_id": self.enrollment_id,
            "seq": self.seq,
            "at": self.at.isoformat(),
            "actor": self.actor,
            "reason": self.reason,
            "data": data,
        }


_COMMON = tuple(f.name for f in fields(_EventBase))
E = TypeVar("E", bound=_EventBase)


def _event(*, times: tuple[str, ...] = ()) -> Callable[[type[E]], type[E]]:
    """Register a kind of event: its name, its own fields and which of them are times."""

    def register(cls: type[E]) -> type[E]:
        cls.type = cls.__name__
        cls.data_fields = tuple(f.name for f in fields(cls) if f.name not in _COMMON)
        cls.time_fields = times
        cls.__module__ = "commitladder"  # printed and pickled as the front door names it
        return cls

    return register


@_event()
@dataclass(frozen=True, slots=True, kw_only=True)
class Enrolled(_EventBase):
    """The prospect started on a ladder (always event 1)."""

    prospect: str
    ladder: str
    version: int


@_event(times=("expires_at",))
@dataclass(frozen=True, slots=True, kw_only=True)
class AskIssued(_EventBase):
    """An ask was opened; the ask's number is this event's ``seq``."""

    rung: str
    channel: str
    expires_at: datetime | None = None


@_event()
@dataclass(frozen=True, slots=True, kw_only=True)
class FollowedUp(_EventBase):
    """The open ask (``ask_seq``) was touched again; ``number`` counts its follow-ups."""

    ask_seq: int
    channel: str
    number: int


@_event()
@dataclass(frozen=True, slots=True, kw_only=True)
class Committed(_EventBase):
    """The prospect said yes to ask ``ask_seq``; ``late`` when it had just expired."""

    ask_seq: int
    rung: str
    outcome: str | None = None
    facts: dict[str, Any] | None = None
    late: bool = False


@_event(times=("resume_at",))
@dataclass(frozen=True, slots=True, kw_only=True)
class Declined(_EventBase):
    """The prospect said no; ``then`` is where the ladder sends them (park, a rung, an end)."""

    ask_seq: int
    rung: str
    then: str
    needs: str | None = None
    resume_at: datetime | None = None


@_event()
@dataclass(frozen=True, slots=True, kw_only=True)
class AskExpired(_EventBase):
    """The ask ``ask_seq`` went unanswered past its ``expires_at``; ``then`` as for a no."""

    ask_seq: int
    rung: str
    then: str


@_event()
@dataclass(frozen=True, slots=True, kw_only=True)
class AskWithdrawn(_EventBase):
    """The seller took the open ask back."""

    ask_seq: int
    rung: str


@_event(times=("resume_at",))
@dataclass(frozen=True, slots=True, kw_only=True)
class Parked(_EventBase):
    """The deal is in neutral until resumed; ``cause`` is 'declined' or 'expired'."""

    cause: str
    needs: str | None = None
    resume_at: datetime | None = None


@_event()
@dataclass(frozen=True, slots=True, kw_only=True)
class Resumed(_EventBase):
    """A parked deal moves again."""


@_event()
@dataclass(frozen=True, slots=True, kw_only=True)
class Ended(_EventBase):
    """The enrollment reached an end; ``ask_seq`` names an ask it closed, if one was open."""

    end: str
    result: str
    ask_seq: int | None = None


@_event()
@dataclass(frozen=True, slots=True, kw_only=True)
class LateCommitment(_EventBase):
    """A yes to ask ``ask_seq`` that came when that ask could no longer be answered
    (another ask was open, or the enrollment had ended): kept for the seller, and it
    changes nothing else."""

    ask_seq: int
    rung: str
    outcome: str | None = None
    facts: dict[str, Any] | None = None


Event: TypeAlias = (
    Enrolled
    | AskIssued
    | FollowedUp
    | Committed
    | Declined
    | AskExpired
    | AskWithdrawn
    | Parked
    | Resumed
    | Ended
    | LateCommitment
)

#: every kind of event by its ``type``
EVENT_TYPES: Mapping[str, type[Event]] = {
    cls.type: cls
    for cls in (
        Enrolled,
        AskIssued,
        FollowedUp,
        Committed,
        Declined,
        AskExpired,
        AskWithdrawn,
        Parked,
        Resumed,
        Ended,
        LateCommitment,
    )
}


def event_from_dict(data: Mapping[str, Any]) -> Event:
    """Rebuild an event from ``Event.to_dict()`` output (e.g. read back from JSON)."""
    try:
        cls = EVENT_TYPES[data["type"]]
        body = dict(data.get("data") or {})
        for name in cls.time_fields:
            if body.get(name) is not None:
                body[name] = datetime.fromisoformat(body[name])
        return cls(
            enrollment_id=data["enrollment_id"],
            seq=int(data["seq"]),
            at=datetime.fromisoformat(data["at"]),
            actor=data.get("actor"),
            reason=data.get("reason"),
            **body,
        )
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        raise LadderError(f"not a commitladder event: {data!r} ({exc})") from exc
