"""An enrollment's state: what the rules read, folded from its events.

``State`` is a value: the fold never changes one, it returns a new one. Its
fields are listed once in ``FIELDS``, which the snapshot (``to_dict`` /
``from_dict``, the form stores keep) reads; ``copy`` spells them out again only
because it runs once per event on the hot path (a test checks it misses none).
Nothing here decides anything about a ladder.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import datetime
from types import MappingProxyType
from typing import TYPE_CHECKING, Any, Final, NamedTuple

from ._errors import LadderError
from ._values import Ask, Status, iso, not_before

if TYPE_CHECKING:
    from ._ladder import Ladder

__all__ = ["ASK_WINDOW", "EMPTY", "FIELDS", "Identity", "State", "restore"]

EMPTY: Final[Mapping[str, Any]] = MappingProxyType({})

#: how many of the latest asks a state names (a late yes to an older one is refused)
ASK_WINDOW: Final = 16


class Identity(NamedTuple):
    """Who is on which ladder: the same for every state of one enrollment."""

    id: str
    prospect: str
    ladder: str
    version: int
    #: the prospect's IANA time zone, when given at enroll (else the ladder calendar's)
    timezone: str | None = None
    #: the tenant (account, department) the enrollment belongs to, if any
    tenant: str | None = None


class State:
    """Everything the rules read about one enrollment; replaced whole, never mutated.

    ``state`` is the machine state name (``"intro_call:asking:qualify"``), ``status``
    the plain word. ``expired`` is the ask that expired (or ended the enrollment by
    expiring) with no ask since: a yes to it is still accepted. ``asked`` lists the last
    ``ASK_WINDOW`` asks as ``(seq, rung, seq, rung, ...)``, so a late yes naming one of
    them knows its rung; ``earlier`` counts the asks before those, per rung, so a
    snapshot stays the same size however long the climb (``asks`` adds both).
    """

    __slots__ = (
        "asked",
        "at",
        "committed_at",
        "cooldowns",
        "earlier",
        "end",
        "expired",
        "facts",
        "ident",
        "needs",
        "outcome",
        "pending",
        "position",
        "redirect",
        "resume_at",
        "seq",
        "since",
        "state",
        "status",
        "unanswered",
    )

    ident: Identity
    state: str
    status: Status
    position: str | None
    outcome: str | None
    pending: Ask | None
    redirect: str | None
    expired: Ask | None
    needs: str | None
    resume_at: datetime | None
    end: str | None
    cooldowns: Mapping[str, datetime]
    facts: Mapping[str, Any]
    asked: tuple[int | str, ...]
    earlier: Mapping[str, int]
    committed_at: datetime | None
    unanswered: int
    seq: int
    at: datetime
    since: datetime

    def copy(self) -> State:
        """A copy to fill in (only the fold does that, before anyone sees it)."""
        new = _new(State)
        # unrolled: once per event, on the hot path
        new.asked = self.asked
        new.earlier = self.earlier
        new.at = self.at
        new.committed_at = self.committed_at
        new.cooldowns = self.cooldowns
        new.end = self.end
        new.expired = self.expired
        new.facts = self.facts
        new.ident = self.ident
        new.needs = self.needs
        new.outcome = self.outcome
        new.pending = self.pending
        new.position = self.position
        new.redirect = self.redirect
        new.resume_at = self.resume_at
        new.seq = self.seq
        new.since = self.since
        new.state = self.state
        new.status = self.status
        new.unanswered = self.unanswered
        return new

    @property
    def asks(self) -> dict[str, int]:
        """How many times each rung was asked."""
        counts = dict(self.earlier)
        for rung in self.asked[1::2]:
            counts[str(rung)] = counts.get(str(rung), 0) + 1
        return counts

    def asked_count(self, rung: str) -> int:
        """How many times ``rung`` was asked."""
        return self.asked.count(rung) + self.earlier.get(rung, 0)

    def rung_of(self, seq: int) -> str | None:
        """The rung of ask number ``seq`` of this enrollment, if it was one."""
        asked = self.asked
        for i in range(0, len(asked), 2):
            if asked[i] == seq:
                return str(asked[i + 1])
        return None

    def to_dict(self) -> dict[str, Any]:
        """The snapshot: JSON-ready, ``State.from_dict`` reads it back to an equal state.

        Written out field by field, as ``from_dict`` is: a tracker writes one on every
        command (a test checks it holds every field of ``FIELDS``)."""
        ident = self.ident
        pending, expired = self.pending, self.expired
        resume_at, committed_at = self.resume_at, self.committed_at
        at = iso(self.at)
        data: dict[str, Any] = {
            "id": ident.id,
            "prospect": ident.prospect,
            "ladder": ident.ladder,
            "version": ident.version,
            "state": self.state,
            "status": self.status,
            "position": self.position,
            "outcome": self.outcome,
            "pending": pending.to_dict() if pending is not None else None,
            "redirect": self.redirect,
            "expired": expired.to_dict() if expired is not None else None,
            "needs": self.needs,
            "resume_at": iso(resume_at) if resume_at is not None else None,
            "end": self.end,
            "cooldowns": {k: iso(v) for k, v in self.cooldowns.items()},
            "facts": dict(self.facts),
            "asked": list(self.asked),
            "committed_at": iso(committed_at) if committed_at is not None else None,
            "unanswered": self.unanswered,
            "seq": self.seq,
            "at": at,
            "since": at if self.since is self.at else iso(self.since),
        }
        if self.earlier:
            data["asks_before"] = dict(self.earlier)
        data["asks"] = self.asks  # for people and tools that read snapshots
        if ident.timezone is not None:  # written only when given: older readers skip it
            data["timezone"] = ident.timezone
        if ident.tenant is not None:  # likewise: absent means no tenant
            data["tenant"] = ident.tenant
        return data

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], names: Mapping[str, str] = EMPTY) -> State:
        """Read a snapshot (``to_dict`` output, also as older versions wrote it).

        ``names`` maps a ladder's names (rungs, ends, channels, outcomes, states, the
        statuses) to the ladder's own string objects: a snapshot decoded from JSON then
        shares them instead of holding a copy of each, as every enrollment restored for
        a command does. Written out field by field, as ``to_dict`` is: a service
        restores a state on every command (the tests round-trip every field).
        """
        get = names.get
        s = _new(State)
        eid = data["id"]
        s.ident = Identity(
            eid,
            data["prospect"],
            get(data["ladder"], data["ladder"]),
            int(data["version"]),
            data.get("timezone"),  # absent from snapshots written before issue 17
            data.get("tenant"),
        )
        state, status = data["state"], data["status"]
        s.state = get(state, state)
        s.status = get(status, status)  # type: ignore[assignment]
        position, outcome, redirect, end = (
            data["position"],
            data["outcome"],
            data["redirect"],
            data["end"],
        )
        s.position = get(position, position) if position is not None else None
        s.outcome = get(outcome, outcome) if outcome is not None else None
        s.redirect = get(redirect, redirect) if redirect is not None else None
        s.end = get(end, end) if end is not None else None
        pending, expired = data["pending"], data["expired"]
        s.pending = _ask_named(pending, eid, get) if pending else None
        s.expired = _ask_named(expired, eid, get) if expired else None
        s.needs = data["needs"]
        resume_at, committed_at = data["resume_at"], data["committed_at"]
        s.resume_at = datetime.fromisoformat(resume_at) if resume_at else None
        s.committed_at = datetime.fromisoformat(committed_at) if committed_at else None
        cooldowns, facts = data["cooldowns"], data["facts"]
        s.cooldowns = (
            {get(k, k): datetime.fromisoformat(v) for k, v in cooldowns.items()}
            if cooldowns
            else EMPTY
        )
        s.facts = dict(facts) if facts else EMPTY
        asked, earlier = data.get("asked"), data.get("asks_before")
        # seq, rung, seq, rung...: the ints are not names, so get gives them back
        s.asked = tuple(map(get, asked, asked)) if asked else ()
        s.earlier = {get(k, k): int(v) for k, v in earlier.items()} if earlier else EMPTY
        if asked is None and data.get("asks"):
            # written before the log was kept: every ask counted as an earlier one
            s.earlier = {get(k, k): int(v) for k, v in data["asks"].items()}
        s.unanswered = int(data["unanswered"])
        s.seq = int(data["seq"])
        at, since = data["at"], data["since"]
        s.at = datetime.fromisoformat(at)
        s.since = s.at if since == at else datetime.fromisoformat(since)
        return s

    def _key(self) -> tuple[Any, ...]:
        return (self.ident, *(getattr(self, name) for name in _FIELDS))

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, State):
            return NotImplemented
        return self._key() == other._key()

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return f"<State {self.ident.id!r} #{self.seq} {self.state}>"


_new = object.__new__


def _ask_named(data: Mapping[str, Any], eid: str, get: Callable[[str, str], str]) -> Ask:
    """``Ask.from_dict``, sharing the ladder's names for the rung and the channel."""
    rung, channel = data["rung"], data["channel"]
    expires, touched = data.get("expires_at"), data.get("last_touch_at")
    asked_at = datetime.fromisoformat(data["asked_at"])
    return Ask(
        eid,
        int(data["seq"]),
        get(rung, rung),
        get(channel, channel),
        asked_at,
        datetime.fromisoformat(expires) if expires else None,
        int(data.get("follow_ups", 0)),
        (asked_at if touched == data["asked_at"] else datetime.fromisoformat(touched))
        if touched
        else None,
        not_before(data.get("sends_at"), touched or data["asked_at"]),
    )


