"""commitladder: ask for one micro-commitment at a time.

A ladder declared in YAML or Python compiles to a guarded ``transitions`` machine;
enrollments climb it one ask at a time, and every rule of the ladder is enforced.
This module is the front door: it re-exports the public contract and imports
nothing heavy (no database drivers, no CLI stack, no hypothesis).
"""

from ._clock import Clock, NaiveDatetimeError, SteppableClock, SystemClock, TimeOrderError
from ._definition import (
    Defaults,
    EndDefinition,
    FollowUps,
    Kind,
    LadderDefinition,
    Rules,
    RungDefinition,
)
from ._durations import format_duration, parse_duration
from ._enrollment import Ask, Enrollment, Status, Timer
from ._errors import (
    AskLimitReached,
    AskPending,
    ChannelNotAllowed,
    ConflictError,
    DefinitionError,
    EnrollmentEnded,
    EnrollmentParked,
    FollowUpLimitReached,
    FollowUpTooSoon,
    InCooldown,
    LadderError,
    LadderFileNotFoundError,
    MissingFacts,
    NoOpenAsk,
    NotExpiredYet,
    NotNextStep,
    NotParked,
    OutcomeRequired,
    Problem,
    Refused,
    StoreError,
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
    Parked,
    Resumed,
    event_from_dict,
)
from ._ladder import End, Ladder, Rung, load
from ._lint import Finding
from ._memory_store import MemoryStore
from ._messaging import Message, Messenger, RecordingMessenger
from .store import NotEnrolled, Store
from ._tracker import RelayReport, Tracker

__version__ = "0.1.0.dev0"

__all__ = [
    "Ask",
    "AskExpired",
    "AskIssued",
    "AskLimitReached",
    "AskPending",
    "AskWithdrawn",
    "ChannelNotAllowed",
    "Clock",
    "Committed",
    "ConflictError",
    "Declined",
    "Defaults",
    "DefinitionError",
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
    "InCooldown",
    "Kind",
    "Ladder",
    "LadderDefinition",
    "LadderError",
    "LadderFileNotFoundError",
    "MemoryStore",
    "Message",
    "Messenger",
    "MissingFacts",
    "NaiveDatetimeError",
    "NoOpenAsk",
    "NotEnrolled",
    "NotExpiredYet",
    "NotNextStep",
    "NotParked",
    "OutcomeRequired",
    "Parked",
    "Problem",
    "RecordingMessenger",
    "Refused",
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
    "event_from_dict",
    "format_duration",
    "load",
    "parse_duration",
]
