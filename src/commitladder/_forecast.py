"""The forecast: how likely each open deal is to be won, what it is worth, and when it closes.

For every enrollment still open at ``as_of``, the chance of reaching a won end from
where it stands: the probability its rung declares, or the one the store's own history
teaches, ``P(won | state)``: from its position, the asks made since its last commitment
and whether an ask is open or the deal is parked (a state too few deals have left falls
back to ``P(won | position)``), with a credible interval and the sample behind it. Times
the amount the host gives, summed by stage and by expected close month (from the median
time the won deals took from that position to the win). ``backtest`` forecasts as of a
past date, from what was known then, and compares with what closed since. It reads event
logs only; it never writes.
"""

from __future__ import annotations

import csv
import io
import json
import math
import statistics
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, TypeVar

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
    Parked,
    Resumed,
)
from ._funnel import EventLog, enrollment_logs

if TYPE_CHECKING:
    from ._ladder import Ladder
    from ._tracker import Tracker

__all__ = [
    "Backtest",
    "Chance",
    "DealForecast",
    "Forecast",
    "ForecastRow",
    "backtest",
    "forecast",
    "read_amounts",
]

Method = Literal["learned", "position", "declared"]
Source = Literal["learned", "pooled", "declared", "none"]
Status = Literal["ready", "pending", "parked"]
K = TypeVar("K")
Amounts = Mapping[str, float] | Callable[[str], float | None]
NOT_STARTED = "(no commitment yet)"
UNSCHEDULED = "unscheduled"
STATUSES: tuple[Status, ...] = ("ready", "pending", "parked")
MAX_ASKS_APART = 3  # asks since the last commitment: 0, 1, 2, and 3 or more
MIN_SAMPLE = 30  # a state fewer deals left than this borrows its position's chance


@dataclass(frozen=True, slots=True)
class Chance:
    """``P(won | position)``: the chance a deal standing at ``position`` (the last rung
    committed to; ``None`` before the first) reaches a won end; or, where ``asks`` and
    ``status`` are set, ``P(won | state)``: the chance of a deal at ``position`` that
    has been asked ``asks`` times since its last commitment (3 stands for 3 or more) and
    is ``ready`` (no ask open), ``pending`` (one open) or ``parked``.

    ``source`` says where it comes from. ``learned``: from the moves deals made out of
    each position (to the next rung, or to an end), or out of each state (an ask, a
    park, a resume, a commitment, an end), ``sample`` of them out of this one, chained
    to a won end (deals still standing somewhere count only for the moves they made, so
    recent deals do not bias it towards quick losses); ``low``..``high`` is the
    credible interval at the forecast's confidence, from 400 seeded draws of the move
    chances (Dirichlet, Jeffreys prior). ``pooled``: a state fewer than ``min_sample``
    deals have left, which takes its position's learned chance (and its sample).
    ``declared``: the rung's ``probability:`` (no interval). ``none``: neither, and the
    deal counts for nothing. ``time_to_win`` is the median time the won deals took from
    their arrival at the position to the win.
    """

    position: str | None
    probability: float | None
    low: float | None
    high: float | None
    sample: int
    source: Source
    time_to_win: timedelta | None
    asks: int | None = None
    status: Status | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "position": self.position,
            "asks": self.asks,
            "status": self.status,
            "probability": _round(self.probability),
            "low": _round(self.low),
            "high": _round(self.high),
            "sample": self.sample,
            "source": self.source,
            "days_to_win": None
            if self.time_to_win is None
            else round(self.time_to_win / timedelta(days=1), 1),
        }


@dataclass(frozen=True, slots=True)
class DealForecast:
    """One open deal: where it stands (its position, the asks made since its last
    commitment, its status), its chance and the sample behind it, its amount and
    expected value, and the month it is expected to close (``unscheduled`` when no won
    deal went that way yet)."""

    prospect: str
    enrollment_id: str
    position: str | None
    asks: int
    status: Status
    stage: str
    probability: float | None
    low: float | None
    high: float | None
    source: Source
    sample: int
    amount: float | None
    expected: float
    close_month: str

    def to_dict(self) -> dict[str, Any]:
        return {
            "prospect": self.prospect,
            "enrollment_id": self.enrollment_id,
            "position": self.position,
            "asks": self.asks,
            "status": self.status,
            "stage": self.stage,
            "probability": _round(self.probability),
            "low": _round(self.low),
            "high": _round(self.high),
            "source": self.source,
            "sample": self.sample,
            "amount": self.amount,
            "expected": round(self.expected, 2),
            "close_month": self.close_month,
        }


