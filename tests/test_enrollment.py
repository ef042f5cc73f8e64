"""Enrollments: every guard refuses with its own code and changes nothing; every command
records the right events; history replays; snapshots restore; the machine cannot be bypassed."""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import pytest
from transitions.core import MachineError

import commitladder as cl
from support import FACTS, T0, assert_refused, at, climb

Command = Callable[[cl.Enrollment], object]

# every command an enrollment takes, applied at a moment well after T0
ALL_COMMANDS: dict[str, Command] = {
    "ask": lambda e: e.ask("hello", now=at(days=20)),
    "follow_up": lambda e: e.follow_up(now=at(days=20)),
    "commit": lambda e: e.commit(now=at(days=20)),
    "decline": lambda e: e.decline(now=at(days=20)),
    "expire": lambda e: e.expire(now=at(days=20)),
    "withdraw": lambda e: e.withdraw(now=at(days=20)),
    "resume": lambda e: e.resume(now=at(days=20)),
    "end": lambda e: e.end("won", now=at(days=20)),
}


def events_of(e: cl.Enrollment, since: int) -> list[cl.Event]:
    return list(e.history[since:])


# ---- enrolling and asking ---------------------------------------------------------------


def test_enrolling_records_prospect_ladder_and_version(e: cl.Enrollment) -> None:
    (enrolled,) = e.history
    assert enrolled == cl.Enrolled(
        enrollment_id="guards/acme", seq=1, at=T0, prospect="acme", ladder="guards", version=2
    )
    assert (e.id, e.prospect, e.version, e.ladder.name) == ("guards/acme", "acme", 2, "guards")
    assert (e.status, e.position, e.pending, e.ended, e.result) == ("ready", None, None, None, None)
    assert e.askable(now=T0) == ["hello"]
    assert e.timers == ()


def test_enroll_takes_an_enrollment_id_actor_and_reason(guards: cl.Ladder) -> None:
    e = guards.enroll("acme", enrollment_id="deal-7", now=T0, actor="ana", reason="inbound")
    (enrolled,) = e.history
    assert (enrolled.enrollment_id, enrolled.actor, enrolled.reason) == ("deal-7", "ana", "inbound")


def test_prospect_must_be_a_non_empty_string(guards: cl.Ladder) -> None:
    with pytest.raises(TypeError):
        guards.enroll("", now=T0)


def test_ask_opens_one_ask_over_the_first_allowed_channel(e: cl.Enrollment) -> None:
    ask = e.ask("hello", now=T0)
    assert (ask.id, ask.seq, ask.rung, ask.channel) == ("guards/acme#2", 2, "hello", "email")
    assert (ask.asked_at, ask.expires_at, ask.follow_ups) == (T0, at(days=3), 0)
    assert e.pending == ask
    assert e.status == "pending"
    assert e.askable(now=T0) == []
    assert e.history[-1] == cl.AskIssued(
        enrollment_id=e.id, seq=2, at=T0, rung="hello", channel="email", expires_at=at(days=3)
    )
    with pytest.raises(AttributeError):
        ask.rung = "call"  # type: ignore[misc]


def test_an_ask_on_a_rung_without_expiry_never_expires(e: cl.Enrollment) -> None:
    reach_redirect(e)
    ask = e.ask("nudge", now=at(days=4))
    assert ask.expires_at is None
    assert e.history[-1].to_dict()["data"]["expires_at"] is None


# ---- every guard: the refusal, its code, and nothing changed -------------------------------


def test_a_second_open_ask_is_refused_with_ask_pending_carrying_the_open_ask(
    e: cl.Enrollment,
) -> None:
    ask = e.ask("hello", channel="phone", now=T0)
    for rung in ("hello", "call", "qualify"):
        refusal = assert_refused(
            e, cl.AskPending, "ask_pending", lambda r=rung: e.ask(r, now=at(hours=1))
        )
        assert refusal.ask == ask == e.pending
        assert refusal.retry_after == ask.expires_at
        assert refusal.to_dict()["ask"]["id"] == ask.id
        assert "one commitment at a time" in refusal.message


@pytest.mark.parametrize("rung", ["call", "qualify", "offer"])
def test_asking_for_a_rung_that_is_not_the_next_step_is_refused(
    e: cl.Enrollment, rung: str
) -> None:
    refusal = assert_refused(e, cl.NotNextStep, "not_next_step", lambda: e.ask(rung, now=T0))
    assert refusal.rung == rung
    assert refusal.details["askable"] == ["hello"]
    assert "don't jump ahead" in refusal.message


def test_a_rung_already_climbed_is_not_the_next_step(e: cl.Enrollment) -> None:
    climb(e, "hello")
    assert_refused(e, cl.NotNextStep, "not_next_step", lambda: e.ask("hello", now=T0))


def test_asking_for_an_unknown_rung_is_refused_with_did_you_mean(e: cl.Enrollment) -> None:
    refusal = assert_refused(e, cl.UnknownRung, "unknown_rung", lambda: e.ask("helo", now=T0))
    assert "did you mean 'hello'?" in refusal.message
    assert_refused(e, cl.UnknownRung, "unknown_rung", lambda: e.ask("zzz", now=T0))


def test_asking_over_a_channel_the_rung_does_not_allow_is_refused(e: cl.Enrollment) -> None:
    climb(e, "hello")
    refusal = assert_refused(
        e, cl.ChannelNotAllowed, "channel_not_allowed", lambda: e.ask("call", channel="email")
    )
    assert refusal.details["allowed"] == ["phone"]
    assert e.ask("call", channel="phone", now=T0).channel == "phone"


def test_following_up_over_a_channel_the_rung_does_not_allow_is_refused(
    e: cl.Enrollment,
) -> None:
    climb(e, "hello")
    e.ask("call", now=T0)
    assert_refused(
        e,
        cl.ChannelNotAllowed,
        "channel_not_allowed",
        lambda: e.follow_up(channel="email", now=at(days=1)),
    )


def test_re_asking_inside_the_cooldown_after_a_decline_is_refused_until_it_ends(
    e: cl.Enrollment,
) -> None:
    e.ask("hello", now=T0)
    e.decline(now=at(hours=1))
    e.resume(now=at(hours=2))
    refusal = assert_refused(
        e, cl.InCooldown, "cooldown", lambda: e.ask("hello", now=at(days=2, minutes=59))
    )
    assert refusal.retry_after == at(days=2, hours=1)  # decline time + cooldown
    assert e.askable(now=at(days=2, minutes=59)) == []
    assert e.askable(now=at(days=2, hours=1)) == ["hello"]
    assert e.ask("hello", now=at(days=2, hours=1)).rung == "hello"


