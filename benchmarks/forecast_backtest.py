"""How good is the forecast? Two stores, each forecast as of a past date and backtested
against what closed, with the chances learned from the deals' states (``learned``) and
from their positions only (``position``).

    python benchmarks/forecast_backtest.py                  # both cases, seed 1
    python benchmarks/forecast_backtest.py -n 2000 --seed 7 --case known

``known``: simulated prospects whose true conversion rates are known. The ladder is a
straight line, first -> second -> third -> won; each ask is answered after one to five
days, yes with the chance in TRUE_YES, else no, which ends the deal as lost. Prospects
enrol evenly over 120 days; the forecast is made as of day 60, from what was known then,
with amounts drawn from 1,000 to 50,000. Prints the learned P(won | position) beside the
truth, the forecast by stage and month, and the backtest's errors.

``salesforce``: a realistic store. The Salesforce pipeline in
tests/pipelines/salesforce_opportunity_stages.csv imported as a ladder (``commitladder
import salesforce``: parking on a no, re-asks after the cooldown, ``max_asks: 3``), and
``commitladder simulate`` of 10,000 prospects over 180 days (seed 0) on it; the forecast
is made as of 2026-03-01, with amounts drawn from 1,000 to 50,000. There a deal asked for
the next rung two or three times already, or parked, is less likely to win than a fresh
one at the same rung, which the position-only chance does not see.
"""

from __future__ import annotations

import argparse
import random
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import commitladder as cl

LADDER = cl.Ladder.from_dict(
    {
        "ladder": "known",
        "start": "first",
        "defaults": {"channels": ["email"]},
        "rungs": {
            "first": {"kind": "call", "size": 1, "next": "second", "on_decline": "lost",
                      "stage": "Discovery", "probability": 0.1},
            "second": {"kind": "meeting", "size": 2, "next": "third", "on_decline": "lost",
                       "stage": "Demo", "probability": 0.4},
            "third": {"kind": "proposal", "size": 3, "next": "won", "on_decline": "lost",
                      "stage": "Proposal", "probability": 0.8},
        },
        "ends": {"won": {"result": "won", "probability": 1}, "lost": {"result": "lost"}},
    }
)  # fmt: skip
TRUE_YES = {"first": 0.7, "second": 0.6, "third": 0.5}
TRUE_WIN = {None: 0.7 * 0.6 * 0.5, "first": 0.6 * 0.5, "second": 0.5, "third": 1.0}
START = datetime(2026, 1, 5, 9, tzinfo=UTC)


def simulate(prospects: int, seed: int) -> tuple[cl.Tracker, dict[str, float]]:
    rng = random.Random(seed)
    tracker = cl.Tracker(store=cl.MemoryStore(), ladders=[LADDER])
    amounts: dict[str, float] = {}
    for i in range(prospects):
        who = f"deal-{i}"
        amounts[who] = float(rng.randrange(1_000, 50_001, 500))
        at = START + timedelta(days=120) * i / prospects
        tracker.enroll(who, ladder="known", now=at)
        for rung, chance in TRUE_YES.items():
            tracker.ask(who, rung, now=at)
            at += timedelta(hours=rng.randrange(24, 120))
            if rng.random() < chance:
                tracker.commit(who, now=at)
            else:
                tracker.decline(who, now=at)
                break
    return tracker, amounts


def errors(label: str, result: cl.Backtest) -> str:
    assert result.count_error is not None
    assert result.revenue_error is not None
    assert result.brier is not None
    return (
        f"  {label:<9} wins expected {result.expected_wins:>8,.1f}, actual "
        f"{result.actual_wins:>6,} ({result.count_error:+6.1%}); revenue expected "
        f"{result.expected_revenue:>12,.0f}, won {result.actual_revenue:>12,.0f} "
        f"({result.revenue_error:+6.1%}); Brier {result.brier:.3f}"
    )


