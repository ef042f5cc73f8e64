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


# ---- a store where a re-asked deal is known to convert less ----------------------------

REASKS = """\
ladder: reasks
start: first
defaults: {channels: [email], cooldown: 1d, max_asks: 3}
rungs:
  first: {kind: call, size: 1, next: second, stage: Discovery, probability: 0.5}
  second: {kind: proposal, size: 2, next: won, stage: Proposal, probability: 0.8}
ends:
  won: {result: won, stage: Closed Won, probability: 1}
  lost: {result: lost, stage: Closed Lost, probability: 0}
"""
REASK_LADDER = cl.Ladder.from_yaml(REASKS)
#: the chance of a yes to the first, second and third ask of a rung: a no parks the deal,
#: the seller resumes and asks again; after the third no the deal ends lost
YES_BY_ASK = (0.6, 0.35, 0.15)
RUNGS_AHEAD = {None: 2, "first": 1}


def _commits(asks: int, pending: bool) -> float:
    """The chance of a yes to the rung after ``asks`` asks (the last still open when
    ``pending``, else answered no)."""
    miss = 1.0
    for number, chance in enumerate(YES_BY_ASK, start=1):
        if number > asks or (pending and number == asks):
            miss *= 1 - chance
    return 1 - miss


def true_state_win(position: str | None, asks: int, status: str) -> float:
    """P(won | state) on the re-ask ladder: a yes to the rung asked, then to each ahead."""
    fresh = _commits(0, pending=False)
    return _commits(asks, pending=status == "pending") * fresh ** (RUNGS_AHEAD[position] - 1)


def reasked(
    prospects: int, seed: int, start: datetime, *, spread: timedelta = timedelta(days=120)
) -> tuple[cl.Tracker, dict[str, float]]:
    """A tracker on a MemoryStore after ``prospects`` climbed the re-ask ladder (enrolled
    evenly over ``spread``; each answer after one to five days, each resume two to four
    days after a no), and each prospect's deal amount (100 to 10,000)."""
    rng = random.Random(seed)
    tracker = cl.Tracker(store=cl.MemoryStore(), ladders=[REASK_LADDER])
    amounts: dict[str, float] = {}
    for i in range(prospects):
        who = f"r{seed}-{i}"
        amounts[who] = float(rng.randrange(100, 10_001, 100))
        at = start + spread * i / prospects
        tracker.enroll(who, ladder="reasks", now=at)
        lost = False
        for rung in ("first", "second"):
            for number, chance in enumerate(YES_BY_ASK, start=1):
                if number > 1:
                    at += timedelta(hours=rng.randrange(48, 96))
                    tracker.resume(who, now=at)
                tracker.ask(who, rung, now=at)
                at += timedelta(hours=rng.randrange(24, 120))
                if rng.random() < chance:
                    tracker.commit(who, now=at)
                    break
                if number < len(YES_BY_ASK):
                    tracker.decline(who, now=at)
                else:
                    tracker.end(who, "lost", reason="no to the third ask", now=at)
                    lost = True
            if lost:
                break
    return tracker, amounts
