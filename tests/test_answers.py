"""Which ask an answer answers: ``ask_id=``, late yeses, and an ask past its deadline."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest

import commitladder as cl

T0 = datetime(2026, 1, 5, 9, tzinfo=UTC)
DAY = timedelta(days=1)


def redirecting() -> cl.Ladder:
    """``a`` expires into ``b`` (a rung), ``b`` expires into the end ``lost``."""
    return cl.Ladder.from_dict(
        {
            "ladder": "redirecting",
            "start": "a",
            "defaults": {"expires_after": "2d"},
            "rungs": {
                "a": {"kind": "call", "size": 1, "next": "c", "on_expire": "b"},
                "b": {"kind": "call", "size": 1, "next": "c", "on_expire": "lost"},
                "c": {"kind": "purchase", "size": 2, "next": "won"},
            },
            "ends": {"won": {"result": "won"}, "lost": {"result": "lost"}},
        }
    )


def test_a_yes_naming_an_older_ask_is_recorded_late_and_does_not_commit_the_open_one() -> None:
    e = redirecting().enroll("p", now=T0)
    first = e.ask("a", now=T0)
    e.expire(now=T0 + 2 * DAY)
    second = e.ask("b", now=T0 + 2 * DAY)
    events = e.commit(ask_id=first.id, now=T0 + 3 * DAY)
    assert [type(ev) for ev in events] == [cl.LateCommitment]
    late = events[0]
    assert isinstance(late, cl.LateCommitment)
    assert (late.ask_seq, late.rung) == (first.seq, "a")
    assert e.pending == second, "the open ask is still open"
    assert e.position is None, "nothing was committed"


def test_a_yes_naming_the_open_ask_commits_it() -> None:
    e = redirecting().enroll("p", now=T0)
    e.ask("a", now=T0)
    e.expire(now=T0 + 2 * DAY)
    second = e.ask("b", now=T0 + 2 * DAY)
    e.commit(ask_id=second.id, now=T0 + 3 * DAY)
    assert (e.position, e.pending) == ("b", None)


def test_a_yes_naming_no_ask_of_this_enrollment_is_refused() -> None:
    e = redirecting().enroll("p", now=T0)
    e.ask("a", now=T0)
    for wrong in ("redirecting/p#1", "someone-else#2", "redirecting/p#99", "nonsense"):
        with pytest.raises(cl.AskNotOpen) as refused:
            e.commit(ask_id=wrong, now=T0)
        assert refused.value.ask_id == wrong
        assert refused.value.open_ask_id == "redirecting/p#2"
    assert e.status == "pending"


def test_a_no_or_a_withdrawal_must_name_the_open_ask() -> None:
    e = redirecting().enroll("p", now=T0)
    first = e.ask("a", now=T0)
    e.expire(now=T0 + 2 * DAY)
    e.ask("b", now=T0 + 2 * DAY)
    for command in (e.decline, e.withdraw):
        with pytest.raises(cl.AskNotOpen):
            command(ask_id=first.id, now=T0 + 2 * DAY)
    assert e.pending is not None
    assert e.pending.rung == "b"


def test_a_late_yes_after_an_expiry_that_ended_the_enrollment_is_kept() -> None:
    e = redirecting().enroll("p", now=T0)
    e.ask("a", now=T0)
    e.expire(now=T0 + 2 * DAY)
    last = e.ask("b", now=T0 + 2 * DAY)
    e.expire(now=T0 + 4 * DAY)
    assert e.ended == "lost"
    events = e.commit(now=T0 + 5 * DAY)
    assert [(type(ev), ev.ask_seq) for ev in events] == [(cl.LateCommitment, last.seq)]
    assert e.ended == "lost", "the enrollment stays ended"
    again = cl.Enrollment.replay(e.ladder, e.history)
    assert again.snapshot() == e.snapshot()


def test_a_late_yes_after_an_expiry_that_ended_the_enrollment_reaches_the_seller() -> None:
    clock = cl.SteppableClock(T0)
    messenger = cl.RecordingMessenger()
    tracker = cl.Tracker(
        store=cl.MemoryStore(), messenger=messenger, clock=clock, ladders=[redirecting()]
    )
    tracker.enroll("p", ladder="redirecting")
    tracker.ask("p", "a")
    clock.advance(days=2)
    tracker.run_due()
    tracker.ask("p", "b")
    clock.advance(days=2)
    tracker.run_due()
    assert tracker.get("p").ended == "lost"
    tracker.commit("p")
    tracker.relay()
    late = messenger.of_kind("late_commitment")
    assert [(m.prospect, m.rung) for m in late] == [("p", "b")]


def test_a_commit_on_an_enrollment_that_ended_otherwise_is_still_refused() -> None:
    e = redirecting().enroll("p", now=T0)
    e.end("lost", now=T0)
    with pytest.raises(cl.EnrollmentEnded):
        e.commit(now=T0)


def test_a_follow_up_after_the_deadline_is_refused_before_expire_runs() -> None:
    ladder = cl.Ladder.from_dict(
        {
            "ladder": "chasing",
            "start": "a",
            "rungs": {
                "a": {
                    "kind": "call",
                    "size": 1,
                    "next": "won",
                    "expires_after": "3d",
                    "follow_ups": {"max": 5, "every": "1d"},
                }
            },
            "ends": {"won": {"result": "won"}},
        }
    )
    e = ladder.enroll("p", now=T0)
    ask = e.ask("a", now=T0)
    e.follow_up(now=T0 + DAY)
    with pytest.raises(cl.AskLapsed) as lapsed:
        e.follow_up(now=T0 + 3 * DAY)
    assert lapsed.value.expired_at == ask.expires_at
    assert e.pending is not None
    assert e.pending.follow_ups == 1


def test_a_long_climb_keeps_a_snapshot_of_bounded_size_and_counts_every_ask() -> None:
    """Regression: the snapshot listed every ask, so a command's cost grew with the climb."""
    ladder = cl.Ladder.from_dict(
        {
            "ladder": "loop",
            "start": "a",
            "rungs": {
                "a": {"kind": "call", "size": 1, "next": "won", "on_decline": "b"},
                "b": {"kind": "call", "size": 1, "next": "won", "on_decline": "a", "max_asks": 60},
            },
            "ends": {"won": {"result": "won"}},
        }
    )
    e = ladder.enroll("p", now=T0)
    sizes = []
    first = None
    for n in range(120):
        ask = e.ask("a" if n % 2 == 0 else "b", now=T0 + n * DAY)
        first = first or ask
        e.decline(now=T0 + n * DAY)
        sizes.append(len(json.dumps(e.snapshot())))
    assert max(sizes[40:]) - min(sizes[40:]) < 40, "the snapshot stopped growing"
    assert e.snapshot()["asks"] == {"a": 60, "b": 60}
    e.ask("a", now=T0 + 200 * DAY)
    e.decline(now=T0 + 200 * DAY)  # the ladder sends them to b again
    with pytest.raises(cl.AskLimitReached):  # b's 61st ask: counted across the window
        e.ask("b", now=T0 + 200 * DAY)
    with pytest.raises(cl.AskNotOpen, match="older than the last 16 asks"):
        e.commit(ask_id=first.id, now=T0 + 200 * DAY)
    restored = cl.Enrollment.from_snapshot(ladder, json.loads(json.dumps(e.snapshot())))
    assert restored.snapshot() == e.snapshot()
    assert cl.Enrollment.replay(ladder, e.history).snapshot() == e.snapshot()