def test_re_asking_inside_the_cooldown_after_an_expiry_is_refused(e: cl.Enrollment) -> None:
    e.ask("hello", now=T0)
    e.expire(now=at(days=3))
    e.resume(now=at(days=3, hours=1))
    refusal = assert_refused(e, cl.InCooldown, "cooldown", lambda: e.ask("hello", now=at(days=4)))
    assert refusal.retry_after == at(days=5)


def test_committing_without_the_required_facts_is_refused(e: cl.Enrollment) -> None:
    climb(e, "hello", "call")
    e.ask("qualify", now=T0)
    refusal = assert_refused(
        e,
        cl.MissingFacts,
        "missing_facts",
        lambda: e.commit(outcome="yes", facts={"budget": 1}, now=T0),
    )
    assert refusal.details["missing"] == ["timeline"]
    refusal = assert_refused(
        e,
        cl.MissingFacts,
        "missing_facts",
        lambda: e.commit(outcome="yes", facts={"budget": None, "timeline": ""}, now=T0),
    )
    assert refusal.details["missing"] == ["budget", "timeline"]


def test_facts_captured_with_earlier_commitments_count(e: cl.Enrollment) -> None:
    e.ask("hello", now=T0)
    e.commit(facts={"budget": 5}, now=T0)
    e.ask("call", now=T0)
    e.commit(facts={"timeline": "Q3", "budget": 7}, now=T0)
    e.ask("qualify", now=T0)
    (committed,) = e.commit(outcome="yes", now=T0)
    assert isinstance(committed, cl.Committed)
    assert committed.facts is None
    assert dict(e.facts) == {"budget": 7, "timeline": "Q3"}


def test_facts_are_copied_not_shared_with_the_caller(e: cl.Enrollment) -> None:
    facts: dict[str, Any] = {"budget": 5}
    e.ask("hello", now=T0)
    e.commit(facts=facts, now=T0)
    facts["budget"] = 0
    assert e.facts["budget"] == 5


def test_facts_must_be_json_values(e: cl.Enrollment) -> None:
    e.ask("hello", now=T0)
    before = e.snapshot()
    with pytest.raises(TypeError):
        e.commit(facts={"when": T0}, now=T0)
    assert e.snapshot() == before


@pytest.mark.parametrize(
    ("outcome", "hint"),
    [(None, "none given"), ("maybe", "'maybe' is not one of them"), ("ye", "did you mean 'yes'?")],
    ids=["missing", "unknown", "typo"],
)
def test_committing_to_a_branching_rung_needs_one_of_its_outcomes(
    e: cl.Enrollment, outcome: str | None, hint: str
) -> None:
    climb(e, "hello", "call")
    e.ask("qualify", now=T0)
    refusal = assert_refused(
        e,
        cl.OutcomeRequired,
        "outcome_required",
        lambda: e.commit(outcome=outcome, facts=FACTS, now=T0),
    )
    assert hint in refusal.message
    assert refusal.details["choices"] == ["yes", "later", "never"]


def test_an_outcome_on_a_rung_that_does_not_branch_is_refused(e: cl.Enrollment) -> None:
    e.ask("hello", now=T0)
    refusal = assert_refused(
        e, cl.OutcomeRequired, "outcome_required", lambda: e.commit(outcome="yes", now=T0)
    )
    assert "does not branch" in refusal.message


@pytest.mark.parametrize("command", ["ask", "follow_up", "commit", "decline", "expire", "withdraw"])
def test_a_parked_enrollment_refuses_everything_but_resume_and_end(
    e: cl.Enrollment, command: str
) -> None:
    e.ask("hello", now=T0)
    e.decline(needs="a case study", resume_at=at(days=9), now=at(hours=1))
    refusal = assert_refused(e, cl.EnrollmentParked, "parked", lambda: ALL_COMMANDS[command](e))
    assert "a case study" in refusal.message
    assert refusal.details["needs"] == "a case study"
    assert refusal.to_dict()["resume_at"] == at(days=9).isoformat()


@pytest.mark.parametrize("when", ["ready", "pending"])
def test_resume_is_refused_when_not_parked(e: cl.Enrollment, when: str) -> None:
    if when == "pending":
        e.ask("hello", now=T0)
    refusal = assert_refused(e, cl.NotParked, "not_parked", lambda: e.resume(now=T0))
    assert refusal.details["status"] == when


@pytest.mark.parametrize("command", sorted(ALL_COMMANDS))
def test_an_ended_enrollment_accepts_nothing(e: cl.Enrollment, command: str) -> None:
    e.end("lost", now=T0)
    refusal = assert_refused(e, cl.EnrollmentEnded, "ended", lambda: ALL_COMMANDS[command](e))
    assert refusal.details["end"] == "lost"


@pytest.mark.parametrize(
    "command",
    [
        lambda e: e.ask("zzz", now=T0),
        lambda e: e.end("zzz", now=T0),
        lambda e: e.ask("call", channel="fax", now=T0),
    ],
    ids=["unknown-rung", "unknown-end", "bad-channel"],
)
def test_an_ended_enrollment_says_it_ended_before_anything_else(
    e: cl.Enrollment, command: Command
) -> None:
    e.end("lost", now=T0)
    assert_refused(e, cl.EnrollmentEnded, "ended", lambda: command(e))


def test_following_up_more_than_the_rung_allows_is_refused(e: cl.Enrollment) -> None:
    e.ask("hello", now=T0)
    e.follow_up(now=at(days=1))
    e.follow_up(now=at(days=2))
    refusal = assert_refused(
        e, cl.FollowUpLimitReached, "follow_up_limit", lambda: e.follow_up(now=at(days=2.5))
    )
    assert refusal.retry_after is None  # waiting never adds follow-ups
    assert refusal.details["max"] == 2
    assert e.pending is not None
    assert e.pending.follow_ups == 2


def test_a_rung_without_follow_ups_refuses_the_first_one(e: cl.Enrollment) -> None:
    reach_redirect(e)
    e.ask("nudge", now=at(days=4))
    assert_refused(
        e, cl.FollowUpLimitReached, "follow_up_limit", lambda: e.follow_up(now=at(days=10))
    )


def test_following_up_too_soon_after_the_last_touch_is_refused(e: cl.Enrollment) -> None:
    e.ask("hello", now=T0)
    refusal = assert_refused(
        e, cl.FollowUpTooSoon, "follow_up_too_soon", lambda: e.follow_up(now=at(hours=12))
    )
    assert refusal.retry_after == at(days=1)
    e.follow_up(now=at(days=1, hours=1))
    refusal = assert_refused(
        e, cl.FollowUpTooSoon, "follow_up_too_soon", lambda: e.follow_up(now=at(days=2))
    )
    assert refusal.retry_after == at(days=2, hours=1)  # counted from the last touch


