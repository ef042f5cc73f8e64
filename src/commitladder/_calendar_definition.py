"""The ``calendar:`` section of the ladder format: time zone, working week, holidays.

Shapes and values only (a time zone this system knows, a country and subdivision the
``holidays`` package knows); ``build`` turns the section into the ``Calendar`` the
rules use. It never loads ``holidays`` for a calendar that names no country.
"""

from __future__ import annotations

from datetime import date
from itertools import pairwise
from typing import Annotated, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    WithJsonSchema,
    field_validator,
    model_validator,
)

from ._calendar import WEEKDAYS, Calendar, holiday_source, parse_window, zone
from ._throttle import ThrottleRule

__all__ = ["CalendarDefinition", "HolidaysDefinition", "ThrottleDefinition", "Weekday"]

Weekday = Literal["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
_MAX_DATES = 1000
_WEEK: tuple[Weekday, ...] = ("mon", "tue", "wed", "thu", "fri")


def _window(text: str) -> str:
    parse_window(text)
    return text


#: ``HH:MM-HH:MM`` on the wall clock, such as ``08:00-18:00`` (``24:00`` may end one)
WindowText = Annotated[
    str,
    AfterValidator(_window),
    WithJsonSchema(
        {
            "type": "string",
            "pattern": r"^\s*[0-9]{1,2}:[0-5][0-9]\s*-\s*[0-9]{1,2}:[0-5][0-9]\s*$",
            "description": "a window on the wall clock, HH:MM-HH:MM (24:00 may end one)",
            "examples": ["08:00-18:00"],
        }
    ),
]


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class HolidaysDefinition(_Model):
    """Days off: a country's public holidays (and its subdivision's), plus extra dates."""

    country: Annotated[str, Field(pattern=r"^[A-Z]{2,3}$")] | None = None
    subdivision: Annotated[str, Field(pattern=r"^[A-Za-z0-9_-]{1,12}$")] | None = None
    dates: list[date] = Field(default_factory=list, max_length=_MAX_DATES)

    @model_validator(mode="after")
    def _known(self) -> HolidaysDefinition:
        if self.subdivision is not None and self.country is None:
            raise ValueError(
                "give `country:` with `subdivision:` (say country: US, subdivision: NY)"
            )
        if self.country is not None:
            holiday_source(self.country, self.subdivision)  # raises, naming what it knows
        return self


class CalendarDefinition(_Model):
    """When the ladder works: its time zone, working week and holidays."""

    timezone: str = "UTC"
    working_days: list[Weekday] = Field(
        default_factory=lambda: list(_WEEK), min_length=1, max_length=7
    )
    holidays: HolidaysDefinition | None = None
    send_windows: Annotated[
        dict[
            Annotated[str, Field(pattern=r"^[A-Za-z][A-Za-z0-9_-]*$", max_length=64)],
            Annotated[list[WindowText], Field(min_length=1, max_length=12)],
        ],
        Field(max_length=64),
    ] = Field(default_factory=dict)

    @field_validator("send_windows")
    @classmethod
    def _windows(cls, value: dict[str, list[str]]) -> dict[str, list[str]]:
        for channel, texts in value.items():
            spans = sorted(parse_window(text) for text in texts)
            for (_, end), (start, _) in pairwise(spans):
                if start < end:
                    raise ValueError(f"{channel}: windows overlap; merge them into one")
        return value

    @field_validator("timezone")
    @classmethod
    def _zone(cls, value: str) -> str:
        zone(value)
        return value

    @field_validator("working_days")
    @classmethod
    def _once_each(cls, value: list[str]) -> list[str]:
        twice = sorted({d for d in value if value.count(d) > 1})
        if twice:
            raise ValueError(f"{', '.join(twice)} listed more than once: name each day once")
        return value

    def build(self) -> Calendar:
        """The ``Calendar`` this section describes."""
        h = self.holidays
        return Calendar(
            timezone=self.timezone,
            working_days=(WEEKDAYS.index(d) for d in self.working_days),
            holidays=holiday_source(h.country, h.subdivision) if h and h.country else None,
            extra=h.dates if h else (),
            windows={k: [parse_window(t) for t in v] for k, v in self.send_windows.items()},
        )


class ThrottleDefinition(_Model):
    """A cap on first asks: at most ``max`` per ``per`` over ``channel`` (every channel when
    left out), per ``sender``: ``actor`` (whoever asked), a mailbox name (everyone asking
    from it, on every ladder that names it), or left out (this ladder as a whole)."""

    max: Annotated[int, Field(ge=1, le=1_000_000)]
    per: Literal["day", "hour"]
    channel: Annotated[str, Field(pattern=r"^[A-Za-z][A-Za-z0-9_-]*$", max_length=64)] | None = None
    sender: Annotated[str, Field(min_length=1, max_length=200)] | None = None

    def build(self) -> ThrottleRule:
        """The compiled rule."""
        return ThrottleRule(self.max, self.per, self.channel, self.sender)