@dataclass(frozen=True, slots=True)
class ForecastRow:
    """A sum over deals (one stage, one close month, or all): how many, their amounts,
    the expected revenue, and the same at the low and high ends of each deal's interval."""

    key: str
    deals: int
    amount: float
    expected: float
    low: float
    high: float

    def to_dict(self) -> dict[str, Any]:
        return {
            "key": self.key,
            "deals": self.deals,
            "amount": round(self.amount, 2),
            "expected": round(self.expected, 2),
            "low": round(self.low, 2),
            "high": round(self.high, 2),
        }


@dataclass(frozen=True, slots=True)
class Forecast:
    """``forecast()``'s answer: the chances per position, the chances of the states the
    open deals stand in (``states``; empty unless ``method="learned"``), every open
    deal, and the sums by stage (pipeline order), by expected close month, and in
    ``total``."""

    ladder: str
    as_of: datetime
    method: Method
    confidence: float
    chances: tuple[Chance, ...]
    deals: tuple[DealForecast, ...]
    by_stage: tuple[ForecastRow, ...]
    by_month: tuple[ForecastRow, ...]
    total: ForecastRow
    missing_amounts: int
    states: tuple[Chance, ...] = ()

    def chance(
        self, position: str | None, *, asks: int | None = None, status: Status | None = None
    ) -> Chance:
        """The chance at ``position`` (``KeyError`` when no deal stood there); with
        ``asks`` and ``status``, the chance of that state (one an open deal stands in)."""
        if asks is None and status is None:
            found = [c for c in self.chances if c.position == position]
        else:
            shown = min(asks, MAX_ASKS_APART) if asks is not None else None
            found = [
                c
                for c in self.states
                if (c.position, c.asks, c.status) == (position, shown, status)
            ]
        if found:
            return found[0]
        raise KeyError(
            f"no chance learned or declared for position {position!r}"
            + ("" if asks is None and status is None else f", {asks} asks, {status}")
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "ladder": self.ladder,
            "as_of": self.as_of.isoformat(),
            "method": self.method,
            "confidence": self.confidence,
            "total": self.total.to_dict(),
            "by_stage": [r.to_dict() for r in self.by_stage],
            "by_month": [r.to_dict() for r in self.by_month],
            "chances": [c.to_dict() for c in self.chances],
            "states": [c.to_dict() for c in self.states],
            "missing_amounts": self.missing_amounts,
            "deals": [d.to_dict() for d in self.deals],
        }

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2)

    def to_csv(self) -> str:
        """One row per open deal."""
        out = io.StringIO()
        columns = list(DealForecast.__dataclass_fields__)
        writer = csv.DictWriter(out, columns, lineterminator="\n")
        writer.writeheader()
        for deal in self.deals:
            writer.writerow(deal.to_dict())
        return out.getvalue()


@dataclass(frozen=True, slots=True)
class Backtest:
    """A forecast made as of ``as_of`` from what was known then, against what happened
    to those deals by ``until``.

    ``revenue_error`` is (expected - actual) / actual won revenue and ``count_error`` the
    same for the number of wins (``None`` when nothing was won); ``brier`` is the mean
    squared gap between each deal's probability and its outcome (1 won, 0 not; lower is
    better); ``still_open`` deals had not ended by ``until`` and count as not won.
    """

    as_of: datetime
    until: datetime
    forecast: Forecast
    deals: int
    expected_wins: float
    actual_wins: int
    expected_revenue: float
    actual_revenue: float
    still_open: int
    brier: float | None

    @property
    def revenue_error(self) -> float | None:
        if not self.actual_revenue:
            return None
        return (self.expected_revenue - self.actual_revenue) / self.actual_revenue

    @property
    def count_error(self) -> float | None:
        if not self.actual_wins:
            return None
        return (self.expected_wins - self.actual_wins) / self.actual_wins

    def to_dict(self) -> dict[str, Any]:
        return {
            "as_of": self.as_of.isoformat(),
            "until": self.until.isoformat(),
            "deals": self.deals,
            "expected_wins": round(self.expected_wins, 2),
            "actual_wins": self.actual_wins,
            "count_error": _round(self.count_error),
            "expected_revenue": round(self.expected_revenue, 2),
            "actual_revenue": round(self.actual_revenue, 2),
            "revenue_error": _round(self.revenue_error),
            "brier": _round(self.brier),
            "still_open": self.still_open,
            "forecast": self.forecast.to_dict(),
        }

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2)


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 4)


