"""Versions side by side: a tracker holds several versions of one ladder; new enrollments go
to the newest and every enrollment keeps running on the version it was enrolled on."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

import commitladder as cl

pytest_plugins = ["dbfixtures"]

T0 = datetime(2026, 1, 5, 9, tzinfo=UTC)


def pitch(version: int, first: str = "intro") -> cl.Ladder:
    """A two-rung ladder whose first rung is ``first`` (v2 renames it)."""
    return cl.Ladder.from_dict(
        {
            "ladder": "pitch",
            "version": version,
            "start": first,
            "defaults": {"expires_after": "2d", "channels": ["email"]},
            "rungs": {
                first: {"kind": "call", "size": 1, "next": "demo"},
                "demo": {"kind": "meeting", "size": 2, "next": "won"},
            },
            "ends": {"won": {"result": "won"}, "lost": {"result": "lost"}},
        }
    )


@pytest.fixture
def tracker(store: Any) -> cl.Tracker:
    return cl.Tracker(store=store, clock=cl.SteppableClock(T0), ladders=[pitch(1)])


def test_two_versions_of_one_ladder_register_side_by_side(tracker: cl.Tracker) -> None:
    tracker.register(pitch(2, first="hello"))
    assert [lad.version for lad in tracker.versions("pitch")] == [1, 2]
    assert tracker.ladders["pitch"].version == 2


def test_another_ladder_under_a_taken_version_is_refused_and_names_the_next_version(
    tracker: cl.Tracker,
) -> None:
    with pytest.raises(cl.LadderError, match=r"v1 is registered already.*version: 2"):
        tracker.register(pitch(1, first="hello"))
    assert tracker.register(pitch(1)) == pitch(1)  # the same ladder again is fine


def test_old_enrollments_keep_their_version_and_new_ones_get_the_newest(
    tracker: cl.Tracker,
) -> None:
    tracker.enroll("old", ladder="pitch", now=T0)
    tracker.ask("old", "intro", now=T0)
    tracker.register(pitch(2, first="hello"))
    tracker.enroll("new", ladder="pitch", now=T0)
    old, new = tracker.get("old"), tracker.get("new")
    assert (old.version, old.pending is not None) == (1, True)
    assert (new.version, new.askable()) == (2, ["hello"])
    # commands on the old enrollment run on v1: its rung ``intro`` still exists there
    tracker.commit("old", now=T0 + timedelta(hours=1))
    assert tracker.get("old").position == "intro"
    tracker.ask("new", "hello", now=T0)
    assert tracker.get("new").pending is not None


def test_timers_of_old_enrollments_fire_on_their_own_version(tracker: cl.Tracker) -> None:
    tracker.enroll("old", ladder="pitch", now=T0)
    tracker.ask("old", "intro", now=T0)
    tracker.register(pitch(2, first="hello"))
    report = tracker.run_due(T0 + timedelta(days=3))
    assert (int(report), report.skipped) == (1, ())
    assert tracker.get("old").status == "parked"


def test_a_tracker_holding_only_the_newest_version_says_which_version_it_lacks(
    store: Any,
) -> None:
    cl.Tracker(store=store, ladders=[pitch(1)]).enroll("old", ladder="pitch", now=T0)
    newer = cl.Tracker(store=store, ladders=[pitch(2, first="hello")])
    with pytest.raises(cl.LadderError, match=r"'pitch' v1 is not registered.*register it"):
        newer.get("old")
    newer.register(pitch(1))
    assert newer.get("old").version == 1


def test_a_worker_without_the_old_version_leaves_its_timers_for_later(store: Any) -> None:
    old = cl.Tracker(store=store, ladders=[pitch(1)])
    old.enroll("p", ladder="pitch", now=T0)
    old.ask("p", "intro", now=T0)
    newer = cl.Tracker(store=store, ladders=[pitch(2, first="hello")])
    report = newer.run_due(T0 + timedelta(days=3))
    assert int(report) == 0
    assert [why for _, _, why in report.skipped] == [
        "ladder 'pitch' v1 is not registered with this worker"
    ]
