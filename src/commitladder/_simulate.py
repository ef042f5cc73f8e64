"""Simulation: a seeded population of made-up prospects climbs a ladder through a real tracker.

Every command goes through ``Tracker`` on the store it is given (the guards, the
store's one-open-ask rule and its timers all apply), on a ``SteppableClock`` that
jumps from one scheduled moment to the next: a reply, a follow-up, a resume, or
due timers (expiries). Prospects answer with the chances of the ladder's
``simulation:`` section (or ``DEFAULT_ANSWER``). The same ladder, seed and
settings give the same history, event for event, so a ladder and a seed name one
run: a second run of them into a store that holds the first is refused, never
mixed into it. It must never read the wall clock or a global random generator.
"""

from __future__ import annotations

import heapq
import random
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Literal, assert_never

from ._calendar import after
from ._clock import SteppableClock
from ._errors import AskLimitReached, InCooldown, LadderError, Refused
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
)
from .commands import AskFor, Command, Commit, Decline, End, FollowUp, Resume

if TYPE_CHECKING:
    from ._definition import SimulatedAnswer
    from ._ladder import Ladder
    from ._tracker import Tracker

__all__ = [
    "DEFAULT_ANSWER",
    "Answer",
    "SimulationReport",
    "answers",
    "prospect_name",
    "simulate",
]

#: When the simulation starts unless told otherwise (a Monday, 09:00 UTC).
START = datetime(2026, 1, 5, 9, tzinfo=UTC)
#: Due timers run on this grid of simulated time, when an ask expires in that slot: an
#: expiry happens at most this late, and alerts ride along with the expiries.
TIMER_TICK = timedelta(hours=4)


@dataclass(frozen=True, slots=True)
class Answer:
    """How prospects answer an ask for one rung."""

    commit: float
    decline: float
    reply_after: timedelta
    outcomes: Mapping[str, float] | None = None


#: Used for every setting the ladder's ``simulation:`` section leaves out.
DEFAULT_ANSWER = Answer(commit=0.6, decline=0.2, reply_after=timedelta(days=2))


def answers(ladder: Ladder) -> dict[str, Answer]:
    """Each rung's answer: its own ``simulation.rungs`` entry, else ``simulation.defaults``,
    else ``DEFAULT_ANSWER``. Outcomes not given a weight are never answered; without any
    weights every outcome is as likely."""
    section = ladder.definition.simulation
    found = {}
    for rung_id, rung in ladder.rungs.items():
        layers: list[SimulatedAnswer | None] = (
            [] if section is None else [section.rungs.get(rung_id), section.defaults]
        )

        def pick(
            name: str, default: object, _layers: list[SimulatedAnswer | None] = layers
        ) -> object:
            for layer in _layers:
                value = getattr(layer, name, None) if layer is not None else None
                if value is not None:
                    return value
            return default

        weights = pick("outcomes", None)
        if rung.outcomes is not None and weights is None:
            weights = dict.fromkeys(rung.outcomes, 1.0)
        found[rung_id] = Answer(
            commit=float(pick("commit", DEFAULT_ANSWER.commit)),  # type: ignore[arg-type]
            decline=float(pick("decline", DEFAULT_ANSWER.decline)),  # type: ignore[arg-type]
            reply_after=pick("reply_after", DEFAULT_ANSWER.reply_after),  # type: ignore[arg-type]
            outcomes=weights if rung.outcomes is not None else None,  # type: ignore[arg-type]
        )
    return found


@dataclass(slots=True)
class SimulationReport:
    """What a simulation did: counts of prospects and commands, and the simulated span."""

    ladder: str
    prospects: int
    seed: int
    started: datetime
    finished: datetime
    commands: int = 0
    refused: int = 0
    timers: int = 0
    results: dict[str, int] = field(default_factory=dict)


Action = Literal["enroll", "ask", "reply", "follow_up", "resume"]


@dataclass(slots=True)
class _Prospect:
    """What the simulation knows of one prospect, kept up to date from the tracker's events."""

    id: str
    enrollment: str
    seq: int = 0
    status: str = "new"
    position: str | None = None
    outcome: str | None = None
    redirect: str | None = None
    rung: str | None = None  # of the open (or last) ask
    touches: int = 0


