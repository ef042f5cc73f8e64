"""How a raw loop hands the store's values to its driver: the baselines of
``bench_bulk.py`` and ``bench_due.py`` write the rows the store writes, with the same
driver and none of SQLAlchemy, encoding each value as the store's column types do."""

from __future__ import annotations

import json
import statistics
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import Any

_dumps = json.JSONEncoder(separators=(",", ":")).encode  # the store's JSON spelling
JSON = frozenset({"snapshot", "fired", "timers", "body"})
TIMES = frozenset(
    {"updated_at", "next_due_at", "timer_lease", "at", "asked_at", "expires_at"}
    | {"next_attempt_at", "lease_until", "sent_at"}
)


def json_text(value: Any) -> str | None:
    if value is None:
        return None
    return "[]" if value == [] else _dumps(value)


def time_encoder(dialect: str) -> Callable[[datetime | None], Any]:
    """Times as the store keeps them: naive UTC (on SQLite, SQLAlchemy's text form)."""

    def encode(value: datetime | None) -> Any:
        if value is None:
            return None
        naive = value.astimezone(UTC).replace(tzinfo=None)
        return naive if dialect == "postgresql" else naive.strftime("%Y-%m-%d %H:%M:%S.%f")

    return encode


def encoders(dialect: str, columns: list[str]) -> list[Callable[[Any], Any] | None]:
    """Per column, how a value becomes what the driver takes (None: as it is)."""
    time_of = time_encoder(dialect)
    return [json_text if c in JSON else time_of if c in TIMES else None for c in columns]


def encoded(dialect: str, row: Mapping[str, Any]) -> dict[str, Any]:
    """A row of named values, each encoded for the driver."""
    time_of = time_encoder(dialect)
    return {
        k: (json_text(v) if k in JSON else time_of(v) if k in TIMES else v) for k, v in row.items()
    }


def named(dialect: str, sql: str) -> str:
    """``sql`` with ``:name`` parameters in the driver's style (psycopg: ``%(name)s``)."""
    if dialect != "postgresql":
        return sql
    import re

    return re.sub(r":([a-z_]+)", r"%(\1)s", sql)


def verdict(ratios: list[float]) -> str:
    """The target's verdict on the median ratio (issue 14: at least 50% of the raw rate)."""
    return "PASS" if statistics.median(ratios) >= 0.5 else "MISS"


def turns(sides: tuple[str, ...], round_: int) -> tuple[str, ...]:
    """The order the sides run in, in round ``round_``: it turns each round."""
    shift = round_ % len(sides)
    return sides[shift:] + sides[:shift]
