"""Random command sequences on every example ladder keep the built-in invariants.

After every step: never two open asks; an ask opens only for a rung ``askable`` listed
just before; a refused command changes nothing; an ended enrollment accepts nothing;
the history replays (from events and from JSON) to the same snapshot; seq numbers are
contiguous; a snapshot restores to the same state.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    invariant,
    precondition,
    rule,
    run_state_machine_as_test,
)

import commitladder as cl
from support import EXAMPLE_FILES, GUARDS_YAML, T0

SETTINGS = settings(
    max_examples=60,
    stateful_step_count=40,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
)

STEPS = [
    timedelta(minutes=30),
    timedelta(hours=12),
    timedelta(days=1),
    timedelta(days=2),
    timedelta(days=3),
    timedelta(days=8),
    timedelta(days=30),
    timedelta(weeks=14),
]
FACT_VALUES = st.sampled_from(["yes", 3, 0, True, None, ""])


def open_asks(history: tuple[cl.Event, ...]) -> set[int]:
    """Asks opened and not yet closed, checking each closing event closes an open ask."""
    opened: set[int] = set()
    expired: set[int] = set()
    for event in history:
        if isinstance(event, cl.AskIssued):
            assert not opened, f"ask #{event.seq} opened while #{opened} was open"
            opened.add(event.seq)
            expired.clear()
        elif isinstance(event, cl.Committed):
            if event.late:
                assert event.ask_seq in expired, "a late yes answers the ask that just expired"
                expired.clear()
            else:
                assert opened == {event.ask_seq}
                opened.clear()
        elif isinstance(event, cl.AskExpired):
            assert opened == {event.ask_seq}
            opened.clear()
            expired = {event.ask_seq}
        elif isinstance(event, (cl.Declined, cl.AskWithdrawn)):
            assert opened == {event.ask_seq}
            opened.clear()
        elif isinstance(event, cl.Ended):
            assert opened == ({event.ask_seq} if event.ask_seq is not None else set())
            opened.clear()
        elif isinstance(event, cl.LateCommitment):
            assert event.ask_seq not in opened, "a late yes named the ask still open"
    return opened


def machine_for(ladder: cl.Ladder) -> type[RuleBasedStateMachine]:
    rungs = sorted(ladder.rungs)
    every_rung = [*rungs, "no_such_rung", rungs[0][:3]]
    channels = sorted({c for r in ladder.rungs.values() for c in r.channels or ()})
    every_channel = [*channels, "fax"]
    outcomes = sorted({o for r in ladder.rungs.values() for o in r.outcomes or {}})
    fact_names = sorted({f for r in ladder.rungs.values() for f in r.requires}) or ["note"]
    ends = sorted(ladder.ends)

    class EnrollmentMachine(RuleBasedStateMachine):
        def __init__(self) -> None:
            super().__init__()
            self.now: datetime = T0
            self.e = ladder.enroll("prospect-1", now=T0)

        # -- running a command and checking what it did --

        def attempt(
            self, command: Callable[[], object], *, ask: tuple[str, str | None] | None = None
        ) -> None:
            e = self.e
            before = json.dumps(e.snapshot(), sort_keys=True)
            history = e.history
            was_ended = e.status == "ended"
            askable = e.askable(now=self.now)
            predicted = e.why_not(ask[0], channel=ask[1], now=self.now) if ask else None
            refusal: cl.Refused | None = None
            result: object = None
            try:
                result = command()
            except cl.Refused as exc:
                refusal = exc
            if refusal is not None:
                assert json.dumps(e.snapshot(), sort_keys=True) == before, "a refusal changed state"
                assert e.history == history, "a refusal changed the history"
                assert refusal.enrollment_id == e.id
                described = json.loads(json.dumps(refusal.to_dict()))
                # a stored refusal comes back as the same refusal (idempotent replays)
                again = cl.Refused.from_dict(described)
                assert type(again) is type(refusal), "from_dict rebuilt another refusal"
                assert again.to_dict() == refusal.to_dict()
                assert str(again) == str(refusal)
                if isinstance(refusal, cl.AskPending):
                    assert isinstance(again, cl.AskPending)
                    assert again.ask == refusal.ask
                if was_ended:
                    assert isinstance(refusal, cl.EnrollmentEnded)
                if ask is not None:
                    assert type(predicted) is type(refusal), "why_not disagrees with ask"
                    if ask[1] is None:
                        assert ask[0] not in askable, "askable listed a rung the ask refused"
                return
            new = e.history[len(history) :]
            assert new, "a command that passes records at least one event"
            if was_ended:  # only a yes to the ask that expired into the end is kept
                assert [type(ev) for ev in new] == [cl.LateCommitment], (
                    "an ended enrollment accepted a command"
                )
            if ask is not None:
                assert predicted is None, "why_not predicted a refusal for an ask that passed"
                assert ask[0] in askable, "an ask opened for a rung askable() did not list"
                assert isinstance(new[0], cl.AskIssued)
                assert new[0].rung == ask[0]
                assert result == e.pending
            else:
                assert tuple(result) == new  # type: ignore[call-overload]

        # -- rules --

        @rule(step=st.sampled_from(STEPS))
        def wait(self, step: timedelta) -> None:
            self.now += step

        @precondition(lambda self: bool(self.e.askable(now=self.now)))
        @rule(data=st.data())
        def ask_next(self, data: st.DataObject) -> None:
            """A seller who asks for a rung askable() offers, over its default channel."""
            rung = data.draw(st.sampled_from(self.e.askable(now=self.now)), label="rung")
            self.attempt(lambda: self.e.ask(rung, now=self.now), ask=(rung, None))

        @rule(
            rung=st.sampled_from(every_rung),
            channel=st.none() | st.sampled_from(every_channel),
        )
        def ask_any(self, rung: str, channel: str | None) -> None:
            """Any rung, known or not, over any channel, allowed or not."""
            self.attempt(
                lambda: self.e.ask(rung, channel=channel, now=self.now), ask=(rung, channel)
            )

        @rule(channel=st.none() | st.sampled_from(every_channel))
        def follow_up(self, channel: str | None) -> None:
            self.attempt(lambda: self.e.follow_up(channel=channel, now=self.now))

        def last_asked(self) -> cl.Rung | None:
            """The rung of the last ask: the open one, or the one a late yes would answer."""
            for event in reversed(self.e.history):
                if isinstance(event, cl.AskIssued):
                    return ladder.rungs[event.rung]
            return None

        def good_answer(self, data: st.DataObject) -> dict[str, Any]:
            rung = self.last_asked()
            assert rung is not None
            outcome = (
                data.draw(st.sampled_from(sorted(rung.outcomes)), label="outcome")
                if rung.outcomes
                else None
            )
            return {"outcome": outcome, "facts": dict.fromkeys(sorted(rung.requires), "known")}

        @precondition(lambda self: self.last_asked() is not None)
        @rule(data=st.data())
        def commit_well(self, data: st.DataObject) -> None:
            """A yes with a valid outcome and every required fact (maybe a late one)."""
            answer = self.good_answer(data)
            self.attempt(lambda: self.e.commit(now=self.now, **answer))

        @precondition(lambda self: bool(self.e.askable(now=self.now)))
        @rule(data=st.data())
        def climb(self, data: st.DataObject) -> None:
            """Ask for an askable rung and get a good yes: the happy path, one rung up."""
            self.ask_next(data)
            if self.e.pending is not None:
                self.commit_well(data)

        @precondition(lambda self: self.e.pending is not None)
        @rule()
        def follow_up_when_due(self) -> None:
            pending = self.e.pending
            assert pending is not None
            every = ladder.rungs[pending.rung].follow_ups_every
            if every is not None:
                self.now = max(self.now, pending.last_touch_at + every)
            self.attempt(lambda: self.e.follow_up(now=self.now))

        @precondition(lambda self: self.e.pending is not None)
        @rule()
        def expire_when_due(self) -> None:
            pending = self.e.pending
            assert pending is not None
            if pending.expires_at is not None:
                self.now = max(self.now, pending.expires_at)
            self.attempt(lambda: self.e.expire(now=self.now))

        @rule(
            outcome=st.none() | st.sampled_from([*outcomes, "bogus"]),
            facts=st.none() | st.dictionaries(st.sampled_from(fact_names), FACT_VALUES),
        )
        def commit_any(self, outcome: str | None, facts: dict[str, Any] | None) -> None:
            """A yes with any outcome and any facts (late, early, or with no ask at all)."""
            self.attempt(lambda: self.e.commit(outcome=outcome, facts=facts, now=self.now))

        @rule(
            needs=st.none() | st.just("a case study"),
            resume_in=st.none() | st.sampled_from(STEPS),
        )
        def decline(self, needs: str | None, resume_in: timedelta | None) -> None:
            resume_at = self.now + resume_in if resume_in is not None else None
            self.attempt(lambda: self.e.decline(needs=needs, resume_at=resume_at, now=self.now))

        @rule()
        def expire(self) -> None:
            self.attempt(lambda: self.e.expire(now=self.now))

        @rule()
        def withdraw(self) -> None:
            self.attempt(lambda: self.e.withdraw(now=self.now))

        @rule()
        def resume(self) -> None:
            self.attempt(lambda: self.e.resume(now=self.now))

        @rule(data=st.data())
        def command_dated_in_the_past(self, data: st.DataObject) -> None:
            """A command dated before the last event is refused and changes nothing."""
            e = self.e
            past = e.history[-1].at - timedelta(minutes=1)
            command = data.draw(
                st.sampled_from(
                    [
                        lambda: e.ask(e.ladder.start[0], now=past),
                        lambda: e.commit(now=past),
                        lambda: e.decline(now=past),
                        lambda: e.resume(now=past),
                        lambda: e.end(ends[0], now=past),
                    ]
                ),
                label="command",
            )
            before, history = e.snapshot(), e.history
            try:
                command()
            except (cl.TimeOrderError, cl.Refused):
                pass
            else:
                raise AssertionError("a command dated before the last event was accepted")
            assert (e.snapshot(), e.history) == (before, history)

        @rule(end=st.sampled_from([*ends, "nowhere"]), really=st.integers(0, 3))
        def end(self, end: str, really: int) -> None:
            # ending stops the climb, so it is done one time in four to let sequences go deep
            if really == 3:
                self.attempt(lambda: self.e.end(end, now=self.now))

        # -- invariants --

        @invariant()
        def never_two_open_asks(self) -> None:
            opened = open_asks(self.e.history)
            pending = self.e.pending
            assert opened == ({pending.seq} if pending is not None else set())

        @invariant()
        def seq_numbers_are_contiguous(self) -> None:
            history = self.e.history
            assert [ev.seq for ev in history] == list(range(1, len(history) + 1))
            assert self.e.seq == len(history)
            assert {ev.enrollment_id for ev in history} == {self.e.id}
            assert [ev.at for ev in history] == sorted(ev.at for ev in history)

        @invariant()
        def status_agrees_with_the_rest(self) -> None:
            e = self.e
            assert (e.status == "pending") == (e.pending is not None)
            assert (e.status == "ended") == (e.ended is not None)
            assert (e.status == "parked") or (e.needs is None and e.resume_at is None)
            if e.status != "ready":
                assert e.askable(now=self.now) == []

        @invariant()
        def history_replays_to_the_same_snapshot(self) -> None:
            e = self.e
            assert cl.Enrollment.replay(ladder, e.history).snapshot() == e.snapshot()
            stored = json.loads(json.dumps([ev.to_dict() for ev in e.history]))
            assert cl.Enrollment.replay(ladder, stored).snapshot() == e.snapshot()

        @invariant()
        def snapshot_restores_the_same_state(self) -> None:
            data = json.loads(json.dumps(self.e.snapshot()))
            restored = cl.Enrollment.from_snapshot(ladder, data)
            assert restored.snapshot() == self.e.snapshot()
            assert restored.timers == self.e.timers

    EnrollmentMachine.__name__ = f"EnrollmentOn_{ladder.name}"
    return EnrollmentMachine


LADDER_SOURCES = [*EXAMPLE_FILES, "guards"]


@pytest.mark.parametrize(
    "source", LADDER_SOURCES, ids=[p.name if isinstance(p, Path) else p for p in LADDER_SOURCES]
)
def test_random_command_sequences_keep_every_invariant(source: Path | str) -> None:
    ladder = cl.Ladder.from_yaml(GUARDS_YAML) if source == "guards" else cl.load(source)
    run_state_machine_as_test(machine_for(ladder), settings=SETTINGS)
