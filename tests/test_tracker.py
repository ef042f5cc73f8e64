"""The durable tracker's specification, run on every store (memory, SQLite, PostgreSQL, MySQL)."""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

import commitladder as cl

pytest_plugins = ["dbfixtures"]

SEED = Path(cl.__file__).parent / "seed" / "solopreneur.yaml"
T0 = datetime(2026, 1, 5, 9, tzinfo=UTC)


def webinar(name: str = "webinar", *, exclusive: bool = True) -> cl.Ladder:
    return cl.Ladder.from_dict(
        {
            "ladder": name,
            "version": 1,
            "exclusive": exclusive,
            "start": "register",
            "rungs": {
                "register": {"kind": "webinar", "size": 1, "next": "attend", "channels": ["email"]},
                "attend": {"kind": "webinar", "size": 2, "next": "won"},
            },
            "ends": {"won": {"result": "won"}, "lost": {"result": "lost"}},
        }
    )


@pytest.fixture
def clock() -> cl.SteppableClock:
    return cl.SteppableClock(T0)


@pytest.fixture
def messenger() -> cl.RecordingMessenger:
    return cl.RecordingMessenger()


@pytest.fixture
def tracker(store: Any, clock: cl.SteppableClock, messenger: cl.RecordingMessenger) -> cl.Tracker:
    t = cl.Tracker(store=store, messenger=messenger, clock=clock, max_attempts=3)
    t.register(cl.load(SEED))
    t.register(webinar())
    return t


# ---- commands --------------------------------------------------------------------------------


def test_a_command_is_stored_and_get_restores_it(tracker: cl.Tracker) -> None:
    tracker.enroll("lead-42", ladder="solopreneur")
    ask = tracker.ask("lead-42", "admit_problem", channel="email")
    e = tracker.get("lead-42")
    assert (e.status, e.pending, e.seq) == ("pending", ask, 2)
    assert [ev.type for ev in tracker.history("lead-42")] == ["Enrolled", "AskIssued"]


def test_enrolling_twice_returns_the_existing_enrollment(tracker: cl.Tracker) -> None:
    tracker.enroll("lead-42", ladder="solopreneur")
    tracker.ask("lead-42", "admit_problem")
    again = tracker.enroll("lead-42", ladder="solopreneur")
    assert again.status == "pending"


def test_a_refused_command_changes_nothing_in_the_store(tracker: cl.Tracker, store: Any) -> None:
    tracker.enroll("lead-42", ladder="solopreneur")
    tracker.ask("lead-42", "admit_problem")
    before = store.load("solopreneur/lead-42")
    with pytest.raises(cl.AskPending):
        tracker.ask("lead-42", "admit_problem")
    with pytest.raises(cl.NotNextStep):
        tracker.withdraw("lead-42") and tracker.ask("lead-42", "purchase")
    after = store.load("solopreneur/lead-42")
    assert after.version == before.version + 1  # only the withdraw was stored
    assert len(store.events("solopreneur/lead-42")) == 3


def test_the_climb_runs_to_won(tracker: cl.Tracker) -> None:
    tracker.enroll("p", ladder="solopreneur")
    for rung in ("admit_problem", "intro_call"):
        tracker.ask("p", rung)
        tracker.commit("p")
    tracker.ask("p", "qualify")
    tracker.commit("p", outcome="current_opportunity", facts={"pain": "slow", "timeline": "Q2"})
    for rung in ("explore_solutions", "presentation", "proposal", "purchase"):
        tracker.ask("p", rung)
        tracker.commit("p")
    e = tracker.get("p")
    assert (e.status, e.ended, e.facts["pain"]) == ("ended", "won", "slow")
    replayed = cl.Enrollment.replay(e.ladder, tracker.history("p"))
    assert replayed.snapshot() == e.snapshot()


def test_decline_parks_and_resume_brings_it_back(tracker: cl.Tracker) -> None:
    tracker.enroll("p", ladder="solopreneur")
    tracker.ask("p", "admit_problem")
    tracker.decline("p", needs="a case study")
    assert (tracker.get("p").status, tracker.get("p").needs) == ("parked", "a case study")
    tracker.resume("p")
    assert tracker.get("p").status == "ready"


def test_unknown_prospect_is_not_enrolled(tracker: cl.Tracker) -> None:
    with pytest.raises(cl.NotEnrolled, match="enroll them first"):
        tracker.ask("nobody", "admit_problem")


def test_an_unregistered_ladder_is_named(tracker: cl.Tracker) -> None:
    with pytest.raises(cl.LadderError, match="not registered"):
        tracker.enroll("p", ladder="nope")