def test_asking_a_rung_more_than_max_asks_times_is_refused(e: cl.Enrollment) -> None:
    for hour in (0, 1):
        e.ask("hello", now=at(hours=hour))
        e.withdraw(now=at(hours=hour, minutes=30))
    refusal = assert_refused(
        e, cl.AskLimitReached, "ask_limit", lambda: e.ask("hello", now=at(hours=2))
    )
    assert (refusal.details["asked"], refusal.details["max_asks"]) == (2, 2)
    assert e.askable(now=at(hours=2)) == []


def test_expiring_before_expires_at_is_refused_with_retry_after(e: cl.Enrollment) -> None:
    e.ask("hello", now=T0)
    refusal = assert_refused(
        e, cl.NotExpiredYet, "not_expired", lambda: e.expire(now=at(days=2, hours=23))
    )
    assert refusal.retry_after == at(days=3)
    assert isinstance(e.expire(now=at(days=3))[0], cl.AskExpired)


def test_an_ask_without_expiry_cannot_be_expired(e: cl.Enrollment) -> None:
    reach_redirect(e)
    e.ask("nudge", now=at(days=4))
    refusal = assert_refused(e, cl.NotExpiredYet, "not_expired", lambda: e.expire(now=at(days=400)))
    assert refusal.retry_after is None


@pytest.mark.parametrize("command", ["follow_up", "commit", "decline", "expire", "withdraw"])
def test_answering_or_touching_without_an_open_ask_is_refused(
    e: cl.Enrollment, command: str
) -> None:
    assert_refused(e, cl.NoOpenAsk, "no_open_ask", lambda: ALL_COMMANDS[command](e))


@pytest.mark.parametrize("pending", [False, True], ids=["ready", "pending"])
def test_ending_at_an_undeclared_end_is_refused_with_did_you_mean(
    e: cl.Enrollment, pending: bool
) -> None:
    if pending:
        e.ask("hello", now=T0)
    refusal = assert_refused(e, cl.UnknownEnd, "unknown_end", lambda: e.end("wn", now=T0))
    assert "did you mean 'won'?" in refusal.message


def test_refusals_serialise_every_detail_to_json(e: cl.Enrollment) -> None:
    e.ask("hello", now=T0)
    refusal = e.why_not("call", now=T0)
    assert refusal is not None
    data = json.loads(json.dumps(refusal.to_dict()))
    assert data["error"] == "AskPending"
    assert data["rung"] == "call"
    assert data["retry_after"] == at(days=3).isoformat()
    assert data["ask"]["rung"] == "hello"


# ---- events recorded by each command -----------------------------------------------------


def test_each_command_records_its_events_with_their_data(e: cl.Enrollment) -> None:
    eid = e.id
    e.ask("hello", channel="email", now=T0, actor="ana", reason="first touch")
    e.follow_up(channel="phone", now=at(days=1))
    e.commit(facts={"budget": 5}, now=at(days=1, hours=2))
    e.ask("call", now=at(days=2))
    e.withdraw(now=at(days=2, hours=1), reason="wrong person")
    e.ask("call", now=at(days=2, hours=2))
    e.expire(now=at(days=5, hours=2))
    e.ask("nudge", channel="email", now=at(days=6))
    e.decline(needs="a case study", resume_at=at(days=20), now=at(days=7))
    e.resume(now=at(days=8), actor="bob")
    e.end("lost", now=at(days=9), reason="chose a competitor")
    assert list(e.history[1:]) == [
        cl.AskIssued(
            enrollment_id=eid,
            seq=2,
            at=T0,
            actor="ana",
            reason="first touch",
            rung="hello",
            channel="email",
            expires_at=at(days=3),
        ),
        cl.FollowedUp(
            enrollment_id=eid, seq=3, at=at(days=1), ask_seq=2, channel="phone", number=1
        ),
        cl.Committed(
            enrollment_id=eid,
            seq=4,
            at=at(days=1, hours=2),
            ask_seq=2,
            rung="hello",
            facts={"budget": 5},
        ),
        cl.AskIssued(
            enrollment_id=eid,
            seq=5,
            at=at(days=2),
            rung="call",
            channel="phone",
            expires_at=at(days=5),
        ),
        cl.AskWithdrawn(
            enrollment_id=eid,
            seq=6,
            at=at(days=2, hours=1),
            reason="wrong person",
            ask_seq=5,
            rung="call",
        ),
        cl.AskIssued(
            enrollment_id=eid,
            seq=7,
            at=at(days=2, hours=2),
            rung="call",
            channel="phone",
            expires_at=at(days=5, hours=2),
        ),
        cl.AskExpired(
            enrollment_id=eid, seq=8, at=at(days=5, hours=2), ask_seq=7, rung="call", then="nudge"
        ),
        cl.AskIssued(
            enrollment_id=eid, seq=9, at=at(days=6), rung="nudge", channel="email", expires_at=None
        ),
        cl.Declined(
            enrollment_id=eid,
            seq=10,
            at=at(days=7),
            ask_seq=9,
            rung="nudge",
            then="park",
            needs="a case study",
            resume_at=at(days=20),
        ),
        cl.Parked(
            enrollment_id=eid,
            seq=11,
            at=at(days=7),
            cause="declined",
            needs="a case study",
            resume_at=at(days=20),
        ),
        cl.Resumed(enrollment_id=eid, seq=12, at=at(days=8), actor="bob"),
        cl.Ended(
            enrollment_id=eid,
            seq=13,
            at=at(days=9),
            reason="chose a competitor",
            end="lost",
            result="lost",
        ),
    ]
    assert e.seq == 13


def test_commands_return_the_events_they_recorded(e: cl.Enrollment) -> None:
    e.ask("hello", now=T0)
    events = e.decline(now=at(hours=1))
    assert [type(ev) for ev in events] == [cl.Declined, cl.Parked]
    assert e.history[-2:] == events


def test_actor_and_reason_are_recorded_on_every_event_of_a_command(e: cl.Enrollment) -> None:
    e.ask("hello", now=T0, actor="ana", reason="intro")
    events = e.expire(now=at(days=3), actor="scheduler", reason="no answer")
    assert [(ev.actor, ev.reason) for ev in events] == [("scheduler", "no answer")] * 2
    assert (e.history[1].actor, e.history[1].reason) == ("ana", "intro")


# ---- where declines and expiries lead -----------------------------------------------------


def test_a_decline_parks_by_default_with_the_needs_and_resume_date(e: cl.Enrollment) -> None:
    e.ask("hello", now=T0)
    declined, parked = e.decline(needs="budget approval", resume_at=at(days=30), now=at(hours=1))
    assert isinstance(declined, cl.Declined)
    assert declined.then == "park"
    assert isinstance(parked, cl.Parked)
    assert parked.cause == "declined"
    assert (e.status, e.needs, e.resume_at, e.position) == (
        "parked",
        "budget approval",
        at(days=30),
        None,
    )
    assert e.askable(now=at(days=40)) == []
    e.resume(now=at(days=30))
    assert (e.status, e.needs, e.resume_at) == ("ready", None, None)


