"""How good is the forecast? A store of simulated prospects whose true conversion rates are
known, a forecast as of a date halfway through, and its backtest against what closed.

    python benchmarks/forecast_backtest.py                  # 10,000 prospects, seed 1
    python benchmarks/forecast_backtest.py -n 2000 --seed 7

The ladder is a straight line, first -> second -> third -> won; each ask is answered after
one to five days, yes with the chance in TRUE_YES, else no, which ends the deal as lost.
Prospects enrol evenly over 120 days; the forecast is made as of day 60, from what was
known then, with amounts drawn from 1,000 to 50,000. Prints the learned P(won | position)
beside the truth, the forecast by stage and month, and the backtest's errors.
"""

from __future__ import annotations

import argparse
import random
import time
from datetime import UTC, datetime, timedelta

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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-n", "--prospects", type=int, default=10_000)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    began = time.perf_counter()
    tracker, amounts = simulate(args.prospects, args.seed)
    as_of = START + timedelta(days=60)
    result = cl.backtest(tracker, ladder=LADDER, amounts=amounts, as_of=as_of)
    found = result.forecast
    print(f"{args.prospects:,} simulated prospects (seed {args.seed}), as of {as_of:%Y-%m-%d}")
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
    print(f"done in {time.perf_counter() - began:.1f}s")


if __name__ == "__main__":
    main()