# every field but ``ident`` (written as id/prospect/ladder/version), in snapshot order
_FIELDS = (
    "state",
    "status",
    "position",
    "outcome",
    "pending",
    "redirect",
    "expired",
    "needs",
    "resume_at",
    "end",
    "cooldowns",
    "facts",
    "asked",
    "earlier",
    "committed_at",
    "unanswered",
    "seq",
    "at",
    "since",
)

#: every field of a ``State``
FIELDS: Final = ("ident", *_FIELDS)


def restore(ladder: Ladder, data: Mapping[str, Any]) -> State:
    """The state a snapshot of an enrollment on ``ladder`` describes, checked against it
    (and sharing the ladder's strings)."""
    if data.get("ladder") != ladder.name:
        raise LadderError(
            f"enrollment {data.get('id')!r} is on ladder {data.get('ladder')!r}, "
            f"not {ladder.name!r}"
        )
    try:
        state = State.from_dict(data, ladder.tables.names)
    except (KeyError, TypeError, ValueError) as exc:
        raise LadderError(
            f"not a snapshot of an enrollment on {ladder.name!r}: {exc!r} in {data!r:.300}"
        ) from exc
    if state.state not in ladder.tables.states:
        raise LadderError(
            f"snapshot state {state.state!r} does not exist on ladder {ladder.name!r} "
            f"v{ladder.version}"
        )
    return state
