"""The ladder format as pydantic models: what a ladder file may say.

These models are the single description of the format: YAML, dicts and Python
code all go through them, the JSON Schema comes from them, and ``to_dict`` writes
them back. They check shapes and types only; cross-references (targets, start,
rules) are checked in ``_validate`` so that every problem is reported at once.
"""

from __future__ import annotations

from datetime import timedelta
from enum import StrEnum
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    JsonValue,
    PlainSerializer,
    PlainValidator,
    StringConstraints,
    WithJsonSchema,
    field_serializer,
    field_validator,
    model_validator,
)

from ._calendar import BUSINESS_DAYS_PATTERN, BusinessDays, format_span, parse_span
from ._calendar_definition import CalendarDefinition, ThrottleDefinition
from ._durations import DURATION_PATTERN, format_duration, parse_duration
from ._format import (
    MAX_CHANNELS,
    MAX_ENDS,
    MAX_ID,
    MAX_NUMBER,
    MAX_OUTCOMES,
    MAX_REQUIRES,
    MAX_RUNGS,
    MAX_TARGETS,
    PARK,
)

__all__ = [
    "PARK",
    "CalendarDefinition",
    "Defaults",
    "Duration",
    "EndDefinition",
    "FollowUps",
    "Kind",
    "LadderDefinition",
    "MigrationDefinition",
    "Reentry",
    "Result",
    "Rules",
    "RungDefinition",
    "SimulatedAnswer",
    "Simulation",
    "Span",
]

_ID_PATTERN = r"^[A-Za-z][A-Za-z0-9_-]*$"
Id = Annotated[str, StringConstraints(pattern=_ID_PATTERN, max_length=MAX_ID)]
_ID_SCHEMA = {"type": "string", "pattern": _ID_PATTERN, "maxLength": MAX_ID}
Duration = Annotated[
    timedelta,
    BeforeValidator(parse_duration),
    PlainSerializer(format_duration, return_type=str),
    # what a person writes (the JSON Schema "duration" format knows only ISO 8601)
    WithJsonSchema(
        {
            "type": "string",
            "pattern": DURATION_PATTERN,
            "description": "30m, 12h, 3d, 2w, or ISO 8601 such as P3D or PT12H; "
            "more than zero, at most 10 years (3650d)",
            "examples": ["3d", "P14D"],
        }
    ),
]

#: A rung's timing (expiry, follow-up spacing, cooldown, next step): a duration, or a
#: count of business days (``3bd``) on the ladder's calendar.
Span = Annotated[
    timedelta | BusinessDays,
    PlainValidator(parse_span),
    PlainSerializer(format_span, return_type=str),
    WithJsonSchema(
        {
            "type": "string",
            "pattern": DURATION_PATTERN + "|" + BUSINESS_DAYS_PATTERN,
            "description": "30m, 12h, 3d, 2w, or ISO 8601 such as P3D or PT12H; "
            "more than zero, at most 10 years (3650d); or business days on the ladder's "
            "calendar, such as 3bd (at most 2600bd)",
            "examples": ["3d", "3bd", "P14D"],
        }
    ),
]


def _one_or_many(value: Any) -> Any:
    return [value] if isinstance(value, str) else value


def _ids_schema(most: int) -> WithJsonSchema:
    """One id, or a list of 1 to ``most`` ids."""
    many = {"type": "array", "items": _ID_SCHEMA, "minItems": 1, "maxItems": most}
    return WithJsonSchema({"anyOf": [_ID_SCHEMA, many]})


Targets = Annotated[
    list[Id],
    BeforeValidator(_one_or_many),
    Field(min_length=1, max_length=MAX_TARGETS),
    _ids_schema(MAX_TARGETS),
]
Channels = Annotated[
    list[Id],
    BeforeValidator(_one_or_many),
    Field(min_length=1, max_length=MAX_CHANNELS),
    _ids_schema(MAX_CHANNELS),
]


def _valid_text(text: str) -> str:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise ValueError(
            f"this is not valid Unicode text: character {exc.start} is a lone surrogate "
            f"({text[exc.start]!r}), which no file can hold"
        ) from exc
    return text


