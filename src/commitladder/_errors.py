"""The error tree: every exception commitladder raises on purpose.

    LadderError
    ├── DefinitionError          a ladder definition has problems (all of them, located)
    ├── Refused                  a guard refused a command; nothing changed
    │   ├── AskPending           an ask is already open: one commitment at a time
    │   ├── NotNextStep          the rung is not a next step from where the prospect stands
    │   ├── UnknownRung          no such rung on this ladder
    │   ├── ChannelNotAllowed    the rung is not asked over that channel
    │   ├── InCooldown           the rung was declined or expired too recently (retry_after)
    │   ├── AskLimitReached      the rung was asked its max_asks times already
    │   ├── NoOpenAsk            answering, following up or withdrawing with no open ask
    │   ├── FollowUpLimitReached all follow-ups of the open ask are used
    │   ├── FollowUpTooSoon      the last touch is too recent (retry_after)
    │   ├── NotExpiredYet        expire() before the ask's expires_at (retry_after)
    │   ├── MissingFacts         a commitment without the facts the rung requires
    │   ├── OutcomeRequired      a commitment to a branching rung without a valid outcome
    │   ├── EnrollmentParked     the deal is in neutral; resume it first
    │   ├── NotParked            resume() on an enrollment that is not parked
    │   ├── UnknownEnd           end() with an end the ladder does not declare
    │   └── EnrollmentEnded      the enrollment has ended and accepts nothing
    ├── StoreError               persistence problems (used by the durable stores)
    │   └── ConflictError        another writer changed the enrollment first
    ├── NaiveDatetimeError       a datetime without a timezone (also a ValueError)
    └── TimeOrderError           a command dated before the enrollment's last event

A refusal never changes state, names its rule with a stable ``code``, names the
enrollment, carries ``retry_after`` when time will lift it, reads as a sentence
a salesperson understands, and serialises with ``to_dict()``.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from difflib import get_close_matches
from typing import TYPE_CHECKING, Any, ClassVar

if TYPE_CHECKING:
    from ._enrollment import Ask

__all__ = [
    "AskLimitReached",
    "AskPending",
    "ChannelNotAllowed",
    "ConflictError",
    "DefinitionError",
    "EnrollmentEnded",
    "EnrollmentParked",
    "FollowUpLimitReached",
    "FollowUpTooSoon",
    "InCooldown",
    "LadderError",
    "MissingFacts",
    "NoOpenAsk",
    "NotExpiredYet",
    "NotNextStep",
    "NotParked",
    "OutcomeRequired",
    "Problem",
    "Refused",
    "StoreError",
    "UnknownEnd",
    "UnknownRung",
]


def did_you_mean(name: str, known: Iterable[str]) -> str:
    """Return ``"; did you mean 'x'?"`` when ``name`` is close to a known name, else ``""``."""
    names = list(known)
    matches = get_close_matches(name, names, n=1, cutoff=0.6)
    if not matches and len(name) >= 3:
        # a truncated name ('admit' for 'admit_problem') scores low on similarity
        matches = sorted((n for n in names if n.startswith(name) or name.startswith(n)), key=len)
    return f"; did you mean {matches[0]!r}?" if matches else ""


class LadderError(Exception):
    """Base of every error commitladder raises on purpose."""


@dataclass(frozen=True, slots=True)
class Problem:
    """One problem in a ladder definition, located where possible."""

    path: str
    message: str
    source: str | None = None
    line: int | None = None
    column: int | None = None

    def __str__(self) -> str:
        where = ""
        if self.source is not None or self.line is not None:
            parts = [self.source or "<string>"]
            if self.line is not None:
                parts.append(str(self.line))
                if self.column is not None:
                    parts.append(str(self.column))
            where = ":".join(parts) + ": "
        path = f"{self.path}: " if self.path else ""
        return f"{where}{path}{self.message}"

    def to_dict(self) -> dict[str, Any]:
        return {
            "path": self.path,
            "message": self.message,
            "source": self.source,
            "line": self.line,
            "column": self.column,
        }


class DefinitionError(LadderError):
    """A ladder definition has problems; ``problems`` lists every one found."""

    def __init__(self, problems: Sequence[Problem]) -> None:
        self.problems: tuple[Problem, ...] = tuple(problems)
        count = len(self.problems)
        head = f"the ladder definition has {count} problem{'s' if count != 1 else ''}"
        super().__init__(head + ":\n" + "\n".join(f"  {p}" for p in self.problems))


class Refused(LadderError):
    """A guard refused a command. Nothing was changed.

    ``code`` names the rule (stable, for programs); ``str(exc)`` is a sentence for
    people; ``retry_after`` is set when waiting will lift the refusal.
    """

    code: ClassVar[str] = "refused"

    def __init__(
        self,
        message: str,
        *,
        enrollment_id: str,
        rung: str | None = None,
        retry_after: datetime | None = None,
        **details: Any,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.enrollment_id = enrollment_id
        self.rung = rung
        self.retry_after = retry_after
        self.details: dict[str, Any] = details

    @property
    def rule(self) -> str:
        """The stable code of the rule that refused (same as ``code``)."""
        return self.code

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready description, for a host to return over HTTP."""
        data: dict[str, Any] = {
            "error": type(self).__name__,
            "code": self.code,
            "message": self.message,
            "enrollment_id": self.enrollment_id,
            "rung": self.rung,
            "retry_after": self.retry_after.isoformat() if self.retry_after else None,
        }
        for key, value in self.details.items():
            data[key] = _jsonable(value)
        return data

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Refused:
        """The refusal ``to_dict()`` described, of the same class (found by ``code``).

        ``from_dict(r.to_dict()).to_dict() == r.to_dict()``. Details come back in their
        JSON form, except ``AskPending.ask``, which is an ``Ask`` again. A stored
        refusal is replayed this way when its idempotency key comes back.
        """
        from ._enrollment import Ask

        known = {"error", "code", "message", "enrollment_id", "rung", "retry_after"}
        code = str(data.get("code", Refused.code))
        kind = _REFUSALS.get(code)
        if kind is None:  # a rule this version does not know (stored by a newer one)
            kind = type(str(data.get("error") or "Refused"), (Refused,), {"code": code})
        details = {k: v for k, v in data.items() if k not in known}
        if kind is AskPending and isinstance(details.get("ask"), Mapping):
            held = details["ask"]
            details["ask"] = Ask.from_dict(str(held["id"]).rpartition("#")[0], held)
        retry = data.get("retry_after")
        return kind(
            data["message"],
            enrollment_id=data["enrollment_id"],
            rung=data.get("rung"),
            retry_after=datetime.fromisoformat(retry) if retry else None,
            **details,
        )

    def __repr__(self) -> str:
        return f"{type(self).__name__}(code={self.code!r}, message={self.message!r})"