def known(prospects: int, seed: int) -> None:
    began = time.perf_counter()
    tracker, amounts = simulate(prospects, seed)
    as_of = START + timedelta(days=60)
    result = cl.backtest(tracker, ladder=LADDER, amounts=amounts, as_of=as_of)
    before = cl.backtest(tracker, ladder=LADDER, amounts=amounts, as_of=as_of, method="position")
    found = result.forecast
    print(f"known: {prospects:,} simulated prospects (seed {seed}), as of {as_of:%Y-%m-%d}")
    print("\nP(won | position), learned with 95% intervals, against the truth")
    print(f"  {'position':<10} {'learned':>8} {'low':>6} {'high':>6} {'sample':>7} {'truth':>6}")
    for c in found.chances:
        assert c.probability is not None
        assert c.low is not None
        assert c.high is not None
        print(
            f"  {c.position or '(start)':<10} {c.probability:>8.3f} {c.low:>6.3f} {c.high:>6.3f} "
            f"{c.sample:>7,} {TRUE_WIN[c.position]:>6.3f}"
        )
    for title, rows in (("stage", found.by_stage), ("close month", found.by_month)):
        print(f"\nForecast by {title}")
        print(
            f"  {title:<20} {'deals':>6} {'amount':>12} {'expected':>12} {'low':>12} {'high':>12}"
        )
        for r in (*rows, found.total):
            print(
                f"  {r.key:<20} {r.deals:>6,} {r.amount:>12,.0f} {r.expected:>12,.0f} "
                f"{r.low:>12,.0f} {r.high:>12,.0f}"
            )
    true_revenue = sum(TRUE_WIN[d.position] * (d.amount or 0) for d in found.deals)
    print(
        f"\nBacktest to {result.until:%Y-%m-%d}: {result.deals:,} open deals; wins expected "
        f"{result.expected_wins:,.1f}, actual {result.actual_wins:,} "
        f"(error {result.count_error:+.1%}); revenue expected {result.expected_revenue:,.0f}, "
        f"won {result.actual_revenue:,.0f} (error {result.revenue_error:+.1%}); "
        f"Brier {result.brier:.3f}; still open {result.still_open}"
    )
    against = (result.expected_revenue - true_revenue) / true_revenue
    print(
        f"the truth's expected revenue for those deals: {true_revenue:,.0f} "
        f"(forecast error against it {against:+.1%})"
    )
    print(errors("position", before))
    print(errors("learned", result))
    print(f"done in {time.perf_counter() - began:.1f}s")


SALESFORCE = Path(__file__).parent.parent / "tests/pipelines/salesforce_opportunity_stages.csv"


def salesforce(prospects: int, seed: int) -> None:
    from commitladder._clock import SteppableClock
    from commitladder._simulate import START as SIM_START
    from commitladder._simulate import simulate as run

    began = time.perf_counter()
    ladder = cl.Ladder.from_yaml(cl.import_pipeline("salesforce", SALESFORCE.read_text()))
    clock = SteppableClock(SIM_START)
    tracker = cl.Tracker(store=cl.MemoryStore(), clock=clock, ladders=[ladder])
    run(ladder, tracker, clock, prospects=prospects, seed=seed, days=180)
    rng = random.Random(seed)
    amounts = {
        log[0]["data"]["prospect"]: float(rng.randrange(1_000, 50_001, 500))
        for log in tracker.store.event_log()  # type: ignore[attr-defined]
    }
    as_of = datetime(2026, 3, 1, tzinfo=UTC)
    simulated = time.perf_counter() - began
    results = {
        method: cl.backtest(tracker, ladder=ladder, amounts=amounts, as_of=as_of, method=method)
        for method in ("position", "learned")
    }
    result = results["learned"]
    print(
        f"\nsalesforce: {prospects:,} prospects simulated over 180 days (seed {seed}) on the "
        f"imported Salesforce ladder, as of {as_of:%Y-%m-%d}"
    )
    print("\nP(won | state) of the open deals' states, learned, against what they did")
    print(
        f"  {'position':<18} {'asks':>4} {'status':<8} {'deals':>6} {'won':>6} {'learned':>8} "
        f"{'position':>8} {'sample':>7} {'source':<8}"
    )
    won = {
        log[0]["data"]["prospect"]
        for log in tracker.store.event_log()  # type: ignore[attr-defined]
        if log[-1]["type"] == "Ended" and log[-1]["data"]["result"] == "won"
    }
    found = result.forecast
    for c in found.states:
        deals = [
            d
            for d in found.deals
            if (d.position, d.asks, d.status) == (c.position, c.asks, c.status)
        ]
        share = sum(d.prospect in won for d in deals) / len(deals)
        alone = found.chance(c.position).probability
        assert c.probability is not None
        assert alone is not None
        print(
            f"  {c.position or '(start)':<18} {c.asks:>4} {c.status:<8} {len(deals):>6,} "
            f"{share:>6.1%} {c.probability:>8.1%} {alone:>8.1%} {c.sample:>7,} {c.source:<8}"
        )
    print(
        f"\nBacktest to {result.until:%Y-%m-%d}: {result.deals:,} open deals, "
        f"{result.still_open:,} still open then"
    )
    for method, tested in results.items():
        print(errors(method, tested))
    print(f"done in {time.perf_counter() - began:.1f}s (the simulation {simulated:.1f}s)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-n", "--prospects", type=int, default=10_000)
    parser.add_argument("--seed", type=int, default=1, help="of the known-truth store")
    parser.add_argument("--case", choices=["known", "salesforce", "both"], default="both")
    args = parser.parse_args()
    if args.case in ("known", "both"):
        known(args.prospects, args.seed)
    if args.case in ("salesforce", "both"):
        salesforce(args.prospects, 0)


if __name__ == "__main__":
    main()
