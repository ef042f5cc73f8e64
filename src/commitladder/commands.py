"""Commands: what a seller, a prospect or time does to an enrollment, as typed values.

This module is the one vocabulary of commands. ``Enrollment.execute``,
``Tracker.execute``, the testing kit, ``ladder.paths()`` and the simulator all
speak it, and the rules turn a command into events or a refusal. A command says
what to do, never when (the time comes with it as ``now=``) and never to whom (the
enrollment or the tracker's ``prospect=`` says that). It holds plain data only.

``Command`` is the closed union of them all; code that interprets commands matches
over it and ends in ``assert_never``. Each command is an immutable named tuple of its
fields with ``actor`` and ``reason`` last (who did it, and why, both recorded in the
events); two commands are equal when they are of the same kind with the same fields.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any, ClassVar, NamedTuple, TypeAlias, cast

__all__ = [
    "COMMANDS",
    "AskFor",
    "Command",
    "Commit",
    "Decline",
    "End",
    "Expire",
    "FollowUp",
    "Resume",
    "Withdraw",
    "checked",
    "command_from_dict",
]


class _Command:
    __slots__ = ()

    #: the command's name, as the tracker's method and an idempotency receipt say it
    name: ClassVar[str] = "command"

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict; ``command_from_dict`` reads it back to an equal command."""
        data: dict[str, Any] = {"command": self.name}
        for key, value in cast("NamedTuple", self)._asdict().items():
            if isinstance(value, datetime):
                value = value.isoformat()
            elif isinstance(value, Mapping):
                value = dict(value)
            data[key] = value
        return data

    def __str__(self) -> str:
        """The command as a step of a story: ``ask intro_call by phone``, ``commit``."""
        return self.name.replace("_", " ")

    def __eq__(self, other: object) -> bool:
        return type(self) is type(other) and tuple.__eq__(self, other)  # type: ignore[operator]

    def __ne__(self, other: object) -> bool:
        return not self == other

    def __hash__(self) -> int:
        return tuple.__hash__(self)  # type: ignore[arg-type]


class _AskFor(NamedTuple):
    rung: str
    channel: str | None = None
    actor: str | None = None
    reason: str | None = None


class AskFor(_Command, _AskFor):
    """Ask the prospect for ``rung``'s commitment over ``channel`` (the rung's first
    channel when ``None``). Refused while another ask is open."""

    __slots__ = ()
    name: ClassVar[str] = "ask"

    def __str__(self) -> str:
        return f"ask {self.rung}" + (f" by {self.channel}" if self.channel else "")


class _FollowUp(NamedTuple):
    channel: str | None = None
    actor: str | None = None
    reason: str | None = None


class FollowUp(_Command, _FollowUp):
    """Touch the open ask again (over ``channel``, else the ask's own), within the
    rung's ``follow_ups``."""

    __slots__ = ()
    name: ClassVar[str] = "follow_up"

    def __str__(self) -> str:
        return "follow up" + (f" by {self.channel}" if self.channel else "")


class _Commit(NamedTuple):
    outcome: str | None = None
    facts: Mapping[str, Any] | None = None
    ask_id: str | None = None
    actor: str | None = None
    reason: str | None = None


class Commit(_Command, _Commit):
    """The prospect said yes: to the open ask, or to the ask ``ask_id`` names.

    ``outcome`` classifies the answer on a branching rung; ``facts`` are what the
    prospect told (JSON values). A yes to an ask that just expired, with no ask since,
    commits late; a yes to an older ask (or after the enrollment ended because an ask
    expired) is recorded as a ``LateCommitment`` and moves nothing.
    """

    __slots__ = ()
    name: ClassVar[str] = "commit"

    def __str__(self) -> str:
        parts = [f"outcome={self.outcome}"] if self.outcome else []
        if self.facts:
            parts.append("facts: " + ", ".join(self.facts))
        if self.ask_id:
            parts.append(f"to {self.ask_id}")
        return "commit" + (f" ({'; '.join(parts)})" if parts else "")


class _Decline(NamedTuple):
    needs: str | None = None
    resume_at: datetime | None = None
    ask_id: str | None = None
    actor: str | None = None
    reason: str | None = None


class Decline(_Command, _Decline):
    """The prospect said no to the open ask (``ask_id``, when given, must name it):
    park with what they ``needs`` (and a ``resume_at`` reminder), or follow the rung's
    ``on_decline``."""

    __slots__ = ()
    name: ClassVar[str] = "decline"


class _Expire(NamedTuple):
    ask_id: str | None = None
    actor: str | None = None
    reason: str | None = None


class Expire(_Command, _Expire):
    """The open ask (``ask_id``, when given, must name it) went unanswered past its
    ``expires_at``: follow the rung's ``on_expire``."""

    __slots__ = ()
    name: ClassVar[str] = "expire"


class _Withdraw(NamedTuple):
    ask_id: str | None = None
    actor: str | None = None
    reason: str | None = None


class Withdraw(_Command, _Withdraw):
    """The seller takes the open ask back (``ask_id``, when given, must name it)."""

    __slots__ = ()
    name: ClassVar[str] = "withdraw"


class _Resume(NamedTuple):
    actor: str | None = None
    reason: str | None = None


class Resume(_Command, _Resume):
    """Take a parked deal out of neutral."""

    __slots__ = ()
    name: ClassVar[str] = "resume"


class _End(NamedTuple):
    end: str
    actor: str | None = None
    reason: str | None = None


class End(_Command, _End):
    """Exit to the declared end ``end`` from any live state, closing an open ask."""

    __slots__ = ()
    name: ClassVar[str] = "end"

    def __str__(self) -> str:
        return f"end {self.end}"


Command: TypeAlias = AskFor | FollowUp | Commit | Decline | Expire | Withdraw | Resume | End
"""Any command: the closed union of every kind (``isinstance(x, Command)`` works)."""

COMMANDS: tuple[type[Command], ...] = (
    AskFor,
    FollowUp,
    Commit,
    Decline,
    Expire,
    Withdraw,
    Resume,
    End,
)
"""Every kind of command, in the order the docs list them."""
_BY_NAME: dict[str, type[Command]] = {cls.name: cls for cls in COMMANDS}


def checked(command: object) -> Command:
    """``command`` when it is one of the commands here, else a TypeError saying so."""
    if not isinstance(command, COMMANDS):
        raise TypeError(
            "command must be one of commitladder.commands (AskFor, FollowUp, Commit, Decline, "
            f"Expire, Withdraw, Resume, End), not {type(command).__name__}"
        )
    return command


def command_from_dict(data: Mapping[str, Any]) -> Command:
    """The command ``to_dict()`` described (for example read back from a queue or a log)."""
    try:
        kind = _BY_NAME[data["command"]]
    except (KeyError, TypeError):
        known = ", ".join(_BY_NAME)
        raise ValueError(f"not a command: {data!r} (the 'command' key is one of {known})") from None
    args = {k: v for k, v in data.items() if k != "command"}
    if isinstance(args.get("resume_at"), str):
        args["resume_at"] = datetime.fromisoformat(args["resume_at"])
    try:
        return kind(**args)
    except TypeError as exc:
        raise ValueError(f"not a {kind.name} command: {data!r} ({exc})") from None