# ---- one enrollment's climb, as known at a time ---------------------------------------------


State = tuple[str | None, int, Status]  # position, asks since its commitment, status


@dataclass(slots=True)
class _Climb:
    enrollment_id: str
    prospect: str
    arrived: dict[str | None, datetime]  # first arrival at each position
    path: list[str | None]  # the positions, in order (a cycle repeats them)
    states: list[State]  # the states, in order, each differing from the one before
    position: str | None
    ended_at: datetime | None
    result: str | None

    @property
    def state(self) -> State:
        return self.states[-1]


def _climb(log: Sequence[Event], as_of: datetime) -> _Climb | None:
    """The climb as known at ``as_of`` (``None``: not enrolled by then)."""
    first = log[0] if log else None
    if not isinstance(first, Enrolled) or first.at > as_of:
        return None
    climb = _Climb(
        first.enrollment_id,
        first.prospect,
        {None: first.at},
        [None],
        [(None, 0, "ready")],
        None,
        None,
        None,
    )
    asks = 0
    status: Status = "ready"
    for i, event in enumerate(log):
        if event.at > as_of:
            break
        if isinstance(event, Committed):
            climb.position = event.rung
            climb.path.append(event.rung)
            climb.arrived.setdefault(event.rung, event.at)
            asks, status = 0, "ready"
        elif isinstance(event, AskIssued):
            asks, status = asks + 1, "pending"
        elif isinstance(event, Parked):
            status = "parked"
        elif isinstance(event, Declined | AskExpired | AskWithdrawn | Resumed):
            status = "ready"
            after = log[i + 1] if i + 1 < len(log) else None
            if (
                not isinstance(event, Resumed)
                and after is not None
                and after.at == event.at <= as_of
                and isinstance(after, Parked | Ended)
            ):
                continue  # parked or ended by that answer: no state of its own between
        elif isinstance(event, Ended):
            climb.ended_at, climb.result = event.at, event.result
            break
        state: State = (climb.position, min(asks, MAX_ASKS_APART), status)
        if state != climb.states[-1]:
            climb.states.append(state)
    return climb


Target = tuple[str, Any]  # ("rung", position), ("state", state) or ("end", result)
DRAWS = 400  # posterior draws behind each interval


def _moves(climbs: Iterable[_Climb]) -> dict[str | None, dict[Target, int]]:
    """How many deals moved from each position to each next position or end result."""
    moves: dict[str | None, dict[Target, int]] = {}
    for climb in climbs:
        steps: list[Target] = [("rung", p) for p in climb.path[1:]]
        if climb.ended_at is not None:
            steps.append(("end", climb.result))
        for here, there in zip(climb.path, steps, strict=False):
            out = moves.setdefault(here, {})
            out[there] = out.get(there, 0) + 1
    return moves


def _state_moves(climbs: Iterable[_Climb]) -> dict[State, dict[Target, int]]:
    """How many deals moved from each state to each next state or end result."""
    moves: dict[State, dict[Target, int]] = {}
    for climb in climbs:
        steps: list[Target] = [("state", s) for s in climb.states[1:]]
        if climb.ended_at is not None:
            steps.append(("end", climb.result))
        for here, there in zip(climb.states, steps, strict=False):
            out = moves.setdefault(here, {})
            out[there] = out.get(there, 0) + 1
    return moves


