"""The tracker's guarantees, held alike by ``Tracker`` and ``AsyncTracker`` on every database.

Each test runs six times: the sync tracker (its concurrent calls on threads) and the
async tracker (its concurrent calls on coroutines of one event loop), each on SQLite,
PostgreSQL and MariaDB/MySQL (those two skip, saying why, without a server). Races:
concurrent asks for one prospect open one ask; concurrent enrolls make one enrollment.
Idempotency: a webhook delivered three times at once applies once; a refused one
refuses alike and changes nothing. Outbox: a flaky messenger and two relays at once
still deliver each message exactly once. Timers: two workers at once fire each timer
once. Async runs on anyio's pytest plugin (anyio comes with httpx and Starlette, so it
adds nothing, and its plugin needs no configuration).
"""

from __future__ import annotations

import random
from collections import Counter
from datetime import UTC, datetime, timedelta
from typing import Any

import anyio
import pytest

import commitladder as cl
from support import ladders

pytest_plugins = ["dbfixtures", "trackers"]
pytestmark = pytest.mark.anyio

T0 = datetime(2026, 1, 5, 9, tzinfo=UTC)


async def at_once(count: int, call: Any) -> list[Any]:
    """Run ``call(i)`` ``count`` times concurrently; each result, or the exception raised."""
    results: list[Any] = [None] * count

    async def one(i: int) -> None:
        try:
            results[i] = await call(i)
        except Exception as exc:
            results[i] = exc

    async with anyio.create_task_group() as group:
        for i in range(count):
            group.start_soon(one, i)
    return results


# ---- commands and reads -------------------------------------------------------------------


async def test_the_climb_runs_to_won_and_replays(make: Any) -> None:
    t = make(ladders=ladders(), clock=cl.SteppableClock(T0))
    enrolled = await t.enroll("p", ladder="solopreneur")
    assert [e.type for e in enrolled.history] == ["Enrolled"]
    for rung in ("admit_problem", "intro_call"):
        ask = await t.ask("p", rung)
        assert ask.rung == rung
        await t.commit("p")
    await t.ask("p", "qualify")
    await t.commit("p", outcome="current_opportunity", facts={"pain": "slow", "timeline": "Q2"})
    for rung in ("explore_solutions", "presentation", "proposal", "purchase"):
        await t.ask("p", rung)
        await t.commit("p")
    e = await t.get("p")
    assert (e.status, e.ended, e.facts["pain"]) == ("ended", "won", "slow")
    assert e.history == await t.history("p")
    assert cl.Enrollment.replay(e.ladder, e.history).snapshot() == e.snapshot()


async def test_decline_parks_resume_brings_back_end_closes(make: Any) -> None:
    t = make(ladders=ladders(), clock=cl.SteppableClock(T0))
    await t.enroll("p", ladder="solopreneur")
    await t.ask("p", "admit_problem")
    await t.decline("p", needs="a case study")
    parked = await t.get("p")
    assert (parked.status, parked.needs) == ("parked", "a case study")
    await t.resume("p")
    later = T0 + timedelta(days=4)  # past the cooldown after the decline
    await t.ask("p", "admit_problem", now=later)
    await t.follow_up("p", now=later + timedelta(days=2))
    await t.withdraw("p", now=later + timedelta(days=2))
    await t.end("p", "disqualified", reason="unsubscribed", now=later + timedelta(days=2))
    types = [e.type for e in await t.history("p")]
    assert types[-3:] == ["FollowedUp", "AskWithdrawn", "Ended"]
    assert (await t.get("p")).status == "ended"


async def test_a_refused_command_changes_nothing(make: Any) -> None:
    t = make(ladders=ladders(), clock=cl.SteppableClock(T0))
    await t.enroll("p", ladder="solopreneur")
    await t.ask("p", "admit_problem")
    before = await t.inspect(lambda s: s.load("solopreneur/p"))
    with pytest.raises(cl.AskPending):
        await t.ask("p", "intro_call")
    with pytest.raises(cl.NotEnrolled, match="enroll them first"):
        await t.ask("nobody", "admit_problem")
    assert await t.inspect(lambda s: s.load("solopreneur/p")) == before
    assert len(await t.inspect(lambda s: s.outbox())) == 1


# ---- races ----------------------------------------------------------------------------------