def test_an_expiry_parks_by_default(e: cl.Enrollment) -> None:
    e.ask("hello", now=T0)
    expired, parked = e.expire(now=at(days=3))
    assert isinstance(expired, cl.AskExpired)
    assert expired.then == "park"
    assert isinstance(parked, cl.Parked)
    assert parked.cause == "expired"
    assert e.status == "parked"


def reach_redirect(e: cl.Enrollment) -> None:
    """hello committed, then the ask for call expired: on_expire sends the prospect to nudge."""
    climb(e, "hello")
    e.ask("call", now=T0)
    e.expire(now=at(days=3))


def test_on_expire_to_a_rung_makes_it_the_only_askable_one_and_keeps_the_position(
    e: cl.Enrollment,
) -> None:
    reach_redirect(e)
    assert (e.status, e.position, e.pending) == ("ready", "hello", None)
    assert e.askable(now=at(days=30)) == ["nudge"]
    assert isinstance(e.why_not("call", now=at(days=30)), cl.NotNextStep)
    assert isinstance(e.why_not("qualify", now=at(days=30)), cl.NotNextStep)
    e.ask("nudge", now=at(days=4))
    e.commit(now=at(days=5))
    assert e.position == "nudge"
    assert e.askable(now=at(days=30)) == ["call"]


def test_withdrawing_the_redirected_ask_keeps_the_redirect(e: cl.Enrollment) -> None:
    """Ask and withdraw cannot escape an on_expire/on_decline redirect."""
    reach_redirect(e)
    e.ask("nudge", now=at(days=4))
    e.withdraw(now=at(days=4, hours=1))
    assert e.askable(now=at(days=30)) == ["nudge"]
    assert isinstance(e.why_not("call", now=at(days=30)), cl.NotNextStep)


def test_on_decline_to_a_rung_makes_it_the_only_askable_one(e: cl.Enrollment) -> None:
    climb(e, "hello", "call", "qualify")
    e.ask("offer", now=T0)
    (declined,) = e.decline(needs="a lower price", now=at(hours=1))
    assert isinstance(declined, cl.Declined)
    assert declined.then == "nurture"
    assert (e.status, e.position, e.outcome) == ("ready", "qualify", "yes")
    assert e.askable(now=at(hours=2)) == ["nurture"]


def test_on_decline_to_an_end_ends_the_enrollment(e: cl.Enrollment) -> None:
    climb(e, "hello", "call")
    e.ask("qualify", now=T0)
    declined, ended = e.decline(now=at(hours=1))
    assert isinstance(declined, cl.Declined)
    assert declined.then == "lost"
    assert isinstance(ended, cl.Ended)
    assert (ended.end, ended.result) == ("lost", "lost")
    assert (e.status, e.ended, e.result) == ("ended", "lost", "lost")


def test_on_expire_to_an_end_ends_the_enrollment(ladders: dict[str, cl.Ladder]) -> None:
    e = ladders["enterprise"].enroll("globex", now=T0)
    bant = {"budget": 1, "authority": "cfo", "need": "speed", "timeline": "Q3"}
    steps: list[tuple[str, dict[str, Any]]] = [
        ("intro_call", {}),
        ("discovery", {"facts": {"pain": "slow onboarding"}}),
        ("qualification", {"outcome": "qualified", "facts": bant}),
        ("technical_deep_dive", {}),
        ("security_review", {}),
    ]
    for rung, answer in steps:
        e.ask(rung, now=T0)
        e.commit(now=T0, **answer)
    e.ask("proposal", now=T0)
    expired, ended = e.expire(now=at(days=30))
    assert isinstance(expired, cl.AskExpired)
    assert expired.then == "no_decision"
    assert isinstance(ended, cl.Ended)
    assert ended.result == "neutral"
    assert (e.status, e.ended, e.result) == ("ended", "no_decision", "neutral")


# ---- reaching ends by committing ------------------------------------------------------------


SOLO_CLIMB: list[tuple[str, dict[str, Any]]] = [
    ("admit_problem", {}),
    ("intro_call", {}),
    ("qualify", {"outcome": "current_opportunity", "facts": {"pain": "x", "timeline": "Q2"}}),
    ("explore_solutions", {}),
    ("presentation", {}),
    ("proposal", {}),
]


def test_a_rung_whose_next_is_one_end_ends_the_enrollment_on_commit(
    ladders: dict[str, cl.Ladder],
) -> None:
    e = ladders["solopreneur"].enroll("lead-42", now=T0)
    for rung, answer in SOLO_CLIMB:
        e.ask(rung, now=T0)
        e.commit(now=T0, **answer)
    e.ask("purchase", now=at(days=1))
    committed, ended = e.commit(now=at(days=2))
    assert isinstance(committed, cl.Committed)
    assert committed.rung == "purchase"
    assert isinstance(ended, cl.Ended)
    assert (ended.end, ended.result) == ("won", "won")
    assert (e.status, e.position, e.ended, e.result) == ("ended", "purchase", "won", "won")
    assert e.state == "won"


def test_an_outcome_leading_to_an_end_ends_the_enrollment(ladders: dict[str, cl.Ladder]) -> None:
    e = ladders["solopreneur"].enroll("lead-43", now=T0)
    for rung, _ in SOLO_CLIMB[:2]:
        e.ask(rung, now=T0)
        e.commit(now=T0)
    e.ask("qualify", now=T0)
    committed, ended = e.commit(
        outcome="not_a_prospect", facts={"pain": "none", "timeline": "never"}, now=T0
    )
    assert isinstance(committed, cl.Committed)
    assert committed.outcome == "not_a_prospect"
    assert isinstance(ended, cl.Ended)
    assert ended.end == "disqualified"
    assert e.result == "lost"


def test_the_outcome_picks_the_next_rung(ladders: dict[str, cl.Ladder]) -> None:
    e = ladders["solopreneur"].enroll("lead-44", now=T0)
    for rung, _ in SOLO_CLIMB[:2]:
        e.ask(rung, now=T0)
        e.commit(now=T0)
    e.ask("qualify", now=T0)
    e.commit(outcome="no_current_opportunity", facts={"pain": "x", "timeline": "2027"}, now=T0)
    assert (e.position, e.outcome) == ("qualify", "no_current_opportunity")
    assert e.askable(now=T0) == ["stay_in_touch"]


# ---- late commitments ----------------------------------------------------------------------


