"""commitladder.testing: strategies check their arguments, the machine holds the invariants,
a broken rule reads as a numbered sales story."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.errors import InvalidArgument

import commitladder as cl
from commitladder.testing import (
    Ask,
    Command,
    Commit,
    Decline,
    Invariant,
    LadderMachine,
    Resume,
    RuleBroken,
    _runs_of_no,
    _seeds,
    channels,
    commands,
    invariant,
    ladders,
    prove,
    run_commands,
    waits,
)

EXAMPLES = Path(__file__).parent.parent / "examples" / "ladders"
SOLO = cl.load(EXAMPLES / "solopreneur.yaml")

# A ready unittest TestCase, collected by pytest like any other (few examples: it is a smoke test).
TestSolopreneurMachine = LadderMachine.for_ladder(SOLO, max_examples=15, steps=20).TestCase


@pytest.mark.parametrize(
    "make",
    [
        lambda: commands("solopreneur"),  # type: ignore[arg-type]
        lambda: commands(SOLO, max_size=-1),
        lambda: commands(SOLO, min_size=5, max_size=2),
        lambda: ladders(min_rungs=0),
        lambda: ladders(min_rungs=4, max_rungs=2),
        lambda: ladders(max_ends=9),
        lambda: channels(None),  # type: ignore[arg-type]
        lambda: waits(3),  # type: ignore[arg-type]
        lambda: LadderMachine.for_ladder(SOLO, max_examples=0),
    ],
)
def test_strategies_check_their_arguments_at_once(make: object) -> None:
    with pytest.raises(InvalidArgument):
        make()  # type: ignore[operator]


@settings(max_examples=40, deadline=None)
@given(st.data())
def test_built_in_invariants_hold_on_random_ladders(data: st.DataObject) -> None:
    """The core keeps every built-in invariant on any valid ladder (and the referee agrees)."""
    ladder = data.draw(ladders(max_rungs=5))
    run_commands(ladder, data.draw(commands(ladder, max_size=25)))


@settings(max_examples=20, deadline=None)
@given(ladders())
def test_generated_ladders_are_valid_and_round_trip(ladder: cl.Ladder) -> None:
    assert cl.Ladder.from_dict(ladder.to_dict()) == ladder
    assert not ladder.rules.requires_before


@pytest.mark.parametrize("path", sorted(EXAMPLES.glob("*.yaml")), ids=lambda p: p.name)
def test_example_ladders_keep_their_rules(path: Path) -> None:
    ladder = cl.load(path)
    verdict = prove(ladder, seed=1, max_examples=60)
    assert verdict.ok, str(verdict.broken)
    # the random climbs, plus the directed runs of no's where the ladder limits them
    limit = ladder.rules.max_asks_without_commitment
    directed = len(_runs_of_no(ladder, _seeds(ladder), limit)) if limit is not None else 0
    assert verdict.directed == directed
    assert verdict.examples == 60 + directed


def test_the_stateful_engine_finds_the_same_story() -> None:
    ladder = cl.load(Path(__file__).parent / "broken_ladders" / "size_jump.yaml")
    verdict = prove(ladder, seed=0, stateful=True, max_examples=100, steps=15)
    assert verdict.broken is not None
    assert verdict.broken.rule == "max_size_step"


def test_a_broken_rule_is_a_numbered_sales_story_with_the_seed() -> None:
    ladder = cl.load(Path(__file__).parent / "broken_ladders" / "skips_qualification.yaml")
    verdict = prove(ladder, seed=5)
    assert verdict.broken is not None
    text = str(verdict.broken)
    assert text.startswith("Ladder 'skips_qualification' broke rule requires_before")
    assert "How it happened:\n  1. Day 0: Asked for admit_problem." in text
    assert "Prospect declined qualify; the ladder moves on to proposal." in text
    assert text.rstrip().endswith(
        "Replay it with seed 5: commitladder test FILE --seed 5, or pytest --commitladder-seed 5."
    )
    assert "Traceback" not in text
    assert "state." not in text
    again = prove(ladder, seed=5)
    assert again.broken is not None
    assert again.broken.story == verdict.broken.story


def test_user_invariants_break_with_their_name() -> None:
    @invariant("nobody is disqualified")
    def never_disqualified(e: cl.Enrollment) -> bool:
        return e.ended != "disqualified"

    assert isinstance(never_disqualified, Invariant)
    verdict = prove(SOLO, seed=0, invariants=[never_disqualified])
    assert verdict.broken is not None
    assert verdict.broken.rule == "nobody is disqualified"
    assert "ended at disqualified" in verdict.broken.story[-1]


def test_bare_invariant_with_assert_uses_the_function_name() -> None:
    @invariant
    def never_parked(e: cl.Enrollment) -> None:
        assert e.status != "parked", "the deal was parked"

    with pytest.raises(RuleBroken, match="never_parked: the deal was parked") as caught:
        run_commands(SOLO, [Ask("admit_problem"), Decline()], invariants=[never_parked])
    assert caught.value.story[-1].endswith("Prospect declined admit_problem; the deal is parked.")


def test_run_commands_reports_refusals_and_keeps_going() -> None:
    trial = run_commands(
        SOLO, [Ask("purchase"), Ask("admit_problem", "fax"), Ask("admit_problem"), Commit()]
    )
    assert trial.enrollment.position == "admit_problem"
    assert trial.story[0] == "Day 0: Tried to ask for purchase: refused (not_next_step)."
    assert "refused (channel_not_allowed)" in trial.story[1]


def test_an_ended_enrollment_accepts_nothing() -> None:
    trial = run_commands(SOLO, [cl_end("lost"), Resume(), Ask("admit_problem")])
    assert trial.enrollment.ended == "lost"
    assert all("refused (ended)" in line for line in trial.story[1:])


def cl_end(end: str) -> Command:
    from commitladder.testing import End

    return End(end)


def test_importing_the_pytest_plugin_does_not_import_hypothesis() -> None:
    code = (
        "import json, sys, commitladder.pytest_plugin; "
        "print(json.dumps(sorted(m for m in sys.modules if m.startswith('hypothesis'))))"
    )
    loaded = json.loads(subprocess.check_output([sys.executable, "-c", code], text=True))
    assert loaded == []
