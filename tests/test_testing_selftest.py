"""The kit catches real bugs: broken ladders and broken enrollment guards fail, correct ones pass.

Each broken variant must be caught by ``prove`` within the default example budget, with
the rule it breaks named. The seeds are fixed so the suite is repeatable; the table of
examples needed per variant over seeds 0-9 is in docs/how-to/property-testing.md.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

import commitladder as cl
from commitladder import _decide, _enrollment, _fold
from commitladder.commands import AskFor
from commitladder.testing import DEFAULT_EXAMPLES, prove

HERE = Path(__file__).parent
BROKEN = HERE / "broken_ladders"
EXAMPLES = HERE.parent / "examples" / "ladders"
SEED = 0

# ---- broken ladders: the ladder's own rules, contradicted by its structure --------------------

BROKEN_LADDERS = {
    "size_jump.yaml": "max_size_step",
    "deep_size_jump.yaml": "max_size_step",
    "skips_qualification.yaml": "requires_before",
    "too_many_asks.yaml": "max_asks_without_commitment",
    "nurture_loop.yaml": "max_asks_without_commitment",
}


@pytest.mark.parametrize(("name", "rule"), BROKEN_LADDERS.items(), ids=list(BROKEN_LADDERS))
def test_a_broken_ladder_fails_with_the_rule_it_breaks(name: str, rule: str) -> None:
    ladder = cl.load(BROKEN / name)
    verdict = prove(ladder, seed=SEED)
    assert verdict.broken is not None, f"seed {verdict.seed} missed it"
    assert verdict.broken.rule == rule
    assert verdict.examples_to_catch is not None
    assert verdict.examples_to_catch <= DEFAULT_EXAMPLES


@pytest.mark.parametrize("path", sorted(EXAMPLES.glob("*.yaml")), ids=lambda p: p.name)
def test_a_correct_ladder_passes(path: Path) -> None:
    verdict = prove(cl.load(path), seed=SEED)
    assert verdict.ok, str(verdict.broken)


# ---- broken enrollments: a rule disabled or the fold bent by monkeypatching -------------------

Patch = Callable[[pytest.MonkeyPatch], None]
check_ask = _decide._check_ask


def _ask_with(**changes: Any) -> Patch:
    """The ask guard looking at a doctored state (a guard that forgets something)."""

    def patch(mp: pytest.MonkeyPatch) -> None:
        def doctored(ladder: Any, s: Any, rung: str, channel: str | None, now: datetime) -> Any:
            t = s.copy()
            for name, value in changes.items():
                setattr(t, name, value)
            return check_ask(ladder, t, rung, channel, now)

        mp.setattr(_decide, "_check_ask", doctored)

    return patch


def _any_channel(mp: pytest.MonkeyPatch) -> None:
    def lax(ladder: Any, s: Any, rung: str, channel: str | None, now: datetime) -> Any:
        found = check_ask(ladder, s, rung, None, now)
        if isinstance(found, cl.Refused):
            return found
        return found[0], channel or found[1]

    mp.setattr(_decide, "_check_ask", lax)


def _any_candidate(mp: pytest.MonkeyPatch) -> None:
    """NotNextStep off: every rung the machine has a transition for is allowed."""

    def lax(ladder: Any, s: Any, rung: str, channel: str | None, now: datetime) -> Any:
        if rung in ladder.tables.candidates.get(s.position, ()):
            t = s.copy()
            t.redirect = rung  # as if a "no" had sent the prospect there
            return check_ask(ladder, t, rung, channel, now)
        return check_ask(ladder, s, rung, channel, now)

    mp.setattr(_decide, "_check_ask", lax)


def _rule(name: str, wrap: Callable[[Any], Any]) -> Patch:
    def patch(mp: pytest.MonkeyPatch) -> None:
        mp.setattr(_decide, name, wrap(getattr(_decide, name)))

    return patch


def _facts_off(orig: Any) -> Any:
    def lax(ladder: Any, s: Any, cmd: Any, now: Any) -> Any:
        t = s.copy()
        t.facts = dict.fromkeys(["pain", "timeline"], "assumed") | dict(s.facts)
        return orig(ladder, t, cmd, now)

    return lax


def _follow_ups_off(orig: Any) -> Any:
    def lax(ladder: Any, s: Any, cmd: Any, now: Any) -> Any:
        t = s.copy()
        if t.pending is not None:
            p = t.pending
            t.pending = cl.Ask(
                p.enrollment_id, p.seq, p.rung, p.channel, p.asked_at, p.expires_at, 0, p.asked_at
            )
        return orig(ladder, t, cmd, now)

    return lax


def _early_expiry(orig: Any) -> Any:
    """The expiry guard off: an ask may expire as soon as someone says so."""

    def lax(ladder: Any, s: Any, cmd: Any, now: Any, *, declined: bool) -> Any:
        ask = s.pending
        if not declined and ask is not None and ask.expires_at is not None:
            t = s.copy()
            t.pending = ask._replace(expires_at=min(now, ask.expires_at))
            return orig(ladder, t, cmd, now, declined=declined)
        return orig(ladder, s, cmd, now, declined=declined)

    return lax


def _fold_keeps_count(mp: pytest.MonkeyPatch) -> None:
    """A fold bug: a commitment forgets to reset the unanswered-asks count."""
    apply = _fold._apply

    def bent(ladder: Any, s: Any, event: Any) -> None:
        count = s.unanswered
        apply(ladder, s, event)
        if isinstance(event, cl.Committed):
            s.unanswered = count

    mp.setattr(_fold, "_apply", bent)


def _replay_loses_facts(mp: pytest.MonkeyPatch) -> None:
    """A replay bug: events read back from JSON drop their facts."""
    read = cl.event_from_dict

    def lossy(data: dict[str, Any]) -> Any:
        if data.get("type") == "Committed":
            data = {**data, "data": {**data["data"], "facts": None}}
        return read(data)

    mp.setattr(_enrollment, "event_from_dict", lossy)


def _refusal_leaves_mark(mp: pytest.MonkeyPatch) -> None:
    """A refused ask still bumps the unanswered-asks count."""
    run = _enrollment.Enrollment._execute

    def marking(self: Any, command: Any, now: Any) -> Any:
        try:
            return run(self, command, now)
        except cl.Refused:
            if isinstance(command, AskFor):
                s = self._s.copy()
                s.unanswered += 1
                self._s = s
            raise

    mp.setattr(_enrollment.Enrollment, "_execute", marking)


def _no_expiry_timer(mp: pytest.MonkeyPatch) -> None:
    timers = _enrollment.Enrollment.timers

    def fewer(self: Any) -> Any:
        return tuple(t for t in timers.fget(self) if t.kind != "expire")  # type: ignore[attr-defined]

    mp.setattr(_enrollment.Enrollment, "timers", property(fewer))


# name: (the bug, the rules that may catch it[, a seed that catches it, when not SEED]).
# Catch rates over seeds 0-9 are in docs/how-to/property-testing.md: some bugs need a rare
# sequence, so a fixed seed that catches them keeps this suite deterministic.
VARIANTS: dict[str, tuple[Any, ...]] = {
    "cooldown guard off": (_ask_with(cooldowns={}), {"cooldown"}),
    "max_asks guard off": (_ask_with(asked=()), {"max_asks"}),
    "channel guard off": (_any_channel, {"channel_allowed"}),
    "next-step guard off": (_any_candidate, {"next_step_only", "askable_agrees"}, 2),
    "required facts off": (_rule("_commit", _facts_off), {"required_facts"}),
    "follow-up limit off": (_rule("_follow_up", _follow_ups_off), {"follow_ups"}),
    "expiry before expires_at": (_rule("_answer", _early_expiry), {"expiry"}, 2),
    "commit keeps the ask count": (_fold_keeps_count, {"state_agrees"}),
    "replay loses facts": (_replay_loses_facts, {"replay"}),
    "refusal leaves a mark": (_refusal_leaves_mark, {"refusal_changes_nothing"}),
    "expiry timer missing": (_no_expiry_timer, {"timers"}),
}


@pytest.fixture
def solopreneur() -> cl.Ladder:
    return cl.load(EXAMPLES / "solopreneur.yaml")


@pytest.mark.parametrize("name", list(VARIANTS))
def test_a_broken_enrollment_is_caught(
    name: str, solopreneur: cl.Ladder, monkeypatch: pytest.MonkeyPatch
) -> None:
    patch, rules, *seed = VARIANTS[name]
    patch(monkeypatch)
    verdict = prove(solopreneur, seed=seed[0] if seed else SEED)
    assert verdict.broken is not None, f"{name} was not caught"
    assert verdict.broken.rule in rules, str(verdict.broken)
    assert verdict.examples_to_catch is not None
    assert verdict.examples_to_catch <= DEFAULT_EXAMPLES