def _absorb(
    chances: Mapping[K, Mapping[Target, float]], fixed: Callable[[Any], float]
) -> dict[K, float]:
    """The chance of ending won from each position (or state), given the chance of each
    move (one with no moves keeps its ``fixed`` value): the least solution of
    ``w(p) = sum of chance(p, q) * w(q)``, found by iterating from zero, latest first
    (the wins flow back from the ends, so that order converges in few sweeps)."""
    w: dict[K, float] = dict.fromkeys(chances, 0.0)
    order = list(reversed(list(chances.items())))
    for _ in range(10_000):
        change = 0.0
        for p, out in order:
            value = 0.0
            for (kind, q), chance in out.items():
                if kind == "end":
                    value += chance if q == "won" else 0.0
                else:
                    value += chance * (w[q] if q in w else fixed(q))
            change = max(change, abs(value - w[p]))
            w[p] = value
        if change < 1e-12:
            break
    return w


def _shares(moves: Mapping[K, Mapping[Target, int]]) -> dict[K, dict[Target, float]]:
    shares: dict[K, dict[Target, float]] = {}
    for p, out in moves.items():
        total = sum(out.values())
        shares[p] = {t: n / total for t, n in out.items()}
    return shares


def _drawn(moves: Mapping[K, Mapping[Target, int]], rng: Any) -> dict[K, dict[Target, float]]:
    """One draw of the move chances from their posterior (Dirichlet, Jeffreys prior)."""
    drawn: dict[K, dict[Target, float]] = {}
    for p, out in moves.items():
        weights = {t: rng.gammavariate(n + 0.5, 1.0) for t, n in out.items()}
        total = sum(weights.values())
        drawn[p] = {t: v / total for t, v in weights.items()}
    return drawn


def _interval(values: Sequence[float], confidence: float) -> tuple[float, float]:
    tail = (1 - confidence) / 2
    ranked = sorted(values)
    return ranked[int(tail * (len(ranked) - 1))], ranked[math.ceil((1 - tail) * (len(ranked) - 1))]


def _chances(
    climbs: Sequence[_Climb],
    positions: Iterable[str | None],
    states: Iterable[State],
    *,
    ladder: Ladder | None,
    method: Method,
    confidence: float,
    min_sample: int,
) -> tuple[dict[str | None, Chance], dict[State, Chance]]:
    """The chance at each position (and, for ``method="learned"``, at each of ``states``)."""
    import random

    declared: dict[str | None, float] = {}
    if ladder is not None:
        declared = {k: r.probability for k, r in ladder.rungs.items() if r.probability is not None}
    waits: dict[str | None, list[timedelta]] = {}
    for climb in climbs:
        if climb.ended_at is not None and climb.result == "won":
            for position, arrived in climb.arrived.items():
                waits.setdefault(position, []).append(climb.ended_at - arrived)
    moves = _moves(climbs) if method != "declared" else {}
    # every state a deal left is in the chain (a rare one downstream weighs little); a
    # deal standing in a state fewer than min_sample deals left takes its position's
    # chance; a position no deal left has no learned chance to refine
    state_moves = {
        s: out
        for s, out in (_state_moves(climbs) if method == "learned" else {}).items()
        if s[0] in moves
    }

    def at_position(values: Mapping[str | None, float]) -> Callable[[Any], float]:
        return lambda state: values.get(state[0], declared.get(state[0], 0.0))

    point = _absorb(_shares(moves), lambda p: declared.get(p, 0.0))
    state_point = _absorb(_shares(state_moves), at_position(point))
    draws: dict[str | None, list[float]] = {p: [] for p in moves}
    state_draws: dict[State, list[float]] = {s: [] for s in state_moves}
    rng = random.Random(0)  # the same store gives the same intervals
    state_rng = random.Random(1)  # apart: the positions' draws do not depend on the states
    for _ in range(DRAWS if moves else 0):
        drawn = _absorb(_drawn(moves, rng), lambda p: declared.get(p, 0.0))
        for p, value in drawn.items():
            draws[p].append(value)
        if state_moves:
            for s, value in _absorb(_drawn(state_moves, state_rng), at_position(drawn)).items():
                state_draws[s].append(value)
    found: dict[str | None, Chance] = {}
    for position in dict.fromkeys([*moves, *positions]):
        wait = waits.get(position)
        median = (
            timedelta(seconds=statistics.median(w.total_seconds() for w in wait)) if wait else None
        )
        if position in moves:
            low, high = _interval(draws[position], confidence)
            sample = sum(moves[position].values())
            found[position] = Chance(
                position, point[position], low, high, sample, "learned", median
            )
        elif position in declared:
            given = declared[position]
            found[position] = Chance(position, given, given, given, 0, "declared", median)
        else:
            found[position] = Chance(position, None, None, None, 0, "none", median)
    by_state: dict[State, Chance] = {}
    for state in dict.fromkeys(states) if method == "learned" else ():
        position, asks, status = state
        base = found[position]
        sample = sum(state_moves[state].values()) if state in state_moves else 0
        if sample >= min_sample:
            low, high = _interval(state_draws[state], confidence)
            by_state[state] = Chance(
                position, state_point[state], low, high, sample, "learned", base.time_to_win,
                asks, status,
            )  # fmt: skip
        else:
            pooled: Source = "pooled" if base.source == "learned" else base.source
            by_state[state] = Chance(
                position, base.probability, base.low, base.high, base.sample, pooled,
                base.time_to_win, asks, status,
            )  # fmt: skip
    return found, by_state


