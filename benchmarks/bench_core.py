"""Core benchmark: commitladder against bare ``transitions`` and a hand-written table.

Every figure comes from one run, on one ladder (examples/ladders/solopreneur.yaml)
and one seeded command stream that every engine replays exactly:

    python benchmarks/bench_core.py            # full run (>= 200k commands, >= 20k enrollments)
    python benchmarks/bench_core.py --quick    # smoke test for CI (< 20 s)
    python benchmarks/bench_core.py --seed 7   # another stream
    python benchmarks/bench_core.py --profile  # also cProfile the commitladder replay (stderr)

The table goes to stdout; progress goes to stderr. See benchmarks/README.md for what
each row means and how the baselines are built.
"""

from __future__ import annotations

import argparse
import contextlib
import cProfile
import gc
import io
import json
import platform
import pstats
import random
import statistics
import sys
import time
import tracemalloc
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import MappingProxyType
from typing import Any

import transitions
from transitions import Machine, MachineError

from commitladder import Enrollment, Ladder, Refused, load

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _import_time import TARGET as IMPORT_TARGET
from _import_time import import_times

ROOT = Path(__file__).resolve().parent.parent
LADDER_FILE = ROOT / "examples" / "ladders" / "solopreneur.yaml"
T0 = datetime(2025, 1, 6, 9, 0, tzinfo=UTC)
MIN = timedelta(minutes=1)
HOUR = timedelta(hours=1)
DAY = timedelta(days=1)

# Stream entries: (enrollment index, trigger, kwargs). The trigger is the machine's
# event name ("ask:qualify", "commit", "end:lost", ...); kwargs are what the
# Enrollment method receives (now=, channel=, outcome=, facts=, needs=, resume_at=).
Command = tuple[int, str, dict[str, Any]]


_BEGAN = time.perf_counter()


def log(msg: str) -> None:
    print(f"[{time.perf_counter() - _BEGAN:6.1f} s] {msg}", file=sys.stderr, flush=True)


# ---------------------------------------------------------------------------------------
# The command stream
# ---------------------------------------------------------------------------------------

_NEEDS = ("budget approval", "a case study", "their partner's go-ahead", "time after the launch")
_PAINS = ("slow onboarding", "lost deals", "manual paperwork", "churn in month one")
_TIMELINES = ("this quarter", "next quarter", "this year")
DROP_OFF = 0.08  # chance, before each ask, that the seller closes the deal as lost
_TOUCHES = (("0", 0.55), ("1", 0.3), ("2", 0.15))
_OUTCOMES = (("current_opportunity", 0.5), ("no_current_opportunity", 0.3), ("not_a_prospect", 0.2))


def _pick_weighted(rng: random.Random, choices: Sequence[tuple[str, float]]) -> str:
    x = rng.random()
    for value, weight in choices:
        x -= weight
        if x < 0:
            return value
    return choices[-1][0]


def climb(
    rng: random.Random, ladder: Ladder, start: datetime
) -> list[tuple[datetime, str, dict[str, Any]]]:
    """One prospect's realistic climb: a valid command sequence, tracking what the ladder
    allows (next step, redirects, ask limits, cooldowns, parking)."""
    out: list[tuple[datetime, str, dict[str, Any]]] = []
    t = start
    position: str | None = None
    outcome: str | None = None
    redirect: str | None = None
    asks: dict[str, int] = {}
    cool: dict[str, datetime] = {}
    known_facts: set[str] = set()

    def add(dt: timedelta, trigger: str, **kw: Any) -> None:
        nonlocal t
        t += max(dt, MIN)
        kw["now"] = t
        out.append((t, trigger, kw))

    while True:
        allowed = (redirect,) if redirect else ladder.next_rungs(position, outcome)
        if not allowed:  # a commitment whose only ways on are several ends
            add(HOUR, f"end:{next(iter(ladder.ends))}")
            return out
        rung_id = rng.choice(allowed)
        rung = ladder.rungs[rung_id]
        if rng.random() < DROP_OFF or (
            rung.max_asks is not None and asks.get(rung_id, 0) >= rung.max_asks
        ):
            add(rng.uniform(1, 48) * HOUR, "end:lost")
            return out
        t += rng.uniform(1, 40) * HOUR
        if rung_id in cool and t < cool[rung_id]:
            t = cool[rung_id] + rng.uniform(0, 24) * HOUR
        channel = rng.choice(rung.channels) if rung.channels else None
        add(MIN, f"ask:{rung_id}", channel=channel)
        asked_at = t
        asks[rung_id] = asks.get(rung_id, 0) + 1
        if rung.follow_ups_max and rung.follow_ups_every is not None:
            touches = min(rung.follow_ups_max, int(_pick_weighted(rng, _TOUCHES)))
            for _ in range(touches):
                add(rung.follow_ups_every + rng.uniform(0, 12) * HOUR, "follow_up")
        answer = rng.random()
        if answer < 0.72:  # yes
            kw: dict[str, Any] = {}
            chosen: str | None = None
            if rung.outcomes is not None:
                chosen = (
                    _pick_weighted(rng, _OUTCOMES)
                    if rung_id == "qualify"
                    else rng.choice(list(rung.outcomes))
                )
                kw["outcome"] = chosen
            if rung.requires:
                missing = rung.requires - known_facts
                facts = {"pain": rng.choice(_PAINS), "timeline": rng.choice(_TIMELINES)}
                facts = {k: v for k, v in facts.items() if k in rung.requires}
                if not missing and rng.random() < 0.5:
                    facts = {"timeline": rng.choice(_TIMELINES)}  # re-qualifying: an update
                kw["facts"] = facts
                known_facts.update(facts)
            add(rng.uniform(0.2, 30) * HOUR, "commit", **kw)
            if ladder.finishes(rung_id, chosen) is not None:
                return out
            position, outcome, redirect = rung_id, chosen, None
        elif answer < 0.92:  # no, or silence
            declined = answer < 0.84
            if declined:
                kw = {}
                if rng.random() < 0.5:
                    kw["needs"] = rng.choice(_NEEDS)
                    if rng.random() < 0.5:
                        kw["resume_at"] = t + rng.randint(7, 60) * DAY
                add(rng.uniform(0.2, 48) * HOUR, "decline", **kw)
                then = rung.on_decline
            else:
                assert rung.expires_after is not None
                wait = max(asked_at + rung.expires_after - t, MIN) + rng.uniform(0, 24) * HOUR
                add(wait, "expire")
                then = rung.on_expire
            if rung.cooldown is not None:
                cool[rung_id] = t + rung.cooldown
            if then in ladder.ends:
                return out
            # a redirect is the only next ask until an answer (not a withdraw) uses it up
            redirect = then if then in ladder.rungs else None
            if redirect is None:  # parked
                if rng.random() < 0.3:  # and they go quiet for good
                    add(rng.uniform(14, 60) * DAY, "end:lost")
                    return out
                add(rng.uniform(2, 30) * DAY, "resume")  # then ask again
        else:  # the seller takes the ask back
            add(rng.uniform(1, 72) * HOUR, "withdraw")