def test_a_late_yes_after_expiry_with_no_other_ask_is_recorded_as_late(e: cl.Enrollment) -> None:
    e.ask("hello", now=T0)
    e.expire(now=at(days=3))
    (committed,) = e.commit(now=at(days=4))
    assert isinstance(committed, cl.Committed)
    assert (committed.late, committed.ask_seq, committed.rung) == (True, 2, "hello")
    assert (e.status, e.position) == ("ready", "hello")
    assert e.askable(now=at(days=4)) == ["call"]
    assert_refused(e, cl.NoOpenAsk, "no_open_ask", lambda: e.commit(now=at(days=4)))


def test_a_late_yes_wins_over_an_on_expire_redirect(e: cl.Enrollment) -> None:
    reach_redirect(e)
    (committed,) = e.commit(now=at(days=3, hours=1))
    assert isinstance(committed, cl.Committed)
    assert committed.late
    assert committed.rung == "call"
    assert e.askable(now=at(days=4)) == ["qualify"]


def test_a_late_yes_is_refused_once_another_ask_was_issued(e: cl.Enrollment) -> None:
    reach_redirect(e)
    e.ask("nudge", now=at(days=4))
    e.withdraw(now=at(days=4, hours=1))
    assert_refused(e, cl.NoOpenAsk, "no_open_ask", lambda: e.commit(now=at(days=5)))


def test_a_yes_after_another_ask_commits_that_ask_not_the_expired_one(e: cl.Enrollment) -> None:
    reach_redirect(e)
    e.ask("nudge", now=at(days=4))
    (committed,) = e.commit(now=at(days=5))
    assert isinstance(committed, cl.Committed)
    assert (committed.rung, committed.late) == ("nudge", False)


def test_a_decline_is_not_a_late_yes(e: cl.Enrollment) -> None:
    e.ask("hello", now=T0)
    e.decline(now=at(hours=1))
    assert_refused(e, cl.EnrollmentParked, "parked", lambda: e.commit(now=at(hours=2)))
    e.resume(now=at(hours=3))
    assert_refused(e, cl.NoOpenAsk, "no_open_ask", lambda: e.commit(now=at(hours=4)))


# ---- end, withdraw -----------------------------------------------------------------------


def test_end_from_pending_closes_the_open_ask(e: cl.Enrollment) -> None:
    e.ask("hello", now=T0)
    (ended,) = e.end("won", now=at(hours=1), reason="signed on the spot")
    assert isinstance(ended, cl.Ended)
    assert (ended.end, ended.result, ended.ask_seq, ended.reason) == (
        "won",
        "won",
        2,
        "signed on the spot",
    )
    assert (e.status, e.pending, e.ended) == ("ended", None, "won")
    assert e.timers == ()


@pytest.mark.parametrize("status", ["ready", "parked"])
def test_end_without_an_open_ask_closes_none(e: cl.Enrollment, status: str) -> None:
    if status == "parked":
        e.ask("hello", now=T0)
        e.decline(now=T0)
    (ended,) = e.end("lost", now=at(hours=1))
    assert isinstance(ended, cl.Ended)
    assert ended.ask_seq is None
    assert e.status == "ended"


def test_withdraw_takes_the_open_ask_back_without_a_cooldown(e: cl.Enrollment) -> None:
    e.ask("hello", now=T0)
    (withdrawn,) = e.withdraw(now=at(hours=1))
    assert isinstance(withdrawn, cl.AskWithdrawn)
    assert (withdrawn.ask_seq, withdrawn.rung) == (2, "hello")
    assert (e.status, e.pending) == ("ready", None)
    assert e.askable(now=at(hours=1)) == ["hello"]


# ---- timers ------------------------------------------------------------------------------


def test_an_open_ask_has_expiry_and_follow_up_timers(e: cl.Enrollment) -> None:
    e.ask("hello", now=T0)
    assert e.timers == (
        cl.Timer("expire", at(days=3), "hello"),
        cl.Timer("follow_up", at(days=1), "hello"),
    )
    e.follow_up(now=at(days=1, hours=6))
    assert e.timers[1] == cl.Timer("follow_up", at(days=2, hours=6), "hello")
    e.follow_up(now=at(days=2, hours=6))
    assert e.timers == (cl.Timer("expire", at(days=3), "hello"),)  # follow-ups used up


def test_after_a_commitment_the_next_step_is_due(e: cl.Enrollment) -> None:
    e.ask("hello", now=T0)
    e.commit(now=at(hours=5))
    assert e.timers == (cl.Timer("next_step_overdue", at(days=1, hours=5), "hello"),)
    e.ask("call", now=at(hours=6))
    assert [t.kind for t in e.timers] == ["expire", "follow_up"]


def test_a_withdrawn_ask_restarts_the_next_step_clock(e: cl.Enrollment) -> None:
    climb(e, "hello")
    e.ask("call", now=at(hours=1))
    e.withdraw(now=at(hours=3))
    assert e.timers == (cl.Timer("next_step_overdue", at(days=1, hours=3), "hello"),)


def test_a_parked_deal_has_only_its_resume_timer(e: cl.Enrollment) -> None:
    climb(e, "hello")
    e.ask("call", now=T0)
    e.decline(resume_at=at(days=14), now=at(hours=1))
    assert e.timers == (cl.Timer("resume", at(days=14), None),)


def test_a_parked_deal_without_resume_date_has_no_timer(e: cl.Enrollment) -> None:
    climb(e, "hello")
    e.ask("call", now=T0)
    e.decline(now=at(hours=1))
    assert e.timers == ()


def test_an_ask_without_expiry_or_follow_ups_has_no_timer(e: cl.Enrollment) -> None:
    reach_redirect(e)
    e.ask("nudge", now=at(days=4))
    assert e.timers == ()


# ---- time --------------------------------------------------------------------------------

NAIVE = datetime(2026, 1, 5, 9)


@pytest.mark.parametrize(
    "command",
    [
        lambda e: e.ask("hello", now=NAIVE),
        lambda e: e.end("won", now=NAIVE),
        lambda e: e.resume(now=NAIVE),
        lambda e: e.commit(now=NAIVE),
        lambda e: e.askable(now=NAIVE),
        lambda e: e.why_not("hello", now=NAIVE),
    ],
    ids=["ask", "end", "resume", "commit", "askable", "why_not"],
)
def test_naive_datetimes_are_refused_and_change_nothing(e: cl.Enrollment, command: Command) -> None:
    before, history = e.snapshot(), e.history
    with pytest.raises(cl.NaiveDatetimeError):
        command(e)
    assert (e.snapshot(), e.history) == (before, history)


