"""Events: the history of an enrollment, and the only input its state is folded from.

``Event`` is a closed union of immutable values. Everything that interprets
events (the fold, the messages, the funnel, the packed history, the testing kit's
referee and narration) matches over the union and ends in ``assert_never``, so a
new kind of event is a type error until every one of them handles it. Events say
what happened, never what to do; they are JSON-serialisable (``to_dict`` /
``event_from_dict``).

Each kind is a named tuple of its fields (``_AskIssued``) under a class that adds
the shared behaviour (``_Event``): the rules make an event on every command, and a
tuple is built in one step where a frozen dataclass sets its fields one by one.
Two events are equal when they are of the same kind with the same fields.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any, ClassVar, NamedTuple, TypeAlias, cast

from ._errors import LadderError
from ._values import iso

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
    "Migrated",
    "Parked",
    "Rekeyed",
    "Resumed",
    "event_from_dict",
]

_COMMON = ("enrollment_id", "seq", "at", "actor", "reason")


class _Event:
    """What every event has and does: ``enrollment_id``, ``seq`` (numbered from 1),
    ``at``, ``actor`` and ``reason``, then the fields of its kind."""

    __slots__ = ()

    #: the fields particular to this kind of event, in order
    data_fields: ClassVar[tuple[str, ...]] = ()
    #: of those, the ones holding a datetime
    time_fields: ClassVar[tuple[str, ...]] = ()

    @property
    def type(self) -> str:
        """The event's kind, its class name (``"AskIssued"``)."""
        return type(self).__name__

    def data(self) -> dict[str, Any]:
        """The fields particular to this kind of event."""
        return {name: getattr(self, name) for name in self.data_fields}

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict; ``event_from_dict`` reads it back to an equal event."""
        event = cast("Event", self)
        data = self.data()
        for name in self.time_fields:
            value = data[name]
            data[name] = iso(value) if value is not None else None
        return {
            "type": self.type,
            "enrollment_id": event.enrollment_id,
            "seq": event.seq,
            "at": iso(event.at),
            "actor": event.actor,
            "reason": event.reason,
            "data": data,
        }

    def __eq__(self, other: object) -> bool:
        return type(self) is type(other) and tuple.__eq__(self, other)  # type: ignore[operator]

    def __ne__(self, other: object) -> bool:
        return not self == other

    def __hash__(self) -> int:
        return tuple.__hash__(self)  # type: ignore[arg-type]


class _Enrolled(NamedTuple):
    enrollment_id: str
    seq: int
    at: datetime
    prospect: str
    ladder: str
    version: int
    actor: str | None = None
    reason: str | None = None
    timezone: str | None = None
    tenant: str | None = None


class Enrolled(_Event, _Enrolled):
    """The prospect started on ``ladder`` (version ``version``): always event 1.
    ``timezone`` is the prospect's IANA time zone, when given (else the ladder's);
    ``tenant`` the account or department the enrollment belongs to, when it has one."""

    __slots__ = ()

    def data(self) -> dict[str, Any]:
        data = super().data()
        if data["timezone"] is None:  # as events were written before time zones
            del data["timezone"]
        if data["tenant"] is None:  # as events were written before tenants
            del data["tenant"]
        return data


class _AskIssued(NamedTuple):
    enrollment_id: str
    seq: int
    at: datetime
    rung: str
    channel: str
    expires_at: datetime | None = None
    actor: str | None = None
    reason: str | None = None


class AskIssued(_Event, _AskIssued):
    """An ask for ``rung`` was opened over ``channel``; the ask's number is this ``seq``."""

    __slots__ = ()
    time_fields = ("expires_at",)


class _FollowedUp(NamedTuple):
    enrollment_id: str
    seq: int
    at: datetime
    ask_seq: int
    channel: str
    number: int
    actor: str | None = None
    reason: str | None = None


class FollowedUp(_Event, _FollowedUp):
    """The open ask (``ask_seq``) was touched again; ``number`` counts its follow-ups."""

    __slots__ = ()


class _Committed(NamedTuple):
    enrollment_id: str
    seq: int
    at: datetime
    ask_seq: int
    rung: str
    outcome: str | None = None
    facts: dict[str, Any] | None = None
    late: bool = False
    actor: str | None = None
    reason: str | None = None


class Committed(_Event, _Committed):
    """The prospect said yes to ask ``ask_seq`` for ``rung``; ``late`` when it had just
    expired."""

    __slots__ = ()


class _Declined(NamedTuple):
    enrollment_id: str
    seq: int
    at: datetime
    ask_seq: int
    rung: str
    then: str
    needs: str | None = None
    resume_at: datetime | None = None
    actor: str | None = None
    reason: str | None = None


