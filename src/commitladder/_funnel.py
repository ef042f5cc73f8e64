"""The funnel as typed figures: per rung asked, committed, declined, expired and open, the
conversion, the time from ask to yes and the time deals sit on each rung, by cohort.

``funnel(source)`` reads the event log of a store, a tracker's store or a database URL
(read-only), keeps the enrollments of one ladder (optionally some versions, enrolled
in a date range), and folds them with ``_stats.fold`` (the counts ``commitladder
funnel`` always showed) plus the spreads computed here. It never writes and never
needs the ladder file: rung names come from the log.
"""

from __future__ import annotations

import csv
import io
import json
import statistics
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any, Literal, Protocol, runtime_checkable

from ._errors import LadderError
from ._events import Committed, Ended, Enrolled, Event, event_from_dict
from ._stats import fold

if TYPE_CHECKING:
    from ._tracker import Tracker

__all__ = [
    "CohortFigures",
    "EventLog",
    "FunnelFigures",
    "FunnelReport",
    "RungFigures",
    "Spread",
    "enrollment_logs",
    "funnel",
]

CohortBy = Literal["week", "month"]


@runtime_checkable
class EventLog(Protocol):
    """A store that can list every enrollment's events (``MemoryStore`` and ``SqlStore``)."""

    def event_log(self, *, ladder: str | None = None) -> Iterator[list[dict[str, Any]]]:
        """One list of ``Event.to_dict()`` dicts per enrollment, oldest first."""


@dataclass(frozen=True, slots=True)
class Spread:
    """How long something took, over ``count`` cases: the median and the 90th percentile
    (``None`` when there was no case)."""

    count: int
    median: timedelta | None
    p90: timedelta | None

    @classmethod
    def of(cls, samples: Sequence[timedelta]) -> Spread:
        """The spread of ``samples`` (the percentile interpolates between the two nearest
        samples, as ``statistics.quantiles(method="inclusive")`` does)."""
        if not samples:
            return cls(0, None, None)
        seconds = sorted(s.total_seconds() for s in samples)
        if len(seconds) == 1:
            only = timedelta(seconds=seconds[0])
            return cls(1, only, only)
        p90 = statistics.quantiles(seconds, n=10, method="inclusive")[-1]
        median = statistics.median(seconds)
        return cls(len(seconds), timedelta(seconds=median), timedelta(seconds=p90))

    def to_dict(self) -> dict[str, Any]:
        def hours(value: timedelta | None) -> float | None:
            return None if value is None else round(value / timedelta(hours=1), 2)

        return {
            "count": self.count,
            "median_hours": hours(self.median),
            "p90_hours": hours(self.p90),
        }


@dataclass(frozen=True, slots=True)
class RungFigures:
    """What happened on one rung.

    ``asked`` counts asks; ``committed``, ``declined``, ``expired`` and ``withdrawn`` how
    they were answered; ``open`` the asks still open now and ``parked`` the deals parked
    after a no or silence to it. ``time_to_commit`` runs from an ask to its yes;
    ``time_in_rung`` from the commitment to this rung to the next commitment or the end
    (deals still standing on the rung are not counted: their stay is not over), and
    ``standing`` says how many deals stand on it now.
    """

    rung: str
    asked: int
    committed: int
    declined: int
    expired: int
    withdrawn: int
    open: int
    parked: int
    standing: int
    time_to_commit: Spread
    time_in_rung: Spread
    outcomes: dict[str, int] = field(default_factory=dict)

    @property
    def conversion(self) -> float | None:
        """Commitments per ask (``None`` before the first ask)."""
        return self.committed / self.asked if self.asked else None

    def to_dict(self) -> dict[str, Any]:
        rate = self.conversion
        return {
            "rung": self.rung,
            "asked": self.asked,
            "committed": self.committed,
            "declined": self.declined,
            "expired": self.expired,
            "withdrawn": self.withdrawn,
            "open": self.open,
            "parked": self.parked,
            "standing": self.standing,
            "conversion": None if rate is None else round(rate, 4),
            "time_to_commit": self.time_to_commit.to_dict(),
            "time_in_rung": self.time_in_rung.to_dict(),
            "outcomes": dict(self.outcomes),
        }


