"""commitladder: ask for one micro-commitment at a time.

A ladder declared in YAML or Python compiles to a guarded ``transitions`` machine;
enrollments climb it one ask at a time, and every rule of the ladder is enforced.
This module is the front door: it re-exports the public contract, and imports each
name's module when the name is first used, so ``import commitladder`` loads nothing
but this file: no pydantic, PyYAML or transitions (they come with the first ladder),
no database drivers, CLI stack or hypothesis.
"""

from importlib import import_module

# Not typing.TYPE_CHECKING: importing typing would cost more than the rest of this module.
# Type checkers know the name and take this block as run; at run time __getattr__ does.
TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

    from . import commands
    from ._clock import Clock, SteppableClock, SystemClock
    from ._definition import (
        Defaults,
        EndDefinition,
        FollowUps,
        Kind,
        LadderDefinition,
        MigrationDefinition,
        Reentry,
        Rules,
        RungDefinition,
    )
    from ._durations import format_duration, parse_duration
    from ._enrollment import Enrollment, Preview
    from ._errors import (
        AskLapsed,
        AskLimitReached,
        AskNotOpen,
        AskPending,
        ChannelNotAllowed,
        ConflictError,
        DefinitionError,
        EnrollmentEnded,
        EnrollmentParked,
        FollowUpLimitReached,
        FollowUpTooSoon,
        InCooldown,
        InvalidText,
        KeyReused,
        LadderError,
        LadderFileNotFoundError,
        MissingFacts,
        NaiveDatetimeError,
        NoOpenAsk,
        NotEnrolled,
        NotExpiredYet,
        NotNextStep,
        NotParked,
        OutcomeRequired,
        Problem,
        ReadOnlyEnrollment,
        ReentryRefused,
        Refused,
        RekeyConflict,
        StoreError,
        TimeOrderError,
        UnknownEnd,
        UnknownRung,
    )
    from ._events import (
        AskExpired,
        AskIssued,
        AskWithdrawn,
        Committed,
        Declined,
        Ended,
        Enrolled,
        Event,
        FollowedUp,
        LateCommitment,
        Migrated,
        Parked,
        Rekeyed,
        Resumed,
        event_from_dict,
    )
    from ._ladder import (
        End,
        Ladder,
        Rung,
        load,
    )
    from ._lifecycle import BulkReport, ForgetReport
    from ._lint import Finding
    from ._memory_store import MemoryStore
    from ._messaging import Message, Messenger, RecordingMessenger
    from ._migrate import MigrationReport
    from ._tracker import DueReport, RelayReport, Tracker
    from ._values import Ask, Status, Timer
    from ._verify import Verification, verify
    from .store import Store

__version__ = "0.1.0.dev0"

# Where each public name lives. The names imported for type checkers above, this table
# and __all__ list the same names (tests/test_lazy_import.py holds them together).
_HOMES: dict[str, tuple[str, ...]] = {
    "._clock": ("Clock", "SteppableClock", "SystemClock"),
    "._definition": (
        "Defaults",
        "EndDefinition",
        "FollowUps",
        "Kind",
        "LadderDefinition",
        "MigrationDefinition",
        "Reentry",
        "Rules",
        "RungDefinition",
    ),
    "._durations": ("format_duration", "parse_duration"),
    "._enrollment": ("Enrollment", "Preview"),
    "._errors": (
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
        "Problem",
        "ReadOnlyEnrollment",
        "ReentryRefused",
        "Refused",
        "RekeyConflict",
        "StoreError",
        "TimeOrderError",
        "UnknownEnd",
        "UnknownRung",
    ),
    "._events": (
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
    ),
    "._ladder": ("End", "Ladder", "Rung", "load"),
    "._lint": ("Finding",),
    "._memory_store": ("MemoryStore",),
    "._messaging": ("Message", "Messenger", "RecordingMessenger"),
    "._tracker": ("DueReport", "RelayReport", "Tracker"),
    "._values": ("Ask", "Status", "Timer"),
    "._verify": ("Verification", "verify"),
    "._lifecycle": ("BulkReport", "ForgetReport"),
    "._migrate": ("MigrationReport",),
    ".store": ("Store",),
}
_HOME_OF = {name: module for module, names in _HOMES.items() for name in names}
_SUBMODULES = frozenset({"commands"})

__all__ = [
    "Ask",
    "AskExpired",
    "AskIssued",
    "AskLapsed",
    "AskLimitReached",
    "AskNotOpen",
    "AskPending",
    "AskWithdrawn",
    "BulkReport",
    "ChannelNotAllowed",
    "Clock",
    "Committed",
    "ConflictError",
    "Declined",
    "Defaults",
    "DefinitionError",
    "DueReport",
    "End",
    "EndDefinition",
    "Ended",
    "Enrolled",
    "Enrollment",
    "EnrollmentEnded",
    "EnrollmentParked",
    "Event",
    "Finding",
    "FollowUpLimitReached",
    "FollowUpTooSoon",
    "FollowUps",
    "FollowedUp",
    "ForgetReport",
    "InCooldown",
    "InvalidText",
    "KeyReused",
    "Kind",
    "Ladder",
    "LadderDefinition",
    "LadderError",
    "LadderFileNotFoundError",
    "LateCommitment",
    "MemoryStore",
    "Message",
    "Messenger",
    "Migrated",
    "MigrationDefinition",
    "MigrationReport",
    "MissingFacts",
    "NaiveDatetimeError",
    "NoOpenAsk",
    "NotEnrolled",
    "NotExpiredYet",
    "NotNextStep",
    "NotParked",
    "OutcomeRequired",
    "Parked",
    "Preview",
    "Problem",
    "ReadOnlyEnrollment",
    "RecordingMessenger",
    "Reentry",
    "ReentryRefused",
    "Refused",
    "RekeyConflict",
    "Rekeyed",
    "RelayReport",
    "Resumed",
    "Rules",
    "Rung",
    "RungDefinition",
    "Status",
    "SteppableClock",
    "Store",
    "StoreError",
    "SystemClock",
    "TimeOrderError",
    "Timer",
    "Tracker",
    "UnknownEnd",
    "UnknownRung",
    "Verification",
    "commands",
    "event_from_dict",
    "format_duration",
    "load",
    "parse_duration",
    "verify",
]


def __getattr__(name: str) -> "Any":
    """Import the module a public name lives in on first use, and keep the name here."""
    if name in _SUBMODULES:
        value = import_module(f".{name}", __name__)
    else:
        module = _HOME_OF.get(name)
        if module is None:
            raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
        value = getattr(import_module(module, __name__), name)
    globals()[name] = value  # the next lookup is a plain attribute, not this function
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})