@pytest.mark.parametrize(
    "command",
    [
        lambda e: e.decline(resume_at=NAIVE, now=at(hours=1)),
        lambda e: e.decline(now=NAIVE),
        lambda e: e.follow_up(now=NAIVE),
        lambda e: e.expire(now=NAIVE),
        lambda e: e.withdraw(now=NAIVE),
    ],
    ids=["decline-resume-at", "decline", "follow_up", "expire", "withdraw"],
)
def test_naive_datetimes_on_an_open_ask_are_refused_and_change_nothing(
    e: cl.Enrollment, command: Command
) -> None:
    e.ask("hello", now=T0)
    before, history = e.snapshot(), e.history
    with pytest.raises(cl.NaiveDatetimeError):
        command(e)
    assert (e.snapshot(), e.history) == (before, history)


@pytest.mark.parametrize(
    "command",
    [
        lambda e: e.follow_up(now=at(hours=1)),
        lambda e: e.commit(now=at(hours=1)),
        lambda e: e.decline(now=at(hours=1)),
        lambda e: e.withdraw(now=at(hours=1)),
        lambda e: e.end("won", now=at(hours=1)),
    ],
    ids=["follow_up", "commit", "decline", "withdraw", "end"],
)
def test_a_command_dated_before_the_last_event_is_refused_and_changes_nothing(
    e: cl.Enrollment, command: Command
) -> None:
    e.ask("hello", now=at(hours=2))
    before, history = e.snapshot(), e.history
    with pytest.raises(cl.TimeOrderError):
        command(e)
    assert (e.snapshot(), e.history) == (before, history)
    e.commit(now=at(hours=2))  # the same instant as the last event is fine


def test_enrolling_with_a_naive_datetime_is_refused(guards: cl.Ladder) -> None:
    with pytest.raises(cl.NaiveDatetimeError):
        guards.enroll("acme", now=NAIVE)


def test_without_now_the_enrollment_asks_its_clock(guards: cl.Ladder) -> None:
    clock = cl.SteppableClock(T0)
    e = guards.enroll("acme", clock=clock)
    e.ask("hello")
    clock.advance(days=3)
    e.expire()
    assert [ev.at for ev in e.history] == [T0, T0, at(days=3), at(days=3)]


# ---- why_not and askable ------------------------------------------------------------------


def reach(e: cl.Enrollment, where: str) -> datetime:
    """Put ``e`` in a named situation; return a moment to ask at."""
    if where == "start":
        return T0
    if where == "pending":
        e.ask("hello", now=T0)
        return at(hours=1)
    if where == "parked":
        e.ask("hello", now=T0)
        e.decline(now=T0)
        return at(days=10)
    if where == "climbed":
        climb(e, "hello")
        return T0
    if where == "redirected":
        reach_redirect(e)
        return at(days=4)
    if where == "cooldown":
        e.ask("hello", now=T0)
        e.decline(now=T0)
        e.resume(now=T0)
        return at(days=1)
    if where == "ask-limit":
        for _ in range(2):
            e.ask("hello", now=T0)
            e.withdraw(now=T0)
        return T0
    if where == "branched":
        climb(e, "hello", "call")
        e.ask("qualify", now=T0)
        e.commit(outcome="later", facts=FACTS, now=T0)
        return T0
    if where == "ended":
        e.end("lost", now=T0)
        return T0
    raise AssertionError(where)


SITUATIONS = [
    "start",
    "pending",
    "parked",
    "climbed",
    "redirected",
    "cooldown",
    "ask-limit",
    "branched",
    "ended",
]
CHANNELS = [None, "email", "phone", "fax"]


def refusal_of(command: Callable[[], object]) -> cl.Refused | None:
    """The refusal ``command`` meets, or None when it passes."""
    try:
        command()
    except cl.Refused as refusal:
        return refusal
    return None


def twin(e: cl.Enrollment) -> cl.Enrollment:
    return cl.Enrollment.replay(e.ladder, e.history)


@pytest.mark.parametrize("where", SITUATIONS)
def test_why_not_returns_the_refusal_an_ask_would_raise_or_none(
    e: cl.Enrollment, where: str
) -> None:
    now = reach(e, where)
    for rung in [*e.ladder.rungs, "hullo"]:
        for channel in CHANNELS:
            predicted = e.why_not(rung, channel=channel, now=now)
            met = refusal_of(lambda r=rung, c=channel: twin(e).ask(r, channel=c, now=now))
            assert type(predicted) is type(met), (rung, channel)
            if met is not None:
                assert predicted is not None
                assert predicted.to_dict() == met.to_dict()


@pytest.mark.parametrize("where", SITUATIONS)
def test_askable_lists_exactly_the_rungs_an_ask_would_accept(e: cl.Enrollment, where: str) -> None:
    now = reach(e, where)
    accepted = []
    for rung in e.ladder.rungs:
        try:
            twin(e).ask(rung, now=now)
        except cl.Refused:
            continue
        accepted.append(rung)
    assert sorted(e.askable(now=now)) == sorted(accepted)


@pytest.mark.parametrize(
    ("where", "expected"),
    [
        ("start", ["hello"]),
        ("pending", []),
        ("parked", []),
        ("climbed", ["call"]),
        ("redirected", ["nudge"]),
        ("cooldown", []),
        ("branched", ["nurture"]),
        ("ended", []),
    ],
)
def test_askable_in_each_situation(e: cl.Enrollment, where: str, expected: list[str]) -> None:
    now = reach(e, where)
    assert e.askable(now=now) == expected


# ---- listeners ---------------------------------------------------------------------------


def test_listeners_receive_each_event_after_it_is_applied(guards: cl.Ladder) -> None:
    box: list[cl.Enrollment] = []
    on_ladder: list[tuple[cl.Event, bool]] = []
    on_enrollment: list[tuple[cl.Event, bool]] = []
    added_later: list[cl.Event] = []

    def applied(event: cl.Event) -> bool:
        if not box:  # Enrolled is delivered while enroll() is still returning
            return isinstance(event, cl.Enrolled)
        e = box[0]
        return event in e.history and e.seq >= event.seq

    guards.add_listener(lambda ev: on_ladder.append((ev, applied(ev))))
    e = guards.enroll(
        "acme", now=T0, listeners=[lambda ev: on_enrollment.append((ev, applied(ev)))]
    )
    box.append(e)
    e.add_listener(added_later.append)
    e.ask("hello", now=T0)
    e.decline(now=at(hours=1))
    with pytest.raises(cl.EnrollmentParked):
        e.ask("hello", now=at(hours=2))
    e.resume(now=at(hours=3))
    assert [ev for ev, _ in on_ladder] == list(e.history)
    assert [ev for ev, _ in on_enrollment] == list(e.history)
    assert all(ok for _, ok in on_ladder + on_enrollment)
    assert added_later == list(e.history[1:])