#: Free text (titles, descriptions, ask scripts): any valid Unicode, as a file can hold it.
Text = Annotated[str, AfterValidator(_valid_text)]
#: A chance, from 0 to 1 (a CRM's 20% is 0.2).
Probability = Annotated[float, Field(ge=0, le=1, allow_inf_nan=False)]
#: Host data kept with a rung, an end or the ladder (an external stage id, a colour, a
#: playbook URL): any JSON-like mapping; commitladder stores and writes it back, never reads it.
Meta = Annotated[
    dict[Annotated[str, StringConstraints(max_length=MAX_ID)], JsonValue],
    Field(max_length=MAX_OUTCOMES),
]


#: The CRM deal stage a rung or an end stands for (a label or an API name).
Stage = Annotated[str, StringConstraints(min_length=1, max_length=200), AfterValidator(_valid_text)]


#: A count a ladder sets (``max_asks``, ``follow_ups.max``, ...): small, never negative.
Count = Annotated[int, Field(ge=0, le=MAX_NUMBER)]


class Kind(StrEnum):
    """What sort of micro-commitment a rung asks for."""

    conversation = "conversation"
    call = "call"
    meeting = "meeting"
    download = "download"
    trial = "trial"
    webinar = "webinar"
    survey = "survey"
    subscribe = "subscribe"
    proposal = "proposal"
    purchase = "purchase"
    custom = "custom"


Result = Literal["won", "lost", "neutral"]


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, use_enum_values=True)


class FollowUps(_Model):
    """How often an open ask may be followed up: at most ``max`` touches, ``every`` apart."""

    max: Count
    every: Span | None = None

    @model_validator(mode="after")
    def _every_needed(self) -> FollowUps:
        if self.max > 0 and self.every is None:
            raise ValueError("give `every:` (say 2d) when follow-ups are allowed")
        return self


class Defaults(_Model):
    """Timing and channel settings every rung inherits unless it sets its own."""

    expires_after: Span | None = None
    follow_ups: FollowUps | None = None
    cooldown: Span | None = None
    next_ask_within: Span | None = None
    max_asks: Annotated[Count, Field(ge=1)] | None = None
    channels: Channels | None = None


class RungDefinition(Defaults):
    """One micro-commitment that can be asked for."""

    kind: Kind
    size: Annotated[int, Field(ge=1, le=10)]
    title: Text | None = None
    description: Text | None = None
    ask: Text | None = None
    next: Targets | None = None
    outcomes: Annotated[dict[Id, Id], Field(max_length=MAX_OUTCOMES)] | None = None
    requires: list[Id] = Field(default_factory=list, max_length=MAX_REQUIRES)
    on_decline: Id = PARK
    on_expire: Id = PARK
    stage: Stage | None = None
    probability: Probability | None = None
    meta: Meta | None = None

    @field_validator("outcomes")
    @classmethod
    def _some_outcomes(cls, value: dict[str, str] | None) -> dict[str, str] | None:
        if value is not None and not value:
            raise ValueError("give at least one outcome, or use `next:` instead")
        return value

    @field_serializer("next")
    def _write_next(self, value: list[str] | None) -> str | list[str] | None:
        if value is not None and len(value) == 1:
            return value[0]
        return value


class EndDefinition(_Model):
    """A terminal outcome of the ladder."""

    result: Result
    title: Text | None = None
    description: Text | None = None
    stage: Stage | None = None
    probability: Probability | None = None
    meta: Meta | None = None


class Rules(_Model):
    """Claims about the process, proved by lint and the testing kit (not run-time guards)."""

    max_size_step: Count | None = None
    requires_before: dict[Id, Annotated[list[Id], Field(max_length=MAX_TARGETS)]] = Field(
        default_factory=dict, max_length=MAX_RUNGS
    )
    max_asks_without_commitment: Annotated[Count, Field(ge=1)] | None = None


Weight = Annotated[float, Field(ge=0, allow_inf_nan=False)]


