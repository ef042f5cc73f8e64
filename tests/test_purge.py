"""Retention: ``Tracker.purge`` deletes delivered and dead outbox rows and old receipts past
their horizons, and keeps everything not yet delivered, on every store."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

import commitladder as cl

pytest_plugins = ["dbfixtures"]

T0 = datetime(2026, 1, 5, 9, tzinfo=UTC)


def pitch() -> cl.Ladder:
    return cl.Ladder.from_dict(
        {
            "ladder": "pitch",
            "start": "intro",
            "defaults": {"channels": ["email"]},
            "rungs": {
                "intro": {"kind": "call", "size": 1, "next": "demo", "ask": "A call?"},
                "demo": {"kind": "meeting", "size": 2, "next": "won", "ask": "A demo?"},
            },
            "ends": {"won": {"result": "won"}},
        }
    )


@pytest.fixture
def messenger() -> cl.RecordingMessenger:
    return cl.RecordingMessenger(fail=lambda m: m.enrollment_id == "pitch/doomed")


@pytest.fixture
def tracker(store: Any, messenger: cl.RecordingMessenger) -> cl.Tracker:
    return cl.Tracker(store=store, messenger=messenger, ladders=[pitch()], max_attempts=1)


def test_purge_deletes_what_was_delivered_or_died_before_the_horizon_and_keeps_the_rest(
    tracker: cl.Tracker, store: Any
) -> None:
    for name in ("old", "doomed"):
        tracker.enroll(name, ladder="pitch", now=T0)
        tracker.ask(name, "intro", now=T0, idempotency_key=f"ask-{name}")
    report = tracker.relay(now=T0)
    assert (report.sent, report.dead) == (1, 1)
    later = T0 + timedelta(days=100)
    tracker.enroll("new", ladder="pitch", now=later)
    tracker.ask("new", "intro", now=later)
    tracker.relay(now=later)  # delivered after the horizon: kept
    tracker.commit("old", now=later)  # a commitment message, not yet delivered: kept
    pending_before = [e.message.key for e in store.outbox("pending")]
    assert pending_before

    horizon = T0 + timedelta(days=10)
    done = tracker.purge(sent_before=horizon, dead_before=horizon, receipts_before=horizon)
    assert (done.sent, done.dead, done.receipts, done.total) == (1, 1, 2, 4)
    assert [e.message.key for e in store.outbox("pending")] == pending_before
    assert [e.message.enrollment_id for e in store.outbox("sent")] == ["pitch/new"]
    assert store.outbox("dead") == []
    assert store.recall("ask-old") is None
    # enrollments and their histories are untouched
    assert [e.type for e in tracker.history("old")] == [
        "Enrolled",
        "AskIssued",
        "Committed",
    ]
    assert tracker.purge(sent_before=horizon, dead_before=horizon) == cl.store.PurgeReport()


def test_purge_works_in_batches_until_drained(tracker: cl.Tracker, store: Any) -> None:
    for n in range(7):
        tracker.enroll(f"p{n}", ladder="pitch", now=T0)
        tracker.ask(f"p{n}", "intro", now=T0)
    assert tracker.relay(now=T0).sent == 7
    done = tracker.purge(sent_before=T0 + timedelta(seconds=1), batch=3)
    assert done.sent == 7
    assert store.outbox("sent") == []


def test_purge_with_no_horizon_deletes_nothing(tracker: cl.Tracker, store: Any) -> None:
    tracker.enroll("p", ladder="pitch", now=T0)
    tracker.ask("p", "intro", now=T0)
    tracker.relay(now=T0)
    assert tracker.purge().total == 0
    assert len(store.outbox("sent")) == 1


def test_a_naive_horizon_is_refused() -> None:
    tracker = cl.Tracker(store=cl.MemoryStore())
    with pytest.raises(cl.NaiveDatetimeError):
        tracker.purge(sent_before=datetime(2026, 1, 1))