def test_listeners_hear_events_in_order_even_when_one_issues_a_command(
    guards: cl.Ladder,
) -> None:
    """A host listener that asks for the next rung on each yes must not reorder what other
    listeners hear, nor add its events to the result of the command that triggered it."""
    box: list[cl.Enrollment] = []

    def keep_momentum(event: cl.Event) -> None:
        if isinstance(event, cl.Committed) and box and box[0].askable(now=event.at):
            box[0].ask(box[0].askable(now=event.at)[0], now=event.at)

    heard: list[int] = []
    e = guards.enroll("acme", now=T0, listeners=[keep_momentum, lambda ev: heard.append(ev.seq)])
    box.append(e)
    e.ask("hello", now=T0)
    result = e.commit(now=at(hours=1))
    assert e.pending is not None
    assert e.pending.rung == "call"
    assert [type(ev) for ev in result] == [cl.Committed]
    assert heard == [ev.seq for ev in e.history] == [1, 2, 3, 4]


def test_a_removed_ladder_listener_hears_nothing_more(guards: cl.Ladder) -> None:
    heard: list[cl.Event] = []
    guards.add_listener(heard.append)
    assert guards.listeners == (heard.append,)
    guards.remove_listener(heard.append)
    guards.enroll("acme", now=T0)
    assert heard == []


def test_a_failing_listener_is_logged_and_neither_undoes_nor_blocks_the_change(
    guards: cl.Ladder, caplog: pytest.LogCaptureFixture
) -> None:
    def broken(event: cl.Event) -> None:
        raise RuntimeError("crm webhook down")

    heard: list[cl.Event] = []
    guards.add_listener(broken)
    with caplog.at_level(logging.ERROR, logger="commitladder"):
        e = guards.enroll("acme", now=T0, listeners=[heard.append])
        ask = e.ask("hello", now=T0)
    assert (e.status, e.pending) == ("pending", ask)
    assert heard == list(e.history)  # later listeners still hear every event
    records = [r for r in caplog.records if r.name == "commitladder"]
    assert len(records) == 2
    assert "AskIssued" in records[1].getMessage()
    assert e.id in records[1].getMessage()
    assert records[1].exc_info is not None
    assert records[1].exc_info[0] is RuntimeError
    e.commit(now=at(hours=1))  # the enrollment keeps working
    assert e.position == "hello"


# ---- the machine cannot be bypassed --------------------------------------------------------


def fire(e: cl.Enrollment, trigger: str, **kwargs: Any) -> object:
    return e.ladder.machine.events[trigger].trigger(e, **kwargs)


@pytest.mark.parametrize(
    ("setup", "trigger", "kwargs", "refusal"),
    [
        ("climbed", "ask:nudge", {}, cl.NotNextStep),
        (None, "ask:nurture", {}, MachineError),
        (None, "ask:call", {}, MachineError),
        (None, "ask:offer", {}, MachineError),
        ("pending", "ask:hello", {}, MachineError),
        ("pending", "ask:call", {}, MachineError),
        ("pending", "follow_up", {}, cl.FollowUpTooSoon),
        ("climbed", "ask:call", {"channel": "email"}, cl.ChannelNotAllowed),
        ("cooldown", "ask:hello", {}, cl.InCooldown),
        ("qualify", "commit", {"outcome": "yes"}, cl.MissingFacts),
        ("qualify", "commit", {"facts": FACTS}, cl.OutcomeRequired),
        ("pending", "expire", {}, cl.NotExpiredYet),
        ("parked", "ask:hello", {}, MachineError),
        ("parked", "commit", {}, cl.EnrollmentParked),
        ("ended", "ask:hello", {}, MachineError),
        ("ended", "resume", {}, MachineError),
    ],
    ids=[
        "skip-to-a-redirect-rung-the-guard-refuses",
        "skip-to-a-rung-no-transition-reaches",
        "skip-a-rung",
        "jump-to-the-end",
        "second-ask-same-rung",
        "second-ask-next-rung",
        "follow-up-too-soon",
        "bad-channel",
        "cooldown",
        "missing-facts",
        "no-outcome",
        "expire-early",
        "ask-while-parked",
        "commit-while-parked",
        "ask-when-ended",
        "resume-when-ended",
    ],
)
def test_firing_triggers_on_the_machine_directly_cannot_bypass_a_guard(
    e: cl.Enrollment,
    setup: str | None,
    trigger: str,
    kwargs: dict[str, Any],
    refusal: type[Exception],
) -> None:
    now = T0
    if setup == "pending":
        e.ask("hello", now=T0)
        now = at(hours=1)
    elif setup == "climbed":
        climb(e, "hello")
    elif setup == "cooldown":
        now = reach(e, "cooldown")
    elif setup == "qualify":
        climb(e, "hello", "call")
        e.ask("qualify", now=T0)
    elif setup == "parked":
        e.ask("hello", now=T0)
        e.decline(now=T0)
    elif setup == "ended":
        e.end("lost", now=T0)
    before, history, state = e.snapshot(), e.history, e.state
    with pytest.raises(refusal):
        fire(e, trigger, now=now, **kwargs)
    assert (e.snapshot(), e.history, e.state) == (before, history, state)


def test_a_valid_direct_trigger_moves_the_enrollment_exactly_like_the_method(
    guards: cl.Ladder,
) -> None:
    by_method = guards.enroll("acme", now=T0)
    by_machine = guards.enroll("acme", now=T0)
    by_method.ask("hello", now=T0)
    assert fire(by_machine, "ask:hello", now=T0) is True
    by_method.commit(facts={"budget": 1}, now=at(hours=1))
    assert fire(by_machine, "commit", facts={"budget": 1}, now=at(hours=1)) is True
    by_method.ask("call", now=at(hours=2))
    fire(by_machine, "ask:call", now=at(hours=2))
    by_method.decline(needs="time", now=at(hours=3))
    fire(by_machine, "decline", needs="time", now=at(hours=3))
    assert by_machine.snapshot() == by_method.snapshot()
    assert by_machine.history == by_method.history
    assert by_machine.state == by_method.state == "hello:parked"


def test_an_enrollments_state_cannot_be_assigned(e: cl.Enrollment) -> None:
    before = e.snapshot()
    with pytest.raises(cl.LadderError):
        e.state = "hello:ready"
    assert e.snapshot() == before


def test_one_machine_serves_every_enrollment_and_holds_none(guards: cl.Ladder) -> None:
    a = guards.enroll("a", now=T0)
    b = guards.enroll("b", now=T0)
    a.ask("hello", now=T0)
    assert (a.status, b.status) == ("pending", "ready")
    assert a not in guards.machine.models
    assert b not in guards.machine.models


# ---- replay and snapshots ----------------------------------------------------------------


