"""Re-key: ``Tracker.rekey(old, new)`` moves a prospect's enrollments, open ask, timers and
unsent messages to a new prospect id in one transaction, or refuses and moves nothing."""

from __future__ import annotations

import random
import threading
import time
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

import commitladder as cl
from support import report

pytest_plugins = ["dbfixtures"]

T0 = datetime(2026, 1, 5, 9, tzinfo=UTC)


def ladder(name: str = "pitch", *, exclusive: bool = True) -> cl.Ladder:
    return cl.Ladder.from_dict(
        {
            "ladder": name,
            "exclusive": exclusive,
            "start": "intro",
            "defaults": {"channels": ["email"], "expires_after": "3d"},
            "rungs": {
                "intro": {"kind": "call", "size": 1, "next": "demo", "ask": "A call?"},
                "demo": {"kind": "meeting", "size": 2, "next": "won", "ask": "A demo?"},
            },
            "ends": {"won": {"result": "won"}, "lost": {"result": "lost"}},
        }
    )


@pytest.fixture
def tracker(store: Any) -> cl.Tracker:
    return cl.Tracker(
        store=store,
        messenger=cl.RecordingMessenger(),
        ladders=[ladder(), ladder("onboard", exclusive=False)],
    )


def rows_of(store: Any) -> Any:
    """Everything a store holds that a rekey could touch, comparable."""
    enrollments = sorted(
        (s.id, s.prospect, s.version) for p in ("lead-1", "contact-9") for s in store.find(p)
    )
    asks = sorted((a.slot, a.enrollment_id, a.prospect) for a in store.open_asks())
    outbox = sorted((e.message.key, e.message.prospect, e.status) for e in store.outbox())
    return enrollments, asks, outbox, sorted(map(repr, store.timers()))


def test_rekey_moves_enrollments_open_ask_timers_and_unsent_messages(
    tracker: cl.Tracker, store: Any
) -> None:
    tracker.enroll("lead-1", ladder="pitch", now=T0)
    ask = tracker.ask("lead-1", "intro", now=T0)
    timers_before = store.timers()
    moved = tracker.rekey("lead-1", "contact-9", now=T0 + timedelta(hours=1), actor="crm")
    assert [(e.id, e.prospect) for e in moved] == [("pitch/lead-1", "contact-9")]
    e = tracker.get("contact-9")
    assert e.pending is not None
    assert e.pending.id == ask.id  # ask ids stay: a link to the ask keeps working
    assert [(a.slot, a.prospect) for a in store.open_asks()] == [
        ("prospect:contact-9", "contact-9")
    ]
    assert store.timers() == timers_before
    assert {m.message.prospect for m in store.outbox("pending")} == {"contact-9"}
    last = tracker.history("contact-9")[-1]
    assert isinstance(last, cl.Rekeyed)
    assert (last.was, last.prospect, last.actor) == ("lead-1", "contact-9", "crm")
    with pytest.raises(cl.NotEnrolled):
        tracker.get("lead-1")
    # the climb goes on under the new id, and the history replays
    tracker.commit("contact-9", now=T0 + timedelta(hours=2))
    assert tracker.get("contact-9").position == "intro"
    replayed = cl.Enrollment.replay(ladder(), tracker.history("contact-9"))
    assert replayed.prospect == "contact-9"
    assert replayed.position == "intro"


def test_the_new_prospect_takes_the_prospect_wide_ask_slot(tracker: cl.Tracker) -> None:
    tracker.enroll("lead-1", ladder="pitch", now=T0)
    tracker.ask("lead-1", "intro", now=T0)
    tracker.rekey("lead-1", "contact-9", now=T0)
    tracker.enroll("contact-9", ladder="onboard", now=T0)
    tracker.ask("contact-9", "intro", ladder="onboard", now=T0)  # not exclusive: allowed
    tracker.enroll("lead-1", ladder="pitch", now=T0)  # lead-1 is a fresh prospect again
    tracker.ask("lead-1", "intro", now=T0)  # its slot is free


def test_enrolling_the_new_prospect_again_returns_the_moved_run(tracker: cl.Tracker) -> None:
    tracker.enroll("lead-1", ladder="pitch", now=T0)
    tracker.rekey("lead-1", "contact-9", now=T0)
    again = tracker.enroll("contact-9", ladder="pitch", now=T0)
    assert again.id == "pitch/lead-1"