# ---- one open ask per prospect ---------------------------------------------------------------


def test_one_open_ask_per_prospect_across_ladders(tracker: cl.Tracker) -> None:
    tracker.enroll("p", ladder="solopreneur")
    tracker.enroll("p", ladder="webinar")
    first = tracker.ask("p", "admit_problem")
    with pytest.raises(cl.AskPending) as refused:
        tracker.ask("p", "register")
    assert refused.value.ask == first
    assert refused.value.enrollment_id == "webinar/p"
    tracker.commit("p")
    tracker.ask("p", "register")
    assert tracker.get("p", ladder="webinar").status == "pending"


def test_a_non_exclusive_ladder_keeps_out_of_the_prospect_rule(
    store: Any, clock: cl.SteppableClock
) -> None:
    tracker = cl.Tracker(store=store, clock=clock)
    tracker.register(cl.load(SEED))
    tracker.register(webinar("onboarding", exclusive=False))
    tracker.enroll("p", ladder="solopreneur")
    tracker.enroll("p", ladder="onboarding")
    tracker.ask("p", "admit_problem")
    tracker.ask("p", "register")
    assert {a.enrollment_id for a in store.open_asks()} == {"solopreneur/p", "onboarding/p"}


def test_a_prospect_on_two_ladders_needs_ladder_when_ambiguous(tracker: cl.Tracker) -> None:
    tracker.enroll("p", ladder="solopreneur")
    tracker.enroll("p", ladder="webinar")
    with pytest.raises(cl.LadderError, match="say which with ladder="):
        tracker.get("p")
    assert tracker.get("p", ladder="webinar").ladder.name == "webinar"


# ---- idempotency -----------------------------------------------------------------------------


def test_the_same_webhook_three_times_applies_once(tracker: cl.Tracker, store: Any) -> None:
    tracker.enroll("p", ladder="solopreneur")
    tracker.ask("p", "admit_problem")
    results = [tracker.commit("p", idempotency_key="hook-1") for _ in range(3)]
    assert results[0] == results[1] == results[2]
    assert [ev.type for ev in results[0]] == ["Committed"]
    assert [e["type"] for e in store.events("solopreneur/p")].count("Committed") == 1


def test_an_idempotent_ask_returns_the_first_ask(tracker: cl.Tracker, clock: Any) -> None:
    tracker.enroll("p", ladder="solopreneur", idempotency_key="e-1")
    tracker.enroll("p", ladder="solopreneur", idempotency_key="e-1")
    first = tracker.ask("p", "admit_problem", idempotency_key="click-991")
    clock.advance(hours=1)
    assert tracker.ask("p", "admit_problem", idempotency_key="click-991") == first


def test_a_refused_webhook_three_times_gives_the_first_refusal(
    tracker: cl.Tracker, store: Any
) -> None:
    tracker.enroll("p", ladder="solopreneur")
    before = store.load("solopreneur/p")
    with pytest.raises(cl.NoOpenAsk) as first:
        tracker.commit("p", idempotency_key="hook-2")
    assert store.load("solopreneur/p") == before, "the refusal changed the enrollment"
    assert [ev.type for ev in tracker.history("p")] == ["Enrolled"]
    tracker.ask("p", "admit_problem")  # now the commit would pass: the key still says no
    replays = []
    for _ in range(2):
        with pytest.raises(cl.NoOpenAsk) as again:
            tracker.commit("p", idempotency_key="hook-2")
        replays.append(again.value)
    assert [r.to_dict() for r in replays] == [first.value.to_dict()] * 2
    receipt = store.recall("hook-2")
    assert receipt.command == "commit"
    assert receipt.result["refused"] == first.value.to_dict()
    assert tracker.get("p").status == "pending", "a replayed refusal changed something"
    assert [ev.type for ev in tracker.commit("p", idempotency_key="hook-3")] == ["Committed"]


def test_a_refusal_by_the_store_is_kept_under_its_key(tracker: cl.Tracker, store: Any) -> None:
    tracker.enroll("p", ladder="solopreneur")
    tracker.enroll("p", ladder="webinar")
    held = tracker.ask("p", "admit_problem")
    with pytest.raises(cl.AskPending) as first:  # the other ladder's ask holds the prospect
        tracker.ask("p", "register", ladder="webinar", idempotency_key="click-7")
    assert first.value.ask == held
    tracker.commit("p", ladder="solopreneur")
    with pytest.raises(cl.AskPending) as again:
        tracker.ask("p", "register", ladder="webinar", idempotency_key="click-7")
    assert again.value.to_dict() == first.value.to_dict()
    assert again.value.ask == held
    assert tracker.get("p", ladder="webinar").pending is None
    tracker.ask("p", "register", ladder="webinar", idempotency_key="click-8")
    assert tracker.get("p", ladder="webinar").pending is not None