# ---- the forecast -------------------------------------------------------------------------


def forecast(
    source: EventLog | Tracker | str,
    *,
    ladder: Ladder | str | None = None,
    amounts: Amounts | None = None,
    method: Method = "learned",
    as_of: datetime | None = None,
    confidence: float = 0.95,
    min_sample: int = MIN_SAMPLE,
    prefix: str = "commitladder_",
) -> Forecast:
    """Forecast the open enrollments of ``ladder`` in ``source`` (a store, a tracker or a
    database URL, read-only) as of ``as_of`` (default: the last event in the store).

    ``ladder`` is a ``Ladder`` (its rungs' ``stage:`` and ``probability:`` are used) or
    a ladder name (then stages are the rung ids and only learned chances exist).
    ``method="learned"`` learns ``P(won | state)`` from the moves deals made by
    ``as_of``: the state is the position, the asks made since the last commitment (0, 1,
    2, 3 or more) and whether the deal is ready, has an ask open, or is parked; a state
    fewer than ``min_sample`` deals have left takes its position's chance
    (``source="pooled"``), and a position no deal has left its declared probability.
    ``"position"`` learns ``P(won | position)`` only (every deal at a rung alike);
    ``"declared"`` uses the rungs' ``probability:`` only. ``amounts`` maps a prospect to
    its deal amount (a mapping, or a callable returning ``None`` when unknown; see
    ``read_amounts`` for a CSV). ``confidence`` is the level of the learned intervals.
    """
    _check(method, confidence, min_sample)
    if as_of is not None and as_of.tzinfo is None:
        raise ValueError("as_of must be an aware datetime (say datetime(..., tzinfo=UTC))")
    compiled = None if ladder is None or isinstance(ladder, str) else ladder
    name = ladder if isinstance(ladder, str) else (compiled.name if compiled else None)
    found, logs = enrollment_logs(source, ladder=name, prefix=prefix)
    return _forecast(found, logs, compiled, amounts, method, as_of, confidence, min_sample)


def _check(method: str, confidence: float, min_sample: int) -> None:
    if method not in ("learned", "position", "declared"):
        raise ValueError(f"method must be 'learned', 'position' or 'declared', not {method!r}")
    if not 0 < confidence < 1:
        raise ValueError(f"confidence must be between 0 and 1, not {confidence!r}")
    if min_sample < 1:
        raise ValueError(f"min_sample must be 1 or more, not {min_sample!r}")


def _last_event(logs: Sequence[Sequence[Event]]) -> datetime:
    return max((log[-1].at for log in logs if log), default=datetime.now(UTC))


