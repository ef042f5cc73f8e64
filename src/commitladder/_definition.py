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
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    PlainSerializer,
    StringConstraints,
    WithJsonSchema,
    field_serializer,
    field_validator,
    model_validator,
)

from ._durations import format_duration, parse_duration

__all__ = [
    "PARK",
    "Defaults",
    "Duration",
    "EndDefinition",
    "FollowUps",
    "Kind",
    "LadderDefinition",
    "Result",
    "Rules",
    "RungDefinition",
    "SimulatedAnswer",
    "Simulation",
]

#: ``on_decline`` / ``on_expire`` value meaning "put the deal in neutral".
PARK = "park"

_ID_PATTERN = r"^[A-Za-z][A-Za-z0-9_-]*$"
Id = Annotated[str, StringConstraints(pattern=_ID_PATTERN, max_length=64)]
_ID_SCHEMA = {"type": "string", "pattern": _ID_PATTERN, "maxLength": 64}
Duration = Annotated[
    timedelta,
    BeforeValidator(parse_duration),
    PlainSerializer(format_duration, return_type=str),
    # what a person writes (the JSON Schema "duration" format knows only ISO 8601)
    WithJsonSchema(
        {
            "type": "string",
            "pattern": r"^\s*\d+\s*[smhdw]\s*$|^[Pp]\w+$",
            "description": "30m, 12h, 3d, 2w, or ISO 8601 such as P3D or PT12H",
            "examples": ["3d", "P14D"],
        }
    ),
]


def _one_or_many(value: Any) -> Any:
    return [value] if isinstance(value, str) else value


IdList = Annotated[
    list[Id],
    BeforeValidator(_one_or_many),
    Field(min_length=1),
    WithJsonSchema({"anyOf": [_ID_SCHEMA, {"type": "array", "items": _ID_SCHEMA, "minItems": 1}]}),
]


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

    max: Annotated[int, Field(ge=0)]
    every: Duration | None = None

    @model_validator(mode="after")
    def _every_needed(self) -> FollowUps:
        if self.max > 0 and self.every is None:
            raise ValueError("give `every:` (say 2d) when follow-ups are allowed")
        return self


class Defaults(_Model):
    """Timing and channel settings every rung inherits unless it sets its own."""

    expires_after: Duration | None = None
    follow_ups: FollowUps | None = None
    cooldown: Duration | None = None
    next_ask_within: Duration | None = None
    max_asks: Annotated[int, Field(ge=1)] | None = None
    channels: IdList | None = None


class RungDefinition(Defaults):
    """One micro-commitment that can be asked for."""

    kind: Kind
    size: Annotated[int, Field(ge=1, le=10)]
    title: str | None = None
    description: str | None = None
    ask: str | None = None
    next: IdList | None = None
    outcomes: dict[Id, Id] | None = None
    requires: list[Id] = Field(default_factory=list)
    on_decline: Id = PARK
    on_expire: Id = PARK

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
    title: str | None = None
    description: str | None = None


class Rules(_Model):
    """Claims about the process, proved by lint and the testing kit (not run-time guards)."""

    max_size_step: Annotated[int, Field(ge=0)] | None = None
    requires_before: dict[Id, list[Id]] = Field(default_factory=dict)
    max_asks_without_commitment: Annotated[int, Field(ge=1)] | None = None


Probability = Annotated[float, Field(ge=0, le=1)]


class SimulatedAnswer(_Model):
    """How simulated prospects answer an ask: the chance of a yes, of a no (the rest stay
    silent and the ask expires), how long a reply takes, and the odds of each outcome."""

    commit: Probability | None = None
    decline: Probability | None = None
    reply_after: Duration | None = None
    outcomes: dict[Id, Annotated[float, Field(ge=0)]] | None = None

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
    rungs: dict[Id, SimulatedAnswer] = Field(default_factory=dict)


class LadderDefinition(_Model):
    """A whole ladder, as written in YAML or built in Python."""

    ladder: Id
    version: Annotated[int, Field(ge=1)] = 1
    title: str | None = None
    description: str | None = None
    start: IdList
    exclusive: bool = True
    defaults: Defaults = Field(default_factory=Defaults)
    rungs: Annotated[dict[Id, RungDefinition], Field(min_length=1)]
    ends: Annotated[dict[Id, EndDefinition], Field(min_length=1)]
    rules: Rules = Field(default_factory=Rules)
    simulation: Simulation | None = None

    @field_serializer("start")
    def _write_start(self, value: list[str]) -> str | list[str]:
        return value[0] if len(value) == 1 else value
