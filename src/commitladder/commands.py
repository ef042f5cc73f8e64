"""Commands: what a seller, a prospect or time does to an enrollment, as typed values.

This module is the one vocabulary of commands. ``Enrollment.execute``,
``Tracker.execute``, the testing kit, ``ladder.paths()`` and the simulator all
speak it, and the rules turn a command into events or a refusal. A command says
what to do, never when (the time comes with it as ``now=``) and never to whom (the
enrollment or the tracker's ``prospect=`` says that). It holds plain data only.

``Command`` is the closed union of them all; code that interprets commands matches
over it and ends in ``assert_never``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from datetime import datetime
from typing import Any, ClassVar, TypeAlias

__all__ = [
    "AskFor",
    "Command",
    "Commit",
    "Decline",
    "End",
    "Expire",
    "FollowUp",
    "Resume",
    "Withdraw",
    "command_from_dict",
]


@dataclass(frozen=True, slots=True)
class _CommandBase:
    #: who did it (a seller's id, ``"timer"``, a webhook's name); recorded in the events
    actor: str | None = field(default=None, kw_only=True)
    #: why, in a few words; recorded in the events
    reason: str | None = field(default=None, kw_only=True)

    #: the command's name, as the tracker's method and the idempotency receipt say it
    name: ClassVar[str] = "command"

    def __str__(self) -> str:
        """The command as a step of a story: ``ask intro_call by phone``, ``commit``."""
        return self.name.replace("_", " ")

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict; ``command_from_dict`` reads it back to an equal command."""
        data: dict[str, Any] = {"command": self.name}
        for f in fields(self):
            value = getattr(self, f.name)
            data[f.name] = value.isoformat() if isinstance(value, datetime) else value
        if isinstance(data.get("facts"), Mapping):
            data["facts"] = dict(data["facts"])
        return data


@dataclass(frozen=True, slots=True)
class AskFor(_CommandBase):
    """Ask the prospect for ``rung``'s commitment over ``channel`` (the rung's first
    channel when ``None``). Refused while another ask is open."""

    rung: str
    channel: str | None = None

    name: ClassVar[str] = "ask"

    def __str__(self) -> str:
        return f"ask {self.rung}" + (f" by {self.channel}" if self.channel else "")


@dataclass(frozen=True, slots=True)
class FollowUp(_CommandBase):
    """Touch the open ask again (over ``channel``, else the ask's own), within the
    rung's ``follow_ups``."""

    channel: str | None = None

    name: ClassVar[str] = "follow_up"

    def __str__(self) -> str:
        return "follow up" + (f" by {self.channel}" if self.channel else "")


@dataclass(frozen=True, slots=True)
class Commit(_CommandBase):
    """The prospect said yes: to the open ask, or to the ask ``ask_id`` names.

    ``outcome`` classifies the answer on a branching rung; ``facts`` are what the
    prospect told (JSON values). A yes to an ask that just expired, with no ask since,
    commits late; a yes to an older ask (or after the enrollment ended because an ask
    expired) is recorded as a ``LateCommitment`` and moves nothing.
    """

    outcome: str | None = None
    facts: Mapping[str, Any] | None = field(default=None, hash=False)
    ask_id: str | None = None

    name: ClassVar[str] = "commit"

    def __str__(self) -> str:
        parts = [f"outcome={self.outcome}"] if self.outcome else []
        if self.facts:
            parts.append("facts: " + ", ".join(self.facts))
        if self.ask_id:
            parts.append(f"to {self.ask_id}")
        return "commit" + (f" ({'; '.join(parts)})" if parts else "")


@dataclass(frozen=True, slots=True)
class Decline(_CommandBase):
    """The prospect said no to the open ask (``ask_id``, when given, must name it):
    park with what they ``needs`` (and a ``resume_at`` reminder), or follow the rung's
    ``on_decline``."""

    needs: str | None = None
    resume_at: datetime | None = None
    ask_id: str | None = None

    name: ClassVar[str] = "decline"


@dataclass(frozen=True, slots=True)
class Expire(_CommandBase):
    """The open ask (``ask_id``, when given, must name it) went unanswered past its
    ``expires_at``: follow the rung's ``on_expire``."""

    ask_id: str | None = None

    name: ClassVar[str] = "expire"


@dataclass(frozen=True, slots=True)
class Withdraw(_CommandBase):
    """The seller takes the open ask back (``ask_id``, when given, must name it)."""

    ask_id: str | None = None

    name: ClassVar[str] = "withdraw"


@dataclass(frozen=True, slots=True)
class Resume(_CommandBase):
    """Take a parked deal out of neutral."""

    name: ClassVar[str] = "resume"


@dataclass(frozen=True, slots=True)
class End(_CommandBase):
    """Exit to the declared end ``end`` from any live state, closing an open ask."""

    end: str

    name: ClassVar[str] = "end"

    def __str__(self) -> str:
        return f"end {self.end}"


Command: TypeAlias = AskFor | FollowUp | Commit | Decline | Expire | Withdraw | Resume | End

_BY_NAME: dict[str, type[Command]] = {
    cls.name: cls for cls in (AskFor, FollowUp, Commit, Decline, Expire, Withdraw, Resume, End)
}
_TIMES = frozenset({"resume_at"})


def command_from_dict(data: Mapping[str, Any]) -> Command:
    """The command ``to_dict()`` described (for example read back from a queue or a log)."""
    try:
        kind = _BY_NAME[data["command"]]
    except (KeyError, TypeError):
        known = ", ".join(_BY_NAME)
        raise ValueError(f"not a command: {data!r} (the 'command' key is one of {known})") from None
    args = {k: v for k, v in data.items() if k != "command"}
    for name in _TIMES & args.keys():
        if isinstance(args[name], str):
            args[name] = datetime.fromisoformat(args[name])
    return kind(**args)
