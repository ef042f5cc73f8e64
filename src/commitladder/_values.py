"""Small immutable values every layer shares: an open ask, a timer, a status word.

They sit at the bottom of the package: errors carry them, events are folded into
them, stores keep them. They must never import another module of commitladder.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import fields
from datetime import datetime
from typing import Any, Final, Literal, NamedTuple, TypeVar

__all__ = ["PARK", "Ask", "Status", "Timer", "positional"]

T = TypeVar("T")

#: ``on_decline`` / ``on_expire`` value meaning "put the deal in neutral".
PARK: Final = "park"

Status = Literal["ready", "pending", "parked", "ended"]


class Ask:
    """An open request for one rung's commitment over one channel (immutable).

    ``id`` is ``"<enrollment id>#<seq>"``: the number of the event that opened it, so a
    webhook can name the ask it answers (``commit(ask_id=...)``).
    """

    __slots__ = (
        "asked_at",
        "channel",
        "enrollment_id",
        "expires_at",
        "follow_ups",
        "last_touch_at",
        "rung",
        "seq",
    )

    enrollment_id: str
    seq: int
    rung: str
    channel: str
    asked_at: datetime
    expires_at: datetime | None
    follow_ups: int
    last_touch_at: datetime

    def __init__(
        self,
        enrollment_id: str,
        seq: int,
        rung: str,
        channel: str,
        asked_at: datetime,
        expires_at: datetime | None,
        follow_ups: int = 0,
        last_touch_at: datetime | None = None,
    ) -> None:
        # through the slots' own descriptors: an Ask is made on every ask and follow-up,
        # and object.__setattr__ costs three times as much
        _set_enrollment_id(self, enrollment_id)
        _set_seq(self, seq)
        _set_rung(self, rung)
        _set_channel(self, channel)
        _set_asked_at(self, asked_at)
        _set_expires_at(self, expires_at)
        _set_follow_ups(self, follow_ups)
        _set_last_touch_at(self, last_touch_at or asked_at)

    def __setattr__(self, name: str, value: object) -> None:
        raise AttributeError("an Ask is immutable")

    def __delattr__(self, name: str) -> None:
        raise AttributeError("an Ask is immutable")

    @property
    def id(self) -> str:
        """Stable id: the enrollment id and the number of the event that opened the ask."""
        return f"{self.enrollment_id}#{self.seq}"

    def touched(self, at: datetime) -> Ask:
        """The same ask after one more follow-up at ``at``."""
        return Ask(
            self.enrollment_id,
            self.seq,
            self.rung,
            self.channel,
            self.asked_at,
            self.expires_at,
            self.follow_ups + 1,
            at,
        )

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict; ``Ask.from_dict`` reads it back to an equal ask."""
        return {
            "id": self.id,
            "seq": self.seq,
            "rung": self.rung,
            "channel": self.channel,
            "asked_at": self.asked_at.isoformat(),
            "expires_at": self.expires_at.isoformat() if self.expires_at else None,
            "follow_ups": self.follow_ups,
            "last_touch_at": self.last_touch_at.isoformat(),
        }

    @classmethod
    def from_dict(cls, enrollment_id: str, data: Mapping[str, Any]) -> Ask:
        """The ask ``to_dict`` described, on enrollment ``enrollment_id``."""
        expires = data.get("expires_at")
        touched = data.get("last_touch_at")
        return cls(
            enrollment_id,
            int(data["seq"]),
            data["rung"],
            data["channel"],
            datetime.fromisoformat(data["asked_at"]),
            datetime.fromisoformat(expires) if expires else None,
            int(data.get("follow_ups", 0)),
            datetime.fromisoformat(touched) if touched else None,
        )

    def _key(self) -> tuple[Any, ...]:
        return (
            self.enrollment_id,
            self.seq,
            self.rung,
            self.channel,
            self.asked_at,
            self.expires_at,
            self.follow_ups,
            self.last_touch_at,
        )

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Ask):
            return NotImplemented
        return self._key() == other._key()

    def __hash__(self) -> int:
        return hash((self.enrollment_id, self.seq, self.follow_ups))

    def __repr__(self) -> str:
        return f"Ask(id={self.id!r}, rung={self.rung!r}, channel={self.channel!r})"

    def __reduce__(self) -> tuple[Any, ...]:
        return (Ask, self._key())


# the slots' descriptors, fetched once (see Ask.__init__)
_slots: dict[str, Any] = dict(vars(Ask))
_set_enrollment_id = _slots["enrollment_id"].__set__
_set_seq = _slots["seq"].__set__
_set_rung = _slots["rung"].__set__
_set_channel = _slots["channel"].__set__
_set_asked_at = _slots["asked_at"].__set__
_set_expires_at = _slots["expires_at"].__set__
_set_follow_ups = _slots["follow_ups"].__set__
_set_last_touch_at = _slots["last_touch_at"].__set__
del _slots


class Timer(NamedTuple):
    """Something due at a time: ``expire``, ``follow_up``, ``next_step_overdue``, ``resume``."""

    kind: str
    due_at: datetime
    rung: str | None


def positional(cls: type[T]) -> Callable[..., T]:
    """A positional constructor of the frozen slotted dataclass ``cls``, fields in order.

    ``positional(AskIssued)(enrollment_id, seq, at, actor, reason, rung, channel,
    expires_at)`` equals ``AskIssued(enrollment_id=..., ...)`` (a test checks every
    event and command). It sets the slots through their descriptors: a frozen
    dataclass's ``__init__`` calls ``object.__setattr__`` once a field, which costs
    about three times as much, and the rules make an event on every command.
    """
    setters = tuple(getattr(cls, f.name).__set__ for f in fields(cls))  # type: ignore[arg-type]
    new = object.__new__
    if len(setters) == 8:  # most events: unrolled
        s0, s1, s2, s3, s4, s5, s6, s7 = setters

        def make8(a: Any, b: Any, c: Any, d: Any, e: Any, f: Any, g: Any, h: Any) -> T:
            obj: T = new(cls)
            s0(obj, a)
            s1(obj, b)
            s2(obj, c)
            s3(obj, d)
            s4(obj, e)
            s5(obj, f)
            s6(obj, g)
            s7(obj, h)
            return obj

        return make8
    if len(setters) == 4:  # most commands: unrolled
        c0, c1, c2, c3 = setters

        def make4(a: Any, b: Any, c: Any, d: Any) -> T:
            obj: T = new(cls)
            c0(obj, a)
            c1(obj, b)
            c2(obj, c)
            c3(obj, d)
            return obj

        return make4

    def make(*values: Any) -> T:
        obj: T = new(cls)
        for set_value, value in zip(setters, values, strict=True):
            set_value(obj, value)
        return obj

    return make
