"""The error tree: every exception commitladder raises on purpose, in one module.

    LadderError
    ├── DefinitionError          a ladder definition has problems (all of them, located)
    │   └── LadderFileNotFoundError  load() found no file there (also a FileNotFoundError)
    ├── Refused                  a guard refused a command; nothing changed
    │   ├── AskPending           an ask is already open: one commitment at a time
    │   ├── NotNextStep          the rung is not a next step from where the prospect stands
    │   ├── UnknownRung          no such rung on this ladder
    │   ├── ChannelNotAllowed    the rung is not asked over that channel
    │   ├── InCooldown           the rung was declined or expired too recently (retry_after)
    │   ├── AskLimitReached      the rung was asked its max_asks times already
    │   ├── NoOpenAsk            answering, following up or withdrawing with no open ask
    │   ├── AskNotOpen           an answer names an ask (ask_id=) that is not the open one
    │   ├── FollowUpLimitReached all follow-ups of the open ask are used
    │   ├── FollowUpTooSoon      the last touch is too recent (retry_after)
    │   ├── AskLapsed            a follow-up after the open ask's expires_at
    │   ├── NotExpiredYet        expire() before the ask's expires_at (retry_after)
    │   ├── MissingFacts         a commitment without the facts the rung requires
    │   ├── OutcomeRequired      a commitment to a branching rung without a valid outcome
    │   ├── EnrollmentParked     the deal is in neutral; resume it first
    │   ├── NotParked            resume() on an enrollment that is not parked
    │   ├── UnknownEnd           end() with an end the ladder does not declare
    │   ├── EnrollmentEnded      the enrollment has ended and accepts nothing
    │   ├── ReentryRefused       the ladder's re-entry policy keeps an ended prospect out
    │   └── RekeyConflict        rekey() onto a prospect whose open ask or live run clashes
    ├── StoreError               persistence problems (used by the durable stores)
    │   ├── ConflictError        another writer changed the enrollment first
    │   └── NotEnrolled          no enrollment of that prospect (also a LookupError)
    ├── KeyReused                an idempotency key came back with another command or target
    ├── ReadOnlyEnrollment       a command on an enrollment read from a tracker
    ├── InvalidText              an id or a value that is not valid text (also a ValueError)
    ├── PipelineImportError      a CRM pipeline export that `import` cannot read (file:line)
    ├── NaiveDatetimeError       a datetime without a timezone (also a ValueError)
    ├── UnknownTimeZone          a time zone name this system does not know (also a ValueError)
    └── TimeOrderError           a command dated before the enrollment's last event

A refusal never changes state, names its rule with a stable ``code``, names the
enrollment, carries ``retry_after`` when time will lift it and its own data as
keyword-only attributes, reads as a sentence a salesperson understands, and
serialises with ``to_dict()`` (``Refused.from_dict`` reads it back). This module
must never import another module of commitladder but ``_values``.
"""

from __future__ import annotations

import errno
import os
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from difflib import get_close_matches
from typing import Any, ClassVar

from ._values import Ask

__all__ = [
    "AskLapsed",
    "AskLimitReached",
    "AskNotOpen",
    "AskPending",
    "ChannelNotAllowed",
    "ConflictError",
    "DefinitionError",
    "EnrollmentEnded",
    "EnrollmentParked",
    "FollowUpLimitReached",
    "FollowUpTooSoon",
    "InCooldown",
    "InvalidText",
    "KeyReused",
    "LadderError",
    "LadderFileNotFoundError",
    "MissingFacts",
    "NaiveDatetimeError",
    "NoOpenAsk",
    "NotEnrolled",
    "NotExpiredYet",
    "NotNextStep",
    "NotParked",
    "OutcomeRequired",
    "PipelineImportError",
    "Problem",
    "ReadOnlyEnrollment",
    "ReentryRefused",
    "Refused",
    "RekeyConflict",
    "StoreError",
    "TimeOrderError",
    "UnknownEnd",
    "UnknownRung",
    "check_text",
    "did_you_mean",
]


def did_you_mean(name: object, known: Iterable[str]) -> str:
    """Return ``"; did you mean 'x'?"`` when ``name`` is close to a known name, else ``""``."""
    if not isinstance(name, str):
        return ""
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
        """A JSON-ready dict of the problem and where it is."""
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


