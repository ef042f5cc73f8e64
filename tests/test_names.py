"""Display names (issue 15): a host's ``display_name`` turns a prospect id into a name,
and refusal sentences use it and the rungs' and ends' titles, on ``Enrollment`` and
``Tracker`` alike; ``to_dict()`` keeps the ids, and the decisions never change.
"""

from __future__ import annotations

import logging
from datetime import timedelta
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

import commitladder as cl
from commitladder import commands as do
from support import T0, climb

pytest_plugins = ["dbfixtures"]

NAMES = {"acme": "Ada Lovelace (Acme Ltd)", "crm.lead:9": "Bo Diddley"}


def names(prospect: str) -> str | None:
    return NAMES.get(prospect)


TITLED = """\
ladder: titled
version: 1
start: hello
defaults: {channels: [email, phone], cooldown: 1d}
rungs:
  hello: {kind: conversation, size: 1, title: Say hello, next: call}
  call: {kind: call, size: 2, title: A 10-minute call, channels: [phone], next: [offer, won]}
  offer: {kind: purchase, size: 3, requires: [budget], next: won}
ends:
  won: {result: won, title: Client signed}
  lost: {result: lost}
"""


@pytest.fixture
def titled() -> cl.Ladder:
    return cl.Ladder.from_yaml(TITLED)


def refused(command: Any) -> cl.Refused:
    with pytest.raises(cl.Refused) as info:
        command()
    return info.value


def test_a_second_ask_names_the_prospect_and_the_open_rung(titled: cl.Ladder) -> None:
    e = titled.enroll("acme", now=T0, display_name=names)
    e.ask("hello", now=T0)
    refusal = refused(lambda: e.ask("call", now=T0))
    assert isinstance(refusal, cl.AskPending)
    assert str(refusal).startswith("Ada Lovelace (Acme Ltd) already has an open ask for Say hello")
    data = refusal.to_dict()
    assert data["enrollment_id"] == "titled/acme"  # the machines keep the ids
    assert data["rung"] == "call"
    assert data["ask"]["rung"] == "hello"
    assert "acme" not in data["message"]


def test_not_the_next_step_names_every_rung_by_its_title(titled: cl.Ladder) -> None:
    e = titled.enroll("acme", now=T0, display_name=names)
    refusal = e.why_not("offer")
    assert isinstance(refusal, cl.NotNextStep)
    assert refusal.message.startswith(
        "offer is not the next step for Ada Lovelace (Acme Ltd): at the start the next step "
        "is Say hello."
    )  # a rung with no title keeps its id
    assert refusal.askable == ["hello"]
    climb(e, "hello")
    said = refused(lambda: e.ask("hello", now=T0)).message
    assert said.startswith("Say hello is not the next step for Ada Lovelace (Acme Ltd): after ")
    assert "after Say hello the next step is A 10-minute call" in said


def test_an_ended_enrollment_names_its_end_by_title(titled: cl.Ladder) -> None:
    e = titled.enroll("acme", now=T0, display_name=names)
    e.end("won", now=T0)
    refusal = refused(lambda: e.ask("hello", now=T0))
    assert isinstance(refusal, cl.EnrollmentEnded)
    assert "Ada Lovelace (Acme Ltd)'s enrollment on titled ended at Client signed (won)" in str(
        refusal
    )
    assert refusal.to_dict()["end"] == "won"


def test_without_a_display_name_sentences_keep_the_ids(titled: cl.Ladder) -> None:
    e = titled.enroll("acme", now=T0)
    e.ask("hello", now=T0)
    assert str(refused(lambda: e.ask("call", now=T0))).startswith(
        "acme already has an open ask for hello"
    )