def test_rekey_onto_a_prospect_with_an_open_ask_is_refused_and_changes_nothing(
    tracker: cl.Tracker, store: Any
) -> None:
    tracker.enroll("lead-1", ladder="pitch", now=T0)
    tracker.ask("lead-1", "intro", now=T0)
    tracker.enroll("contact-9", ladder="onboard", now=T0)
    tracker.ask("contact-9", "intro", ladder="onboard", now=T0)
    tracker.register(ladder("sale"))
    tracker.enroll("contact-9", ladder="sale", now=T0)
    tracker.withdraw("contact-9", ladder="onboard", now=T0)
    tracker.ask("contact-9", "intro", ladder="sale", now=T0)  # an exclusive ask: clashes
    before = rows_of(store)
    with pytest.raises(cl.RekeyConflict) as refused:
        tracker.rekey("lead-1", "contact-9", now=T0)
    assert refused.value.conflicts == ["sale/contact-9"]
    assert refused.value.target == "contact-9"
    assert "sale/contact-9" in str(refused.value)
    assert rows_of(store) == before
    assert cl.Refused.from_dict(refused.value.to_dict()).to_dict() == refused.value.to_dict()


def test_rekey_onto_a_live_run_of_the_same_ladder_is_refused(tracker: cl.Tracker) -> None:
    tracker.enroll("lead-1", ladder="pitch", now=T0)
    tracker.enroll("contact-9", ladder="pitch", now=T0)
    with pytest.raises(cl.RekeyConflict, match="pitch/contact-9"):
        tracker.rekey("lead-1", "contact-9", now=T0)


def test_rekey_of_an_unknown_prospect_says_so(tracker: cl.Tracker) -> None:
    with pytest.raises(cl.NotEnrolled, match="nothing to move"):
        tracker.rekey("nobody", "contact-9")
    with pytest.raises(ValueError, match="twice"):
        tracker.rekey("a", "a")


def race(tracker: cl.Tracker, old: str, new: str, delays: dict[str, float]) -> dict[str, str]:
    """Rekey ``old`` onto ``new`` while ``new`` is asked, both at once; what each got."""
    results: dict[str, str] = {}
    go = threading.Barrier(2)

    def rekey() -> None:
        go.wait()
        time.sleep(delays["rekey"])
        try:
            tracker.rekey(old, new, now=T0)
            results["rekey"] = "moved"
        except cl.RekeyConflict:
            results["rekey"] = "refused"

    def ask() -> None:
        go.wait()
        time.sleep(delays["ask"])
        try:
            tracker.ask(new, "intro", ladder="sale", now=T0)
            results["ask"] = "asked"
        except cl.AskPending:
            results["ask"] = "refused"

    threads = [threading.Thread(target=rekey), threading.Thread(target=ask)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return results


def test_rekey_races_an_ask_on_the_target_and_exactly_one_wins(
    store: Any, request: pytest.FixtureRequest
) -> None:
    """Many rounds of a rekey and an ask on the target at once: either the ask wins and the
    rekey is refused having moved nothing, or the rekey wins and the ask meets AskPending;
    never two open asks for one prospect."""
    outcomes: dict[str, int] = {}
    jitter = random.Random(14)  # who starts first varies: both orders are exercised
    tracker = cl.Tracker(store=store, ladders=[ladder(), ladder("sale")])
    for round_ in range(16 if isinstance(store, cl.MemoryStore) else 10):
        old, new = f"lead-{round_}", f"contact-{round_}"
        tracker.enroll(old, ladder="pitch", now=T0)
        tracker.ask(old, "intro", now=T0)
        tracker.enroll(new, ladder="sale", now=T0)
        delays = {"rekey": jitter.uniform(0, 0.01), "ask": jitter.uniform(0, 0.01)}
        results = race(tracker, old, new, delays)
        assert sorted(results.values()) in (["asked", "refused"], ["moved", "refused"])
        outcome = "rekey won" if results["rekey"] == "moved" else "ask won"
        outcomes[outcome] = outcomes.get(outcome, 0) + 1
        asks = sorted(
            (a.prospect, a.enrollment_id) for a in store.open_asks() if a.prospect in (old, new)
        )
        if results["rekey"] == "refused":  # nothing moved: each keeps its own ask
            assert [s.prospect for s in store.find(old)] == [old]
            assert asks == sorted([(old, f"pitch/{old}"), (new, f"sale/{new}")])
        else:  # the moved ask is the new prospect's one open ask
            assert store.find(old) == []
            assert asks == [(new, f"pitch/{old}")]
    assert sum(outcomes.values()) >= 10  # the invariants held in every round; who won varies
    report(request, f"rekey against an ask on the target ({type(store).__name__})", outcomes)
