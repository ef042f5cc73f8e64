"""A store whose true conversion rates are known: the forecast's tests (and the figures in
the docs) learn from it and check what they learn against the truth.

The ladder is a straight line, ``first -> second -> third -> won``; each ask is answered
after one to five days, yes with the rung's chance in ``TRUE_YES``, else no, which ends the
deal as lost. So the chance of a win from each position is a product of those chances.
"""

from __future__ import annotations

import random
from datetime import datetime, timedelta

import commitladder as cl

KNOWN = """\
ladder: known
start: first
defaults: {channels: [email]}
rungs:
  first: {kind: call, size: 1, next: second, on_decline: lost, stage: Discovery, probability: 0.1}
  second: {kind: meeting, size: 2, next: third, on_decline: lost, stage: Demo, probability: 0.4}
  third: {kind: proposal, size: 3, next: won, on_decline: lost, stage: Proposal, probability: 0.8}
ends:
  won: {result: won, stage: Closed Won, probability: 1}
  lost: {result: lost, stage: Closed Lost, probability: 0}
"""
LADDER = cl.Ladder.from_yaml(KNOWN)
TRUE_YES = {"first": 0.7, "second": 0.6, "third": 0.5}
#: P(won | position): the product of the yes chances still ahead
TRUE_WIN = {
    None: 0.7 * 0.6 * 0.5,
    "first": 0.6 * 0.5,
    "second": 0.5,
}
ORDER = ["first", "second", "third"]


def simulated(
    prospects: int, seed: int, start: datetime, *, spread: timedelta = timedelta(days=60)
) -> tuple[cl.Tracker, dict[str, float]]:
    """A tracker on a MemoryStore after ``prospects`` climbed (enrolled evenly over
    ``spread``), and each prospect's deal amount (100 to 10,000)."""
    rng = random.Random(seed)
    tracker = cl.Tracker(store=cl.MemoryStore(), ladders=[LADDER])
    amounts: dict[str, float] = {}
    for i in range(prospects):
        who = f"p{seed}-{i}"
        amounts[who] = float(rng.randrange(100, 10_001, 100))
        at = start + spread * i / prospects
        tracker.enroll(who, ladder="known", now=at)
        for rung in ORDER:
            tracker.ask(who, rung, now=at)
            at += timedelta(hours=rng.randrange(24, 120))
            if rng.random() < TRUE_YES[rung]:
                tracker.commit(who, now=at)
            else:
                tracker.decline(who, now=at)
                break
    return tracker, amounts