@dataclass(frozen=True, slots=True)
class FunnelFigures:
    """The funnel of a set of enrollments: rungs in funnel order (how many commitments, on
    average, came before an ask for each), the ends reached, and how many still climb."""

    ladder: str
    enrollments: int
    active: int
    ends: dict[str, int]
    rungs: tuple[RungFigures, ...]

    def rung(self, rung_id: str) -> RungFigures:
        """The figures of ``rung_id`` (``KeyError`` when it was never asked or reached)."""
        for row in self.rungs:
            if row.rung == rung_id:
                return row
        raise KeyError(f"no figures for rung {rung_id!r}: nobody was asked for it")

    def to_dict(self) -> dict[str, Any]:
        return {
            "ladder": self.ladder,
            "enrollments": self.enrollments,
            "active": self.active,
            "ends": dict(self.ends),
            "rungs": [row.to_dict() for row in self.rungs],
        }


@dataclass(frozen=True, slots=True)
class CohortFigures:
    """The funnel of the enrollments that started in one week or month (UTC)."""

    label: str  # 2026-W02 or 2026-01
    starts: datetime
    figures: FunnelFigures

    def to_dict(self) -> dict[str, Any]:
        return {"cohort": self.label, "starts": self.starts.isoformat(), **self.figures.to_dict()}


@dataclass(frozen=True, slots=True)
class FunnelReport(FunnelFigures):
    """``funnel()``'s answer: the figures of every enrollment selected, what selected them
    (``versions``, ``since``, ``until``), and, with ``cohort=``, one ``CohortFigures``
    per week or month of enrollment, oldest first."""

    versions: tuple[int, ...] = ()
    since: datetime | None = None
    until: datetime | None = None
    cohort_by: CohortBy | None = None
    cohorts: tuple[CohortFigures, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        data = FunnelFigures.to_dict(self)
        data["versions"] = list(self.versions)
        data["since"] = None if self.since is None else self.since.isoformat()
        data["until"] = None if self.until is None else self.until.isoformat()
        if self.cohort_by is not None:
            data["cohort_by"] = self.cohort_by
            data["cohorts"] = [c.to_dict() for c in self.cohorts]
        return data

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2)

    def to_csv(self) -> str:
        """One row per rung (per cohort and rung, with ``cohort=``); times in hours."""
        columns = [
            *(["cohort"] if self.cohort_by else []),
            "rung",
            "asked",
            "committed",
            "declined",
            "expired",
            "withdrawn",
            "conversion",
            "median_hours_to_commit",
            "p90_hours_to_commit",
            "median_hours_in_rung",
            "p90_hours_in_rung",
            "open",
            "parked",
            "standing",
        ]
        out = io.StringIO()
        writer = csv.DictWriter(out, columns, lineterminator="\n")
        writer.writeheader()
        groups = [(c.label, c.figures) for c in self.cohorts] if self.cohort_by else [("", self)]
        for label, figures in groups:
            for row in figures.rungs:
                flat = row.to_dict()
                wait, dwell = row.time_to_commit.to_dict(), row.time_in_rung.to_dict()
                writer.writerow(
                    {
                        **({"cohort": label} if self.cohort_by else {}),
                        **{k: v for k, v in flat.items() if k in columns},
                        "median_hours_to_commit": wait["median_hours"],
                        "p90_hours_to_commit": wait["p90_hours"],
                        "median_hours_in_rung": dwell["median_hours"],
                        "p90_hours_in_rung": dwell["p90_hours"],
                    }
                )
        return out.getvalue()