def build_stream(
    ladder: Ladder, seed: int, min_enrollments: int, min_commands: int
) -> tuple[list[datetime], list[Command]]:
    """Climbs for enough enrollments, merged into one timeline (interleaved prospects)."""
    rng = random.Random(seed)
    starts: list[datetime] = []
    climbs = []
    total = 0
    while len(starts) < min_enrollments or total < min_commands:
        start = T0 + rng.uniform(0, 180) * DAY
        steps = climb(rng, ladder, start)
        starts.append(start)
        climbs.append(steps)
        total += len(steps)
    timeline = [
        ((t - T0).total_seconds(), i, k, trig, kw)
        for i, steps in enumerate(climbs)
        for k, (t, trig, kw) in enumerate(steps)
    ]
    timeline.sort(key=lambda entry: entry[:3])
    return starts, [(i, trig, kw) for _, i, _, trig, kw in timeline]


# ---------------------------------------------------------------------------------------
# Baselines
# ---------------------------------------------------------------------------------------


class Light:
    """An unattached model for the bare static machine."""

    __slots__ = ("state",)
    state: str


class Plain:
    """A model for ``Machine.add_model``: it needs a __dict__ for the trigger methods."""

    state: str


def bare_transitions(ladder: Ladder) -> list[dict[str, Any]]:
    """The compiled ladder's transitions, in order, without their conditions."""
    return [
        {"trigger": name, "source": source, "dest": t.dest}
        for name, event in ladder.machine.events.items()
        for source, ts in event.transitions.items()
        for t in ts
    ]


def bare_machine(ladder: Ladder) -> Machine:
    return Machine(
        model=None,
        states=list(ladder.machine.states),
        transitions=bare_transitions(ladder),
        initial=None,
        auto_transitions=False,
    )


class HandRefused(Exception):
    pass


_EMPTY: Any = MappingProxyType({})
READY, PENDING, PARKED, ENDED = "ready", "pending", "parked", "ended"


class HandRecord:
    """One enrollment in the hand-written table: plain slots, copy-on-write dicts."""

    __slots__ = (
        "asks",
        "cooldowns",
        "facts",
        "history",
        "id",
        "outcome",
        "pending",
        "position",
        "prospect",
        "redirect",
        "seq",
        "status",
    )

    def __init__(self, enrollment_id: str, prospect: str, at: datetime, *, history: bool) -> None:
        self.id = enrollment_id
        self.prospect = prospect
        self.status = READY
        self.position: str | None = None
        self.outcome: str | None = None
        self.pending: tuple[Any, ...] | None = None
        self.redirect: str | None = None
        self.asks = self.cooldowns = self.facts = _EMPTY
        self.seq = 1
        self.history: list[tuple[Any, ...]] | None = (
            [("Enrolled", 1, at, prospect)] if history else None
        )

    @classmethod
    def from_snapshot(cls, data: dict[str, Any]) -> HandRecord:
        """A record from a commitladder snapshot, as a hand-written service would keep one."""
        rec = cls(data["id"], data["prospect"], T0, history=False)
        rec.status = data["status"]
        rec.position = data["position"]
        rec.outcome = data["outcome"]
        pending = data["pending"]
        if pending is not None:
            rec.pending = (
                pending["seq"],
                pending["rung"],
                pending["channel"],
                datetime.fromisoformat(pending["asked_at"]),
            )
        rec.redirect = data["redirect"]
        rec.asks = data["asks"] or _EMPTY
        rec.cooldowns = data["cooldowns"] or _EMPTY
        rec.facts = data["facts"] or _EMPTY
        rec.seq = data["seq"]
        return rec