def story(e: cl.Enrollment) -> cl.Enrollment:
    """A climb that touches every kind of event but Ended."""
    e.ask("hello", now=T0, actor="ana")
    e.withdraw(now=at(hours=1))
    e.ask("hello", now=at(hours=2))
    e.follow_up(now=at(days=1, hours=2))
    e.commit(facts={"budget": 5}, now=at(days=1, hours=3))
    e.ask("call", now=at(days=2))
    e.expire(now=at(days=5))
    e.ask("nudge", now=at(days=6))
    e.decline(needs="a case study", resume_at=at(days=20), now=at(days=7))
    e.resume(now=at(days=8))
    e.ask("call", now=at(days=8))
    e.commit(facts={"timeline": "Q3"}, now=at(days=9))
    e.ask("qualify", now=at(days=9))
    return e


def test_replay_from_events_gives_the_same_state(e: cl.Enrollment) -> None:
    story(e)
    again = cl.Enrollment.replay(e.ladder, e.history)
    assert again.snapshot() == e.snapshot()
    assert again.history == e.history
    assert again.state == e.state


def test_replay_from_json_dicts_gives_the_same_state(e: cl.Enrollment) -> None:
    story(e)
    e.commit(outcome="yes", now=at(days=10))
    e.ask("offer", now=at(days=10))
    e.commit(now=at(days=11))
    assert e.status == "ended"
    stored = json.loads(json.dumps([ev.to_dict() for ev in e.history]))
    again = cl.Enrollment.replay(e.ladder, stored)
    assert again.snapshot() == e.snapshot()
    assert again.history == e.history


def test_a_replayed_enrollment_continues_like_the_original(e: cl.Enrollment) -> None:
    story(e)
    again = cl.Enrollment.replay(e.ladder, e.history)
    assert again.commit(outcome="later", now=at(days=10)) == e.commit(
        outcome="later", now=at(days=10)
    )


@pytest.mark.parametrize(
    "tamper",
    [
        lambda h: h[:3] + h[4:],
        lambda h: [*h[:3], h[4], h[3], *h[5:]],
        lambda h: [*h[:3], h[3].to_dict() | {"enrollment_id": "other"}, *h[4:]],
        lambda h: h[1:],
        lambda h: [],
    ],
    ids=["gap", "out-of-order", "mixed-enrollments", "no-enrolled", "empty"],
)
def test_replay_rejects_a_broken_history(
    e: cl.Enrollment, tamper: Callable[[list[Any]], list[Any]]
) -> None:
    story(e)
    with pytest.raises(cl.LadderError):
        cl.Enrollment.replay(e.ladder, tamper(list(e.history)))


def test_replay_rejects_a_history_of_another_ladder(
    e: cl.Enrollment, ladders: dict[str, cl.Ladder]
) -> None:
    story(e)
    with pytest.raises(cl.LadderError):
        cl.Enrollment.replay(ladders["solopreneur"], e.history)


# the same commands, some refused, run on an original and on a copy restored from a snapshot
SCRIPT: list[Command] = [
    lambda e: e.ask("hello", now=T0),
    lambda e: e.follow_up(now=at(hours=2)),
    lambda e: e.follow_up(now=at(days=1)),
    lambda e: e.commit(facts={"budget": 5}, now=at(days=1, hours=2)),
    lambda e: e.ask("call", now=at(days=2)),
    lambda e: e.expire(now=at(days=4)),
    lambda e: e.expire(now=at(days=5)),
    lambda e: e.ask("call", now=at(days=5)),
    lambda e: e.ask("nudge", channel="email", now=at(days=6)),
    lambda e: e.decline(needs="a case study", resume_at=at(days=20), now=at(days=7)),
    lambda e: e.ask("call", now=at(days=7)),
    lambda e: e.resume(now=at(days=8)),
    lambda e: e.ask("call", now=at(days=8)),
    lambda e: e.commit(facts={"timeline": "Q3"}, now=at(days=9)),
    lambda e: e.ask("qualify", now=at(days=9)),
    lambda e: e.commit(now=at(days=9)),
    lambda e: e.commit(outcome="yes", now=at(days=10)),
    lambda e: e.ask("offer", now=at(days=10)),
    lambda e: e.decline(now=at(days=11)),
    lambda e: e.ask("nurture", now=at(days=12)),
    lambda e: e.expire(now=at(days=15)),
    lambda e: e.commit(now=at(days=16)),
    lambda e: e.ask("qualify", now=at(days=16)),
    lambda e: e.commit(outcome="yes", now=at(days=17)),
    lambda e: e.ask("offer", now=at(days=17)),
    lambda e: e.commit(now=at(days=18)),
    lambda e: e.ask("hello", now=at(days=18)),
]


def run(e: cl.Enrollment, commands: list[Command]) -> list[object]:
    """What each command did: its events, or its refusal as a dict."""
    results: list[object] = []
    for command in commands:
        try:
            results.append(command(e))
        except cl.Refused as refusal:
            results.append(Refusal(type(refusal).__name__, refusal.to_dict()))
    return results


@dataclass(frozen=True)
class Refusal:
    """A refused command in a script's results: its class name and its ``to_dict()``."""

    name: str
    data: dict[str, Any]


def test_the_script_reaches_the_end_through_every_kind_of_step(guards: cl.Ladder) -> None:
    e = guards.enroll("acme", now=T0)
    results = run(e, SCRIPT)
    refused = [r.name for r in results if isinstance(r, Refusal)]
    assert refused == [
        "FollowUpTooSoon",
        "NotExpiredYet",
        "NotNextStep",
        "EnrollmentParked",
        "OutcomeRequired",
        "EnrollmentEnded",
    ]
    assert e.ended == "won"
    assert any(isinstance(ev, cl.Committed) and ev.late for ev in e.history)


@pytest.mark.parametrize("cut", range(len(SCRIPT) + 1))
def test_an_enrollment_restored_from_a_snapshot_continues_identically(
    guards: cl.Ladder, cut: int
) -> None:
    original = guards.enroll("acme", now=T0)
    run(original, SCRIPT[:cut])
    restored = cl.Enrollment.from_snapshot(guards, json.loads(json.dumps(original.snapshot())))
    assert restored.snapshot() == original.snapshot()
    assert restored.state == original.state
    assert restored.history == ()
    assert restored.timers == original.timers
    later = len(original.history)
    assert run(restored, SCRIPT[cut:]) == run(original, SCRIPT[cut:])
    assert restored.history == original.history[later:]
    assert restored.snapshot() == original.snapshot()


def test_from_snapshot_rejects_a_state_the_ladder_does_not_have(e: cl.Enrollment) -> None:
    data = e.snapshot() | {"state": "nowhere:ready"}
    with pytest.raises(cl.LadderError):
        cl.Enrollment.from_snapshot(e.ladder, data)