class SimulatedAnswer(_Model):
    """How simulated prospects answer an ask: the chance of a yes, of a no (the rest stay
    silent and the ask expires), how long a reply takes, and the odds of each outcome."""

    commit: Probability | None = None
    decline: Probability | None = None
    reply_after: Duration | None = None
    outcomes: Annotated[dict[Id, Weight], Field(max_length=MAX_OUTCOMES)] | None = None

    @model_validator(mode="after")
    def _at_most_certain(self) -> SimulatedAnswer:
        if self.commit is not None and self.decline is not None and self.commit + self.decline > 1:
            raise ValueError(
                f"commit ({self.commit}) and decline ({self.decline}) add up to more than 1; "
                "the rest is the chance of silence"
            )
        if self.outcomes is not None and not any(self.outcomes.values()):
            raise ValueError("give at least one outcome a weight above 0")
        return self


class Simulation(_Model):
    """Made-up answers for ``commitladder simulate``; enrollments never read this section."""

    defaults: SimulatedAnswer = Field(default_factory=SimulatedAnswer)
    rungs: dict[Id, SimulatedAnswer] = Field(default_factory=dict, max_length=MAX_RUNGS)


ReentryPolicy = Literal["never", "after_end", "any_time"]


class Reentry(_Model):
    """What enrolling a prospect again does, once they have been on this ladder.

    ``never`` (the default): a prospect whose run ended is not enrolled again.
    ``after_end``: a new run may start once the previous one ended, and ``cool_off``
    after that when given. ``any_time``: every enrollment starts a new run, even while
    another is live. A live run is always what enrolling again returns, except under
    ``any_time``."""

    policy: ReentryPolicy = "never"
    cool_off: Span | None = None

    @model_validator(mode="after")
    def _cool_off_after_end(self) -> Reentry:
        if self.cool_off is not None and self.policy != "after_end":
            raise ValueError(
                f"cool_off applies to policy after_end only, not {self.policy}; "
                "write policy: after_end or drop cool_off"
            )
        return self


class MigrationDefinition(_Model):
    """How live enrollments of an older version (``from_version``) move onto this one.

    ``renamed``: a rung of the old version that is this version's rung under a new id
    (an open ask on it survives). ``removed``: a rung of the old version that is gone,
    mapped to a rung of this version (merged into it; an open ask on the old rung is
    withdrawn and the mapped rung becomes askable) or to an end (the enrollment ends
    there). ``ends``: an end of the old version under its new id. Rungs and ends not
    named keep their id."""

    from_version: Annotated[int, Field(ge=1, le=MAX_NUMBER)]
    renamed: dict[Id, Id] = Field(default_factory=dict, max_length=MAX_RUNGS)
    removed: dict[Id, Id] = Field(default_factory=dict, max_length=MAX_RUNGS)
    ends: dict[Id, Id] = Field(default_factory=dict, max_length=MAX_ENDS)


class LadderDefinition(_Model):
    """A whole ladder, as written in YAML or built in Python."""

    ladder: Id
    version: Annotated[int, Field(ge=1, le=MAX_NUMBER)] = 1
    title: Text | None = None
    description: Text | None = None
    start: Targets
    exclusive: bool = True
    reentry: ReentryPolicy | Reentry = "never"
    migrations: Annotated[list[MigrationDefinition], Field(max_length=MAX_NUMBER)] = Field(
        default_factory=list
    )
    defaults: Defaults = Field(default_factory=Defaults)
    rungs: Annotated[dict[Id, RungDefinition], Field(min_length=1, max_length=MAX_RUNGS)]
    ends: Annotated[dict[Id, EndDefinition], Field(min_length=1, max_length=MAX_ENDS)]
    rules: Rules = Field(default_factory=Rules)
    calendar: CalendarDefinition | None = None
    throttles: list[ThrottleDefinition] = Field(default_factory=list, max_length=16)
    simulation: Simulation | None = None

    @staticmethod
    def reentry_of(policy: ReentryPolicy) -> Reentry:
        """The ``Reentry`` a policy written alone (``reentry: after_end``) stands for."""
        return Reentry(policy=policy)

    @field_serializer("start")
    def _write_start(self, value: list[str]) -> str | list[str]:
        return value[0] if len(value) == 1 else value
