"""Re-entry: what enrolling a prospect again does once their run ended, by the ladder's
``reentry`` policy, on every store."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

import commitladder as cl

pytest_plugins = ["dbfixtures"]

T0 = datetime(2026, 1, 5, 9, tzinfo=UTC)


def nurture(reentry: Any = None) -> cl.Ladder:
    data: dict[str, Any] = {
        "ladder": "nurture",
        "start": "subscribe",
        "defaults": {"channels": ["email"]},
        "rungs": {"subscribe": {"kind": "subscribe", "size": 1, "next": "won"}},
        "ends": {"won": {"result": "won"}, "lost": {"result": "lost"}},
    }
    if reentry is not None:
        data["reentry"] = reentry
    return cl.Ladder.from_dict(data)


def tracker_for(store: Any, reentry: Any = None) -> cl.Tracker:
    return cl.Tracker(store=store, clock=cl.SteppableClock(T0), ladders=[nurture(reentry)])


def ended_once(tracker: cl.Tracker, prospect: str = "p", at: datetime = T0) -> None:
    tracker.enroll(prospect, ladder="nurture", now=at)
    tracker.end(prospect, "lost", now=at + timedelta(hours=1))


def test_by_default_an_ended_prospect_is_refused_and_nothing_is_written(store: Any) -> None:
    tracker = tracker_for(store)
    ended_once(tracker)
    with pytest.raises(cl.ReentryRefused) as refused:
        tracker.enroll("p", ladder="nurture", now=T0 + timedelta(days=1))
    assert (refused.value.code, refused.value.policy, refused.value.retry_after) == (
        "reentry",
        "never",
        None,
    )
    assert "reentry: never" in str(refused.value)
    assert [e.id for e in tracker.enrollments("p")] == ["nurture/p"]
    assert cl.Refused.from_dict(refused.value.to_dict()).to_dict() == refused.value.to_dict()


def test_a_live_run_is_what_enrolling_again_returns(store: Any) -> None:
    tracker = tracker_for(store, "after_end")
    first = tracker.enroll("p", ladder="nurture", now=T0)
    again = tracker.enroll("p", ladder="nurture", now=T0 + timedelta(hours=1))
    assert again.id == first.id == "nurture/p"
    assert len(tracker.enrollments("p")) == 1


def test_after_end_starts_a_new_run_that_commands_and_get_address(store: Any) -> None:
    tracker = tracker_for(store, "after_end")
    ended_once(tracker)
    second = tracker.enroll("p", ladder="nurture", now=T0 + timedelta(days=1))
    assert (second.id, second.status) == ("nurture/p~2", "ready")
    tracker.ask("p", "subscribe", now=T0 + timedelta(days=1))
    assert tracker.get("p").id == "nurture/p~2"
    assert tracker.get("p").pending is not None
    tracker.commit("p", now=T0 + timedelta(days=2))  # reaches won: run 2 ends too
    third = tracker.enroll("p", ladder="nurture", now=T0 + timedelta(days=3))
    assert third.id == "nurture/p~3"
    runs = tracker.enrollments("p")
    assert [(e.id, e.status) for e in runs] == [
        ("nurture/p", "ended"),
        ("nurture/p~2", "ended"),
        ("nurture/p~3", "ready"),
    ]
    assert [e.ended for e in runs[:2]] == ["lost", "won"]


def test_a_cool_off_refuses_until_it_has_passed_and_says_when(store: Any) -> None:
    tracker = tracker_for(store, {"policy": "after_end", "cool_off": "90d"})
    ended_once(tracker)
    ended = T0 + timedelta(hours=1)
    with pytest.raises(cl.ReentryRefused) as refused:
        tracker.enroll("p", ladder="nurture", now=ended + timedelta(days=89))
    assert refused.value.retry_after == ended + timedelta(days=90)
    assert refused.value.previous == "nurture/p"
    assert len(tracker.enrollments("p")) == 1
    again = tracker.enroll("p", ladder="nurture", now=ended + timedelta(days=90))
    assert again.id == "nurture/p~2"


def test_a_cool_off_in_business_days_skips_the_weekend(store: Any) -> None:
    tracker = tracker_for(store, {"policy": "after_end", "cool_off": "2bd"})
    friday = datetime(2026, 1, 9, 9, tzinfo=UTC)
    ended_once(tracker, at=friday)  # ended Friday 10:00 (UTC, Monday to Friday)
    tuesday = datetime(2026, 1, 13, 10, tzinfo=UTC)
    with pytest.raises(cl.ReentryRefused) as refused:
        tracker.enroll("p", ladder="nurture", now=datetime(2026, 1, 12, 23, tzinfo=UTC))
    assert refused.value.retry_after == tuesday
    assert len(tracker.enrollments("p")) == 1
    assert tracker.enroll("p", ladder="nurture", now=tuesday).id == "nurture/p~2"


def test_any_time_starts_a_new_run_even_while_one_is_live(store: Any) -> None:
    tracker = tracker_for(store, "any_time")
    tracker.enroll("p", ladder="nurture", now=T0)
    second = tracker.enroll("p", ladder="nurture", now=T0 + timedelta(hours=1))
    assert second.id == "nurture/p~2"
    tracker.ask("p", "subscribe", ladder="nurture", now=T0 + timedelta(hours=2))
    assert tracker.get("p", ladder="nurture").id == "nurture/p~2"  # the newest live run
    assert [e.id for e in tracker.enrollments("p")] == ["nurture/p", "nurture/p~2"]


def test_an_idempotent_reenrollment_applies_once(store: Any) -> None:
    tracker = tracker_for(store, "after_end")
    ended_once(tracker)
    later = T0 + timedelta(days=1)
    first = tracker.enroll("p", ladder="nurture", now=later, idempotency_key="k")
    again = tracker.enroll("p", ladder="nurture", now=later, idempotency_key="k")
    assert first.id == again.id == "nurture/p~2"
    assert len(tracker.enrollments("p")) == 2


def test_the_policy_is_written_in_yaml_and_round_trips() -> None:
    text = """
ladder: nurture
start: subscribe
reentry: {policy: after_end, cool_off: 90d}
rungs:
  subscribe: {kind: subscribe, size: 1, next: won}
ends:
  won: {result: won}
"""
    ladder = cl.Ladder.from_yaml(text)
    assert (ladder.reentry.policy, ladder.reentry.cool_off) == ("after_end", timedelta(days=90))
    assert cl.Ladder.from_yaml(ladder.to_yaml()) == ladder
    assert nurture("after_end").reentry == cl.Reentry(policy="after_end")


def test_a_cool_off_under_another_policy_is_a_located_definition_error() -> None:
    text = """\
ladder: nurture
start: subscribe
reentry: {policy: never, cool_off: 90d}
rungs:
  subscribe: {kind: subscribe, size: 1, next: won}
ends:
  won: {result: won}
"""
    with pytest.raises(cl.DefinitionError) as error:
        cl.Ladder.from_yaml(text, source="nurture.yaml")
    assert "cool_off applies to policy after_end only" in str(error.value)
    assert "nurture.yaml:3" in str(error.value)