def _forecast(
    name: str,
    logs: Sequence[Sequence[Event]],
    ladder: Ladder | None,
    amounts: Amounts | None,
    method: Method,
    as_of: datetime | None,
    confidence: float,
    min_sample: int,
) -> Forecast:
    when = as_of if as_of is not None else _last_event(logs)
    climbs = [c for c in (_climb(log, when) for log in logs) if c is not None]
    open_ = [c for c in climbs if c.ended_at is None]
    chances, states = _chances(
        climbs,
        (c.position for c in open_),
        (c.state for c in open_),
        ladder=ladder,
        method=method,
        confidence=confidence,
        min_sample=min_sample,
    )
    amount_of = _amount_lookup(amounts)
    deals: list[DealForecast] = []
    missing = 0
    for climb in open_:
        chance = states[climb.state] if method == "learned" else chances[climb.position]
        amount = amount_of(climb.prospect)
        if amount is None:
            missing += 1
        p = chance.probability
        close = UNSCHEDULED
        if chance.time_to_win is not None:
            due = max(when, climb.arrived[climb.position] + chance.time_to_win)
            close = f"{due.year}-{due.month:02d}"
        deals.append(
            DealForecast(
                prospect=climb.prospect,
                enrollment_id=climb.enrollment_id,
                position=climb.position,
                asks=climb.state[1],
                status=climb.state[2],
                stage=_stage(ladder, climb.position),
                probability=p,
                low=chance.low,
                high=chance.high,
                source=chance.source,
                sample=chance.sample,
                amount=amount,
                expected=(p or 0.0) * (amount or 0.0),
                close_month=close,
            )
        )
    order = _stage_order(ladder, deals)
    by_stage = _sums(deals, lambda d: d.stage, order)
    months = sorted({d.close_month for d in deals} - {UNSCHEDULED})
    by_month = _sums(deals, lambda d: d.close_month, [*months, UNSCHEDULED])
    total = _sums(deals, lambda d: "total", ["total"])
    return Forecast(
        ladder=name,
        as_of=when,
        method=method,
        confidence=confidence,
        chances=tuple(
            sorted(chances.values(), key=lambda c: _order_key(order, _stage(ladder, c.position)))
        ),
        deals=tuple(deals),
        by_stage=by_stage,
        by_month=by_month,
        total=total[0] if total else ForecastRow("total", 0, 0.0, 0.0, 0.0, 0.0),
        missing_amounts=missing,
        states=tuple(
            sorted(
                states.values(),
                key=lambda c: (
                    _order_key(order, _stage(ladder, c.position)),
                    str(c.position),
                    c.asks,
                    STATUSES.index(c.status or "ready"),
                ),
            )
        ),
    )


def _order_key(order: Sequence[str], key: str) -> int:
    return order.index(key) if key in order else len(order)


def _stage(ladder: Ladder | None, position: str | None) -> str:
    if position is None:
        return NOT_STARTED
    if ladder is not None and position in ladder.rungs:
        return ladder.rungs[position].stage or position
    return position


def _stage_order(ladder: Ladder | None, deals: Sequence[DealForecast]) -> list[str]:
    """Stages in pipeline order: by declared probability, then as the ladder lists them."""
    listed = [NOT_STARTED]
    if ladder is not None:
        rungs = sorted(
            enumerate(ladder.rungs.values()),
            key=lambda ir: (ir[1].probability if ir[1].probability is not None else -1, ir[0]),
        )
        listed += [_stage(ladder, r.id) for _, r in rungs]
    listed += sorted({d.stage for d in deals})
    return list(dict.fromkeys(listed))


def _sums(
    deals: Sequence[DealForecast], key: Callable[[DealForecast], str], order: Sequence[str]
) -> tuple[ForecastRow, ...]:
    rows: dict[str, list[float]] = {}
    for deal in deals:
        row = rows.setdefault(key(deal), [0, 0.0, 0.0, 0.0, 0.0])
        amount = deal.amount or 0.0
        row[0] += 1
        row[1] += amount
        row[2] += deal.expected
        row[3] += (deal.low or 0.0) * amount
        row[4] += (deal.high or 0.0) * amount
    return tuple(
        ForecastRow(k, int(rows[k][0]), rows[k][1], rows[k][2], rows[k][3], rows[k][4])
        for k in sorted(rows, key=lambda k: _order_key(order, k))
    )