def test_a_key_reused_for_another_command_is_refused(tracker: cl.Tracker) -> None:
    tracker.enroll("p", ladder="solopreneur")
    tracker.ask("p", "admit_problem", idempotency_key="k")
    with pytest.raises(cl.LadderError, match="was used for ask"):
        tracker.commit("p", idempotency_key="k")


# ---- outbox ----------------------------------------------------------------------------------


def test_an_ask_goes_out_through_the_outbox(
    tracker: cl.Tracker, store: Any, messenger: cl.RecordingMessenger
) -> None:
    tracker.enroll("p", ladder="solopreneur")
    tracker.ask("p", "admit_problem", channel="email")
    [entry] = store.outbox("pending")
    assert (entry.message.kind, entry.message.channel) == ("ask", "email")
    assert entry.message.text is not None
    assert "onboarding" in entry.message.text
    assert messenger.sent == []  # nothing leaves before relay
    assert tracker.relay() == cl.RelayReport(sent=1)
    assert messenger.keys == ["solopreneur/p#2:ask"]
    assert [e.status for e in store.outbox()] == ["sent"]
    assert tracker.relay() == cl.RelayReport()


def test_a_failing_messenger_retries_with_backoff(
    tracker: cl.Tracker, store: Any, messenger: cl.RecordingMessenger, clock: Any
) -> None:
    tracker.enroll("p", ladder="solopreneur")
    tracker.ask("p", "admit_problem")
    messenger.fail_next(1)
    assert tracker.relay() == cl.RelayReport(retrying=1)
    [entry] = store.outbox()
    assert (entry.status, entry.attempts, entry.next_attempt_at) == (
        "pending",
        1,
        T0 + timedelta(seconds=30),
    )
    assert "ConnectionError" in (entry.last_error or "")
    assert tracker.relay() == cl.RelayReport()  # not due yet
    clock.advance(seconds=30)
    assert tracker.relay() == cl.RelayReport(sent=1)


def test_dead_letter_after_the_retry_budget_and_redrive(
    tracker: cl.Tracker, store: Any, messenger: cl.RecordingMessenger, clock: Any
) -> None:
    tracker.enroll("p", ladder="solopreneur")
    tracker.ask("p", "admit_problem")
    messenger.fail_next(3)
    reports = []
    for _ in range(3):
        reports.append(tracker.relay())
        clock.advance(hours=1)
    assert reports[-1] == cl.RelayReport(dead=1)
    [dead] = store.outbox("dead")
    assert dead.attempts == 3
    assert tracker.redrive() == 1
    assert tracker.relay() == cl.RelayReport(sent=1)


# ---- timers ----------------------------------------------------------------------------------


def test_an_ask_expires_from_its_stored_due_time(
    tracker: cl.Tracker, store: Any, clock: Any
) -> None:
    tracker.enroll("p", ladder="solopreneur")
    tracker.ask("p", "admit_problem")
    assert tracker.run_due() == 0
    clock.advance(days=8)
    fired = tracker.run_due()
    assert fired >= 1
    assert tracker.run_due() == 0
    e = tracker.get("p")
    assert e.status == "parked"
    kinds = [m.message.kind for m in store.outbox()]
    assert kinds.count("ask_expired") == 1
    # a late yes is still taken
    tracker.commit("p")
    assert tracker.get("p").position == "admit_problem"


def test_alerts_fire_once_each(tracker: cl.Tracker, store: Any, clock: Any) -> None:
    tracker.enroll("p", ladder="solopreneur")
    tracker.ask("p", "admit_problem")
    clock.advance(days=2)
    assert tracker.run_due() == 1
    assert tracker.run_due() == 0
    tracker.commit("p")
    clock.advance(days=3)
    assert tracker.run_due() == 1
    kinds = [m.message.kind for m in store.outbox()]
    assert kinds == ["ask", "follow_up_due", "committed", "next_step_overdue"]
    assert tracker.run_due() == 0