class HandTable:
    """A fair hand-written dict transition table for the same ladder.

    The same core rules as commitladder's guards: one open ask at a time; only the next
    step (or the redirect after a no) may be asked, and not while parked or ended; ask
    limits per rung; channels; cooldowns; follow-up limit and spacing; outcomes and
    required facts on commit; expiry only after the deadline; decline/expire routing
    (park, redirect, end); resume; withdraw; end. Events are recorded as tuples.
    """

    def __init__(self, ladder: Ladder) -> None:
        self.ends = {e: end.result for e, end in ladder.ends.items()}
        self.after: dict[tuple[str | None, str | None], tuple[str, ...]] = {
            (None, None): ladder.start
        }
        self.finish: dict[tuple[str, str | None], str | None] = {}
        self.rungs: dict[str, tuple[Any, ...]] = {}
        for rid, r in ladder.rungs.items():
            routes = (
                [(o, (t,)) for o, t in r.outcomes.items()]
                if r.outcomes is not None
                else [(None, r.next)]
            )
            for outcome, targets in routes:
                nxt = tuple(t for t in targets if t in ladder.rungs)
                self.after[(rid, outcome)] = nxt
                reached = [t for t in targets if t in ladder.ends]
                self.finish[(rid, outcome)] = reached[0] if not nxt and len(reached) == 1 else None
            self.rungs[rid] = (
                r.channels,
                r.expires_after,
                r.follow_ups_max,
                r.follow_ups_every,
                r.cooldown,
                r.max_asks,
                r.outcomes,
                r.requires,
                r.on_decline,
                r.on_expire,
            )

    @staticmethod
    def _log(rec: HandRecord, event: tuple[Any, ...]) -> None:
        if rec.history is not None:
            rec.history.append(event)

    def ask(
        self, rec: HandRecord, rung: str, *, channel: str | None = None, now: datetime, **_: Any
    ) -> None:
        if rec.status == ENDED:
            raise HandRefused("ended")
        spec = self.rungs.get(rung)
        if spec is None:
            raise HandRefused("unknown rung")
        if rec.pending is not None:
            raise HandRefused("ask pending")
        if rec.status == PARKED:
            raise HandRefused("parked")
        allowed = (
            (rec.redirect,)
            if rec.redirect is not None
            else self.after.get((rec.position, rec.outcome), ())
        )
        if rung not in allowed:
            raise HandRefused("not the next step")
        channels, expires_after, _, _, _, max_asks, _, _, _, _ = spec
        if channel is None:
            channel = channels[0] if channels else "unspecified"
        elif channels is not None and channel not in channels:
            raise HandRefused("channel")
        asked = rec.asks.get(rung, 0)
        if max_asks is not None and asked >= max_asks:
            raise HandRefused("ask limit")
        until = rec.cooldowns.get(rung)
        if until is not None and now < until:
            raise HandRefused("cooldown")
        seq = rec.seq = rec.seq + 1
        expires = now + expires_after if expires_after is not None else None
        rec.pending = (seq, rung, channel, now, expires, 0, now)
        rec.asks = {**rec.asks, rung: asked + 1}
        rec.status = PENDING
        self._log(rec, ("AskIssued", seq, now, rung, channel, expires))

    def follow_up(
        self, rec: HandRecord, *, channel: str | None = None, now: datetime, **_: Any
    ) -> None:
        ask = rec.pending
        if ask is None:
            raise HandRefused("no open ask")
        aseq, rung, ask_channel, asked_at, expires, touches, last = ask
        spec = self.rungs[rung]
        channels, fmax, fevery = spec[0], spec[2], spec[3]
        channel = channel or ask_channel
        if channels is not None and channel not in channels:
            raise HandRefused("channel")
        if touches >= fmax:
            raise HandRefused("follow-up limit")
        if now < last + fevery:
            raise HandRefused("too soon")
        seq = rec.seq = rec.seq + 1
        rec.pending = (aseq, rung, ask_channel, asked_at, expires, touches + 1, now)
        self._log(rec, ("FollowedUp", seq, now, aseq, channel))

    def commit(
        self,
        rec: HandRecord,
        *,
        outcome: str | None = None,
        facts: dict[str, Any] | None = None,
        now: datetime,
        **_: Any,
    ) -> None:
        ask = rec.pending
        if ask is None:
            raise HandRefused("no open ask")
        rung = ask[1]
        spec = self.rungs[rung]
        outcomes, requires = spec[6], spec[7]
        if outcomes is not None:
            if outcome not in outcomes:
                raise HandRefused("outcome required")
        elif outcome is not None:
            raise HandRefused("no outcomes here")
        if requires:
            merged = {**rec.facts, **facts} if facts else rec.facts
            if any(merged.get(k) in (None, "") for k in requires):
                raise HandRefused("missing facts")
        seq = rec.seq = rec.seq + 1
        rec.position, rec.outcome = rung, outcome
        rec.pending = rec.redirect = None
        rec.status = READY
        if facts:
            rec.facts = {**rec.facts, **facts}
        self._log(rec, ("Committed", seq, now, ask[0], rung, outcome, facts))
        end = self.finish.get((rung, outcome))
        if end is not None:
            self._end(rec, end, now)

    def _answer(self, rec: HandRecord, now: datetime, declined: bool, needs: str | None) -> None:
        ask = rec.pending
        if ask is None:
            raise HandRefused("no open ask")
        rung = ask[1]
        spec = self.rungs[rung]
        if not declined and (ask[4] is None or now < ask[4]):
            raise HandRefused("not expired yet")
        then = spec[8] if declined else spec[9]
        seq = rec.seq = rec.seq + 1
        rec.pending = None
        if spec[4] is not None:
            rec.cooldowns = {**rec.cooldowns, rung: now + spec[4]}
        self._log(
            rec, ("Declined" if declined else "AskExpired", seq, now, ask[0], rung, then, needs)
        )
        rec.redirect = then if then in self.rungs else None
        if then in self.ends:
            self._end(rec, then, now)
        elif rec.redirect is not None:
            rec.status = READY
        else:
            rec.status = PARKED
            rec.seq += 1
            self._log(rec, ("Parked", rec.seq, now, needs))

    def decline(
        self, rec: HandRecord, *, now: datetime, needs: str | None = None, **_: Any
    ) -> None:
        self._answer(rec, now, True, needs)

    def expire(self, rec: HandRecord, *, now: datetime, **_: Any) -> None:
        self._answer(rec, now, False, None)

    def withdraw(self, rec: HandRecord, *, now: datetime, **_: Any) -> None:
        ask = rec.pending
        if ask is None:
            raise HandRefused("no open ask")
        seq = rec.seq = rec.seq + 1
        rec.pending = None
        rec.status = READY
        self._log(rec, ("AskWithdrawn", seq, now, ask[0]))

    def resume(self, rec: HandRecord, *, now: datetime, **_: Any) -> None:
        if rec.status != PARKED:
            raise HandRefused("not parked")
        rec.seq += 1
        rec.status = READY
        self._log(rec, ("Resumed", rec.seq, now))

    def end(self, rec: HandRecord, end: str, *, now: datetime, **_: Any) -> None:
        if rec.status == ENDED:
            raise HandRefused("ended")
        if end not in self.ends:
            raise HandRefused("unknown end")
        self._end(rec, end, now)

    def _end(self, rec: HandRecord, end: str, now: datetime) -> None:
        rec.seq += 1
        rec.status = ENDED
        rec.pending = rec.redirect = None
        self._log(rec, ("Ended", rec.seq, now, end))