def _amount_lookup(amounts: Amounts | None) -> Callable[[str], float | None]:
    if amounts is None:
        return lambda prospect: None
    if isinstance(amounts, Mapping):
        table = amounts
        return lambda prospect: table.get(prospect)
    return amounts


def read_amounts(path: str | Path) -> dict[str, float]:
    """Deal amounts from a CSV file with the columns ``prospect`` and ``amount`` (a header
    row; other columns are ignored). A bad row is named by ``file:line``."""
    name = str(path)
    try:
        text = Path(path).read_text(encoding="utf-8-sig")
    except OSError as exc:
        raise LadderError(f"cannot read the amounts file {name}: {exc.strerror}") from exc
    reader = csv.DictReader(io.StringIO(text))
    header = [h.strip().lower() for h in reader.fieldnames or []]
    if "prospect" not in header or "amount" not in header:
        raise LadderError(
            f"{name}:1: the amounts CSV needs the columns prospect and amount (it has "
            f"{', '.join(header) or 'no header'})"
        )
    out: dict[str, float] = {}
    for row in reader:
        clean = {k.strip().lower(): (v or "").strip() for k, v in row.items() if k}
        raw = clean["amount"].replace(",", "").replace("_", "")
        try:
            value = float(raw)
        except ValueError:
            raise LadderError(
                f"{name}:{reader.line_num}: amount {clean['amount']!r} of "
                f"{clean['prospect']!r} is not a number"
            ) from None
        if not math.isfinite(value) or value < 0:
            raise LadderError(
                f"{name}:{reader.line_num}: amount {clean['amount']!r} must be 0 or more"
            )
        out[clean["prospect"]] = value
    return out


# ---- the backtest ------------------------------------------------------------------------------


def backtest(
    source: EventLog | Tracker | str,
    *,
    as_of: datetime,
    until: datetime | None = None,
    ladder: Ladder | str | None = None,
    amounts: Amounts | None = None,
    method: Method = "learned",
    confidence: float = 0.95,
    min_sample: int = MIN_SAMPLE,
    prefix: str = "commitladder_",
) -> Backtest:
    """How good the forecast would have been: forecast as of ``as_of`` from the history up
    to then, and compare each deal with what happened by ``until`` (default: the last
    event in the store). The options are ``forecast()``'s; compare ``method="learned"``
    with ``"position"`` to see what the deals' states tell."""
    _check(method, confidence, min_sample)
    if as_of.tzinfo is None or (until is not None and until.tzinfo is None):
        raise ValueError("as_of and until must be aware datetimes")
    compiled = None if ladder is None or isinstance(ladder, str) else ladder
    name = ladder if isinstance(ladder, str) else (compiled.name if compiled else None)
    found, logs = enrollment_logs(source, ladder=name, prefix=prefix)
    end = until if until is not None else _last_event(logs)
    if end <= as_of:
        raise ValueError(f"until ({end.isoformat()}) must come after as_of ({as_of.isoformat()})")
    past = _forecast(found, logs, compiled, amounts, method, as_of, confidence, min_sample)
    outcome = {}
    for log in logs:
        climb = _climb(log, end)
        if climb is not None:
            outcome[climb.enrollment_id] = climb.result if climb.ended_at is not None else None
    wins = 0
    revenue = 0.0
    still_open = 0
    squares: list[float] = []
    for deal in past.deals:
        result = outcome.get(deal.enrollment_id)
        won = result == "won"
        still_open += result is None
        wins += won
        revenue += (deal.amount or 0.0) if won else 0.0
        if deal.probability is not None:
            squares.append((deal.probability - won) ** 2)
    return Backtest(
        as_of=as_of,
        until=end,
        forecast=past,
        deals=len(past.deals),
        expected_wins=sum(d.probability or 0.0 for d in past.deals),
        actual_wins=wins,
        expected_revenue=past.total.expected,
        actual_revenue=revenue,
        still_open=still_open,
        brier=statistics.fmean(squares) if squares else None,
    )
