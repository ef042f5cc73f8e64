"""Declared migrations: ``Tracker.migrate`` moves live enrollments onto a newer version by
its mapping; a dry run writes nothing; histories replay across versions."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

import commitladder as cl
from migration_ladders import V2, v1, v2

pytest_plugins = ["dbfixtures"]

T0 = datetime(2026, 1, 5, 9, tzinfo=UTC)
H = timedelta(hours=1)


def populate(store: Any) -> cl.Tracker:
    """Enrollments on v1 in every state the mapping touches."""
    t = cl.Tracker(store=store, ladders=[v1()])
    for p in ("ready", "asking-intro", "asking-intro-phone", "at-demo", "asking-trial",
              "asking-pilot", "at-trial", "parked", "ended-dq"):  # fmt: skip
        t.enroll(p, ladder="deal", now=T0)
    t.ask("asking-intro", "intro", channel="email", now=T0)
    t.ask("asking-intro-phone", "intro", channel="phone", now=T0)
    for p in ("at-demo", "asking-trial", "asking-pilot", "at-trial", "parked"):
        t.ask(p, "intro", channel="email", now=T0)
        t.commit(p, now=T0 + H)
        t.ask(p, "demo", channel="email", now=T0 + 2 * H)
        t.commit(p, now=T0 + 3 * H)
    t.ask("asking-trial", "trial", channel="email", now=T0 + 4 * H)
    t.ask("asking-pilot", "pilot", channel="email", now=T0 + 4 * H)
    t.ask("at-trial", "trial", channel="email", now=T0 + 4 * H)
    t.commit("at-trial", now=T0 + 5 * H)
    t.ask("parked", "trial", channel="email", now=T0 + 4 * H)
    t.decline("parked", needs="budget", now=T0 + 5 * H)
    t.end("ended-dq", "dq", now=T0 + H)
    return t


def dump(store: Any) -> Any:
    """Everything stored about the test's prospects, comparable."""
    names = ("ready", "asking-intro", "asking-intro-phone", "at-demo", "asking-trial",
             "asking-pilot", "at-trial", "parked", "ended-dq")  # fmt: skip
    rows = sorted(
        (s.id, s.version, repr(sorted(s.snapshot.items())), len(store.events(s.id)))
        for p in names
        for s in store.find(p)
    )
    return rows, sorted(map(repr, store.open_asks())), sorted(map(repr, store.timers()))


def test_a_dry_run_reports_the_moves_and_the_blocked_and_writes_nothing(store: Any) -> None:
    populate(store)
    before = dump(store)
    tracker = cl.Tracker(store=store, ladders=[v2()])  # only the new version is needed
    report = tracker.migrate("deal", now=T0 + 6 * H)
    assert report.dry_run
    assert (report.migrated, report.current) == (0, 0)
    assert dict(report.moves) == {
        ("v1 (start):ready", "v2 (start):ready"): 1,
        ("v1 (start):asking:intro", "v2 (start):asking:hello"): 1,
        ("v1 demo:ready", "v2 demo:ready"): 1,
        ("v1 demo:asking:trial", "v2 demo:ready"): 1,
        ("v1 demo:asking:pilot", "v2 lost"): 1,
        ("v1 trial:ready", "v2 proposal:ready"): 1,
        ("v1 demo:parked", "v2 demo:parked"): 1,
    }
    [(eid, state, why)] = report.blocked
    assert (eid, state) == ("deal/asking-intro-phone", "v1 (start):asking:intro")
    assert "made by phone, which hello does not allow in v2 (email)" in why
    assert dump(store) == before