def funnel(
    source: EventLog | Tracker | str,
    *,
    ladder: str | None = None,
    versions: Iterable[int] | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    cohort: CohortBy | None = None,
    prefix: str = "commitladder_",
    tenant: str | None = None,
) -> FunnelReport:
    """The funnel of ``ladder`` (or of the only ladder) in ``source``: a store, a tracker
    (its store) or a database URL (opened read-only; ``prefix`` names its tables).

    Counts the enrollments enrolled on one of ``versions`` (all when ``None``) at or after
    ``since`` and before ``until`` (aware datetimes); ``cohort="week"`` or ``"month"``
    also splits them by when they enrolled (ISO weeks, calendar months, in UTC).
    ``tenant`` counts only that tenant's enrollments; a tracker scoped by
    ``Tracker.tenant(...)`` counts only its own whatever is given.
    Raises ``LadderError`` when the source holds no enrollment, or several ladders and
    none was chosen.
    """
    if cohort not in (None, "week", "month"):
        raise ValueError(f"cohort must be 'week', 'month' or None, not {cohort!r}")
    for name, value in (("since", since), ("until", until)):
        if value is not None and value.tzinfo is None:
            raise ValueError(f"{name} must be an aware datetime (say datetime(..., tzinfo=UTC))")
    wanted = None if versions is None else frozenset(versions)
    name, logs = enrollment_logs(source, ladder=ladder, prefix=prefix, tenant=tenant)
    kept: list[tuple[Enrolled, list[Event]]] = []
    seen_versions: set[int] = set()
    for log in logs:
        first = log[0] if log else None
        if not isinstance(first, Enrolled):
            continue  # a log cut short (a forgotten prospect): nothing to count
        if wanted is not None and first.version not in wanted:
            continue
        if (since is not None and first.at < since) or (until is not None and first.at >= until):
            continue
        seen_versions.add(first.version)
        kept.append((first, log))
    figures = _figures(name, [log for _, log in kept])
    cohorts: list[CohortFigures] = []
    if cohort is not None:
        groups: dict[datetime, list[list[Event]]] = {}
        for enrolled, log in kept:
            groups.setdefault(_cohort_start(enrolled.at, cohort), []).append(log)
        for starts in sorted(groups):
            cohorts.append(
                CohortFigures(_label(starts, cohort), starts, _figures(name, groups[starts]))
            )
    return FunnelReport(
        ladder=figures.ladder,
        enrollments=figures.enrollments,
        active=figures.active,
        ends=figures.ends,
        rungs=figures.rungs,
        versions=tuple(sorted(seen_versions)),
        since=since,
        until=until,
        cohort_by=cohort,
        cohorts=tuple(cohorts),
    )


def enrollment_logs(
    source: EventLog | Tracker | str,
    *,
    ladder: str | None = None,
    prefix: str = "commitladder_",
    tenant: str | None = None,
) -> tuple[str, list[list[Event]]]:
    """The ladder's name and each of its enrollments' events, oldest first (of ``tenant``
    only, when given or when ``source`` is a tenant's view of a tracker)."""
    scoped = getattr(source, "tenant_id", None)
    if scoped is not None:
        if tenant is not None and tenant != scoped:
            raise LadderError(
                f"this tracker is scoped to tenant {scoped!r} and cannot count tenant {tenant!r}"
            )
        tenant = scoped
    if isinstance(source, str):
        return _read_url(source, ladder=ladder, prefix=prefix, tenant=tenant)
    log_source = getattr(source, "store", source)
    if not isinstance(log_source, EventLog):
        raise TypeError(
            f"funnel() reads a store with event_log() (MemoryStore, SqlStore), a Tracker or "
            f"a database URL, not {type(source).__name__}"
        )

    def read(ladder: str | None) -> list[list[dict[str, Any]]]:
        logs = log_source.event_log(ladder=ladder)
        if tenant is None:
            return list(logs)
        return [log for log in logs if log and (log[0].get("data") or {}).get("tenant") == tenant]

    raw = read(ladder)
    names = {
        str(log[0]["data"]["ladder"])
        for log in raw
        if log and log[0].get("type") == "Enrolled" and "ladder" in log[0].get("data", {})
    }
    if ladder is None:
        if not names:
            raise LadderError("the store holds no enrollments yet")
        if len(names) > 1:
            raise LadderError(
                f"the store holds several ladders ({', '.join(sorted(names))}); "
                "pick one with --ladder (ladder= in Python)"
            )
        ladder = names.pop()
    elif not raw:
        held = sorted({str(log[0]["data"]["ladder"]) for log in read(None) if log} - {ladder})
        raise LadderError(
            f"no enrollments on ladder {ladder!r} in the store"
            + (f"; it holds {', '.join(held)}" if held else "")
        )
    return ladder, [[event_from_dict(body) for body in log] for log in raw]