def test_timers_survive_a_restart(tracker: cl.Tracker, store: Any, clock: Any) -> None:
    tracker.enroll("p", ladder="solopreneur")
    tracker.ask("p", "admit_problem")
    restarted = cl.Tracker(store=store, clock=clock, ladders=tracker.ladders.values())
    clock.advance(days=30)
    assert restarted.run_due() == 1  # the expiry; the overtaken follow-up is not sent
    assert restarted.get("p").status == "parked"


def test_stale_timers_do_not_fire(tracker: cl.Tracker, store: Any, clock: Any) -> None:
    tracker.enroll("p", ladder="solopreneur")
    tracker.ask("p", "admit_problem")
    tracker.withdraw("p")
    clock.advance(days=30)
    assert tracker.run_due() == 0
    assert [t.kind for t in store.timers()] == []


# ---- listeners -------------------------------------------------------------------------------


def test_listeners_run_after_the_commit(tracker: cl.Tracker, store: Any) -> None:
    seen: list[tuple[str, int]] = []

    def listener(event: cl.Event) -> None:
        stored = store.load(event.enrollment_id)
        seen.append((event.type, stored.snapshot["seq"]))

    tracker.add_listener(listener)
    tracker.enroll("p", ladder="solopreneur")
    tracker.ask("p", "admit_problem")
    assert seen == [("Enrolled", 1), ("AskIssued", 2)]


def test_a_failing_listener_never_undoes_the_command(
    tracker: cl.Tracker, caplog: pytest.LogCaptureFixture
) -> None:
    def broken(event: cl.Event) -> None:
        raise RuntimeError("boom")

    tracker.add_listener(broken)
    tracker.enroll("p", ladder="solopreneur")
    with caplog.at_level(logging.ERROR, logger="commitladder"):
        tracker.ask("p", "admit_problem")
    assert tracker.get("p").status == "pending"
    assert "the stored command stands" in caplog.text


def test_ladder_listeners_run_once_after_the_commit(store: Any, clock: Any) -> None:
    ladder = cl.load(SEED)
    seen: list[str] = []
    ladder.add_listener(lambda event: seen.append(event.type))
    tracker = cl.Tracker(store=store, clock=clock, ladders=[ladder])
    tracker.enroll("p", ladder="solopreneur")
    tracker.ask("p", "admit_problem")
    assert seen == ["Enrolled", "AskIssued"]


def test_a_refusal_of_an_unknown_rule_comes_back_with_its_code() -> None:
    stored = {
        "error": "QuietHours",
        "code": "quiet_hours",
        "message": "no calls after 8pm",
        "enrollment_id": "solopreneur/p",
        "rung": "intro_call",
        "retry_after": "2026-01-06T08:00:00+00:00",
        "window": [20, 8],
    }
    again = cl.Refused.from_dict(stored)
    assert isinstance(again, cl.Refused)
    assert (type(again).__name__, again.code, str(again)) == (
        "QuietHours",
        "quiet_hours",
        "no calls after 8pm",
    )
    assert again.retry_after == datetime(2026, 1, 6, 8, tzinfo=UTC)
    assert again.to_dict() == stored


# ---- the reshape's fixes: what get returns, which enrollment, what a key binds -----------------


def expiring(name: str) -> cl.Ladder:
    """One rung whose ask expires after two days: one timer per ask."""
    return cl.Ladder.from_dict(
        {
            "ladder": name,
            "start": "call",
            "rungs": {"call": {"kind": "call", "size": 1, "next": "won", "expires_after": "2d"}},
            "ends": {"won": {"result": "won"}},
        }
    )


def test_get_returns_a_read_only_enrollment_with_the_stored_history(tracker: cl.Tracker) -> None:
    tracker.enroll("p", ladder="solopreneur")
    tracker.ask("p", "admit_problem")
    tracker.decline("p", needs="time")
    e = tracker.get("p")
    assert e.read_only
    with pytest.raises(cl.ReadOnlyEnrollment, match=r"tracker\.resume\('p', \.\.\.\)"):
        e.resume()
    assert tracker.get("p").status == "parked", "the refused command changed nothing"
    assert [ev.type for ev in e.history] == [
        "Enrolled",
        "AskIssued",
        "Declined",
        "Parked",
    ]
    assert e.history == tracker.history("p")
    assert tracker.enroll("p", ladder="solopreneur").read_only


def test_with_ladder_the_live_enrollment_wins_over_an_ended_one(tracker: cl.Tracker) -> None:
    tracker.enroll("p", ladder="solopreneur")
    tracker.end("p", "lost")
    tracker.enroll("p", ladder="solopreneur", enrollment_id="solopreneur/p-again")
    ask = tracker.ask("p", "admit_problem", ladder="solopreneur")
    assert ask.enrollment_id == "solopreneur/p-again"
    assert tracker.get("p", ladder="solopreneur").id == "solopreneur/p-again"


