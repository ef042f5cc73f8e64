"""Live counts from a store's event log: the funnel per rung and the traffic on each edge.

Reads the tables of a ``SqlStore`` (any prefix, any of its databases) with plain
SELECTs, folding each enrollment's events in order: who was asked what from
where, and how they answered. It never writes, never creates tables, and never
needs the ladder file: rung names come from the log. ``graph --db`` and
``funnel`` share it.
"""

from __future__ import annotations

import statistics
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import assert_never

from ._errors import LadderError
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

__all__ = ["EdgeCounts", "Funnel", "RungCounts", "fold", "read_funnel"]


@dataclass(slots=True)
class RungCounts:
    """What happened to the asks for one rung."""

    rung: str
    asked: int = 0
    committed: int = 0
    declined: int = 0
    expired: int = 0
    withdrawn: int = 0
    open: int = 0
    parked: int = 0
    depth: float = 0.0  # mean number of commitments made before an ask for this rung
    waits: list[timedelta] = field(default_factory=list, repr=False)
    outcomes: dict[str, int] = field(default_factory=dict)

    @property
    def conversion(self) -> float | None:
        """Commitments per ask (``None`` before the first ask)."""
        return self.committed / self.asked if self.asked else None

    @property
    def median_time_to_commit(self) -> timedelta | None:
        """From the ask to the yes, the median over every commitment to this rung."""
        if not self.waits:
            return None
        return timedelta(seconds=statistics.median(w.total_seconds() for w in self.waits))


@dataclass(slots=True)
class EdgeCounts:
    """Asks for ``rung`` made while the prospect stood at ``position`` (``None``: the start)."""

    position: str | None
    rung: str
    asked: int = 0
    committed: int = 0
    declined: int = 0
    expired: int = 0

    @property
    def conversion(self) -> float | None:
        return self.committed / self.asked if self.asked else None


@dataclass(slots=True)
class Funnel:
    """Per-rung counts of one ladder, in funnel order (how far up the ladder, on average,
    a rung is asked), plus the traffic on each edge and the ends reached."""

    ladder: str
    enrollments: int
    rungs: list[RungCounts]
    edges: dict[tuple[str | None, str], EdgeCounts]
    ends: dict[str, int]
    active: int

    def rung(self, rung_id: str) -> RungCounts:
        for row in self.rungs:
            if row.rung == rung_id:
                return row
        return RungCounts(rung_id)


@dataclass(slots=True)
class _Climb:
    position: str | None = None
    status: str = "ready"
    last: str | None = None  # rung of the last ask
    asks: dict[int, tuple[str, str | None, datetime, int]] = field(default_factory=dict)
    commitments: int = 0


