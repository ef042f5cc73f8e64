"""Property testing of sales-process rules, with hypothesis (needs the ``testing`` extra).

``ladders()`` generates valid random ladders, ``commands(ladder)`` random command
sequences (valid and invalid, time jumps included), and ``LadderMachine.for_ladder``
a ready ``RuleBasedStateMachine`` that, after every step, checks the built-in
invariants, the ladder's own ``rules:`` and the invariants you write with
``@invariant``. A broken rule raises ``RuleBroken``, whose text is the shrunk
command sequence told as a numbered sales story. ``prove`` runs it all for one
ladder and returns a ``Verdict`` (the command line and the pytest plugin use it).

The checks read the enrollment's history through an independent reference model
(``_Referee``), never the enrollment's own guards: a guard that lets a bad ask
through is caught by what the history shows. This is the only module of
commitladder that imports hypothesis.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from functools import partial
from typing import Any, ClassVar, assert_never, overload

from hypothesis import HealthCheck, Verbosity, example, given, settings, target
from hypothesis import seed as fixed_seed
from hypothesis import strategies as st
from hypothesis.errors import InvalidArgument
from hypothesis.stateful import RuleBasedStateMachine, initialize, rule
from hypothesis.stateful import invariant as _hypothesis_invariant
from hypothesis.strategies import SearchStrategy

from . import commands as do
from ._calendar import BusinessDays, after
from ._enrollment import Enrollment
from ._errors import EnrollmentEnded, Refused
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
from ._ladder import Ladder
from ._values import PARK

__all__ = [
    "DEFAULT_EXAMPLES",
    "DEFAULT_STEPS",
    "Ask",
    "Command",
    "Commit",
    "Decline",
    "End",
    "Expire",
    "FollowUp",
    "Invariant",
    "LadderMachine",
    "LateYes",
    "Proceed",
    "Resume",
    "RuleBroken",
    "Trial",
    "Verdict",
    "Wait",
    "Withdraw",
    "channels",
    "command",
    "commands",
    "invariant",
    "ladders",
    "prove",
    "run_commands",
    "waits",
]

DEFAULT_EXAMPLES = 200
"""Examples (command sequences) per ladder in a default run."""
DEFAULT_STEPS = 40
"""Commands per example, at most."""
#: When every generated enrollment starts.
EPOCH = datetime(2026, 1, 5, 9, tzinfo=UTC)
#: A channel no ladder allows, so that channel guards get exercised.
BOGUS_CHANNEL = "carrier_pigeon"
_FACT_VALUE = "example"


# ---- commands -------------------------------------------------------------------------------


class Command:
    """One thing a seller (or time) does to an enrollment in a generated sequence: a move.

    ``resolve`` turns a relative move ("ask for one of the askable rungs") into a
    concrete one for the enrollment as it stands; ``command`` is the value of
    ``commitladder.commands`` it runs (``None`` for ``Wait``); ``apply`` runs it and
    returns the events it recorded (or raises the ``Refused`` it met). Moves are plain
    frozen dataclasses, so they print and shrink.
    """

    def resolve(self, trial: Trial) -> Command:
        return self

    def command(self, trial: Trial) -> do.Command | None:
        raise NotImplementedError

    def apply(self, trial: Trial) -> tuple[Event, ...]:
        command = self.command(trial)
        if command is None:
            return ()
        return trial.enrollment.execute(command, now=trial.now)

    def attempt(self, trial: Trial) -> str:
        """What was tried, for the story of a refused command."""
        return type(self).__name__.lower()


@dataclass(frozen=True, slots=True)
class Ask(Command):
    """Ask for ``rung`` over ``channel``; with ``rung=None`` pick the ``pick``-th askable rung."""

    rung: str | None = None
    channel: str | None = None
    pick: int = 0

    def resolve(self, trial: Trial) -> Command:
        if self.rung is not None:
            return self
        e = trial.enrollment
        options = e.askable(now=trial.now) or list(e.next_steps) or list(e.ladder.rungs)
        return Ask(options[self.pick % len(options)], self.channel)

    def command(self, trial: Trial) -> do.Command:
        assert self.rung is not None  # resolved
        return do.AskFor(self.rung, self.channel)

    def attempt(self, trial: Trial) -> str:
        by = f" by {self.channel}" if self.channel else ""
        return f"Tried to ask for {self.rung}{by}"


@dataclass(frozen=True, slots=True)
class FollowUp(Command):
    """Follow up the open ask; with ``wait`` first let time run to when a follow-up is due."""

    channel: str | None = None
    wait: bool = True

    def command(self, trial: Trial) -> do.Command:
        if self.wait:
            due = [t.due_at for t in trial.enrollment.timers if t.kind == "follow_up"]
            if due:
                trial.advance_to(due[0])
        return do.FollowUp(self.channel)

    def attempt(self, trial: Trial) -> str:
        return "Tried to follow up" + (f" by {self.channel}" if self.channel else "")


@dataclass(frozen=True, slots=True)
class Commit(Command):
    """The prospect says yes. With ``pick`` set, the outcome and the required facts are
    chosen to fit the open ask (outcome number ``pick``); else ``outcome``/``facts`` go as is."""

    outcome: str | None = None
    facts: tuple[str, ...] = ()
    pick: int | None = 0
    bare: bool = False  # with ``pick``: the fitting outcome, but none of the required facts

    def resolve(self, trial: Trial) -> Command:
        if self.pick is None:
            return self
        e = trial.enrollment
        ask = e.pending or e.expired_ask
        if ask is None:
            return Commit(pick=None)
        rung = e.ladder.rungs[ask.rung]
        outcome = None
        if rung.outcomes is not None:
            choices = list(rung.outcomes)
            outcome = choices[self.pick % len(choices)]
        facts = () if self.bare else tuple(sorted(rung.requires))
        return Commit(outcome, facts, pick=None)

    def command(self, trial: Trial) -> do.Command:
        return do.Commit(self.outcome, dict.fromkeys(self.facts, _FACT_VALUE) or None)

    def attempt(self, trial: Trial) -> str:
        parts = [f"outcome {self.outcome}"] if self.outcome else []
        if self.facts:
            parts.append("facts " + ", ".join(self.facts))
        return "Tried to record a yes" + (f" ({'; '.join(parts)})" if parts else "")


@dataclass(frozen=True, slots=True)
class LateYes(Command):
    """The prospect says yes to an earlier ask (``ask_id=``): the ``pick``-th one asked, or,
    with ``seq``, the event of that number (which may not be an ask at all)."""

    pick: int = 0
    seq: int | None = None

    def resolve(self, trial: Trial) -> Command:
        if self.seq is not None:
            return self
        asked = trial.asked or [1]
        return LateYes(seq=asked[self.pick % len(asked)])

    def command(self, trial: Trial) -> do.Command:
        return do.Commit(ask_id=f"{trial.enrollment.id}#{self.seq}")

    def attempt(self, trial: Trial) -> str:
        return f"Tried to record a yes to ask #{self.seq}"


@dataclass(frozen=True, slots=True)
class Decline(Command):
    """The prospect says no (perhaps naming what they need, perhaps with a resume date)."""

    needs: str | None = None
    resume_in: timedelta | None = None

    def command(self, trial: Trial) -> do.Command:
        resume_at = trial.now + self.resume_in if self.resume_in is not None else None
        return do.Decline(self.needs, resume_at)

    def attempt(self, trial: Trial) -> str:
        return "Tried to record a no"


@dataclass(frozen=True, slots=True)
class Expire(Command):
    """Expire the open ask; with ``wait`` first let time run to its ``expires_at``."""

    wait: bool = True

    def command(self, trial: Trial) -> do.Command:
        pending = trial.enrollment.pending
        if self.wait and pending is not None and pending.expires_at is not None:
            trial.advance_to(pending.expires_at)
        return do.Expire()

    def attempt(self, trial: Trial) -> str:
        return "Tried to expire the open ask"


@dataclass(frozen=True, slots=True)
class Withdraw(Command):
    """The seller takes the open ask back."""

    def command(self, trial: Trial) -> do.Command:
        return do.Withdraw()

    def attempt(self, trial: Trial) -> str:
        return "Tried to withdraw the open ask"


@dataclass(frozen=True, slots=True)
class Resume(Command):
    """Take a parked deal out of neutral."""

    def command(self, trial: Trial) -> do.Command:
        return do.Resume()

    def attempt(self, trial: Trial) -> str:
        return "Tried to resume the deal"


@dataclass(frozen=True, slots=True)
class End(Command):
    """End the enrollment at ``end`` by hand."""

    end: str

    def command(self, trial: Trial) -> do.Command:
        return do.End(self.end)

    def attempt(self, trial: Trial) -> str:
        return f"Tried to end the enrollment at {self.end}"


@dataclass(frozen=True, slots=True)
class Wait(Command):
    """Time passes."""

    delta: timedelta

    def command(self, trial: Trial) -> None:
        trial.advance_to(trial.now + self.delta)


@dataclass(frozen=True, slots=True)
class Proceed(Command):
    """Do the natural next thing where the prospect stands: ask for an askable rung when
    ready, answer the open ask (yes, no, silence, a follow-up, or a withdrawal) when
    pending, resume when parked. ``pick`` chooses among the options. It keeps random
    climbs moving up the ladder."""

    pick: int = 0

    def resolve(self, trial: Trial) -> Command:
        status = trial.enrollment.status
        if status == "pending":
            answers: list[Command] = [
                Commit(pick=self.pick, bare=self.pick >= 5),
                Decline(),
                Expire(),
                Withdraw(),
                FollowUp(),
            ]
            return answers[self.pick % 5].resolve(trial)
        if status == "parked":
            return Resume()
        return Ask(pick=self.pick).resolve(trial)


def _from_step(step: do.Command) -> Command:
    """The move that runs one step of a ``ladder.paths()`` path."""
    match step:
        case do.AskFor():
            return Ask(step.rung, step.channel)
        case do.Commit():
            return Commit(step.outcome, tuple(step.facts or ()), pick=None)
        case do.Decline():
            return Decline()
        case do.Expire():
            return Expire()
        case do.End():
            return End(step.end)
        case do.FollowUp() | do.Withdraw() | do.Resume():
            raise ValueError(f"a shortest path never takes {step}")
        case _:
            assert_never(step)


# ---- strategies -----------------------------------------------------------------------------


def _check_ladder(ladder: object, name: str) -> Ladder:
    if not isinstance(ladder, Ladder):
        raise InvalidArgument(f"{name} must be a commitladder.Ladder, not {type(ladder).__name__}")
    return ladder


def _check_int(value: object, name: str, low: int) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or value < low:
        raise InvalidArgument(f"{name}={value!r} must be an integer >= {low}")
    return value


def channels(ladder: Ladder) -> SearchStrategy[str | None]:
    """Channels to ask over: the default (``None``), every channel the ladder names, and
    one it never allows."""
    _check_ladder(ladder, "ladder")
    named = sorted({c for r in ladder.rungs.values() for c in r.channels or ()})
    return st.sampled_from([None, *named, BOGUS_CHANNEL])


def waits(ladder: Ladder) -> SearchStrategy[timedelta]:
    """Time jumps: every duration the ladder declares (so timers hit their edges), the same
    minus a minute, and a few plain ones."""
    _check_ladder(ladder, "ladder")
    return st.sampled_from(_waits(ladder))


def _waits(ladder: Ladder) -> list[timedelta]:
    found: set[timedelta] = {timedelta(hours=1), timedelta(days=1), timedelta(days=30)}
    for r in ladder.rungs.values():
        for span in (r.expires_after, r.cooldown, r.follow_ups_every, r.next_ask_within):
            if isinstance(span, BusinessDays):  # the fewest days it takes, and ample
                found.update({timedelta(days=span.count), timedelta(days=span.count * 2 + 7)})
            elif span is not None:
                found.update({span, max(span - timedelta(minutes=1), timedelta(minutes=1))})
    return sorted(found)


def command(ladder: Ladder) -> SearchStrategy[Command]:
    """One command for ``ladder``: mostly ones that fit where the prospect stands, some that
    do not (a rung out of turn, a wrong channel, a wrong outcome, missing facts)."""
    _check_ladder(ladder, "ladder")
    # Finite menus drawn with sampled_from: one cheap draw per command, shrinking to the
    # first entry of a menu (the simplest command).
    picks = range(10)
    outcomes = sorted({o for r in ladder.rungs.values() for o in r.outcomes or ()})
    facts = tuple(sorted({f for r in ladder.rungs.values() for f in r.requires}))
    named = sorted({c for r in ladder.rungs.values() for c in r.channels or ()})
    proceed: list[Command] = [Proceed(p) for p in picks]
    fits: list[Command] = [
        *(Ask(pick=p) for p in picks),
        *(Commit(pick=p) for p in picks),
        *(Commit(pick=p, bare=True) for p in range(3)),
        *(LateYes(pick=p) for p in range(3)),
        Expire(wait=False),
        Decline(),
        Decline(needs="a case study"),
        Decline(resume_in=timedelta(days=3)),
        Expire(),
        Resume(),
        FollowUp(),
        Withdraw(),
        *(Wait(d) for d in _waits(ladder)),
    ]
    astray: list[Command] = [
        *(Ask(r, c) for r in ladder.rungs for c in [None, *named, BOGUS_CHANNEL]),
        *(
            Commit(o, f, pick=None)
            for o in [None, *outcomes, "maybe"]
            for f in dict.fromkeys([(), facts])
        ),
        *(FollowUp(c, wait=w) for c in [None, BOGUS_CHANNEL] for w in (False, True)),
        Expire(wait=False),
        LateYes(seq=1),
        *(End(e) for e in [*ladder.ends, "nowhere"]),
    ]
    return st.one_of(st.sampled_from(proceed), st.sampled_from(fits), st.sampled_from(astray))


def commands(
    ladder: Ladder, *, min_size: int = 0, max_size: int = DEFAULT_STEPS
) -> SearchStrategy[list[Command]]:
    """Sequences of commands for ``ladder`` (see ``command``), shrinking towards fewer."""
    _check_ladder(ladder, "ladder")
    _check_int(min_size, "min_size", 0)
    _check_int(max_size, "max_size", 0)
    if max_size < min_size:
        raise InvalidArgument(f"max_size={max_size} < min_size={min_size}")
    return _sequences(command(ladder), min_size, max_size)


@st.composite
def _sequences(
    draw: st.DrawFn, element: SearchStrategy[Command], min_size: int, max_size: int
) -> list[Command]:
    # Unlike st.lists (about five elements on average), climbs run long: each step goes on
    # unless a draw in 0..n is 0, so the mean length is about max_size / 2. Shrinking that
    # draw to 0 ends the sequence there, and whole steps can still be deleted.
    more = st.integers(0, max(max_size // 2, 1))
    out: list[Command] = []
    while len(out) < max_size and (len(out) < min_size or draw(more) != 0):
        out.append(draw(element))
    return out


_DURATIONS = ["1d", "2d", "3d", "7d", "14d"]


@st.composite
def _ladder_data(draw: st.DrawFn, min_rungs: int, max_rungs: int, max_ends: int) -> dict[str, Any]:
    n = draw(st.integers(min_rungs, max_rungs))
    rung_ids = [f"step{i}" for i in range(1, n + 1)]
    end_ids = ["won", "lost", "gone"][: draw(st.integers(1, max_ends))]
    targets = rung_ids + end_ids
    some = st.lists(st.sampled_from(targets), min_size=1, max_size=3, unique=True)
    maybe_duration = st.none() | st.sampled_from(_DURATIONS)
    rungs: dict[str, Any] = {}
    for rung_id in rung_ids:
        rung: dict[str, Any] = {"kind": "custom", "size": draw(st.integers(1, 10))}
        if draw(st.booleans()):
            rung["next"] = draw(some)
        else:
            outs = draw(st.lists(st.sampled_from(targets), min_size=1, max_size=3))
            rung["outcomes"] = {f"answer{i}": t for i, t in enumerate(outs)}
        for name in ("on_decline", "on_expire"):
            rung[name] = draw(st.sampled_from([PARK, PARK, *targets]))
        for name in ("expires_after", "cooldown"):
            if (value := draw(maybe_duration)) is not None:
                rung[name] = value
        if draw(st.booleans()):
            rung["follow_ups"] = {"max": draw(st.integers(0, 2)), "every": "1d"}
        if (asks := draw(st.none() | st.integers(1, 3))) is not None:
            rung["max_asks"] = asks
        if draw(st.booleans()):
            rung["channels"] = draw(
                st.lists(st.sampled_from(["email", "phone", "video_call"]), min_size=1, unique=True)
            )
        rung["requires"] = draw(st.lists(st.sampled_from(["pain", "budget"]), unique=True))
        rungs[rung_id] = rung
    start = draw(st.lists(st.sampled_from(rung_ids), min_size=1, max_size=2, unique=True))
    return {
        "ladder": "generated",
        "start": start,
        "rungs": rungs,
        "ends": {e: {"result": "won" if e == "won" else "lost"} for e in end_ids},
    }


def ladders(*, min_rungs: int = 1, max_rungs: int = 6, max_ends: int = 3) -> SearchStrategy[Ladder]:
    """Valid random ladders: sizes, ``next`` choices, branching outcomes, cycles, redirects
    on a "no", timers, limits, channels and required facts. They carry no ``rules:``."""
    _check_int(min_rungs, "min_rungs", 1)
    _check_int(max_rungs, "max_rungs", 1)
    _check_int(max_ends, "max_ends", 1)
    if max_rungs < min_rungs:
        raise InvalidArgument(f"max_rungs={max_rungs} < min_rungs={min_rungs}")
    if max_ends > 3:
        raise InvalidArgument(f"max_ends={max_ends} must be at most 3")
    return _ladder_data(min_rungs, max_rungs, max_ends).map(Ladder.from_dict)


# ---- invariants -----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Invariant:
    """A claim about every enrollment, checked after every step.

    ``check(enrollment)`` returns a truthy value (or ``None``) when the claim holds; a falsy
    value or an ``AssertionError`` breaks it.
    """

    name: str
    check: Callable[[Enrollment], object]
    description: str = ""

    def __call__(self, enrollment: Enrollment) -> object:
        return self.check(enrollment)


@overload
def invariant(
    name: Callable[[Enrollment], object], *, description: str | None = None
) -> Invariant: ...


@overload
def invariant(
    name: str | None = None, *, description: str | None = None
) -> Callable[[Callable[[Enrollment], object]], Invariant]: ...


def invariant(
    name: str | Callable[[Enrollment], object] | None = None, *, description: str | None = None
) -> Invariant | Callable[[Callable[[Enrollment], object]], Invariant]:
    """Declare a team's own invariant over the enrollment (and its ``history``).

    Use it bare (``@invariant``) or named (``@invariant("won deals saw a proposal")``)::

        @invariant("nobody is asked to buy before a demo")
        def demo_before_purchase(e):
            asked = [ev.rung for ev in e.history if isinstance(ev, cl.AskIssued)]
            return "purchase" not in asked or "demo" in asked[: asked.index("purchase")]
    """

    def make(fn: Callable[[Enrollment], object], label: str | None) -> Invariant:
        doc = (fn.__doc__ or "").strip().split("\n")[0]
        return Invariant(label or fn.__name__, fn, description or doc)

    if callable(name):
        return make(name, None)
    if name is not None and not isinstance(name, str):
        raise InvalidArgument(f"invariant name must be a string, not {type(name).__name__}")
    return lambda fn: make(fn, name)


class RuleBroken(AssertionError):
    """A rule (built-in, the ladder's own, or yours) broke; ``str()`` tells the sales story."""

    def __init__(
        self,
        rule: str,
        message: str,
        *,
        ladder: str,
        story: Sequence[str] = (),
        seed: int | None = None,
    ) -> None:
        self.rule = rule
        self.message = message
        self.ladder = ladder
        self.story = tuple(story)
        self.seed = seed
        super().__init__(self.render())

    def render(self) -> str:
        lines = [f"Ladder {self.ladder!r} broke rule {self.rule}: {self.message}"]
        if self.story:
            lines.append("How it happened:")
            lines.extend(f"  {i}. {line}" for i, line in enumerate(self.story, start=1))
        if self.seed is not None:
            lines.append(
                f"Replay it with seed {self.seed}: commitladder test FILE --seed {self.seed}, "
                f"or pytest --commitladder-seed {self.seed}."
            )
        return "\n".join(lines)

    def __str__(self) -> str:
        return self.render()


# ---- the reference model --------------------------------------------------------------------


@dataclass
class _OpenAsk:
    seq: int
    rung: str
    channel: str
    expires_at: datetime | None
    last_touch: datetime
    follow_ups: int = 0


@dataclass
class _Referee:
    """Folds the history on its own and checks each new event against the ladder's rules."""

    ladder: Ladder
    status: str = "ready"
    position: str | None = None
    outcome: str | None = None
    open: _OpenAsk | None = None
    expired: _OpenAsk | None = None
    redirect: str | None = None
    end: str | None = None
    asks: dict[str, int] = field(default_factory=dict)
    cooldown: dict[str, datetime] = field(default_factory=dict)
    committed: set[str] = field(default_factory=set)
    facts: set[str] = field(default_factory=set)
    unanswered: int = 0
    last: Event | None = None
    asked: dict[int, str] = field(default_factory=dict)  # every ask's seq and rung

    def fail(self, rule: str, message: str) -> None:
        raise RuleBroken(rule, message, ladder=self.ladder.name)

    def see(self, event: Event) -> None:
        ladder = self.ladder
        if self.status == "ended" and not isinstance(event, LateCommitment):
            self.fail("ended_accepts_nothing", f"{event.type} was recorded after the end")
        match event:
            case AskIssued():
                self._ask(event)
            case FollowedUp():
                self._follow_up(event)
            case Committed():
                self._commit(event)
            case Declined() | AskExpired():
                self._no(event)
            case AskWithdrawn():
                self._open(event, event.ask_seq)
                self.open = None
                self.status = "ready"
            case Parked():
                last = self.last
                if not isinstance(last, (Declined, AskExpired)) or last.then != PARK:
                    self.fail("state_agrees", "the deal was parked without a no or silence to park")
                self.status = "parked"
            case Resumed():
                if self.status != "parked":
                    self.fail("state_agrees", f"a {self.status} deal was resumed")
                self.status = "ready"
            case Ended():
                if event.end not in ladder.ends:
                    self.fail("state_agrees", f"ended at {event.end!r}, which the ladder lacks")
                self.status, self.end, self.open = "ended", event.end, None
            case LateCommitment():
                self._late(event)
            case Rekeyed():
                pass  # the climb goes on under the new prospect id
            case Migrated():
                if event.withdrawn is not None:  # the kit runs one version: seldom seen
                    self.open = None
                    self.status = "ready"
            case Enrolled():
                self.fail("state_agrees", "a second Enrolled after the start")
            case _:
                assert_never(event)
        self.last = event

    def _follow_up(self, event: FollowedUp) -> None:
        ask = self._open(event, event.ask_seq)
        rung = self.ladder.rungs[ask.rung]
        if event.number != ask.follow_ups + 1 or event.number > rung.follow_ups_max:
            self.fail(
                "follow_ups",
                f"follow-up {event.number} on {rung.id}, which allows {rung.follow_ups_max}",
            )
        every = rung.follow_ups_every
        if every is not None and event.at < after(ask.last_touch, every, self.ladder.calendar):
            self.fail("follow_ups", f"a follow-up on {rung.id} came sooner than {every}")
        self._channel(rung.id, event.channel)
        ask.follow_ups += 1
        ask.last_touch = event.at

    def _no(self, event: Declined | AskExpired) -> None:
        """A no or silence: the ask closes, and on_decline or on_expire leads on."""
        ask = self._open(event, event.ask_seq)
        rung = self.ladder.rungs[ask.rung]
        then = rung.on_decline if isinstance(event, Declined) else rung.on_expire
        if isinstance(event, AskExpired):
            if ask.expires_at is None or event.at < ask.expires_at:
                self.fail("expiry", f"the ask for {rung.id} expired before its expires_at")
            self.expired = ask
        if event.rung != ask.rung or event.then != then:
            self.fail("state_agrees", f"{event.type} names {event.then}, ladder says {then}")
        if rung.cooldown is not None:
            self.cooldown[rung.id] = after(event.at, rung.cooldown, self.ladder.calendar)
        self.open = None
        self.status = "ready"
        self.redirect = then if then in self.ladder.rungs else None

    def _late(self, event: LateCommitment) -> None:
        """A late yes names an earlier ask of this enrollment, never the one open, and moves
        nothing (it is checked against the state by ``agrees_with`` after the step)."""
        rung = self.asked.get(event.ask_seq)
        if rung is None:
            self.fail("late_yes", f"a late yes to #{event.ask_seq}, which was never an ask")
        if self.open is not None and self.open.seq == event.ask_seq:
            self.fail("late_yes", f"the yes to the open ask #{event.ask_seq} was recorded late")
        if event.rung != rung:
            self.fail("late_yes", f"a late yes to #{event.ask_seq} names {event.rung}, not {rung}")

    def _open(self, event: Event, ask_seq: int) -> _OpenAsk:
        if self.open is None or self.open.seq != ask_seq:
            self.fail("state_agrees", f"{event.type} answers ask #{ask_seq}, which is not open")
        assert self.open is not None
        return self.open

    def _channel(self, rung: str, channel: str) -> None:
        allowed = self.ladder.rungs[rung].channels
        if allowed is not None and channel not in allowed:
            self.fail("channel_allowed", f"{rung} was reached by {channel}, not {allowed}")

    def _ask(self, event: AskIssued) -> None:
        ladder, rung_id = self.ladder, event.rung
        rung = ladder.rungs[rung_id]
        if self.open is not None:
            self.fail(
                "one_open_ask",
                f"{rung_id} was asked while the ask for {self.open.rung} was still open",
            )
        if self.status != "ready":
            self.fail("next_step_only", f"{rung_id} was asked while the deal was {self.status}")
        allowed = (
            (self.redirect,) if self.redirect else ladder.next_rungs(self.position, self.outcome)
        )
        if rung_id not in allowed:
            where = f"after {self.position}" if self.position else "at the start"
            self.fail(
                "next_step_only",
                f"{rung_id} was asked {where}; the next step was {', '.join(allowed) or 'none'}",
            )
        self._channel(rung_id, event.channel)
        count = self.asks.get(rung_id, 0) + 1
        if rung.max_asks is not None and count > rung.max_asks:
            self.fail("max_asks", f"{rung_id} was asked {count} times; max_asks is {rung.max_asks}")
        until = self.cooldown.get(rung_id)
        if until is not None and event.at < until:
            self.fail("cooldown", f"{rung_id} was asked again inside its cooldown")
        span = rung.expires_after
        expected = after(event.at, span, ladder.calendar) if span is not None else None
        if event.expires_at != expected:
            self.fail("timers", f"the ask for {rung_id} expires at {event.expires_at}")
        rules = ladder.rules
        missing = [r for r in rules.requires_before.get(rung_id, ()) if r not in self.committed]
        if missing:
            self.fail(
                "requires_before",
                f"{rung_id} was asked before any commitment to {', '.join(missing)}",
            )
        if rules.max_size_step is not None and self.position is not None:
            here = ladder.rungs[self.position].size
            if rung.size - here > rules.max_size_step:
                self.fail(
                    "max_size_step",
                    f"{rung_id} (size {rung.size}) was asked right after {self.position} "
                    f"(size {here}); the ladder's rule allows a step of {rules.max_size_step}",
                )
        self.unanswered += 1
        limit = rules.max_asks_without_commitment
        if limit is not None and self.unanswered > limit:
            self.fail(
                "max_asks_without_commitment",
                f"{self.unanswered} asks without a commitment; the ladder's rule allows {limit}",
            )
        self.asks[rung_id] = count
        self.asked[event.seq] = rung_id
        self.open = _OpenAsk(event.seq, rung_id, event.channel, event.expires_at, event.at)
        self.expired = None  # a redirect stands until the ask is answered (not withdrawn)
        self.status = "pending"

    def _commit(self, event: Committed) -> None:
        ask = self.expired if event.late else self.open
        if ask is None or ask.seq != event.ask_seq or (event.late and self.open is not None):
            self.fail("state_agrees", f"a yes to ask #{event.ask_seq}, which is not open")
        assert ask is not None
        rung = self.ladder.rungs[ask.rung]
        if event.rung != rung.id:
            self.fail("state_agrees", f"a yes to {event.rung} answered the ask for {rung.id}")
        if rung.outcomes is not None and event.outcome not in rung.outcomes:
            self.fail("outcome", f"{rung.id} was committed with outcome {event.outcome!r}")
        if rung.outcomes is None and event.outcome is not None:
            self.fail("outcome", f"{rung.id} does not branch but got outcome {event.outcome!r}")
        given = {k for k, v in (event.facts or {}).items() if v is not None and v != ""}
        self.facts |= given
        missing = sorted(rung.requires - self.facts)
        if missing:
            self.fail("required_facts", f"{rung.id} was committed without {', '.join(missing)}")
        self.position, self.outcome = rung.id, event.outcome
        self.open = self.expired = self.redirect = None
        self.status = "ready"
        self.committed.add(rung.id)
        self.unanswered = 0

    def agrees_with(self, e: Enrollment) -> None:
        pending = e.pending.rung if e.pending is not None else None
        mine = (self.status, self.position, self.open.rung if self.open else None, self.end)
        theirs = (e.status, e.position, pending, e.ended)
        if mine != theirs:
            self.fail("state_agrees", f"the enrollment says {theirs}, its history says {mine}")
        if e.asks_without_commitment != self.unanswered:
            self.fail(
                "state_agrees",
                f"asks_without_commitment is {e.asks_without_commitment}, "
                f"the history shows {self.unanswered}",
            )


# ---- a trial: one enrollment driven by commands, checked after each --------------------------


def _day(moment: datetime) -> str:
    delta = moment - EPOCH
    hours = delta.seconds // 3600
    return f"Day {delta.days}" + (f" +{hours}h" if hours else "")


def _narrate(event: Event, ladder: Ladder) -> str:
    match event:
        case AskIssued():
            by = f" by {event.channel}" if event.channel != "unspecified" else ""
            return f"Asked for {event.rung}{by}."
        case FollowedUp():
            return f"Followed up by {event.channel} (touch {event.number})."
        case Committed():
            bits = [f"outcome {event.outcome}"] if event.outcome else []
            if event.facts:
                bits.append("facts " + ", ".join(sorted(event.facts)))
            late = " late, after the ask had expired" if event.late else ""
            more = f" ({'; '.join(bits)})" if bits else ""
            return f"Prospect committed to {event.rung}{late}{more}."
        case Declined():
            then = "" if event.then == PARK else f"; the ladder moves on to {event.then}"
            return f"Prospect declined {event.rung}{then}."
        case AskExpired():
            then = "" if event.then == PARK else f"; the ladder moves on to {event.then}"
            return f"The ask for {event.rung} expired unanswered{then}."
        case AskWithdrawn():
            return f"Seller withdrew the ask for {event.rung}."
        case Parked():
            needs = f" (needs: {event.needs})" if event.needs else ""
            return f"The deal is parked{needs}."
        case Resumed():
            return "The deal is resumed."
        case Ended():
            return f"The enrollment ended at {event.end} ({ladder.ends[event.end].result})."
        case LateCommitment():
            return (
                f"Prospect said yes to the earlier ask for {event.rung} (#{event.ask_seq}): "
                "too late to move the climb, kept for the seller."
            )
        case Enrolled():
            return f"Enrolled on {event.ladder}."
        case Rekeyed():
            return f"The prospect {event.was} became {event.prospect}."
        case Migrated():
            return f"The enrollment moved from v{event.from_version} to v{event.to_version}."
        case _:
            assert_never(event)


class Trial:
    """One enrollment on ``ladder``, driven by commands and checked after every one.

    ``run(command)`` applies a command and raises ``RuleBroken`` (with the story so far)
    when any invariant breaks. ``LadderMachine`` and ``run_commands`` are built on it.
    """

    def __init__(self, ladder: Ladder, *, invariants: Iterable[Invariant] = ()) -> None:
        self.ladder = ladder
        self.invariants = tuple(invariants)
        self.now = EPOCH
        self.enrollment = ladder.enroll("prospect", now=EPOCH)
        self.referee = _Referee(ladder)
        self.story: list[str] = []
        self.asked: list[int] = []  # the seq of every ask so far (for ``LateYes``)
        self._last: Event | None = None

    def advance_to(self, moment: datetime) -> None:
        if moment > self.now:
            gap = moment - self.now
            self.now = moment
            days = gap.days + gap.seconds / 86400
            span = f"{days:g} day{'s' if days != 1 else ''}" if gap >= timedelta(days=1) else gap
            self.story.append(f"{_day(moment)}: {span} pass.")

    def run(self, cmd: Command) -> None:
        """Apply ``cmd`` and check every invariant; raise ``RuleBroken`` if one breaks."""
        self._guarded(self._run, cmd)

    def run_finish(self) -> None:
        """Run the end-of-climb checks (``finish``), with the story on failure."""
        self._guarded(lambda _: self.finish(), None)

    def _guarded(self, fn: Callable[[Any], None], arg: Any) -> None:
        try:
            fn(arg)
        except RuleBroken as broken:
            raise RuleBroken(
                broken.rule, broken.message, ladder=self.ladder.name, story=self.story
            ) from None

    def _run(self, cmd: Command) -> None:
        e = self.enrollment
        concrete = cmd.resolve(self)
        before = e.snapshot()
        was_ended = e.status == "ended"
        predicted: Refused | None = None
        askable: list[str] = []
        if isinstance(concrete, Ask):
            assert concrete.rung is not None
            askable = e.askable(now=self.now)
            predicted = e.why_not(concrete.rung, channel=concrete.channel, now=self.now)
        try:
            events = concrete.apply(self)
        except Refused as refusal:
            self.story.append(
                f"{_day(self.now)}: {concrete.attempt(self)}: refused ({refusal.code})."
            )
            self._refused(refusal, before, concrete, predicted)
            return
        except Exception as exc:  # a command may refuse, never fail otherwise
            self.story.append(f"{_day(self.now)}: {concrete.attempt(self)}.")
            raise RuleBroken(
                "only_refusals",
                f"{type(exc).__name__} instead of a refusal: {exc}",
                ladder=self.ladder.name,
            ) from exc
        if isinstance(concrete, Wait):
            self._check_state()
            return
        if was_ended and not all(isinstance(ev, LateCommitment) for ev in events):
            self.referee.fail("ended_accepts_nothing", f"{concrete} was accepted after the end")
        self.asked.extend(ev.seq for ev in events if isinstance(ev, AskIssued))
        for event in events:
            line = _narrate(event, self.ladder)
            if isinstance(event, (Parked, Ended)) and isinstance(
                self._last, (Declined, AskExpired)
            ):
                # "declined X" + "parked" read as one step of the story
                self.story[-1] = (
                    self.story[-1].removesuffix(".") + "; " + line[0].lower() + line[1:]
                )
            elif line:
                self.story.append(f"{_day(event.at)}: {line}")
            self._last = event
        if isinstance(concrete, Ask):
            if predicted is not None:
                self.referee.fail(
                    "askable_agrees",
                    f"why_not({concrete.rung!r}) said {predicted.code}, yet the ask went through",
                )
            if concrete.rung not in askable:
                self.referee.fail(
                    "askable_agrees", f"{concrete.rung} was asked but askable() was {askable}"
                )
        for event in events:
            self.referee.see(event)
        self._check_state()

    def _refused(
        self, refusal: Refused, before: dict[str, Any], cmd: Command, predicted: Refused | None
    ) -> None:
        e = self.enrollment
        if e.snapshot() != before:
            self.referee.fail(
                "refusal_changes_nothing", f"a refused command ({refusal.code}) left a mark"
            )
        if before["status"] == "ended" and not isinstance(refusal, EnrollmentEnded):
            self.referee.fail(
                "ended_accepts_nothing", f"an ended enrollment refused with {refusal.code}"
            )
        if isinstance(cmd, Ask) and (predicted is None or predicted.code != refusal.code):
            said = predicted.code if predicted else "nothing"
            self.referee.fail(
                "askable_agrees", f"why_not({cmd.rung!r}) said {said}, the ask met {refusal.code}"
            )
        # nothing changed, so every state check would repeat the previous step's

    def _check_state(self) -> None:
        e, ladder, fail = self.enrollment, self.ladder, self.referee.fail
        self.referee.agrees_with(e)
        if e.status == "ended":
            self.finish()  # nothing can happen after an end: prove the replay now
        timers = {t.kind: t for t in e.timers}
        pending = e.pending
        if e.status == "ended" and timers:
            fail("timers", f"an ended enrollment still has timers {sorted(timers)}")
        if pending is None and ("expire" in timers or "follow_up" in timers):
            fail("timers", "an expiry or follow-up timer runs with no open ask")
        if pending is not None:
            rung = ladder.rungs[pending.rung]
            expiry = timers.get("expire")
            if (expiry.due_at if expiry else None) != pending.expires_at:
                fail("timers", f"the expiry timer of {pending.rung} disagrees with the ask")
            if ("follow_up" in timers) != (pending.follow_ups < rung.follow_ups_max):
                fail("timers", f"the follow-up timer of {pending.rung} disagrees with the ask")
        if e.status == "parked" and ("resume" in timers) != (e.resume_at is not None):
            fail("timers", "the resume timer disagrees with the parked deal")
        for inv in self.invariants:
            try:
                held = inv.check(e)
            except AssertionError as exc:
                fail(inv.name, str(exc) or inv.description or "the invariant does not hold")
            else:
                if held is not None and not held:
                    fail(inv.name, inv.description or "the invariant does not hold")

    def finish(self) -> None:
        """End-of-climb checks: the history replays (from its JSON form, as a store keeps
        it) to the same state, and a snapshot restores it. Run once per climb, as replay
        is linear in the history."""
        e, fail = self.enrollment, self.referee.fail
        history = e.history
        if [ev.seq for ev in history] != list(range(1, len(history) + 1)):
            fail("replay", "the history's sequence numbers have a gap")
        again = Enrollment.replay(self.ladder, [ev.to_dict() for ev in history])
        if again.snapshot() != e.snapshot():
            fail("replay", "replaying the history gives a different state")
        restored = Enrollment.from_snapshot(self.ladder, e.snapshot())
        if restored.snapshot() != e.snapshot():
            fail("replay", "restoring the snapshot gives a different state")

    def replay_path(self, steps: Iterable[do.Command]) -> None:
        for step in steps:
            self.run(_from_step(step))


def run_commands(
    ladder: Ladder, cmds: Iterable[Command], *, invariants: Iterable[Invariant] = ()
) -> Trial:
    """Drive a fresh enrollment on ``ladder`` through ``cmds``, checking after each one.

    Returns the ``Trial``; raises ``RuleBroken`` with the sales story when a rule breaks.
    Use it in a plain ``@given(commands(ladder))`` test.
    """
    trial = Trial(_check_ladder(ladder, "ladder"), invariants=invariants)
    for cmd in cmds:
        trial.run(cmd)
    trial.run_finish()
    return trial


# ---- the stateful machine -------------------------------------------------------------------


class LadderMachine(RuleBasedStateMachine):
    """A hypothesis state machine that climbs one ladder and holds its invariants.

    Build one per ladder with ``LadderMachine.for_ladder(ladder)``; its ``TestCase`` is a
    ready ``unittest.TestCase`` (``TestSolopreneur = LadderMachine.for_ladder(l).TestCase``).
    Each example starts on the shortest path to a rung or an end (``ladder.paths()``), or
    at the very start, then runs random commands.
    """

    ladder: ClassVar[Ladder]
    user_invariants: ClassVar[tuple[Invariant, ...]] = ()
    examples_run: ClassVar[int] = 0
    first_failure_at: ClassVar[int | None] = None

    def __init__(self) -> None:
        super().__init__()
        cls = type(self)
        cls.examples_run += 1
        self.trial = Trial(self.ladder, invariants=self.user_invariants)
        self.failed = False

    def _step(self, cmd: Command | None) -> None:
        try:
            if cmd is None:
                self.trial.run_finish()
            else:
                self.trial.run(cmd)
        except RuleBroken:
            self.failed = True
            cls = type(self)
            if cls.first_failure_at is None:
                cls.first_failure_at = cls.examples_run
            raise

    def teardown(self) -> None:
        if not self.failed:
            self._step(None)

    @_hypothesis_invariant()
    def rules_hold(self) -> None:
        """Every check runs inside each step; this keeps the machine's contract explicit."""

    @classmethod
    def for_ladder(
        cls,
        ladder: Ladder,
        *,
        invariants: Iterable[Invariant] = (),
        max_examples: int = DEFAULT_EXAMPLES,
        steps: int = DEFAULT_STEPS,
    ) -> type[LadderMachine]:
        """A ``LadderMachine`` subclass for ``ladder`` (and your ``invariants``)."""
        _check_ladder(ladder, "ladder")
        _check_int(max_examples, "max_examples", 1)
        _check_int(steps, "steps", 1)
        checks = tuple(invariants)
        for inv in checks:
            if not isinstance(inv, Invariant):
                raise InvalidArgument(f"{inv!r} is not an Invariant; decorate it with @invariant")
        seeds = _seeds(ladder)
        one_command = command(ladder)

        class Machine(cls):  # type: ignore[valid-type,misc]
            @initialize(path=st.sampled_from(seeds))
            def start_somewhere(self, path: tuple[do.Command, ...]) -> None:
                for step in path:
                    self._step(_from_step(step))

            @rule(cmd=one_command)
            def act(self, cmd: Command) -> None:
                self._step(cmd)

        Machine.ladder = ladder
        Machine.user_invariants = checks
        Machine.__name__ = Machine.__qualname__ = f"LadderMachine[{ladder.name}]"
        Machine.TestCase.settings = _settings(max_examples, steps)
        return Machine


def _settings(max_examples: int, steps: int) -> settings:
    return settings(
        max_examples=max_examples,
        stateful_step_count=steps,
        deadline=None,
        database=None,
        report_multiple_bugs=False,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
        verbosity=Verbosity.quiet,
        print_blob=False,
    )


@dataclass(frozen=True, slots=True)
class Verdict:
    """The result of ``prove``: ``ok``, or the ``broken`` rule with its story."""

    ladder: str
    seed: int
    examples: int
    broken: RuleBroken | None = None
    examples_to_catch: int | None = None
    #: of ``examples``, the directed climbs tried before the random ones (runs of no's)
    directed: int = 0

    @property
    def ok(self) -> bool:
        return self.broken is None


def prove(
    ladder: Ladder,
    *,
    max_examples: int = DEFAULT_EXAMPLES,
    steps: int = DEFAULT_STEPS,
    seed: int | None = None,
    invariants: Iterable[Invariant] = (),
    stateful: bool = False,
) -> Verdict:
    """Property-test ``ladder``: run ``max_examples`` random climbs, shrink any failure.

    Each climb starts on the shortest path to a rung (or at the start), then runs up to
    ``steps`` commands from ``command(ladder)``, checked by a ``Trial``. ``seed`` makes the
    run repeatable; without one a seed is drawn and reported. ``stateful=True`` drives the
    same checks through ``LadderMachine`` instead of a plain command list (slower: about
    three times the cost per step in hypothesis's rule selection).
    """
    chosen = random.SystemRandom().randrange(2**32) if seed is None else seed
    _check_int(chosen, "seed", 0)
    checks = tuple(invariants)
    config = _settings(_check_int(max_examples, "max_examples", 1), _check_int(steps, "steps", 1))
    counter: dict[str, int | None] = {"runs": 0, "first": None}

    directed: list[tuple[tuple[do.Command, ...], list[Command]]] = []
    if stateful:
        from hypothesis.stateful import run_state_machine_as_test

        machine = LadderMachine.for_ladder(
            ladder, invariants=checks, max_examples=max_examples, steps=steps
        )
        machine = fixed_seed(chosen)(machine)
        test: Callable[[], None] = partial(run_state_machine_as_test, machine, settings=config)
    else:
        climbs, directed = _climbs(ladder, checks, config, steps, counter)
        test = fixed_seed(chosen)(climbs)
    try:
        test()
    except RuleBroken as broken:
        if stateful:
            runs, first = machine.examples_run, machine.first_failure_at
        else:
            runs, first = int(counter["runs"] or 0), counter["first"]
        found = RuleBroken(
            broken.rule, broken.message, ladder=ladder.name, story=broken.story, seed=chosen
        )
        return Verdict(ladder.name, chosen, runs, found, first, len(directed))
    runs = machine.examples_run if stateful else int(counter["runs"] or 0)
    return Verdict(ladder.name, chosen, runs, directed=len(directed))


def _climbs(
    ladder: Ladder,
    checks: tuple[Invariant, ...],
    config: settings,
    steps: int,
    counter: dict[str, int | None],
) -> tuple[Callable[[], None], list[tuple[tuple[do.Command, ...], list[Command]]]]:
    """The random climbs ``prove`` runs (counting runs and the first failure in
    ``counter``), with the directed runs of no's it tries first."""
    seeds = _seeds(ladder)
    limit = ladder.rules.max_asks_without_commitment

    @config
    @given(st.sampled_from(seeds), commands(ladder, max_size=steps))
    def climbs(start: tuple[do.Command, ...], cmds: list[Command]) -> None:
        counter["runs"] = int(counter["runs"] or 0) + 1
        longest = 0
        try:
            trial = Trial(ladder, invariants=checks)
            trial.replay_path(start)
            for cmd in cmds:
                trial.run(cmd)
                if limit is not None:
                    longest = max(longest, trial.enrollment.asks_without_commitment)
            trial.run_finish()
            if limit is not None:
                # steer generation towards long runs of unanswered asks
                target(longest / limit, label="asks without a commitment / limit")
        except RuleBroken:
            counter["first"] = counter["first"] or counter["runs"]
            raise

    directed: list[tuple[tuple[do.Command, ...], list[Command]]] = []
    if limit is not None:
        directed = _runs_of_no(ladder, seeds, limit)
        # a long run of no's rarely comes out of random commands: try it first, from
        # every starting point (hypothesis runs explicit examples before random ones)
        for start, cmds in reversed(directed):
            climbs = example(start, cmds)(climbs)
    return climbs, directed


_MAX_RUNS_OF_NO = 60


def _runs_of_no(
    ladder: Ladder, seeds: Sequence[tuple[do.Command, ...]], limit: int
) -> list[tuple[tuple[do.Command, ...], list[Command]]]:
    """Climbs that ask and hear no (or silence) one more time than ``limit`` allows, from
    each starting point: plain, resuming a parked deal after each no, and also waiting out
    the longest cooldown."""
    longest = Wait(max(_waits(ladder)))
    answers: list[list[Command]] = [
        [Decline()],
        [Expire()],
        [Decline(), Resume()],
        [Expire(), Resume()],
        [Decline(), Resume(), longest],
    ]
    runs = [
        (start, [cmd for _ in range(limit + 1) for cmd in (Ask(), *answer)])
        for start in seeds
        for answer in answers
    ]
    return runs[:_MAX_RUNS_OF_NO]


def _seeds(ladder: Ladder) -> list[tuple[do.Command, ...]]:
    """Where climbs start: at the start, or at the end of the shortest path to each rung."""
    return [(), *(p.steps for p in ladder.paths().values() if p.kind == "rung")]