def test_an_idempotency_key_reused_for_another_prospect_is_an_error(tracker: cl.Tracker) -> None:
    tracker.enroll("a", ladder="solopreneur")
    tracker.enroll("b", ladder="solopreneur")
    tracker.ask("a", "admit_problem", idempotency_key="k")
    with pytest.raises(cl.KeyReused, match="'a'") as reused:
        tracker.ask("b", "admit_problem", idempotency_key="k")
    assert reused.value.key == "k"
    assert tracker.get("b").pending is None, "b was not asked"
    assert tracker.get("a").pending is not None


def test_an_idempotency_key_reused_for_another_command_or_argument_is_an_error(
    tracker: cl.Tracker,
) -> None:
    tracker.enroll("a", ladder="solopreneur")
    tracker.ask("a", "admit_problem", channel="email", idempotency_key="k")
    with pytest.raises(cl.KeyReused):
        tracker.commit("a", idempotency_key="k")
    with pytest.raises(cl.KeyReused):
        tracker.ask("a", "admit_problem", channel="phone", idempotency_key="k")
    again = tracker.ask("a", "admit_problem", channel="email", idempotency_key="k", actor="retry")
    assert again.channel == "email", "the same command again is a replay, whoever sends it"


def test_run_due_skips_the_timers_of_a_ladder_it_lacks_and_fires_the_rest(
    store: Any, clock: cl.SteppableClock
) -> None:
    full = cl.Tracker(store=store, clock=clock, ladders=[expiring("kept"), expiring("other")])
    full.enroll("a", ladder="kept")
    full.ask("a", "call")
    full.enroll("b", ladder="other")
    full.ask("b", "call")
    clock.advance(days=3)  # both asks are past their expiry
    partial = cl.Tracker(store=store, clock=clock, ladders=[expiring("kept")])
    report = partial.run_due()
    assert report == 1
    assert [(eid, kind) for eid, kind, _ in report.skipped] == [("other/b", "expire")]
    assert "not registered" in report.skipped[0][2]
    assert partial.get("a").status != "pending"
    clock.advance(minutes=6)  # past the lease: the worker that has the ladder takes it
    assert full.run_due() == 1
    assert full.get("b").pending is None


def test_run_due_leaves_an_enrollment_dated_after_its_clock_and_fires_the_others(
    store: Any, clock: cl.SteppableClock
) -> None:
    ladder = cl.Ladder.from_dict(
        {
            "ladder": "two_tries",
            "start": "a",
            "defaults": {"expires_after": "2d"},
            "rungs": {
                "a": {"kind": "call", "size": 1, "next": "won", "on_expire": "b"},
                "b": {"kind": "call", "size": 1, "next": "won"},
            },
            "ends": {"won": {"result": "won"}},
        }
    )
    tracker = cl.Tracker(store=store, clock=clock, ladders=[ladder])
    for p in ("ahead", "other"):
        tracker.enroll(p, ladder="two_tries")
    first = tracker.ask("ahead", "a")
    clock.advance(days=2)
    tracker.run_due()
    tracker.ask("ahead", "b")
    tracker.ask("other", "a")
    due = clock.now() + timedelta(days=2)  # both open asks expire then
    # a webhook dated after that: a late yes to the first ask, which leaves b open
    tracker.commit("ahead", ask_id=first.id, now=due + timedelta(minutes=10))
    report = tracker.run_due(due + timedelta(minutes=5))  # a worker whose clock lags
    assert report == 1, "the other enrollment's expiry fired"
    assert tracker.get("other").pending is None
    assert [(eid, kind) for eid, kind, _ in report.skipped] == [("two_tries/ahead", "expire")]
    assert "after this worker's clock" in report.skipped[0][2]
    assert tracker.get("ahead").pending is not None, "it waits, nothing was written"
    assert tracker.run_due(due + timedelta(minutes=20)) == 1, "once the lease ends, it fires"


def test_run_due_drains_every_due_timer_by_default(store: Any, clock: cl.SteppableClock) -> None:
    tracker = cl.Tracker(store=store, clock=clock, ladders=[expiring("short")])
    for n in range(130):  # more than one batch
        tracker.enroll(f"p{n}", ladder="short")
        tracker.ask(f"p{n}", "call")
    clock.advance(days=3)
    assert tracker.run_due(limit=100) == 100
    assert tracker.run_due() == 30
    assert tracker.run_due() == 0