@pytest.mark.parametrize("names", [["alpha"], ["alpha", "beta"]], ids=["one-ladder", "two-ladders"])
async def test_concurrent_asks_for_one_prospect_open_one(make: Any, names: list[str]) -> None:
    t = make(ladders=ladders())
    for name in names:
        await t.enroll("p", ladder=name)
    results = await at_once(8, lambda i: t.ask("p", "hello", ladder=names[i % len(names)]))
    won = [r for r in results if isinstance(r, cl.Ask)]
    lost = [r for r in results if isinstance(r, cl.AskPending)]
    assert (len(won), len(lost)) == (1, 7), results
    assert all(r.ask == won[0] for r in lost)  # every loser is told which ask holds
    assert [a.enrollment_id for a in await t.inspect(lambda s: s.open_asks())] == [
        won[0].enrollment_id
    ]


async def test_concurrent_enrolls_make_one_enrollment(make: Any) -> None:
    t = make(ladders=ladders())
    results = await at_once(6, lambda i: t.enroll("p", ladder="alpha"))
    assert {r.id for r in results} == {"alpha/p"}, results
    assert [e["type"] for e in await t.inspect(lambda s: s.events("alpha/p"))] == ["Enrolled"]


async def test_concurrent_commands_on_one_enrollment_are_decided_one_after_another(
    make: Any,
) -> None:
    """Optimistic concurrency: each racer's command is decided on the snapshot the last
    winner left; an answer and a withdrawal racing for one ask: exactly one applies."""
    t = make(ladders=ladders())
    await t.enroll("p", ladder="alpha")
    await t.ask("p", "hello")
    results = await at_once(6, lambda i: t.commit("p") if i % 2 else t.withdraw("p"))
    applied = [r for r in results if isinstance(r, tuple)]
    refused = [r for r in results if isinstance(r, cl.Refused)]
    assert (len(applied), len(refused)) == (1, 5), results
    history = await t.inspect(lambda s: s.events("alpha/p"))
    assert [e["seq"] for e in history] == list(range(1, len(history) + 1))


# ---- idempotency ----------------------------------------------------------------------------


async def test_a_webhook_delivered_three_times_at_once_applies_once(make: Any) -> None:
    t = make(ladders=ladders(), clock=cl.SteppableClock(T0))
    await t.enroll("p", ladder="alpha")
    await t.ask("p", "hello")
    results = await at_once(3, lambda i: t.commit("p", idempotency_key="webhook-7"))
    assert results[0] == results[1] == results[2]
    assert [e.type for e in results[0]] == ["Committed", "Ended"]  # hello leads to won
    types = [e["type"] for e in await t.inspect(lambda s: s.events("alpha/p"))]
    assert types.count("Committed") == 1


async def test_a_refused_webhook_delivered_three_times_refuses_alike(make: Any) -> None:
    t = make(ladders=ladders(), clock=cl.SteppableClock(T0))
    await t.enroll("p", ladder="alpha")
    before = await t.inspect(lambda s: s.load("alpha/p"))
    results = await at_once(3, lambda i: t.commit("p", idempotency_key="webhook-8"))
    assert all(isinstance(r, cl.NoOpenAsk) for r in results), results
    assert results[0].to_dict() == results[1].to_dict() == results[2].to_dict()
    assert await t.inspect(lambda s: s.load("alpha/p")) == before
    await t.ask("p", "hello")  # the commit would pass now: the key still says no
    with pytest.raises(cl.NoOpenAsk):
        await t.commit("p", idempotency_key="webhook-8")


async def test_an_idempotent_ask_returns_the_first_and_a_reused_key_is_refused(
    make: Any,
) -> None:
    clock = cl.SteppableClock(T0)
    t = make(ladders=ladders(), clock=clock)
    await t.enroll("p", ladder="solopreneur", idempotency_key="e-1")
    first = await t.ask("p", "admit_problem", idempotency_key="click-1")
    clock.advance(hours=1)
    assert await t.ask("p", "admit_problem", idempotency_key="click-1") == first
    with pytest.raises(cl.KeyReused, match="was used for ask"):
        await t.commit("p", idempotency_key="click-1")


async def test_a_store_refusal_is_kept_under_its_key(make: Any) -> None:
    t = make(ladders=ladders(), clock=cl.SteppableClock(T0))
    await t.enroll("p", ladder="alpha")
    await t.enroll("p", ladder="beta")
    held = await t.ask("p", "hello", ladder="alpha")
    with pytest.raises(cl.AskPending) as first:
        await t.ask("p", "hello", ladder="beta", idempotency_key="click-7")
    await t.commit("p", ladder="alpha")
    with pytest.raises(cl.AskPending) as again:  # free now, but the key keeps its answer
        await t.ask("p", "hello", ladder="beta", idempotency_key="click-7")
    assert again.value.to_dict() == first.value.to_dict()
    assert again.value.ask == held


