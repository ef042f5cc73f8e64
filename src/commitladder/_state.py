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
from ._values import Ask, Status

if TYPE_CHECKING:
    from ._ladder import Ladder

__all__ = ["EMPTY", "FIELDS", "Identity", "State", "restore"]

EMPTY: Final[Mapping[str, Any]] = MappingProxyType({})


class Identity(NamedTuple):
    """Who is on which ladder: the same for every state of one enrollment."""

    id: str
    prospect: str
    ladder: str
    version: int


class State:
    """Everything the rules read about one enrollment; replaced whole, never mutated.

    ``state`` is the machine state name (``"intro_call:asking:qualify"``), ``status``
    the plain word. ``expired`` is the ask that expired (or ended the enrollment by
    expiring) with no ask since: a yes to it is still accepted. ``asked`` lists every
    ask as ``(seq, rung, seq, rung, ...)``: how often a rung was asked (``asks``), and
    the rung of the old ask a late yes names.
    """

    __slots__ = (
        "asked",
        "at",
        "committed_at",
        "cooldowns",
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
        counts: dict[str, int] = {}
        for rung in self.asked[1::2]:
            counts[str(rung)] = counts.get(str(rung), 0) + 1
        return counts

    def rung_of(self, seq: int) -> str | None:
        """The rung of ask number ``seq`` of this enrollment, if it was one."""
        asked = self.asked
        for i in range(0, len(asked), 2):
            if asked[i] == seq:
                return str(asked[i + 1])
        return None

    def to_dict(self) -> dict[str, Any]:
        """The snapshot: JSON-ready, ``State.from_dict`` reads it back to an equal state."""
        ident = self.ident
        data: dict[str, Any] = {
            "id": ident.id,
            "prospect": ident.prospect,
            "ladder": ident.ladder,
            "version": ident.version,
        }
        for name, (encode, _) in _CODECS.items():
            data[name] = encode(getattr(self, name))
        data["asks"] = self.asks  # for people and tools that read snapshots
        return data

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> State:
        """Read a snapshot (``to_dict`` output, also as older versions wrote it)."""
        s = _new(State)
        ident = s.ident = Identity(
            data["id"], data["prospect"], data["ladder"], int(data["version"])
        )
        for name, (_, decode) in _CODECS.items():
            setattr(s, name, decode(data.get(name), ident.id))
        if "asked" not in data and data.get("asks"):
            # written before the log was kept: the counts, with unknown (negative) seqs
            s.asked = tuple(
                x for rung, n in data["asks"].items() for _ in range(int(n)) for x in (-1, rung)
            )
        if data.get("since") == data.get("at"):
            s.since = s.at  # one datetime, not two equal ones
        return s

    def _key(self) -> tuple[Any, ...]:
        return (self.ident, *(getattr(self, name) for name in _CODECS))

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, State):
            return NotImplemented
        return self._key() == other._key()

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return f"<State {self.ident.id!r} #{self.seq} {self.state}>"


_new = object.__new__


def _same(value: Any) -> Any:
    return value


def _keep(value: Any, eid: str) -> Any:
    return value


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


def _time(value: str | None, eid: str) -> datetime | None:
    return datetime.fromisoformat(value) if value else None


def _ask_out(value: Ask | None) -> dict[str, Any] | None:
    return value.to_dict() if value is not None else None


def _ask_in(value: Mapping[str, Any] | None, eid: str) -> Ask | None:
    return Ask.from_dict(eid, value) if value else None


def _times_out(value: Mapping[str, datetime]) -> dict[str, str]:
    return {k: v.isoformat() for k, v in value.items()}


def _times_in(value: Mapping[str, str] | None, eid: str) -> Mapping[str, datetime]:
    return {k: datetime.fromisoformat(v) for k, v in value.items()} if value else EMPTY


def _facts_in(value: Mapping[str, Any] | None, eid: str) -> Mapping[str, Any]:
    return dict(value) if value else EMPTY


def _asked_out(value: tuple[int | str, ...]) -> list[list[int | str]]:
    return [[value[i], value[i + 1]] for i in range(0, len(value), 2)]


def _asked_in(value: list[list[Any]] | None, eid: str) -> tuple[int | str, ...]:
    # older snapshots do not have it: a late yes to an ask before then has no rung
    return tuple(x for seq, rung in value or () for x in (int(seq), str(rung)))


def _int_in(value: Any, eid: str) -> int:
    return int(value)


def _at_in(value: str, eid: str) -> datetime:
    return datetime.fromisoformat(value)


Codec = tuple[Callable[[Any], Any], Callable[[Any, str], Any]]

# every field but ``ident`` (written as id/prospect/ladder/version): how the snapshot
# writes it and reads it back
_CODECS: dict[str, Codec] = {
    "state": (_same, _keep),
    "status": (_same, _keep),
    "position": (_same, _keep),
    "outcome": (_same, _keep),
    "pending": (_ask_out, _ask_in),
    "redirect": (_same, _keep),
    "expired": (_ask_out, _ask_in),
    "needs": (_same, _keep),
    "resume_at": (_iso, _time),
    "end": (_same, _keep),
    "cooldowns": (_times_out, _times_in),
    "facts": (dict, _facts_in),
    "asked": (_asked_out, _asked_in),
    "committed_at": (_iso, _time),
    "unanswered": (_same, _int_in),
    "seq": (_same, _int_in),
    "at": (_iso, _at_in),
    "since": (_iso, _at_in),
}

#: every field of a ``State``
FIELDS: Final = ("ident", *_CODECS)


def restore(ladder: Ladder, data: Mapping[str, Any]) -> State:
    """The state a snapshot of an enrollment on ``ladder`` describes, checked against it."""
    if data.get("ladder") != ladder.name:
        raise LadderError(
            f"enrollment {data.get('id')!r} is on ladder {data.get('ladder')!r}, "
            f"not {ladder.name!r}"
        )
    state = State.from_dict(data)
    if state.state not in ladder.tables.states:
        raise LadderError(
            f"snapshot state {state.state!r} does not exist on ladder {ladder.name!r} "
            f"v{ladder.version}"
        )
    return state