# ---------------------------------------------------------------------------------------
# Adapters: the same stream, as each engine is called
# ---------------------------------------------------------------------------------------

Call = tuple[int, Callable[..., Any], tuple[Any, ...], dict[str, Any]]


def method_calls(stream: Sequence[Command], target: Any) -> list[Call]:
    """(index, callable, args, kwargs): ``ask:X`` -> ask(X, ...), ``end:X`` -> end(X, ...)."""
    cache: dict[str, tuple[Callable[..., Any], tuple[Any, ...]]] = {}
    calls: list[Call] = []
    for i, trigger, kw in stream:
        resolved = cache.get(trigger)
        if resolved is None:
            kind, _, arg = trigger.partition(":")
            resolved = cache[trigger] = (getattr(target, kind), (arg,) if arg else ())
        calls.append((i, resolved[0], resolved[1], kw))
    return calls


def replay_calls(
    objs: Sequence[Any], calls: Sequence[Call], refusal: type[Exception]
) -> tuple[float, int]:
    refused = 0
    start = time.perf_counter()
    for i, fn, args, kw in calls:
        try:
            fn(objs[i], *args, **kw)
        except refusal:
            refused += 1
    return time.perf_counter() - start, refused


def replay_static(
    machine: Machine, models: Sequence[Any], stream: Sequence[Command]
) -> tuple[float, int]:
    events = machine.events
    refused = 0
    start = time.perf_counter()
    for i, trigger, kw in stream:
        try:
            events[trigger].trigger(models[i], **kw)
        except MachineError:
            refused += 1
    return time.perf_counter() - start, refused


def replay_attached(models: Sequence[Any], stream: Sequence[Command]) -> tuple[float, int]:
    refused = 0
    start = time.perf_counter()
    for i, trigger, kw in stream:
        try:
            getattr(models[i], trigger)(**kw)
        except MachineError:
            refused += 1
    return time.perf_counter() - start, refused


def pid(i: int) -> str:
    return f"p{i:06d}"


def fresh_enrollments(ladder: Ladder, starts: Sequence[datetime]) -> list[Enrollment]:
    return [ladder.enroll(pid(i), now=t) for i, t in enumerate(starts)]


def initial_state(ladder: Ladder) -> str:
    return ladder.enroll("probe", now=T0).state


def fresh_light(ladder: Ladder, n: int) -> list[Light]:
    initial = initial_state(ladder)
    models = []
    for _ in range(n):
        m = Light()
        m.state = initial
        models.append(m)
    return models


# ---------------------------------------------------------------------------------------
# Measurements
# ---------------------------------------------------------------------------------------


def verify_paths(
    ladder: Ladder,
    starts: Sequence[datetime],
    stream: Sequence[Command],
    machine: Machine,
    n_verify: int,
    n_snaps: int,
    rng: random.Random,
) -> tuple[int, int, int, int, list[tuple[dict[str, Any], str, dict[str, Any]]]]:
    """Untimed, on the first ``n_verify`` enrollments: replay through commitladder recording
    the state before each command, and a JSON snapshot before random commands (for the
    rehydrate test); then check the guard-less machine fires each command from the same
    state. Returns (commands checked, mismatches, enrollments checked, ending elsewhere, snaps)."""
    n = min(n_verify, len(starts))
    sub = [c for c in stream if c[0] < n]
    ens = fresh_enrollments(ladder, starts[:n])
    p_snap = min(1.0, n_snaps / max(1, len(sub)))
    before: list[str] = []
    snaps: list[tuple[dict[str, Any], str, dict[str, Any]]] = []
    for (i, fn, args, kw), (_, trigger, _) in zip(method_calls(sub, Enrollment), sub, strict=True):
        e = ens[i]
        before.append(e.state)
        if len(snaps) < n_snaps and rng.random() < p_snap:
            snaps.append((json.loads(json.dumps(e.snapshot())), trigger, kw))
        with contextlib.suppress(Refused):
            fn(e, *args, **kw)
    models = fresh_light(ladder, n)
    mismatched = 0
    for (i, trigger, kw), expected in zip(sub, before, strict=True):
        if models[i].state != expected:
            mismatched += 1
        with contextlib.suppress(MachineError):
            machine.events[trigger].trigger(models[i], **kw)
    elsewhere = sum(1 for model, e in zip(models, ens, strict=True) if model.state != e.state)
    return len(sub), mismatched, n, elsewhere, snaps


