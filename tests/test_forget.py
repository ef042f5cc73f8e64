"""Erase: ``Tracker.forget(prospect, reason=...)`` ends live enrollments and leaves nothing
personal of the prospect in any table, while the funnel's counts stay as they were."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

import commitladder as cl
from commitladder._stats import Funnel, fold

pytest_plugins = ["dbfixtures"]

T0 = datetime(2026, 1, 5, 9, tzinfo=UTC)
SEED = Path(cl.__file__).parent / "seed" / "solopreneur.yaml"
JANE = "jane.doe@example.com"
# every personal value Jane's climb records: her id, her facts, her needs, a reason
PERSONAL = (JANE, "jane.doe", "slow-onboarding-at-doe-ltd", "by-Q3-2026", "a-case-study-4-jane")


@pytest.fixture
def tracker(store: Any) -> cl.Tracker:
    return cl.Tracker(
        store=store, messenger=cl.RecordingMessenger(), ladders=[cl.load(SEED)], max_attempts=1
    )


def climb(tracker: cl.Tracker, prospect: str, *, end: bool) -> None:
    """A climb that records every kind of personal data: facts, needs, reasons, keys."""
    t = T0
    tracker.enroll(prospect, ladder="solopreneur", now=t, idempotency_key=f"in-{prospect}")
    tracker.ask(prospect, "admit_problem", channel="email", now=t, reason=f"web form {prospect}")
    tracker.commit(prospect, now=t + timedelta(hours=1), idempotency_key=f"hook-{prospect}")
    tracker.ask(prospect, "intro_call", channel="phone", now=t + timedelta(hours=2))
    tracker.commit(prospect, now=t + timedelta(hours=3))
    tracker.ask(prospect, "qualify", channel="phone", now=t + timedelta(hours=4))
    tracker.decline(
        prospect, needs=f"a-case-study-4-{prospect.split('.')[0]}", now=t + timedelta(hours=5)
    )
    tracker.resume(prospect, now=t + timedelta(days=4))
    tracker.ask(prospect, "qualify", channel="phone", now=t + timedelta(days=4))
    facts = {"pain": "slow-onboarding-at-doe-ltd", "timeline": "by-Q3-2026"}
    if prospect != JANE:
        facts = {"pain": "other", "timeline": "Q4"}
    tracker.commit(prospect, outcome="current_opportunity", facts=facts, now=t + timedelta(days=5))
    if end:
        tracker.end(prospect, "lost", now=t + timedelta(days=6), reason=f"{prospect} went quiet")
    else:
        tracker.ask(prospect, "explore_solutions", channel="phone", now=t + timedelta(days=6))
    tracker.relay(now=t + timedelta(days=6))


def everything(store: Any) -> str:
    """Every value of every column of every table (or every field a MemoryStore keeps)."""
    if isinstance(store, cl.MemoryStore):
        return repr(vars(store))
    import sqlalchemy as sa

    parts = []
    with store.engine.connect() as conn:
        for table in store.metadata.sorted_tables:
            for row in conn.execute(sa.select(table)):
                parts.extend(str(value) for value in row)
    return "\n".join(parts)


def funnel(store: Any) -> Funnel:
    if isinstance(store, cl.MemoryStore):
        ids = [s.id for s in store.enrollments()]
    else:
        import sqlalchemy as sa

        e = store.tables.enrollments
        with store.engine.connect() as conn:
            ids = [r.id for r in conn.execute(sa.select(e.c.id).order_by(e.c.id))]
    events = [cl.event_from_dict(d) for eid in ids for d in store.events(eid)]
    return fold("solopreneur", events)


def figures(f: Funnel) -> Any:
    rungs = sorted((r.rung, r.asked, r.committed, r.declined, r.expired) for r in f.rungs)
    return f.enrollments, rungs


@pytest.mark.parametrize("live", [False, True], ids=["ended", "live"])
def test_forget_leaves_nothing_personal_and_the_funnel_counts_stay(
    tracker: cl.Tracker, store: Any, live: bool
) -> None:
    climb(tracker, JANE, end=not live)
    climb(tracker, "bob.roe@example.com", end=False)
    assert JANE in everything(store)
    before = funnel(store)
    done = tracker.forget(JANE, reason="GDPR request #12", actor="dpo")
    assert (done.enrollments, done.ended) == (1, 1 if live else 0)
    assert done.messages > 0
    assert done.receipts == 2
    left = everything(store)
    for value in PERSONAL:
        assert value not in left, f"{value!r} is still stored"
    after = funnel(store)
    assert figures(after) == figures(before)
    if live:  # ended at the seed ladder's lost end (it has no neutral one)
        assert after.ends.get("lost", 0) == before.ends.get("lost", 0) + 1
    else:
        assert after.ends == before.ends
    # the other prospect is untouched, and Jane is gone
    assert tracker.get("bob.roe@example.com").facts == {"pain": "other", "timeline": "Q4"}
    with pytest.raises(cl.NotEnrolled):
        tracker.get(JANE)
    assert tracker.enrollments(JANE) == []


def test_a_forgotten_history_still_replays_to_its_anonymous_state(
    tracker: cl.Tracker, store: Any
) -> None:
    climb(tracker, JANE, end=False)
    tracker.forget(JANE, reason="erasure")
    anonymous = [s for s in funnel_ids(store) if s.startswith("solopreneur/forgotten-")]
    assert len(anonymous) == 1
    events = [cl.event_from_dict(d) for d in store.events(anonymous[0])]
    replayed = cl.Enrollment.replay(cl.load(SEED), events)
    assert (replayed.status, replayed.ended, replayed.facts) == ("ended", "lost", {})
    assert replayed.prospect.startswith("forgotten-")


def funnel_ids(store: Any) -> list[str]:
    if isinstance(store, cl.MemoryStore):
        return [s.id for s in store.enrollments()]
    import sqlalchemy as sa

    e = store.tables.enrollments
    with store.engine.connect() as conn:
        return [r.id for r in conn.execute(sa.select(e.c.id))]


def test_forget_frees_the_prospect_to_start_afresh(tracker: cl.Tracker) -> None:
    climb(tracker, JANE, end=False)
    tracker.forget(JANE, reason="erasure")
    again = tracker.enroll(JANE, ladder="solopreneur", now=T0 + timedelta(days=30))
    assert again.id == f"solopreneur/{JANE}"
    tracker.ask(JANE, "admit_problem", channel="email", now=T0 + timedelta(days=30))


def test_forget_needs_a_reason_and_a_known_prospect(tracker: cl.Tracker) -> None:
    with pytest.raises(TypeError, match="reason"):
        tracker.forget(JANE, reason="")
    with pytest.raises(cl.NotEnrolled, match="nothing to forget"):
        tracker.forget(JANE, reason="erasure")