def test_apply_moves_each_enrollment_once_and_records_migrated(store: Any) -> None:
    populate(store)
    asked = cl.Tracker(store=store, ladders=[v1()]).get("asking-intro").pending
    assert asked is not None
    tracker = cl.Tracker(store=store, ladders=[v2()])
    report = tracker.migrate("deal", dry_run=False, now=T0 + 6 * H, actor="ops", batch=2)
    assert (report.migrated, report.moving, len(report.blocked)) == (7, 7, 1)
    # an open ask survives a rename, under the same id, in the renamed rung
    e = tracker.get("asking-intro")
    assert (e.version, e.pending.rung if e.pending else None) == (2, "hello")
    assert e.pending is not None
    assert e.pending.id == asked.id
    assert [
        (a.rung, a.enrollment_id) for a in store.open_asks() if a.prospect == "asking-intro"
    ] == [("hello", "deal/asking-intro")]
    # an open ask on a removed rung is withdrawn; its mapped rung is what to ask now
    e = tracker.get("asking-trial")
    assert (e.status, e.pending, e.askable()) == ("ready", None, ["proposal"])
    last = tracker.history("asking-trial")[-1]
    assert isinstance(last, cl.Migrated)
    assert (last.from_version, last.to_version, last.withdrawn, last.actor) == (1, 2, 6, "ops")
    assert last.removed == {"trial": "proposal", "pilot": "lost"}
    assert last.reason == "rung trial was removed in v2"
    tracker.ask("asking-trial", "proposal", channel="email", now=T0 + 7 * H)
    # a rung removed into an end ends the enrollment there
    assert (tracker.get("asking-pilot").status, tracker.get("asking-pilot").ended) == (
        "ended",
        "lost",
    )
    # positions and parked deals move; commands go on on v2
    assert tracker.get("at-trial").position == "proposal"
    assert tracker.get("parked").status == "parked"
    tracker.resume("parked", now=T0 + 7 * H)
    assert tracker.get("parked").askable() == ["proposal"]
    # the blocked one stays on v1; ended ones are not moved
    assert cl.Tracker(store=store, ladders=[v1()]).get("asking-intro-phone").version == 1
    again = tracker.migrate("deal", dry_run=False, now=T0 + 8 * H)
    assert (again.migrated, again.current) == (0, 6)  # asking-pilot ended: not live
    for p in ("ready", "asking-intro", "at-demo", "asking-trial", "at-trial", "parked"):
        kinds = [ev.type for ev in tracker.history(p)]
        assert kinds.count("Migrated") == 1, p


def test_timers_after_a_migration_run_on_the_new_version(store: Any) -> None:
    populate(store)
    tracker = cl.Tracker(store=store, ladders=[v2()])
    tracker.migrate("deal", dry_run=False, now=T0 + 6 * H)
    report = tracker.run_due(T0 + timedelta(days=6))
    skipped = [(eid, why) for eid, _, why in report.skipped]
    assert skipped == [
        ("deal/asking-intro-phone", "ladder 'deal' v1 is not registered with this worker")
    ]
    assert tracker.get("asking-intro").status == "parked"  # its ask expired, on v2


def test_a_history_that_crosses_versions_replays_given_them(store: Any) -> None:
    populate(store)
    tracker = cl.Tracker(store=store, ladders=[v2()])
    tracker.migrate("deal", dry_run=False, now=T0 + 6 * H)
    tracker.ask("asking-trial", "proposal", channel="email", now=T0 + 7 * H)
    for p in ("asking-intro", "asking-trial", "at-trial", "parked", "asking-pilot"):
        stored = tracker.get(p)
        replayed = cl.Enrollment.replay(v2(), tracker.history(p), versions=[v1()])
        assert replayed.snapshot() == stored.snapshot(), p
        assert replayed.ladder.version == 2
    with pytest.raises(cl.LadderError, match="versions="):
        cl.Enrollment.replay(v1(), tracker.history("asking-trial"))


def test_the_migration_section_is_validated_with_locations() -> None:
    broken = V2.replace("removed: {trial: proposal", "removed: {trial: proposl").replace(
        "from_version: 1", "from_version: 2"
    )
    with pytest.raises(cl.DefinitionError) as error:
        cl.Ladder.from_yaml(broken, source="deal_v2.yaml")
    text = str(error.value)
    assert "'trial' maps to 'proposl', which is not a rung or end of this version" in text
    assert "did you mean 'proposal'" in text
    assert "a migration comes from an older version: 2 is not below 2" in text
    assert "deal_v2.yaml:7" in text
    assert cl.Ladder.from_yaml(v2().to_yaml()) == v2()