def test_an_unknown_name_or_a_failing_hook_keeps_the_id(
    titled: cl.Ladder, caplog: pytest.LogCaptureFixture
) -> None:
    e = titled.enroll("globex", now=T0, display_name=names)  # names() says None
    assert refused(lambda: e.resume(now=T0)).message.startswith("globex is not parked")

    def broken(prospect: str) -> str:
        raise RuntimeError("the CRM is down")

    e = titled.enroll("acme", now=T0, display_name=broken)
    with caplog.at_level(logging.ERROR, logger="commitladder"):
        refusal = refused(lambda: e.resume(now=T0))
    assert isinstance(refusal, cl.NotParked)  # the refusal still comes, with the id
    assert refusal.message.startswith("acme is not parked")
    assert "display name of 'acme' failed" in caplog.text


def test_replayed_and_restored_enrollments_keep_the_hook(titled: cl.Ladder) -> None:
    e = titled.enroll("acme", now=T0)
    e.ask("hello", now=T0)
    replayed = cl.Enrollment.replay(titled, e.history, display_name=names)
    restored = cl.Enrollment.from_snapshot(titled, e.snapshot(), display_name=names)
    for copy in (replayed, restored):
        assert str(copy.why_not("call")).startswith("Ada Lovelace (Acme Ltd) already has")


def test_the_tracker_names_prospects_on_every_store(store: Any, titled: cl.Ladder) -> None:
    tracker = cl.Tracker(store=store, ladders=[titled], display_name=names)
    tracker.enroll("crm.lead:9", ladder="titled", now=T0)
    tracker.ask("crm.lead:9", "hello", channel="email", now=T0)
    refusal = refused(lambda: tracker.ask("crm.lead:9", "call", now=T0, idempotency_key="k1"))
    assert str(refusal).startswith("Bo Diddley already has an open ask for Say hello")
    assert refusal.to_dict()["enrollment_id"] == "titled/crm.lead:9"
    again = refused(lambda: tracker.ask("crm.lead:9", "call", now=T0, idempotency_key="k1"))
    assert again.to_dict() == refusal.to_dict()  # the stored first answer, word for word
    why = tracker.get("crm.lead:9").why_not("call", now=T0)
    assert why is not None
    assert why.message.startswith("Bo Diddley already has an open ask for Say hello")


def test_no_titles_and_no_names_read_exactly_as_before(guards: cl.Ladder) -> None:
    """The guard ladder's rungs have no titles; a hook that knows no one changes no word."""
    plain = guards.enroll("acme", now=T0)
    named = guards.enroll("acme", now=T0, display_name=lambda prospect: None)
    for e in (plain, named):
        climb(e, "hello")
    said = [e.why_not(rung, now=T0) for e in (plain, named) for rung in ("hello", "offer")]
    assert all(refusal is not None for refusal in said)
    assert [r.message for r in said[:2]] == [r.message for r in said[2:]]  # type: ignore[union-attr]


COMMANDS = st.sampled_from(
    [
        *(do.AskFor(r, c) for r in ("hello", "call", "offer", "nowhere") for c in (None, "phone")),
        do.Commit(),
        do.Commit(facts={"budget": 1}),
        do.Decline(needs="a case study"),
        do.Expire(),
        do.FollowUp(),
        do.Withdraw(),
        do.Resume(),
        do.End("lost"),
        do.End("won"),
    ]
)


@given(
    steps=st.lists(st.tuples(COMMANDS, st.sampled_from([0, 1, 26, 200])), max_size=25),
)
def test_names_change_the_words_of_refusals_and_nothing_else(steps: list[Any]) -> None:
    ladder = cl.Ladder.from_yaml(TITLED)
    plain = ladder.enroll("acme", now=T0)
    named = ladder.enroll("acme", now=T0, display_name=names)
    now = T0
    for command, hours in steps:
        now += timedelta(hours=hours)
        results = []
        for e in (plain, named):
            try:
                results.append(e.execute(command, now=now))
            except cl.Refused as refusal:
                results.append(refusal)
        a, b = results
        if isinstance(a, cl.Refused):
            assert isinstance(b, cl.Refused)
            assert {**a.to_dict(), "message": ""} == {**b.to_dict(), "message": ""}
        else:
            assert a == b
    assert plain.snapshot() == named.snapshot()