def _figures(ladder: str, logs: list[list[Event]]) -> FunnelFigures:
    counts = fold(ladder, (event for log in logs for event in log))
    dwell: dict[str, list[timedelta]] = {}
    standing: dict[str, int] = {}
    for log in logs:
        position: str | None = None
        since: Event | None = None  # the commitment that put the deal on ``position``
        for event in log:
            if not isinstance(event, Committed | Ended):
                continue
            # a commitment that reaches an end in the same command (the purchase) is no stay
            at_once = (
                since is not None
                and isinstance(event, Ended)
                and (event.seq, event.at) == (since.seq + 1, since.at)
            )
            if position is not None and since is not None and not at_once:
                dwell.setdefault(position, []).append(event.at - since.at)
            if isinstance(event, Committed):
                position, since = event.rung, event
            else:
                position, since = None, None
        if position is not None:
            standing[position] = standing.get(position, 0) + 1
    rows = [
        RungFigures(
            rung=row.rung,
            asked=row.asked,
            committed=row.committed,
            declined=row.declined,
            expired=row.expired,
            withdrawn=row.withdrawn,
            open=row.open,
            parked=row.parked,
            standing=standing.get(row.rung, 0),
            time_to_commit=Spread.of(row.waits),
            time_in_rung=Spread.of(dwell.get(row.rung, ())),
            outcomes=dict(row.outcomes),
        )
        for row in counts.rungs
    ]
    return FunnelFigures(ladder, counts.enrollments, counts.active, dict(counts.ends), tuple(rows))


def _cohort_start(at: datetime, by: CohortBy) -> datetime:
    day = at.astimezone(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    if by == "month":
        return day.replace(day=1)
    return day - timedelta(days=day.weekday())


def _label(starts: datetime, by: CohortBy) -> str:
    if by == "month":
        return f"{starts.year}-{starts.month:02d}"
    year, week, _ = starts.isocalendar()
    return f"{year}-W{week:02d}"


def _read_url(
    url: str, *, ladder: str | None, prefix: str, tenant: str | None
) -> tuple[str, list[list[Event]]]:
    """``enrollment_logs`` of the store at ``url``, opened read-only."""
    from pathlib import Path

    import sqlalchemy as sa

    from .sql import SqlStore, read_only_engine

    try:
        parsed = sa.make_url(url)
        file = parsed.database if parsed.get_backend_name() == "sqlite" else None
        if file not in (None, "", ":memory:") and not Path(str(file)).is_file():
            raise LadderError(f"no database file at {file}")  # SQLite would make an empty one
        engine = read_only_engine(parsed)
    except (sa.exc.ArgumentError, ImportError, ValueError) as exc:
        raise LadderError(f"cannot open the database {url!r}: {exc}") from exc
    safe = parsed.render_as_string(hide_password=True)
    store = SqlStore(engine, prefix=prefix)
    try:
        with engine.connect() as conn:
            if not sa.inspect(conn).has_table(store.tables.enrollments.name):
                raise LadderError(
                    f"the database {safe} has no commitladder tables with prefix {prefix!r}; "
                    "give the prefix your app uses"
                )
        return enrollment_logs(store, ladder=ladder, tenant=tenant)
    except sa.exc.DBAPIError as exc:
        raise LadderError(f"cannot read the database {safe}: {exc.orig}") from exc
    finally:
        engine.dispose()