def measure_throughput(
    ladder: Ladder, starts: Sequence[datetime], stream: Sequence[Command], repeats: int
) -> dict[str, Any]:
    """Every engine replays the stream once per round, all four in every round, in an order
    that rotates from round to round; each keeps its best time, and each baseline's ratio is
    taken per round (its time over commitladder's in the same round), so a slow spell of the
    machine falls on one round's ratio, not on one side."""
    n = len(starts)
    res: dict[str, Any] = {}

    cl_calls = method_calls(stream, Enrollment)
    table = HandTable(ladder)
    hand_calls = method_calls(stream, table)
    machine = bare_machine(ladder)

    # what transitions users do by default: one machine, every model attached (add_model)
    log("  shared machine with add_model: setup ...")
    initial = initial_state(ladder)
    shared = Machine(
        model=None,
        states=list(ladder.machine.states),
        transitions=bare_transitions(ladder),
        initial=initial,
        auto_transitions=False,
    )
    attached_models = [Plain() for _ in range(n)]
    gc.collect()
    t = time.perf_counter()
    shared.add_model(attached_models)  # O(n) per model: `model not in self.models`
    res["add_model"] = time.perf_counter() - t
    gc.collect()
    gc.freeze()  # harness data and the attached models: no engine's collector walks them

    def cl() -> tuple[float, int]:
        objs = fresh_enrollments(ladder, starts)
        gc.collect()
        return replay_calls(objs, cl_calls, Refused)

    def bare() -> tuple[float, int]:
        models = fresh_light(ladder, n)
        gc.collect()
        return replay_static(machine, models, stream)

    def hand() -> tuple[float, int]:
        recs = [
            HandRecord(f"{ladder.name}/{pid(i)}", pid(i), starts[i], history=True) for i in range(n)
        ]
        gc.collect()
        return replay_calls(recs, hand_calls, HandRefused)

    def attached() -> tuple[float, int]:
        for model in attached_models:  # back to the start, without re-adding
            model.state = initial
        gc.collect()
        return replay_attached(attached_models, stream)

    engines = [("cl", cl), ("bare", bare), ("hand", hand), ("attached", attached)]
    times: dict[str, list[float]] = {key: [] for key, _ in engines}
    for r in range(repeats):
        order = engines[r % len(engines) :] + engines[: r % len(engines)]
        log(f"  round {r + 1}/{repeats}: " + ", ".join(key for key, _ in order) + " ...")
        for key, run in order:
            gc.collect()
            took, refused = run()
            times[key].append(took)
            res[f"refused_{key}"] = max(refused, res.get(f"refused_{key}", 0))
    for key in times:
        res[key] = min(times[key])
        # a baseline's speed relative to commitladder's, round by round
        res[f"ratios_{key}"] = [
            base / ours for base, ours in zip(times[key], times["cl"], strict=True)
        ]

    gc.collect()
    t = time.perf_counter()
    objs = fresh_enrollments(ladder, starts)
    res["enroll"] = time.perf_counter() - t
    del objs
    return res


def traced_bytes(n: int, build: Callable[[int], Any]) -> float:
    holder: list[Any] = [None] * n
    gc.collect()
    tracemalloc.start()
    base = tracemalloc.get_traced_memory()[0]
    for i in range(n):
        holder[i] = build(i)
    gc.collect()
    used = tracemalloc.get_traced_memory()[0] - base
    tracemalloc.stop()
    del holder
    return used / n


def ten_event_commands(t: datetime) -> list[tuple[str, dict[str, Any]]]:
    """Nine commands after Enrolled: ten events of history, ending with an open ask."""
    return [
        ("ask:admit_problem", {"channel": "email", "now": t + HOUR}),
        ("follow_up", {"now": t + 3 * DAY}),
        ("commit", {"now": t + 4 * DAY}),
        ("ask:intro_call", {"channel": "phone", "now": t + 5 * DAY}),
        ("commit", {"now": t + 6 * DAY}),
        ("ask:qualify", {"channel": "video_call", "now": t + 7 * DAY}),
        ("follow_up", {"now": t + 10 * DAY}),
        (
            "commit",
            {
                "outcome": "current_opportunity",
                "facts": {"pain": "slow onboarding", "timeline": "this quarter"},
                "now": t + 11 * DAY,
            },
        ),
        ("ask:explore_solutions", {"channel": "video_call", "now": t + 12 * DAY}),
    ]


def measure_memory(ladder: Ladder, n: int) -> dict[str, float]:
    template = ladder.enroll("template", now=T0).snapshot()
    stored = [
        json.dumps(dict(template, id=f"{ladder.name}/{pid(i)}", prospect=pid(i))) for i in range(n)
    ]
    table = HandTable(ladder)
    res: dict[str, float] = {}

    # a snapshot as a store hands it back: decoded from JSON, so no string is shared
    # with the ladder or with another snapshot (each side decodes inside the measurement)
    def cl_fresh(i: int) -> Enrollment:
        return Enrollment.from_snapshot(ladder, json.loads(stored[i]))

    def hand_fresh(i: int) -> HandRecord:
        return HandRecord.from_snapshot(json.loads(stored[i]))

    def cl_enrolled(i: int) -> Enrollment:
        return ladder.enroll(pid(i), now=T0 + i * MIN)

    def cl_ten(i: int) -> Enrollment:
        t = T0 + i * MIN
        e = ladder.enroll(pid(i), now=t)
        for (fn, args, _), (_, kw) in zip(
            (
                (c[1], c[2], None)
                for c in method_calls(
                    [(0, trig, kw) for trig, kw in ten_event_commands(t)], Enrollment
                )
            ),
            ten_event_commands(t),
            strict=True,
        ):
            fn(e, *args, **kw)
        assert len(e.history) == 10, len(e.history)
        return e

    def hand_enrolled(i: int) -> HandRecord:
        return HandRecord(f"{ladder.name}/{pid(i)}", pid(i), T0 + i * MIN, history=True)

    hand_ten_calls = [
        (c[1], c[2])
        for c in method_calls([(0, trig, kw) for trig, kw in ten_event_commands(T0)], table)
    ]

    def hand_ten(i: int) -> HandRecord:
        t = T0 + i * MIN
        rec = HandRecord(f"{ladder.name}/{pid(i)}", pid(i), t, history=True)
        for (fn, args), (_, kw) in zip(hand_ten_calls, ten_event_commands(t), strict=True):
            fn(rec, *args, **kw)
        assert rec.history is not None
        assert len(rec.history) == 10, rec.history
        return rec

    res["cl_fresh"] = traced_bytes(n, cl_fresh)
    res["cl_enrolled"] = traced_bytes(n, cl_enrolled)
    res["cl_ten"] = traced_bytes(n, cl_ten)
    res["hand_fresh"] = traced_bytes(n, hand_fresh)
    res["hand_enrolled"] = traced_bytes(n, hand_enrolled)
    res["hand_ten"] = traced_bytes(n, hand_ten)
    return res