def _jsonable(value: Any) -> Any:
    if hasattr(value, "to_dict"):
        return value.to_dict()
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, (list, tuple, frozenset, set)):
        items = sorted(value) if isinstance(value, (set, frozenset)) else value
        return [_jsonable(v) for v in items]
    return value


class AskPending(Refused):
    """An ask is already open: ask for one commitment at a time."""

    code = "ask_pending"

    @property
    def ask(self) -> Ask:
        """The open ask that blocks a second one."""
        ask: Ask = self.details["ask"]
        return ask


class NotNextStep(Refused):
    """The rung is not a next step from the prospect's position (don't jump ahead)."""

    code = "not_next_step"


class UnknownRung(Refused):
    """The ladder has no such rung (the message suggests a close name)."""

    code = "unknown_rung"


class ChannelNotAllowed(Refused):
    """The rung is not asked over that channel; ``allowed`` lists the ones it is."""

    code = "channel_not_allowed"


class InCooldown(Refused):
    """The rung was declined or expired too recently; ``retry_after`` is when the cooldown ends."""

    code = "cooldown"


class AskLimitReached(Refused):
    """The rung was asked ``max_asks`` times in this enrollment already."""

    code = "ask_limit"


class NoOpenAsk(Refused):
    """There is no open ask to commit to, decline, follow up, expire or withdraw."""

    code = "no_open_ask"


class FollowUpLimitReached(Refused):
    """The open ask was followed up as often as its rung allows."""

    code = "follow_up_limit"


class FollowUpTooSoon(Refused):
    """Too soon since the last touch; ``retry_after`` is when a follow-up is allowed."""

    code = "follow_up_too_soon"


class NotExpiredYet(Refused):
    """The open ask has not reached its ``expires_at`` (or never expires)."""

    code = "not_expired"


class MissingFacts(Refused):
    """The commitment lacks facts its rung ``requires``; ``missing`` names them."""

    code = "missing_facts"


class OutcomeRequired(Refused):
    """A branching rung needs an outcome among its ``choices`` (or a plain rung got one)."""

    code = "outcome_required"


class EnrollmentParked(Refused):
    """The deal is parked (in neutral): ``resume()`` it first."""

    code = "parked"


class NotParked(Refused):
    """``resume()`` was called on an enrollment that is not parked."""

    code = "not_parked"


class UnknownEnd(Refused):
    """The ladder declares no such end (the message suggests a close name)."""

    code = "unknown_end"


class EnrollmentEnded(Refused):
    """The enrollment has ended; it accepts nothing more."""

    code = "ended"


def _refusals(kind: type[Refused]) -> Iterator[type[Refused]]:
    yield kind
    for sub in kind.__subclasses__():
        yield from _refusals(sub)


# every refusal class by its code, for ``Refused.from_dict``
_REFUSALS: dict[str, type[Refused]] = {k.code: k for k in _refusals(Refused)}


class StoreError(LadderError):
    """Persistence failed; the command was not stored."""


class ConflictError(StoreError):
    """Another writer changed the enrollment first (optimistic concurrency)."""