class _Run:
    def __init__(
        self,
        ladder: Ladder,
        tracker: Tracker,
        clock: SteppableClock,
        rng: random.Random,
        report: SimulationReport,
    ) -> None:
        self.ladder = ladder
        self.tracker = tracker
        self.clock = clock
        self.rng = rng
        self.report = report
        self.answers = answers(ladder)
        self.queue: list[tuple[datetime, int, str, Action, int]] = []
        self.counter = 0
        self.people: dict[str, _Prospect] = {}
        self.start = clock.now()
        self.ticks: set[datetime] = set()  # when timers are due to run
        self.touched: list[_Prospect] = []
        lost = [e.id for e in ladder.ends.values() if e.result == "lost"]
        self.give_up = lost[0] if lost else None

    # -- the schedule ---------------------------------------------------------------------

    def at(self, when: datetime, who: _Prospect, action: Action) -> None:
        """Do ``action`` at ``when``, unless something happens to the prospect before then."""
        self.counter += 1
        heapq.heappush(self.queue, (when, self.counter, who.enrollment, action, who.seq))

    def hear(self, event: Event) -> None:
        """Tracker listener: follow each stored event of a simulated prospect."""
        who = self.people.get(event.enrollment_id)
        if who is None:
            return
        who.seq = event.seq
        match event:
            case AskIssued():
                who.status, who.rung, who.touches = "pending", event.rung, 0
                if event.expires_at is not None:
                    slots = -(-(event.expires_at - self.start) // TIMER_TICK)  # round up
                    self.ticks.add(self.start + slots * TIMER_TICK)
            case Committed():
                who.status, who.position, who.outcome = "ready", event.rung, event.outcome
                who.redirect = None
            case Declined() | AskExpired():
                who.status = "ready"
                who.redirect = event.then if event.then in self.ladder.rungs else None
            case Parked():
                who.status = "parked"
            case Resumed() | Enrolled():
                who.status = "ready"
            case Ended():
                who.status = "ended"
                self.report.results[event.end] = self.report.results.get(event.end, 0) + 1
            case FollowedUp():
                who.touches = event.number
            case AskWithdrawn() | LateCommitment() | Rekeyed() | Migrated():
                pass  # the simulation never withdraws, nor answers late
            case _:
                assert_never(event)
        if who not in self.touched:
            self.touched.append(who)

    def plan(self) -> None:
        """Schedule the seller's next move for every prospect whose state just changed."""
        now = self.clock.now()
        touched, self.touched = self.touched, []
        for who in touched:
            if who.status == "ready":
                # a seller follows a yes (or a redirect) up within a working day
                self.at(now + timedelta(hours=self.rng.uniform(1, 24)), who, "ask")
            elif who.status == "parked":
                rung = self.ladder.rungs[who.rung] if who.rung else None
                wait = rung.cooldown if rung and rung.cooldown else timedelta(days=3)
                back = after(now, wait, self.ladder.calendar)
                # the seller gets the prospect what they need, then resumes
                self.at(back + timedelta(hours=self.rng.uniform(0, 48)), who, "resume")

    # -- the moves ------------------------------------------------------------------------

    def run(self, action: Action, who: _Prospect) -> None:
        now = self.clock.now()
        self.report.commands += 1
        if action == "enroll":
            self.tracker.enroll(who.id, ladder=self.ladder.name, now=now)
        elif action == "ask":
            self.ask(who, now)
        elif action == "resume":
            self.do(who, Resume(), now)
        elif action == "follow_up":
            self.do(who, FollowUp(), now)
            self.respond(who, now, keen=0.5)
        else:
            self.reply(who, now)

    def do(self, who: _Prospect, command: Command, now: datetime) -> None:
        self.tracker.execute(command, prospect=who.id, ladder=self.ladder.name, now=now)

    def ask(self, who: _Prospect, now: datetime) -> None:
        ladder = self.ladder
        if who.redirect is not None:
            choices = [who.redirect]
        else:
            choices = list(ladder.next_rungs(who.position, who.outcome))
            self.rng.shuffle(choices)
        retry: list[datetime] = []
        for rung_id in choices:
            rung = ladder.rungs[rung_id]
            channel = self.rng.choice(rung.channels) if rung.channels else None
            try:
                self.do(who, AskFor(rung_id, channel), now)
            except (InCooldown, AskLimitReached) as refusal:
                self.report.refused += 1
                if refusal.retry_after is not None:
                    retry.append(refusal.retry_after)
                continue
            self.respond(who, now, keen=1.0)
            return
        if retry:
            self.at(min(retry), who, "ask")
            return
        end = self.give_up if choices else self._end_reached(who)
        if end is not None:
            self.do(who, End(end, reason="nothing to ask"), now)

    def _end_reached(self, who: _Prospect) -> str | None:
        """The end a seller picks when a commitment leads only to ends (``next: [won, lost]``)."""
        assert who.position is not None
        rung = self.ladder.rungs[who.position]
        targets = [t for t in rung.targets if t in self.ladder.ends]
        won = [t for t in targets if self.ladder.ends[t].result == "won"]
        return (won or targets)[0] if targets else None

    def respond(self, who: _Prospect, now: datetime, *, keen: float) -> None:
        """Decide now whether (and when) the prospect replies to the open ask."""
        assert who.rung is not None
        rung, answer = self.ladder.rungs[who.rung], self.answers[who.rung]
        replies = self.rng.random() < (answer.commit + answer.decline) * keen
        delay = timedelta(seconds=self.rng.expovariate(1) * answer.reply_after.total_seconds())
        calendar = self.ladder.calendar
        span = rung.expires_after
        deadline = after(now, span, calendar) if span is not None else None
        sent, nudged = now, None
        if calendar is not None and calendar.windows:
            # the prospect reads the message when it goes out, and the seller follows up
            # when the tracker says (both wait for the send window)
            e = self.tracker.get(who.id, ladder=self.ladder.name)
            sent = e.sends_at()
            nudged = next((t.due_at for t in e.timers if t.kind == "follow_up"), None)
        if replies and (deadline is None or sent + delay < deadline):
            self.at(sent + delay, who, "reply")
        elif rung.follow_ups_every is not None and who.touches < rung.follow_ups_max:
            nudge = rung.follow_ups_every
            last = now
            for _ in range(who.touches + 1):
                last = after(last, nudge, calendar)
            follow_at = nudged or after(now, nudge, calendar)
            if deadline is None or max(last, follow_at) < deadline:
                self.at(follow_at, who, "follow_up")

    def reply(self, who: _Prospect, now: datetime) -> None:
        assert who.rung is not None
        rung, answer = self.ladder.rungs[who.rung], self.answers[who.rung]
        total = answer.commit + answer.decline
        if total > 0 and self.rng.random() < answer.commit / total:
            outcome = None
            if answer.outcomes is not None:
                names = [o for o, w in answer.outcomes.items() if w > 0]
                weights = [answer.outcomes[o] for o in names]
                outcome = self.rng.choices(names, weights)[0]
            facts = dict.fromkeys(sorted(rung.requires), "simulated") or None
            self.do(who, Commit(outcome, facts), now)
        else:
            self.do(who, Decline(needs="more information"), now)


def prospect_name(ladder: str, seed: int, n: int) -> str:
    """The ``n``-th (from 1) made-up prospect of the run on ``ladder`` with ``seed``.

    ``<ladder>-sim<seed>-<n>``. It does not depend on how many prospects the run has, so
    the first prospect of every run of a ladder and seed has the same name, whatever its
    size; and it names the ladder, so runs of two ladders in one store never share a
    prospect (they would share the prospect's one open ask, and change each other).
    """
    return f"{ladder}-sim{seed}-{n}"


def simulate(
    ladder: Ladder,
    tracker: Tracker,
    clock: SteppableClock,
    *,
    prospects: int,
    seed: int,
    days: int,
    progress: Callable[[float], None] | None = None,
) -> SimulationReport:
    """Run ``prospects`` made-up prospects up ``ladder`` for ``days`` simulated days.

    ``tracker`` must use ``clock`` and have ``ladder`` registered; prospects enrol over
    the first half of the period. ``progress`` is called with the share of the
    simulated time done so far (0 to 1). Prospects are named
    ``<ladder>-sim<seed>-<n>`` (``prospect_name``).

    Raises ``LadderError``, before enrolling anyone, when the tracker's store already
    holds a run of ``ladder`` with ``seed``: the same seed again would enrol the same
    prospects a second time and mix the two runs.
    """
    if prospects < 1 or days < 1:
        raise ValueError("a simulation needs at least one prospect and one day")
    first = prospect_name(ladder.name, seed, 1)
    if tracker.store.find(first):
        raise LadderError(
            f"the store already holds a simulation of {ladder.name} with seed {seed} (its "
            f"first prospect, {first}, is enrolled); a ladder and a seed name one run, and a "
            "second run would mix with the first: choose another seed, or another database"
        )
    start = clock.now()
    finish = start + timedelta(days=days)
    report = SimulationReport(ladder.name, prospects, seed, start, start)
    rng = random.Random(seed)
    sim = _Run(ladder, tracker, clock, rng, report)
    tracker.add_listener(sim.hear)
    arrivals = sorted(rng.uniform(0, days / 2) for _ in range(prospects))
    for n, day in enumerate(arrivals, start=1):
        name = prospect_name(ladder.name, seed, n)
        who = _Prospect(name, f"{ladder.name}/{name}")
        sim.people[who.enrollment] = who
        sim.at(start + timedelta(days=day), who, "enroll")
    while sim.queue and sim.queue[0][0] <= finish:
        when, _, pid, action, seq = heapq.heappop(sim.queue)
        due = sorted(t for t in sim.ticks if t <= when)
        for tick in due:  # timers first: an expiry due before this move happens first
            sim.ticks.discard(tick)
            clock.set(max(tick, clock.now()))
            report.timers += _run_timers(tracker)
            sim.plan()
        who = sim.people[pid]
        if seq != who.seq or who.status == "ended":
            continue  # overtaken: the ask expired, or the deal moved on meanwhile
        clock.set(max(when, clock.now()))
        try:
            sim.run(action, who)
        except Refused:
            report.refused += 1
        sim.plan()
        if progress is not None:
            progress((when - start) / (finish - start))
    if clock.now() < finish:
        clock.set(finish)
    report.timers += _run_timers(tracker)
    report.finished = clock.now()
    if progress is not None:
        progress(1.0)
    return report


def _run_timers(tracker: Tracker) -> int:
    """Run every due timer (``run_due`` drains); returns how many fired."""
    return int(tracker.run_due())
