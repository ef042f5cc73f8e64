"""Events: the history of an enrollment, and the only input its state is folded from.

Events are immutable and JSON-serialisable (``to_dict`` / ``event_from_dict``).
They say what happened, never what to do; the fold in ``_enrollment`` turns
them into state, for live commands and replay alike.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from datetime import datetime
from typing import Any, ClassVar

from ._errors import LadderError

__all__ = [
    "AskExpired",
    "AskIssued",
    "AskWithdrawn",
    "Committed",
    "Declined",
    "Ended",
    "Enrolled",
    "Event",
    "FollowedUp",
    "Parked",
    "Resumed",
    "event_from_dict",
]

_COMMON = ("enrollment_id", "seq", "at", "actor", "reason")


@dataclass(frozen=True, slots=True, kw_only=True)
class Event:
    """Something that happened to one enrollment, numbered from 1 by ``seq``."""

    enrollment_id: str
    seq: int
    at: datetime
    actor: str | None = None
    reason: str | None = None

    type: ClassVar[str] = "Event"
    _times: ClassVar[tuple[str, ...]] = ()
    _data: ClassVar[tuple[str, ...]] = ()  # the names of the fields ``data()`` returns

    def data(self) -> dict[str, Any]:
        """The fields particular to this kind of event."""
        return {name: getattr(self, name) for name in self._data}

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict; ``event_from_dict`` reads it back to an equal event."""
        data = self.data()
        for name in self._times:
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


_TYPES: dict[str, type[Event]] = {}


def _register(cls: type[Event]) -> type[Event]:
    cls.type = cls.__name__
    cls._data = tuple(f.name for f in fields(cls) if f.name not in _COMMON)
    cls._times = tuple(
        f.name for f in fields(cls) if f.name not in _COMMON and "datetime" in str(f.type)
    )
    _TYPES[cls.__name__] = cls
    return cls


@_register
@dataclass(frozen=True, slots=True, kw_only=True)
class Enrolled(Event):
    """The prospect was enrolled on the ladder (always the first event, ``seq`` 1)."""

    prospect: str
    ladder: str
    version: int


@_register
@dataclass(frozen=True, slots=True, kw_only=True)
class AskIssued(Event):
    """An ask was opened; the ask's number is this event's ``seq``."""

    rung: str
    channel: str
    expires_at: datetime | None = None


@_register
@dataclass(frozen=True, slots=True, kw_only=True)
class FollowedUp(Event):
    """The open ask was touched again; ``number`` counts its follow-ups from 1."""

    ask_seq: int
    channel: str
    number: int


@_register
@dataclass(frozen=True, slots=True, kw_only=True)
class Committed(Event):
    """The prospect said yes to the ask ``ask_seq``; ``late`` when that ask had expired."""

    ask_seq: int
    rung: str
    outcome: str | None = None
    facts: dict[str, Any] | None = None
    late: bool = False


@_register
@dataclass(frozen=True, slots=True, kw_only=True)
class Declined(Event):
    """The prospect said no; ``then`` is where the ladder sends them (park, a rung, an end)."""

    ask_seq: int
    rung: str
    then: str
    needs: str | None = None
    resume_at: datetime | None = None


@_register
@dataclass(frozen=True, slots=True, kw_only=True)
class AskExpired(Event):
    """The ask went unanswered past its ``expires_at``; ``then`` is where the ladder goes."""

    ask_seq: int
    rung: str
    then: str


@_register
@dataclass(frozen=True, slots=True, kw_only=True)
class AskWithdrawn(Event):
    """The seller took the open ask back; the prospect is ready for another ask."""

    ask_seq: int
    rung: str


@_register
@dataclass(frozen=True, slots=True, kw_only=True)
class Parked(Event):
    """The deal is in neutral until resumed; ``cause`` is 'declined' or 'expired'."""

    cause: str
    needs: str | None = None
    resume_at: datetime | None = None


@_register
@dataclass(frozen=True, slots=True, kw_only=True)
class Resumed(Event):
    """A parked deal was taken out of neutral, at the same position."""


@_register
@dataclass(frozen=True, slots=True, kw_only=True)
class Ended(Event):
    """The enrollment reached an end; ``ask_seq`` names an ask it closed, if one was open."""

    end: str
    result: str
    ask_seq: int | None = None


def event_from_dict(data: dict[str, Any]) -> Event:
    """Rebuild an event from ``Event.to_dict()`` output (e.g. read back from JSON)."""
    try:
        cls = _TYPES[data["type"]]
        body = dict(data.get("data") or {})
        for name in cls._times:
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
    except (KeyError, TypeError, ValueError) as exc:
        raise LadderError(f"not a commitladder event: {data!r} ({exc})") from exc