def fold(ladder: str, events: Iterable[Event]) -> Funnel:
    """The funnel from events, each enrollment's in the order of their sequence numbers
    (enrollments may interleave)."""
    rungs: dict[str, RungCounts] = {}
    edges: dict[tuple[str | None, str], EdgeCounts] = {}
    ends: dict[str, int] = {}
    climbs: dict[str, _Climb] = {}
    depth: dict[str, int] = {}

    def counts(rung: str) -> RungCounts:
        row = rungs.get(rung)
        if row is None:
            row = rungs[rung] = RungCounts(rung)
        return row

    def edge_of(ask_seq: int | None) -> EdgeCounts | None:
        ask = climb.asks.get(ask_seq) if ask_seq is not None else None
        return edges[(ask[1], ask[0])] if ask is not None else None

    for event in events:
        climb = climbs.setdefault(event.enrollment_id, _Climb())
        match event:
            case AskIssued():
                rung = event.rung
                climb.asks[event.seq] = (rung, climb.position, event.at, climb.commitments)
                climb.last, climb.status = rung, "pending"
                counts(rung).asked += 1
                depth[rung] = depth.get(rung, 0) + climb.commitments
                edge = edges.get((climb.position, rung))
                if edge is None:
                    edge = edges[(climb.position, rung)] = EdgeCounts(climb.position, rung)
                edge.asked += 1
            case Committed():
                row = counts(event.rung)
                row.committed += 1
                asked = climb.asks.get(event.ask_seq)
                if asked is not None:
                    row.waits.append(event.at - asked[2])
                if event.outcome is not None:
                    row.outcomes[event.outcome] = row.outcomes.get(event.outcome, 0) + 1
                if (edge := edge_of(event.ask_seq)) is not None:
                    edge.committed += 1
                climb.position, climb.status = event.rung, "ready"
                climb.commitments += 1
            case Declined():
                counts(event.rung).declined += 1
                if (edge := edge_of(event.ask_seq)) is not None:
                    edge.declined += 1
                climb.status = "ready"
            case AskExpired():
                counts(event.rung).expired += 1
                if (edge := edge_of(event.ask_seq)) is not None:
                    edge.expired += 1
                climb.status = "ready"
            case AskWithdrawn():
                counts(event.rung).withdrawn += 1
                climb.status = "ready"
            case Parked():
                climb.status = "parked"
            case Resumed():
                climb.status = "ready"
            case Ended():
                climb.status = "ended"
                ends[event.end] = ends.get(event.end, 0) + 1
            case Enrolled() | FollowedUp() | LateCommitment() | Rekeyed():
                pass  # no ask opened or answered in time: the funnel does not move
            case Migrated():
                if event.withdrawn is not None:
                    climb.status = "ready"  # the ask on a removed rung was withdrawn
            case _:
                assert_never(event)
    for climb in climbs.values():
        if climb.last is not None and climb.status in ("pending", "parked"):
            row = counts(climb.last)
            if climb.status == "pending":
                row.open += 1
            else:
                row.parked += 1
    for rung, row in rungs.items():
        row.depth = depth.get(rung, 0) / row.asked if row.asked else float("inf")
    ordered = sorted(rungs.values(), key=lambda r: (r.depth, -r.asked, r.rung))
    active = sum(1 for c in climbs.values() if c.status != "ended")
    return Funnel(ladder, len(climbs), ordered, edges, ends, active)


def read_funnel(url: str, *, ladder: str | None = None, prefix: str = "commitladder_") -> Funnel:
    """The funnel of ``ladder`` (or of the only ladder) in the store at ``url``, read-only.

    Raises ``LadderError`` saying what to do when the database has no commitladder
    tables with that prefix, no enrollments, or several ladders and none was chosen.
    """
    import sqlalchemy as sa

    from .sql import read_only_engine, tables

    try:
        parsed = sa.make_url(url)
        file = parsed.database if parsed.get_backend_name() == "sqlite" else None
        if file not in (None, "", ":memory:") and not Path(str(file)).is_file():
            raise LadderError(f"no database file at {file}")  # SQLite would make an empty one
        t = tables(prefix)
        engine = read_only_engine(parsed)
    except (sa.exc.ArgumentError, ImportError, ValueError) as exc:
        raise LadderError(f"cannot open the database {_safe(url)}: {exc}") from exc
    enrollments, events = t.enrollments, t.events
    try:
        with engine.connect() as conn:
            if not sa.inspect(conn).has_table(enrollments.name):
                raise LadderError(
                    f"the database {_safe(url)} has no commitladder tables with prefix "
                    f"{prefix!r}; run `commitladder simulate` into it first, or give "
                    "--prefix the one your app uses"
                )
            names = [r[0] for r in conn.execute(sa.select(enrollments.c.ladder).distinct())]
            if not names:
                raise LadderError(f"the database {_safe(url)} holds no enrollments yet")
            if ladder is None:
                if len(names) > 1:
                    raise LadderError(
                        f"the database holds several ladders ({', '.join(sorted(names))}); "
                        "pick one with --ladder"
                    )
                ladder = names[0]
            elif ladder not in names:
                raise LadderError(
                    f"no enrollments on ladder {ladder!r} in {_safe(url)}; it holds "
                    f"{', '.join(sorted(names))}"
                )
            query = (
                sa.select(events.c.body)
                .join(enrollments, enrollments.c.id == events.c.enrollment_id)
                .where(enrollments.c.ladder == ladder)
                .order_by(events.c.enrollment_id, events.c.seq)
            )
            return fold(ladder, (event_from_dict(body) for (body,) in conn.execute(query)))
    except sa.exc.DBAPIError as exc:
        raise LadderError(f"cannot read the database {_safe(url)}: {exc.orig}") from exc
    finally:
        engine.dispose()


def _safe(url: str) -> str:
    """The URL without its password, for messages."""
    try:
        import sqlalchemy as sa

        return sa.make_url(url).render_as_string(hide_password=True)
    except Exception:
        return "<database>"
