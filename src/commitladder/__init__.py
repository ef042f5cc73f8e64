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
    from ._async_tracker import AsyncTracker
    from ._calendar import BusinessDays, Calendar
    from ._calendar_definition import CalendarDefinition, HolidaysDefinition
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
        PipelineImportError,
        Problem,
        ReadOnlyEnrollment,
        ReentryRefused,
        Refused,
        RekeyConflict,
        StoreError,
        TimeOrderError,
        UnknownEnd,
        UnknownRung,
        UnknownTimeZone,
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
    from ._forecast import (
        Backtest,
        Chance,
        DealForecast,
        Forecast,
        ForecastRow,
        backtest,
        forecast,
        read_amounts,
    )
    from ._funnel import CohortFigures, FunnelFigures, FunnelReport, RungFigures, Spread, funnel
    from ._hooks import StageChange
    from ._import_pipeline import import_pipeline
    from ._ladder import (
        End,
        Ladder,
        Rung,
        load,
    )
    from ._lifecycle import BulkReport, ForgetReport
    from ._lint import Finding
    from ._memory_store import MemoryStore
    from ._messaging import AsyncMessenger, Message, Messenger, RecordingMessenger
    from ._migrate import MigrationReport
    from ._names import DisplayName
    from ._tracker import DueReport, RelayReport, Tracker
    from ._values import Ask, Status, Timer
    from ._verify import Verification, verify
    from .store import AsyncStore, Store

__version__ = "0.1.0.dev0"

# Where each public name lives. The names imported for type checkers above, this table
# and __all__ list the same names (tests/test_lazy_import.py holds them together).
_HOMES: dict[str, tuple[str, ...]] = {
    "._async_tracker": ("AsyncTracker",),
    "._calendar": ("BusinessDays", "Calendar"),
    "._calendar_definition": ("CalendarDefinition", "HolidaysDefinition"),
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
    "._names": ("DisplayName",),
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
        "UnknownTimeZone",
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
    "._forecast": (
        "Backtest",
        "Chance",
        "DealForecast",
        "Forecast",
        "ForecastRow",
        "backtest",
        "forecast",
        "read_amounts",
    ),
    "._funnel": (
        "CohortFigures",
        "FunnelFigures",
        "FunnelReport",
        "RungFigures",
        "Spread",
        "funnel",
    ),
    "._hooks": ("StageChange",),
    "._import_pipeline": ("import_pipeline",),
    "._ladder": ("End", "Ladder", "Rung", "load"),
    "._lint": ("Finding",),
    "._memory_store": ("MemoryStore",),
    "._messaging": ("AsyncMessenger", "Message", "Messenger", "RecordingMessenger"),
    "._tracker": ("DueReport", "RelayReport", "Tracker"),
    "._values": ("Ask", "Status", "Timer"),
    "._verify": ("Verification", "verify"),
    "._lifecycle": ("BulkReport", "ForgetReport"),
    "._migrate": ("MigrationReport",),
    ".store": ("AsyncStore", "Store"),
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
    "AsyncMessenger",
    "AsyncStore",
    "AsyncTracker",
    "Backtest",
    "BulkReport",
    "BusinessDays",
    "Calendar",
    "CalendarDefinition",
    "Chance",
    "ChannelNotAllowed",
    "Clock",
    "CohortFigures",
    "Committed",
    "ConflictError",
    "DealForecast",
    "Declined",
    "Defaults",
    "DefinitionError",
    "DisplayName",
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
    "Forecast",
    "ForecastRow",
    "ForgetReport",
    "FunnelFigures",
    "FunnelReport",
    "HolidaysDefinition",
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
    "PipelineImportError",
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
    "RungFigures",
    "Spread",
    "StageChange",
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
    "UnknownTimeZone",
    "Verification",
    "backtest",
    "commands",
    "event_from_dict",
    "forecast",
    "format_duration",
    "funnel",
    "import_pipeline",
    "load",
    "parse_duration",
    "read_amounts",
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