class LadderFileNotFoundError(DefinitionError, FileNotFoundError):
    """``load()`` found no file at the path it was given.

    Both a ``DefinitionError`` (the ladder could not be loaded, ``problems`` says why) and
    a ``FileNotFoundError`` (``filename``, ``errno``), so either ``except`` catches it.
    """

    def __init__(self, path: str) -> None:
        here = os.getcwd()
        message = f"there is no file here; check the path (a relative path starts from {here})"
        super().__init__([Problem("", message, path)])
        self.errno = errno.ENOENT
        self.strerror = os.strerror(errno.ENOENT)
        self.filename = path

    def __str__(self) -> str:  # OSError's would print "[Errno 2] ...", not the problems
        return str(self.args[0])

    def __reduce__(self) -> tuple[type[LadderFileNotFoundError], tuple[str]]:
        return type(self), (str(self.filename),)


# ---- refusals -------------------------------------------------------------------------------


def _jsonable(value: Any) -> Any:
    if isinstance(value, Ask):
        return value.to_dict()
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    return value


class Refused(LadderError):
    """A guard refused a command. Nothing was changed.

    ``code`` names the rule (stable, for programs); ``str(exc)`` is a sentence for
    people; ``retry_after`` is set when waiting will lift the refusal. Each kind of
    refusal carries its own data as keyword-only attributes (``AskPending.ask``,
    ``NotNextStep.askable``...), listed in ``fields``.
    """

    code: ClassVar[str] = "refused"
    #: the names of this kind's own attributes, in the order ``to_dict`` writes them
    fields: ClassVar[tuple[str, ...]] = ()

    def __init__(
        self,
        message: str,
        *,
        enrollment_id: str,
        rung: str | None = None,
        retry_after: datetime | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.enrollment_id = enrollment_id
        self.rung = rung
        self.retry_after = retry_after
        #: data of a refusal this version does not know (read by ``from_dict``)
        self.extra: Mapping[str, Any] = {}

    @property
    def rule(self) -> str:
        """The stable code of the rule that refused (same as ``code``)."""
        return self.code

    @property
    def details(self) -> dict[str, Any]:
        """This kind's own attributes (``fields``) as a dict, in their Python form."""
        return {name: getattr(self, name) for name in self.fields} | dict(self.extra)

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
        for name, value in self.details.items():
            data[name] = _jsonable(value)
        return data

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Refused:
        """The refusal ``to_dict()`` described, of the same class (found by ``code``).

        ``from_dict(r.to_dict()).to_dict() == r.to_dict()``, and the attributes come back
        in their Python form (``AskPending.ask`` is an ``Ask``, times are datetimes). A
        stored refusal is replayed this way when its idempotency key comes back.
        """
        code = str(data.get("code", Refused.code))
        kind = _REFUSALS.get(code)
        retry = data.get("retry_after")
        common: dict[str, Any] = {
            "enrollment_id": data["enrollment_id"],
            "rung": data.get("rung"),
            "retry_after": datetime.fromisoformat(retry) if retry else None,
        }
        if kind is None:  # a rule this version does not know (stored by a newer one)
            kind = type(str(data.get("error") or "Refused"), (Refused,), {"code": code})
            refusal = kind(data["message"], **common)
            refusal.extra = {k: v for k, v in data.items() if k not in _COMMON}
            return refusal
        own = {name: kind.decode(name, data.get(name)) for name in kind.fields}
        return kind(data["message"], **common, **own)

    @classmethod
    def decode(cls, name: str, value: Any) -> Any:
        """An attribute read back from its ``to_dict`` form (lists stay lists)."""
        return value

    def __reduce__(self) -> tuple[Any, ...]:
        return (Refused.from_dict, (self.to_dict(),))

    def __repr__(self) -> str:
        return f"{type(self).__name__}(code={self.code!r}, message={self.message!r})"


_COMMON = frozenset({"error", "code", "message", "enrollment_id", "rung", "retry_after"})


class AskPending(Refused):
    """An ask is already open: ask for one commitment at a time. ``ask`` is the open one."""

    code = "ask_pending"
    fields = ("ask",)

    def __init__(
        self,
        message: str,
        *,
        enrollment_id: str,
        ask: Ask,
        rung: str | None = None,
        retry_after: datetime | None = None,
    ) -> None:
        super().__init__(message, enrollment_id=enrollment_id, rung=rung, retry_after=retry_after)
        #: the open ask that blocks a second one
        self.ask = ask

    @classmethod
    def decode(cls, name: str, value: Any) -> Any:
        return Ask.from_dict(str(value["id"]).rpartition("#")[0], value)


class NotNextStep(Refused):
    """The rung is not a next step from the prospect's position (don't jump ahead)."""

    code = "not_next_step"
    fields = ("position", "askable")

    def __init__(
        self,
        message: str,
        *,
        enrollment_id: str,
        position: str | None,
        askable: Sequence[str],
        rung: str | None = None,
        retry_after: datetime | None = None,
    ) -> None:
        super().__init__(message, enrollment_id=enrollment_id, rung=rung, retry_after=retry_after)
        #: the last rung committed to (``None`` at the start)
        self.position = position
        #: the next steps the ladder offers from there
        self.askable = list(askable)


class UnknownRung(Refused):
    """The ladder has no such rung; the message suggests a close name."""

    code = "unknown_rung"


class ChannelNotAllowed(Refused):
    """The rung is not asked (or followed up) over that channel."""

    code = "channel_not_allowed"
    fields = ("channel", "allowed")

    def __init__(
        self,
        message: str,
        *,
        enrollment_id: str,
        channel: str,
        allowed: Sequence[str],
        rung: str | None = None,
        retry_after: datetime | None = None,
    ) -> None:
        super().__init__(message, enrollment_id=enrollment_id, rung=rung, retry_after=retry_after)
        #: the channel refused
        self.channel = channel
        #: the rung's channels
        self.allowed = list(allowed)


class InCooldown(Refused):
    """The rung was declined, or its ask expired, too recently (``retry_after``)."""

    code = "cooldown"


class AskLimitReached(Refused):
    """The rung was asked its ``max_asks`` times in this enrollment already."""

    code = "ask_limit"
    fields = ("asked", "max_asks")

    def __init__(
        self,
        message: str,
        *,
        enrollment_id: str,
        asked: int,
        max_asks: int,
        rung: str | None = None,
        retry_after: datetime | None = None,
    ) -> None:
        super().__init__(message, enrollment_id=enrollment_id, rung=rung, retry_after=retry_after)
        #: how many times the rung was asked
        self.asked = asked
        #: the rung's limit
        self.max_asks = max_asks


class NoOpenAsk(Refused):
    """An answer, follow-up or withdrawal with no open ask (and no late yes to accept)."""

    code = "no_open_ask"


class AskNotOpen(Refused):
    """An answer names an ask (``ask_id=``) that is not the open one, and cannot be
    recorded late (only a yes can)."""

    code = "ask_not_open"
    fields = ("ask_id", "open_ask_id")

    def __init__(
        self,
        message: str,
        *,
        enrollment_id: str,
        ask_id: str,
        open_ask_id: str | None,
        rung: str | None = None,
        retry_after: datetime | None = None,
    ) -> None:
        super().__init__(message, enrollment_id=enrollment_id, rung=rung, retry_after=retry_after)
        #: the ask the command named
        self.ask_id = ask_id
        #: the ask open now, if any
        self.open_ask_id = open_ask_id


class FollowUpLimitReached(Refused):
    """Every follow-up the rung allows on the open ask is used."""

    code = "follow_up_limit"
    fields = ("max",)

    def __init__(
        self,
        message: str,
        *,
        enrollment_id: str,
        max: int,
        rung: str | None = None,
        retry_after: datetime | None = None,
    ) -> None:
        super().__init__(message, enrollment_id=enrollment_id, rung=rung, retry_after=retry_after)
        #: the rung's ``follow_ups.max``
        self.max = max


class FollowUpTooSoon(Refused):
    """The last touch on the open ask is too recent (``retry_after``)."""

    code = "follow_up_too_soon"


class AskLapsed(Refused):
    """A follow-up after the open ask's ``expires_at`` (before ``expire()`` ran): the
    ladder no longer waits for that answer."""

    code = "ask_lapsed"
    fields = ("expired_at",)

    def __init__(
        self,
        message: str,
        *,
        enrollment_id: str,
        expired_at: datetime,
        rung: str | None = None,
        retry_after: datetime | None = None,
    ) -> None:
        super().__init__(message, enrollment_id=enrollment_id, rung=rung, retry_after=retry_after)
        #: when the ask expired
        self.expired_at = expired_at

    @classmethod
    def decode(cls, name: str, value: Any) -> Any:
        return datetime.fromisoformat(value) if isinstance(value, str) else value


class NotExpiredYet(Refused):
    """``expire()`` before the open ask's ``expires_at`` (``retry_after``)."""

    code = "not_expired"


class MissingFacts(Refused):
    """A commitment without the facts the rung requires."""

    code = "missing_facts"
    fields = ("missing",)

    def __init__(
        self,
        message: str,
        *,
        enrollment_id: str,
        missing: Sequence[str],
        rung: str | None = None,
        retry_after: datetime | None = None,
    ) -> None:
        super().__init__(message, enrollment_id=enrollment_id, rung=rung, retry_after=retry_after)
        #: the required facts not given (sorted)
        self.missing = list(missing)


class OutcomeRequired(Refused):
    """A commitment to a branching rung without a valid outcome (or with one where the
    rung does not branch)."""

    code = "outcome_required"
    fields = ("outcome", "choices")

    def __init__(
        self,
        message: str,
        *,
        enrollment_id: str,
        outcome: object,
        choices: Sequence[str],
        rung: str | None = None,
        retry_after: datetime | None = None,
    ) -> None:
        super().__init__(message, enrollment_id=enrollment_id, rung=rung, retry_after=retry_after)
        #: the outcome given (``None`` when none was)
        self.outcome = outcome if outcome is None or isinstance(outcome, str) else repr(outcome)
        #: the rung's outcomes
        self.choices = list(choices)


class EnrollmentParked(Refused):
    """The deal is in neutral; ``resume()`` it first."""

    code = "parked"
    fields = ("needs", "resume_at")

    def __init__(
        self,
        message: str,
        *,
        enrollment_id: str,
        needs: str | None,
        resume_at: datetime | None,
        rung: str | None = None,
        retry_after: datetime | None = None,
    ) -> None:
        super().__init__(message, enrollment_id=enrollment_id, rung=rung, retry_after=retry_after)
        #: what the prospect needs before the deal moves again
        self.needs = needs
        #: when a resume is planned
        self.resume_at = resume_at

    @classmethod
    def decode(cls, name: str, value: Any) -> Any:
        if name == "resume_at" and value is not None:
            return datetime.fromisoformat(value)
        return value


class NotParked(Refused):
    """``resume()`` on an enrollment that is not parked."""

    code = "not_parked"
    fields = ("status",)

    def __init__(
        self,
        message: str,
        *,
        enrollment_id: str,
        status: str,
        rung: str | None = None,
        retry_after: datetime | None = None,
    ) -> None:
        super().__init__(message, enrollment_id=enrollment_id, rung=rung, retry_after=retry_after)
        #: the enrollment's status
        self.status = status


class UnknownEnd(Refused):
    """``end()`` with an end the ladder does not declare."""

    code = "unknown_end"
    fields = ("end",)

    def __init__(
        self,
        message: str,
        *,
        enrollment_id: str,
        end: str,
        rung: str | None = None,
        retry_after: datetime | None = None,
    ) -> None:
        super().__init__(message, enrollment_id=enrollment_id, rung=rung, retry_after=retry_after)
        #: the end asked for
        self.end = end


class EnrollmentEnded(Refused):
    """The enrollment has ended and accepts nothing (but a late yes, which it records)."""

    code = "ended"
    fields = ("end",)

    def __init__(
        self,
        message: str,
        *,
        enrollment_id: str,
        end: str,
        rung: str | None = None,
        retry_after: datetime | None = None,
    ) -> None:
        super().__init__(message, enrollment_id=enrollment_id, rung=rung, retry_after=retry_after)
        #: the end it reached
        self.end = end


class ReentryRefused(Refused):
    """Enrolling a prospect again, against the ladder's ``reentry`` policy: ``previous`` is
    their last run; ``retry_after`` says when a cool-off lets them in (``None``: never)."""

    code = "reentry"
    fields = ("policy", "previous")

    def __init__(
        self,
        message: str,
        *,
        enrollment_id: str,
        policy: str,
        previous: str,
        rung: str | None = None,
        retry_after: datetime | None = None,
    ) -> None:
        super().__init__(message, enrollment_id=enrollment_id, rung=rung, retry_after=retry_after)
        #: the ladder's policy (``never``, ``after_end``)
        self.policy = policy
        #: the id of the prospect's last run on the ladder
        self.previous = previous


class RekeyConflict(Refused):
    """``Tracker.rekey`` onto a prospect (``target``) whose enrollments clash with the ones
    moving: a second open ask, or a second live run on one ladder. Nothing moved."""

    code = "rekey_conflict"
    fields = ("target", "conflicts")

    def __init__(
        self,
        message: str,
        *,
        enrollment_id: str,
        target: str,
        conflicts: Sequence[str],
        rung: str | None = None,
        retry_after: datetime | None = None,
    ) -> None:
        super().__init__(message, enrollment_id=enrollment_id, rung=rung, retry_after=retry_after)
        #: the prospect id the enrollments were to move to
        self.target = target
        #: the target's enrollments that clash
        self.conflicts = list(conflicts)


def _refusals(kind: type[Refused]) -> Iterator[type[Refused]]:
    yield kind
    for sub in kind.__subclasses__():
        yield from _refusals(sub)


# every refusal class by its code, for ``Refused.from_dict``
_REFUSALS: dict[str, type[Refused]] = {k.code: k for k in _refusals(Refused)}


# ---- the rest of the tree ---------------------------------------------------------------


class StoreError(LadderError):
    """Persistence failed; the command was not stored."""


class ConflictError(StoreError):
    """Another writer changed the enrollment first (optimistic concurrency)."""


class NotEnrolled(StoreError, LookupError):
    """The store holds no enrollment for that prospect (on that ladder)."""


class KeyReused(LadderError):
    """An idempotency key came back with another command or for another prospect.

    A key is bound to the command it first ran and to its target; reusing it for
    something else would silently return the first command's result.
    """

    def __init__(self, message: str, *, key: str, first: str, now: str) -> None:
        super().__init__(message)
        #: the key
        self.key = key
        #: what the key ran first (``"ask intro_call for lead-42 on solopreneur"``)
        self.first = first
        #: what it was given now
        self.now = now


class ReadOnlyEnrollment(LadderError):
    """A command on an enrollment read from a ``Tracker``: run it through the tracker."""


class PipelineImportError(LadderError):
    """A CRM pipeline export that cannot be read: what is wrong, where (file:line or the
    record), and what to export instead."""


class InvalidText(LadderError, ValueError):
    """A prospect id, key or other text that cannot be stored: it holds a lone surrogate
    (not encodable as UTF-8) or a NUL character."""


def check_text(value: object, name: str) -> str:
    """``value`` when it is a non-empty string every store can keep, else the error."""
    if not isinstance(value, str) or not value:
        given = "an empty string" if isinstance(value, str) else type(value).__name__
        raise TypeError(f"{name} must be a non-empty string, not {given}")
    if "\x00" in value:
        raise InvalidText(f"{name} {value!r:.80} holds a NUL character, which no database keeps")
    if not value.isascii():
        try:
            value.encode("utf-8")
        except UnicodeEncodeError as exc:
            raise InvalidText(
                f"{name} {value!r:.80} is not valid text: {exc.reason} at position {exc.start} "
                "(a lone surrogate, often from bytes decoded with errors='surrogateescape'); "
                "pass proper Unicode text"
            ) from None
    return value


#: how long a tenant id may be (it prefixes enrollment ids and idempotency keys)
MAX_TENANT = 64


def check_tenant(value: object) -> str:
    """``value`` when it can name a tenant: text without ``/``, spaces or control
    characters, at most ``MAX_TENANT`` long (an account id, a department's slug)."""
    tenant = check_text(value, "tenant")
    bad = any(c == "/" or c.isspace() or not c.isprintable() for c in tenant)
    if bad or len(tenant) > MAX_TENANT:
        raise InvalidText(
            f"tenant {tenant!r:.80} cannot name a tenant: use at most {MAX_TENANT} characters "
            "with no '/', spaces or control characters (an account id or a slug)"
        )
    return tenant


class NaiveDatetimeError(LadderError, ValueError):
    """A datetime without a timezone was given where an instant is needed."""


class UnknownTimeZone(LadderError, ValueError):
    """A prospect's time zone that is not an IANA name this system knows."""


class TimeOrderError(LadderError, ValueError):
    """A command's ``now`` is earlier than the enrollment's last event."""


# errors print as they are imported, ``commitladder.ConflictError``, not from this module
for _cls in (LadderError, DefinitionError, LadderFileNotFoundError, Problem, StoreError,
             ConflictError, NotEnrolled,
             KeyReused, ReadOnlyEnrollment, InvalidText, NaiveDatetimeError, TimeOrderError,
             PipelineImportError,
             UnknownTimeZone,
             *_REFUSALS.values()):  # fmt: skip
    _cls.__module__ = "commitladder"
del _cls
