"""Small immutable values every layer shares: an open ask, a timer, a status word.

They sit at the bottom of the package: errors carry them, events are folded into
them, stores keep them. They must never import another module of commitladder.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from functools import lru_cache
from typing import Any, Final, Literal, NamedTuple

__all__ = ["PARK", "STATUSES", "Ask", "Status", "Timer", "iso", "not_before"]

PARK: Final = "park"
"""The ``on_decline`` / ``on_expire`` value meaning "put the deal in neutral"."""

Status = Literal["ready", "pending", "parked", "ended"]
"""An enrollment's status: ``ready`` (may ask), ``pending`` (one ask open), ``parked``
(stalled until resumed) or ``ended``."""
STATUSES: Final[tuple[Status, ...]] = ("ready", "pending", "parked", "ended")


@lru_cache(maxsize=64)
def _utc_iso(moment: datetime) -> str:
    return moment.isoformat()


def iso(moment: datetime) -> str:
    """``moment.isoformat()``, remembered for the last UTC instants written: a command
    writes its time into the snapshot, the ask, the events and the messages, and
    formatting one costs more than looking it up. (Only UTC ones: equal instants in other
    zones print differently.)"""
    return _utc_iso(moment) if moment.tzinfo is UTC else moment.isoformat()


class _AskFields(NamedTuple):
    enrollment_id: str
    seq: int
    rung: str
    channel: str
    asked_at: datetime
    expires_at: datetime | None
    follow_ups: int
    last_touch_at: datetime
    not_before: datetime | None


class Ask(_AskFields):
    """An open request for one rung's commitment over one channel (immutable).

    ``id`` is ``"<enrollment id>#<seq>"``: the number of the event that opened it, so a
    webhook can name the ask it answers (``commit(ask_id=...)``). ``follow_ups`` counts
    the follow-ups so far and ``last_touch_at`` is the latest touch (the ask itself at
    first). ``not_before`` is when the latest touch's message goes out if it waits for
    its channel's send window (``None``: it went out when made); ``sends_at`` says when
    it goes out either way.
    """

    __slots__ = ()

    def __new__(
        cls,
        enrollment_id: str,
        seq: int,
        rung: str,
        channel: str,
        asked_at: datetime,
        expires_at: datetime | None,
        follow_ups: int = 0,
        last_touch_at: datetime | None = None,
        not_before: datetime | None = None,
    ) -> Ask:
        touched = last_touch_at or asked_at
        return _new(
            cls,
            (
                enrollment_id,
                seq,
                rung,
                channel,
                asked_at,
                expires_at,
                follow_ups,
                touched,
                not_before,
            ),
        )

    @property
    def id(self) -> str:
        """Stable id: the enrollment id and the number of the event that opened the ask."""
        return f"{self.enrollment_id}#{self.seq}"

    @property
    def sends_at(self) -> datetime:
        """When the latest touch's message goes out: ``not_before`` when it waits for its
        send window, else when it was made. (A throttle may hold a first ask's message
        later still: ``Tracker.sends_at`` reads that from the outbox.)"""
        return self.not_before or self.last_touch_at

    def touched(self, at: datetime, not_before: datetime | None = None) -> Ask:
        """The same ask after one more follow-up at ``at`` (going out at ``not_before``
        if it waits for its window)."""
        return _new(Ask, (*self[:6], self.follow_ups + 1, at, not_before))

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict; ``Ask.from_dict`` reads it back to an equal ask."""
        return {
            "id": self.id,
            "seq": self.seq,
            "rung": self.rung,
            "channel": self.channel,
            "asked_at": iso(self.asked_at),
            "expires_at": iso(self.expires_at) if self.expires_at else None,
            "follow_ups": self.follow_ups,
            "last_touch_at": iso(self.last_touch_at),
            "sends_at": iso(self.not_before or self.last_touch_at),
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
            not_before(data.get("sends_at"), touched or data["asked_at"]),
        )

    def __repr__(self) -> str:
        return f"Ask(id={self.id!r}, rung={self.rung!r}, channel={self.channel!r})"


_new = tuple.__new__


def not_before(sends: str | None, touched: str) -> datetime | None:
    """``not_before`` from a dict's ``sends_at``: set only when it differs from the last
    touch (a dict written before ``sends_at`` existed has neither)."""
    return datetime.fromisoformat(sends) if sends and sends != touched else None


class Timer(NamedTuple):
    """Something due at a time: ``expire``, ``follow_up``, ``next_step_overdue``, ``resume``."""

    kind: str
    due_at: datetime
    rung: str | None