class Declined(_Event, _Declined):
    """The prospect said no; ``then`` is where the ladder sends them (park, a rung, an end)."""

    __slots__ = ()
    time_fields = ("resume_at",)


class _AskExpired(NamedTuple):
    enrollment_id: str
    seq: int
    at: datetime
    ask_seq: int
    rung: str
    then: str
    actor: str | None = None
    reason: str | None = None


class AskExpired(_Event, _AskExpired):
    """The ask ``ask_seq`` went unanswered past its ``expires_at``; ``then`` as for a no."""

    __slots__ = ()


class _AskWithdrawn(NamedTuple):
    enrollment_id: str
    seq: int
    at: datetime
    ask_seq: int
    rung: str
    actor: str | None = None
    reason: str | None = None


class AskWithdrawn(_Event, _AskWithdrawn):
    """The seller took the open ask back."""

    __slots__ = ()


class _Parked(NamedTuple):
    enrollment_id: str
    seq: int
    at: datetime
    cause: str
    needs: str | None = None
    resume_at: datetime | None = None
    actor: str | None = None
    reason: str | None = None


class Parked(_Event, _Parked):
    """The deal is in neutral until resumed; ``cause`` is 'declined' or 'expired'."""

    __slots__ = ()
    time_fields = ("resume_at",)


class _Resumed(NamedTuple):
    enrollment_id: str
    seq: int
    at: datetime
    actor: str | None = None
    reason: str | None = None


class Resumed(_Event, _Resumed):
    """A parked deal moves again."""

    __slots__ = ()


class _Ended(NamedTuple):
    enrollment_id: str
    seq: int
    at: datetime
    end: str
    result: str
    ask_seq: int | None = None
    actor: str | None = None
    reason: str | None = None


class Ended(_Event, _Ended):
    """The enrollment reached the end ``end`` (its ``result``); ``ask_seq`` names an ask it
    closed, if one was open."""

    __slots__ = ()


class _LateCommitment(NamedTuple):
    enrollment_id: str
    seq: int
    at: datetime
    ask_seq: int
    rung: str
    outcome: str | None = None
    facts: dict[str, Any] | None = None
    actor: str | None = None
    reason: str | None = None


class LateCommitment(_Event, _LateCommitment):
    """A yes to ask ``ask_seq`` that came when that ask could no longer be answered
    (another ask was open, or the enrollment had ended): kept for the seller, and it
    changes nothing else."""

    __slots__ = ()


class _Rekeyed(NamedTuple):
    enrollment_id: str
    seq: int
    at: datetime
    was: str
    prospect: str
    actor: str | None = None
    reason: str | None = None


class Rekeyed(_Event, _Rekeyed):
    """The enrollment moved from prospect ``was`` to ``prospect`` (a lead converted into a
    contact, two records merged): the climb goes on as it was."""

    __slots__ = ()


class _Migrated(NamedTuple):
    enrollment_id: str
    seq: int
    at: datetime
    from_version: int
    to_version: int
    renamed: dict[str, str]
    removed: dict[str, str]
    ends: dict[str, str]
    withdrawn: int | None = None
    actor: str | None = None
    reason: str | None = None


class Migrated(_Event, _Migrated):
    """The enrollment moved from version ``from_version`` of its ladder to ``to_version``,
    by the mapping that version declares (``renamed`` and ``removed`` rungs, ``ends``);
    ``withdrawn`` is the open ask it withdrew (its rung was removed), if any. Events
    before it are of the old version, events after it of the new one."""

    __slots__ = ()


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
    | Rekeyed
    | Migrated
)
"""Any event: the closed union of every kind. ``isinstance(x, Event)`` works, and code that
interprets events matches over the kinds and ends in ``assert_never``."""

#: every kind of event by its ``type``
EVENT_TYPES: Mapping[str, type[Event]] = {
    cls.__name__: cls
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
        Rekeyed,
        Migrated,
    )
}

for _cls in EVENT_TYPES.values():
    _cls.data_fields = tuple(f for f in _cls._fields if f not in _COMMON)
    _cls.__module__ = "commitladder"  # printed and pickled as the front door names it
del _cls


def event_from_dict(data: Mapping[str, Any]) -> Event:
    """Rebuild an event from ``Event.to_dict()`` output (e.g. read back from JSON)."""
    try:
        cls = EVENT_TYPES[data["type"]]
        body = dict(data.get("data") or {})
        for name in cls.time_fields:
            if body.get(name) is not None:
                body[name] = datetime.fromisoformat(body[name])
        unknown = set(body) - set(cls.data_fields)
        if unknown:
            raise TypeError(f"{cls.__name__} has no field {', '.join(sorted(unknown))}")
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