# ---- outbox ---------------------------------------------------------------------------------


async def test_a_flaky_messenger_and_two_relays_deliver_each_message_once(make: Any) -> None:
    rng = random.Random(30)
    messenger = cl.RecordingMessenger(fail=lambda message: rng.random() < 0.3)
    clock = cl.SteppableClock(T0)
    t = make(ladders=ladders(), messenger=messenger, clock=clock, max_attempts=50)
    for i in range(20):
        await t.enroll(f"p{i}", ladder="alpha")
        await t.ask(f"p{i}", "hello")
        await t.commit(f"p{i}")
    rounds = 0
    while await t.inspect(lambda s: s.outbox("pending")):
        rounds += 1
        reports = await at_once(2, lambda i: t.relay(limit=15))
        assert all(isinstance(r, cl.RelayReport) for r in reports), reports
        clock.advance(hours=2)
        assert rounds < 60
    assert len(messenger.sent) == 40
    assert Counter(messenger.keys).most_common(1)[0][1] == 1  # each key delivered once
    assert await t.inspect(lambda s: s.outbox("dead")) == []


async def test_a_message_failing_past_its_budget_is_dead_and_redriven(make: Any) -> None:
    messenger = cl.RecordingMessenger()
    clock = cl.SteppableClock(T0)
    t = make(ladders=ladders(), messenger=messenger, clock=clock, max_attempts=2)
    await t.enroll("p", ladder="alpha")
    await t.ask("p", "hello")
    messenger.fail_next(2)
    assert await t.relay() == cl.RelayReport(retrying=1)
    clock.advance(hours=1)
    assert await t.relay() == cl.RelayReport(dead=1)
    [dead] = await t.inspect(lambda s: s.outbox("dead"))
    assert "failed on request" in (dead.last_error or "")
    assert await t.redrive() == 1
    assert await t.relay() == cl.RelayReport(sent=1)
    assert messenger.keys == ["alpha/p#2:ask"]


# ---- timers ---------------------------------------------------------------------------------


async def test_an_ask_expires_by_run_due_once(make: Any) -> None:
    t = make(ladders=ladders(), clock=cl.SteppableClock(T0))
    await t.enroll("p", ladder="solopreneur")
    ask = await t.ask("p", "admit_problem")
    assert ask.expires_at is not None
    await t.run_due(ask.expires_at - timedelta(seconds=1))  # follow-up alerts only
    assert "AskExpired" not in [e.type for e in await t.history("p")]
    assert await t.run_due(ask.expires_at) >= 1
    done = await t.history("p")
    assert [e.type for e in done].count("AskExpired") == 1
    assert await t.run_due(ask.expires_at + timedelta(days=1)) == 0
    assert await t.history("p") == done
    assert (await t.get("p")).pending is None


async def test_two_timer_workers_at_once_fire_each_timer_once(make: Any) -> None:
    t = make(ladders=ladders(), clock=cl.SteppableClock(T0))
    count = 30
    for i in range(count):
        await t.enroll(f"p{i}", ladder="solopreneur")
        await t.ask(f"p{i}", "admit_problem")
    later = T0 + timedelta(days=30)

    async def worker(i: int) -> int:
        fired = 0
        while n := await t.run_due(later, limit=7):
            fired += n
        return fired

    fired = await at_once(2, worker)
    assert all(isinstance(n, int) for n in fired), fired
    assert sum(fired) == count
    for i in range(count):
        assert [e.type for e in await t.history(f"p{i}")].count("AskExpired") == 1
    assert await t.inspect(lambda s: s.timers()) == []


# ---- listeners ------------------------------------------------------------------------------


async def test_listeners_hear_each_stored_event_once_and_a_failing_one_undoes_nothing(
    make: Any,
) -> None:
    heard: list[str] = []

    def broken(event: cl.Event) -> None:
        raise RuntimeError("listener down")

    t = make(ladders=ladders(), listeners=[lambda e: heard.append(e.type), broken])
    await t.enroll("p", ladder="alpha")
    await t.ask("p", "hello")
    with pytest.raises(cl.AskPending):
        await t.ask("p", "hello")
    assert heard == ["Enrolled", "AskIssued"]
    assert (await t.get("p")).status == "pending"