def measure_rehydrate(
    ladder: Ladder,
    snaps: Sequence[tuple[dict[str, Any], str, dict[str, Any]]],
    resident_n: int,
    repeats: int,
    min_ops: int = 5_000,
) -> dict[str, Any]:
    machine = bare_machine(ladder)
    events = machine.events
    snaps = [snaps[j % len(snaps)] for j in range(max(len(snaps), min_ops))]
    calls = method_calls([(0, trig, kw) for _, trig, kw in snaps], Enrollment)
    work = [
        (snap, fn, args, kw) for (snap, _, _), (_, fn, args, kw) in zip(snaps, calls, strict=True)
    ]
    bare_work = [(snap["state"], trig, kw) for snap, trig, kw in snaps]
    from_snapshot = Enrollment.from_snapshot

    def cl() -> tuple[float, int]:
        refused = 0
        start = time.perf_counter()
        for snap, fn, args, kw in work:
            e = from_snapshot(ladder, snap)
            try:
                fn(e, *args, **kw)
            except Refused:
                refused += 1
        return (time.perf_counter() - start) / len(work), refused

    def bare() -> tuple[float, int]:
        refused = 0
        start = time.perf_counter()
        for state, trigger, kw in bare_work:
            m = Light()
            m.state = state
            try:
                events[trigger].trigger(m, **kw)
            except MachineError:
                refused += 1
        return (time.perf_counter() - start) / len(bare_work), refused

    def rounds(label: str) -> None:
        # cl and bare alternate, so a change in machine load hits both
        for _ in range(repeats):
            for key, run in (("cl" + label, cl), ("bare" + label, bare)):
                gc.collect()
                t, refused = run()
                old = res.get(key)
                res[key] = (min(t, old[0]), max(refused, old[1])) if old else (t, refused)

    res: dict[str, Any] = {}
    log("  0 resident ...")
    rounds("0")
    log(f"  {resident_n:,} resident ...")
    resident_cl = [from_snapshot(ladder, snaps[j % len(snaps)][0]) for j in range(resident_n)]
    resident_bare = fresh_light(ladder, resident_n)
    rounds("1")
    del resident_cl, resident_bare
    gc.collect()
    log("  0 resident again ...")
    rounds("0")  # before and after, so warm-up does not pass for flatness
    return res


# ---- a generated 200-rung ladder ------------------------------------------------------

_KINDS = (
    "conversation",
    "call",
    "meeting",
    "download",
    "trial",
    "webinar",
    "survey",
    "proposal",
    "custom",
)
_CHANNELS = ("email", "phone", "video_call", "sms", "linkedin")


