"""The public API in one place; ``commitladder/__init__.py`` serves it lazily.

Importing this module loads the whole library (pydantic and the compiled core).
The front door imports it on the first use of a public name, so that
``commitladder --version``, ``--help`` and the pytest plugin start without it.
``__all__`` here is the one list of public names.
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
from ._tracker import RelayReport, Tracker
from ._verify import Verification, verify
from .store import NotEnrolled, Store

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
    "Verification",
    "event_from_dict",
    "format_duration",
    "load",
    "parse_duration",
    "verify",
]