def generated_ladder(n_rungs: int, seed: int) -> dict[str, Any]:
    """A realistic big ladder: a main chain with seller-picked forks, qualifying rungs that
    branch on the answer (on, nurture, disqualify), nurture rungs cycling back to their
    qualifying rung, a few on_decline redirects into nurture, and three ends."""
    rng = random.Random(seed)
    n_nurture = max(2, n_rungs // 10)
    n_main = n_rungs - n_nurture
    main = [f"step{i:03d}" for i in range(n_main)]
    nurture = [f"nurture{k:02d}" for k in range(n_nurture)]
    qualifying = list(range(3, n_main - 3, max(1, n_main // n_nurture)))[:n_nurture]
    rungs: dict[str, Any] = {}
    for i, rid in enumerate(main):
        r: dict[str, Any] = {
            "kind": rng.choice(_KINDS),
            "size": min(10, 1 + (i * 10) // n_main),
            "title": f"Step {i}",
            "ask": f"Would you be open to step {i}? It only takes a few minutes.",
        }
        if i == n_main - 1:
            r["kind"] = "purchase"
            r["next"] = "won"
        elif i in qualifying:
            k = qualifying.index(i)
            r["outcomes"] = {
                "ready": main[i + 1],
                "not_now": nurture[k],
                "not_a_fit": "disqualified",
            }
            r["requires"] = ["pain", "timeline"] if k % 2 == 0 else ["budget"]
            r["max_asks"] = 4
        elif i + 2 < n_main and rng.random() < 0.15:
            r["next"] = [main[i + 1], main[i + 2]]
        else:
            r["next"] = main[i + 1]
        if rng.random() < 0.3:
            r["channels"] = rng.sample(_CHANNELS, rng.randint(1, 3))
        if rng.random() < 0.25:
            r["expires_after"] = f"{rng.randint(3, 14)}d"
        if rng.random() < 0.1:
            r["follow_ups"] = {"max": rng.randint(0, 3), "every": f"{rng.randint(1, 4)}d"}
        rungs[rid] = r
    # a few on_decline redirects into nurture, late in the climb; one silence ends the deal
    for k, i in enumerate(rng.sample(range(n_main // 2, n_main), 4)):
        rungs[main[i]]["on_decline"] = nurture[k % 3]
    rungs[main[n_main - 2]]["on_expire"] = "lost"
    for k, rid in enumerate(nurture):
        back = main[qualifying[k]] if k < len(qualifying) else main[0]
        rungs[rid] = {
            "kind": "subscribe",
            "size": 1,
            "title": f"Stay in touch ({k})",
            "channels": ["email"],
            "expires_after": "14d",
            "follow_ups": {"max": 1, "every": "7d"},
            "max_asks": 2,
            "next_ask_within": "6w",
            "next": back,
        }
    return {
        "ladder": "generated",
        "version": 3,
        "title": f"Generated {n_rungs}-rung ladder",
        "start": main[0],
        "defaults": {
            "expires_after": "7d",
            "follow_ups": {"max": 2, "every": "2d"},
            "cooldown": "3d",
            "next_ask_within": "2d",
            "max_asks": 3,
            "channels": ["email", "phone", "video_call"],
        },
        "rungs": rungs,
        "ends": {
            "won": {"result": "won", "title": "Signed"},
            "lost": {"result": "lost"},
            "disqualified": {"result": "lost", "title": "Not a fit"},
        },
        "rules": {
            "requires_before": {main[-1]: [main[qualifying[0]]]},
            "max_asks_without_commitment": 4,
        },
    }


def measure_compile(n_rungs: int, runs: int, seed: int) -> tuple[float, int, int]:
    data = generated_ladder(n_rungs, seed)
    ladder = Ladder.from_dict(data)  # warm-up; also proves the dict is valid
    times = []
    for _ in range(runs):
        gc.collect()
        t = time.perf_counter()
        Ladder.from_dict(data)
        times.append(time.perf_counter() - t)
    n_transitions = sum(
        len(ts) for e in ladder.machine.events.values() for ts in e.transitions.values()
    )
    return statistics.median(times), len(ladder.machine.states), n_transitions


def profile_commitladder(
    ladder: Ladder, starts: Sequence[datetime], stream: Sequence[Command]
) -> None:
    objs = fresh_enrollments(ladder, starts)
    calls = method_calls(stream, Enrollment)
    prof = cProfile.Profile()
    prof.enable()
    replay_calls(objs, calls, Refused)
    prof.disable()
    out = io.StringIO()
    stats = pstats.Stats(prof, stream=out).strip_dirs().sort_stats("tottime")
    stats.print_stats(25)
    stats.sort_stats("cumulative").print_stats(25)
    log(out.getvalue())


# ---------------------------------------------------------------------------------------
# The table
# ---------------------------------------------------------------------------------------


def fmt_rate(x: float) -> str:
    return f"{x:,.0f}/s"


def fmt_us(x: float) -> str:
    return f"{x * 1e6:,.1f} us"


def fmt_ms(x: float) -> str:
    return f"{x * 1e3:,.1f} ms"


def fmt_bytes(x: float) -> str:
    return f"{x:,.0f} B"


def verdict(ok: bool | None) -> str:
    return "-" if ok is None else ("PASS" if ok else "MISS")


def print_table(rows: list[tuple[str, str, str, str, str, str]], out: Any = sys.stdout) -> None:
    header = ("measure", "commitladder", "baseline", "ratio", "target", "pass")
    widths = [max(len(r[c]) for r in (header, *rows)) for c in range(6)]
    right = {1, 2, 3}

    def line(cells: Sequence[str]) -> str:
        return " | ".join(
            cell.rjust(w) if c in right else cell.ljust(w)
            for c, (cell, w) in enumerate(zip(cells, widths, strict=True))
        ).rstrip()

    print(line(header), file=out)
    print("-+-".join("-" * w for w in widths), file=out)
    for row in rows:
        print(line(row), file=out)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--quick", action="store_true", help="small sizes, for a CI smoke test (< 20 s)"
    )
    parser.add_argument(
        "--seed", type=int, default=2025, help="seed of the command stream (default 2025)"
    )
    parser.add_argument(
        "--profile", action="store_true", help="cProfile one commitladder replay (stderr)"
    )
    args = parser.parse_args(argv)

    if args.quick:
        min_enr, min_cmds, repeats, resident_n, n_snaps, mem_n, compile_runs, import_runs = (
            1_000,
            20_000,
            3,
            10_000,
            2_000,
            1_000,
            3,
            5,
        )
        n_verify = 1_000
    else:
        min_enr, min_cmds, repeats, resident_n, n_snaps, mem_n, compile_runs, import_runs = (
            20_000,
            200_000,
            5,
            100_000,
            20_000,
            5_000,
            7,
            10,
        )
        n_verify = 4_000
    began = time.perf_counter()
    ladder = load(LADDER_FILE)
    log(f"building the stream (seed {args.seed}) ...")
    starts, stream = build_stream(ladder, args.seed, min_enr, min_cmds)
    n, m = len(starts), len(stream)
    log(f"  {m:,} commands over {n:,} enrollments")
    gc.collect()
    gc.freeze()  # the stream is harness data: keep it out of every engine's GC passes

    log("checking state paths (untimed) ...")
    n_checked, mismatched, n_enr_checked, elsewhere, snaps = verify_paths(
        ladder,
        starts,
        stream,
        bare_machine(ladder),
        n_verify,
        n_snaps,
        random.Random(args.seed + 1),
    )
    if args.profile:
        profile_commitladder(ladder, starts, stream)

    gc.collect()
    gc.freeze()  # the snapshots too
    log("throughput ...")
    tp = measure_throughput(ladder, starts, stream, repeats)
    log("rehydrate + one command ...")
    rh = measure_rehydrate(ladder, snaps, resident_n, repeats, min_ops=n_snaps)
    log("memory ...")
    mem = measure_memory(ladder, mem_n)
    log("compile ...")
    compile_s, n_states, n_trans = measure_compile(200, compile_runs, args.seed)
    log("import ...")
    imports = import_times(runs=import_runs)

    rate = {k: m / tp[k] for k in ("cl", "bare", "attached", "hand")}
    rows: list[tuple[str, str, str, str, str, str]] = []

    def row(
        measure: str, ours: str, base: str, ratio: float | None, target: str, ok: bool | None
    ) -> None:
        rows.append(
            (measure, ours, base, "-" if ratio is None else f"{ratio:.2f}x", target, verdict(ok))
        )

    def spread(key: str) -> tuple[float, str]:
        ratios = tp[f"ratios_{key}"]
        return statistics.median(ratios), f" [{min(ratios):.2f}-{max(ratios):.2f}]"

    for key, label, floor in (
        ("attached", "transitions add_model machine", 1.0),
        ("bare", "bare static machine (no rules)", 0.7),
        ("hand", "hand-written dict table", None),
    ):
        r, rng_ = spread(key)
        row(
            f"commands/s vs {label}",
            fmt_rate(rate["cl"]),
            fmt_rate(rate[key]),
            r,
            f">= {floor}x" if floor is not None else "-",
            r >= floor if floor is not None else None,
        )
        rows[-1] = (*rows[-1][:3], rows[-1][3] + rng_, *rows[-1][4:])
    row(
        f"setup {n:,}: enroll() vs add_model(list)",
        fmt_ms(tp["enroll"]),
        fmt_ms(tp["add_model"]),
        tp["enroll"] / tp["add_model"],
        "-",
        None,
    )
    refused = f"{tp['refused_bare']} / {tp['refused_attached']} / {tp['refused_hand']}"
    row(
        "refused commands (baselines: bare/add_model/hand)",
        str(tp["refused_cl"]),
        refused,
        None,
        "0",
        max(tp[f"refused_{k}"] for k in ("cl", "bare", "attached", "hand")) == 0,
    )
    r = mem["cl_fresh"] / mem["hand_fresh"]
    row(
        "bytes/enrollment, no history (from a JSON snapshot)",
        fmt_bytes(mem["cl_fresh"]),
        fmt_bytes(mem["hand_fresh"]),
        r,
        "<= 2x hand",
        r <= 2.0,
    )
    row(
        "bytes/enrollment, fresh enroll() (1 event)",
        fmt_bytes(mem["cl_enrolled"]),
        fmt_bytes(mem["hand_enrolled"]),
        mem["cl_enrolled"] / mem["hand_enrolled"],
        "-",
        None,
    )
    row(
        "bytes/enrollment, 10 events of history",
        fmt_bytes(mem["cl_ten"]),
        fmt_bytes(mem["hand_ten"]),
        mem["cl_ten"] / mem["hand_ten"],
        "<= 2,048 B",
        mem["cl_ten"] <= 2048,
    )
    r0 = rh["cl0"][0] / rh["bare0"][0]
    row(
        "rehydrate + 1 command, 0 resident",
        fmt_us(rh["cl0"][0]),
        fmt_us(rh["bare0"][0]),
        r0,
        "<= 2x bare",
        r0 <= 2.0,
    )
    r1 = rh["cl1"][0] / rh["bare1"][0]
    row(
        f"rehydrate + 1 command, {resident_n:,} resident",
        fmt_us(rh["cl1"][0]),
        fmt_us(rh["bare1"][0]),
        r1,
        "<= 2x bare",
        r1 <= 2.0,
    )
    flat = rh["cl1"][0] / rh["cl0"][0]
    flat_bare = rh["bare1"][0] / rh["bare0"][0]
    row(
        f"rehydrate flatness: {resident_n:,} / 0 resident",
        f"{flat:.2f}x",
        f"{flat_bare:.2f}x",
        flat,
        "0.75x-1.25x",
        0.75 <= flat <= 1.25,
    )
    row(
        f"compile 200-rung ladder (median of {compile_runs})",
        fmt_ms(compile_s),
        "-",
        None,
        "< 50 ms",
        compile_s < 0.050,
    )
    row(
        f"import commitladder vs transitions + pydantic (median of {imports.runs})",
        f"{imports.commitladder:,.1f} ms",
        f"{imports.baseline:,.1f} ms",
        imports.ratio,
        f"<= {IMPORT_TARGET}x",
        imports.met,
    )

    print(
        f"commitladder core benchmark: ladder {ladder.name} ({len(ladder.machine.states)} states), "
        f"seed {args.seed}, {m:,} commands over {n:,} enrollments"
        f"{' (quick)' if args.quick else ''}; "
        f"Python {platform.python_version()}, transitions {transitions.__version__}; "
        f"{repeats} rounds, every engine in each: rates are each side's best round, ratios "
        "the median of the per-round ratios [min-max]"
    )
    print_table(rows)
    print(
        f"notes: the baseline is the bare static machine unless the row names another. The rules\n"
        f"  never fire through transitions (ladder.machine is built on first use, for whoever\n"
        f"  wants it): the machines are the yardstick a transitions user would reach for.\n"
        f"  checked on the first {n_enr_checked:,} enrollments: guard-less machines fired "
        f"{n_checked - mismatched:,} of {n_checked:,} commands from the same state as "
        f"commitladder; "
        f"{elsewhere:,} enrollments end elsewhere\n"
        f"  (their last command is a commit that finishes or branches: unguarded, it takes the "
        f"first listed destination, e.g. purchase:ready for won).\n"
        f"  rehydrate: {len(snaps):,} snapshots taken mid-climb, {rh['cl0'][1]} refused; "
        f"200-rung ladder: {n_states:,} states, {n_trans:,} transitions. "
        f"Run took {time.perf_counter() - began:.0f} s."
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
