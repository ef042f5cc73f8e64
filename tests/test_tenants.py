"""Tenants: one tracker serving many accounts or departments, each seeing only its own
enrollments and ladders, run on every store (memory, SQLite, PostgreSQL, MySQL)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

import commitladder as cl

pytest_plugins = ["dbfixtures", "trackers"]

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
def tracker(store: Any) -> cl.Tracker:
    return cl.Tracker(
        store=store,
        clock=cl.SteppableClock(T0),
        ladders=[cl.load(SEED), webinar()],
        messenger=cl.RecordingMessenger(),
    )


def test_the_same_prospect_id_in_two_tenants_is_two_prospects(tracker: cl.Tracker) -> None:
    acme, globex = tracker.tenant("acme"), tracker.tenant("globex")
    a = acme.enroll("lead-42", ladder="solopreneur")
    g = globex.enroll("lead-42", ladder="solopreneur")
    assert a.id != g.id
    assert (a.tenant, g.tenant) == ("acme", "globex")
    acme.ask("lead-42", "admit_problem", channel="email")
    assert acme.get("lead-42").status == "pending"
    assert globex.get("lead-42").status == "ready"
    assert acme.history("lead-42")[0].tenant == "acme"  # type: ignore[attr-defined]


def test_a_tenant_cannot_read_another_tenants_enrollment(tracker: cl.Tracker) -> None:
    tracker.tenant("acme").enroll("lead-42", ladder="solopreneur")
    globex = tracker.tenant("globex")
    with pytest.raises(cl.NotEnrolled):
        globex.get("lead-42")
    with pytest.raises(cl.NotEnrolled):
        globex.get("lead-42", ladder="solopreneur")
    with pytest.raises(cl.NotEnrolled):
        globex.history("lead-42")
    with pytest.raises(cl.NotEnrolled):
        tracker.get("lead-42")  # the unscoped tracker is the tenant-less scope


def test_a_tenant_cannot_command_another_tenants_enrollment(tracker: cl.Tracker) -> None:
    acme, globex = tracker.tenant("acme"), tracker.tenant("globex")
    acme.enroll("lead-42", ladder="solopreneur")
    acme.ask("lead-42", "admit_problem", channel="email")
    for command in (
        lambda: globex.commit("lead-42"),
        lambda: globex.commit("lead-42", ladder="solopreneur"),
        lambda: globex.withdraw("lead-42"),
        lambda: globex.end("lead-42", "disqualified", ladder="solopreneur"),
        lambda: tracker.commit("lead-42"),
    ):
        with pytest.raises(cl.NotEnrolled):
            command()
    assert acme.get("lead-42").status == "pending"
    assert len(acme.history("lead-42")) == 2


def test_a_tenant_cannot_reach_another_tenant_by_enrollment_id(tracker: cl.Tracker) -> None:
    acme = tracker.tenant("acme")
    first = acme.enroll("lead-42", ladder="solopreneur", enrollment_id="deal-1")
    other = tracker.tenant("globex").enroll("lead-42", ladder="solopreneur", enrollment_id="deal-1")
    assert first.id != other.id
    assert other.tenant == "globex"
    with pytest.raises(cl.LadderError, match="belong to tenants"):
        tracker.enroll("lead-42", ladder="solopreneur", enrollment_id=first.id)


def test_idempotency_keys_are_per_tenant(tracker: cl.Tracker) -> None:
    acme, globex = tracker.tenant("acme"), tracker.tenant("globex")
    acme.enroll("lead-42", ladder="solopreneur")
    globex.enroll("lead-42", ladder="solopreneur")
    first = acme.ask("lead-42", "admit_problem", channel="email", idempotency_key="k1")
    second = globex.ask("lead-42", "admit_problem", channel="email", idempotency_key="k1")
    assert first.id != second.id  # globex's key ran its own command, not acme's replay
    assert globex.get("lead-42").status == "pending"


def test_a_view_cannot_become_another_tenants(tracker: cl.Tracker) -> None:
    acme = tracker.tenant("acme")
    assert acme.tenant("acme").tenant_id == "acme"
    with pytest.raises(cl.LadderError, match="scoped to tenant 'acme'"):
        acme.tenant("globex")
    with pytest.raises(cl.LadderError, match="scoped to tenant 'acme'"):
        acme.register(webinar("own"), tenant="globex")


@pytest.mark.parametrize("bad", ["", "a/b", "a b", "x" * 65, "tab\t"])
def test_a_tenant_id_must_be_a_plain_name(tracker: cl.Tracker, bad: str) -> None:
    with pytest.raises((TypeError, cl.InvalidText)):
        tracker.tenant(bad)


def test_without_tenants_nothing_changes(tracker: cl.Tracker) -> None:
    e = tracker.enroll("lead-42", ladder="solopreneur")
    assert e.id == "solopreneur/lead-42"
    assert e.tenant is None
    assert "tenant" not in tracker.history("lead-42")[0].to_dict()["data"]
    assert tracker.tenant_id is None


# ---- b) per-tenant ladders ------------------------------------------------------------------


def test_a_tenant_sees_its_own_ladders_and_the_shared_ones(tracker: cl.Tracker) -> None:
    tracker.register(webinar("onboarding"), tenant="acme")
    acme, globex = tracker.tenant("acme"), tracker.tenant("globex")
    assert set(acme.ladders) == {"solopreneur", "webinar", "onboarding"}
    assert set(globex.ladders) == {"solopreneur", "webinar"}
    assert set(tracker.ladders) == {"solopreneur", "webinar"}
    acme.enroll("lead-1", ladder="onboarding")
    with pytest.raises(cl.LadderError, match="not registered"):
        globex.enroll("lead-1", ladder="onboarding")
    with pytest.raises(cl.LadderError, match="not registered"):
        tracker.enroll("lead-1", ladder="onboarding")


def test_two_tenants_may_each_have_a_ladder_of_one_name(tracker: cl.Tracker) -> None:
    acme, globex = tracker.tenant("acme"), tracker.tenant("globex")
    acme.register(webinar("onboarding"))
    globex.register(SEED_AS("onboarding"))
    assert acme.enroll("p", ladder="onboarding").askable() == ["register"]
    assert globex.enroll("p", ladder="onboarding").askable() == ["admit_problem"]


def SEED_AS(name: str) -> cl.Ladder:  # noqa: N802 - reads as the ladder it makes
    data = cl.load(SEED).to_dict()
    data["ladder"] = name
    return cl.Ladder.from_dict(data)


def test_a_tenant_ladder_may_not_take_a_shared_name(tracker: cl.Tracker) -> None:
    with pytest.raises(cl.LadderError, match="shared ladder named 'webinar'"):
        tracker.register(webinar(), tenant="acme")
    tracker.register(webinar("onboarding"), tenant="acme")
    with pytest.raises(cl.LadderError, match="tenant 'acme' has its own ladder"):
        tracker.register(webinar("onboarding"))


def test_timers_of_a_tenant_ladder_fire(tracker: cl.Tracker) -> None:
    acme = tracker.tenant("acme")
    acme.register(SEED_AS("onboarding"))
    acme.enroll("p", ladder="onboarding")
    acme.ask("p", "admit_problem", channel="email")
    report = tracker.run_due(T0 + timedelta(days=30))
    assert report.fired >= 1
    assert report.skipped == ()
    assert acme.get("p").status == "parked"


# ---- c) exclusivity per tenant --------------------------------------------------------------


def test_one_open_ask_per_prospect_within_a_tenant(tracker: cl.Tracker) -> None:
    acme = tracker.tenant("acme")
    acme.enroll("lead-42", ladder="solopreneur")
    acme.enroll("lead-42", ladder="webinar")
    acme.ask("lead-42", "admit_problem", channel="email", ladder="solopreneur")
    with pytest.raises(cl.AskPending):
        acme.ask("lead-42", "register", channel="email", ladder="webinar")
    assert acme.get("lead-42", ladder="webinar").status == "ready"


def test_exclusivity_does_not_reach_across_tenants(tracker: cl.Tracker) -> None:
    acme, globex = tracker.tenant("acme"), tracker.tenant("globex")
    for scope in (acme, globex, tracker):
        scope.enroll("lead-42", ladder="solopreneur")
        scope.enroll("lead-42", ladder="webinar")
    acme.ask("lead-42", "admit_problem", channel="email", ladder="solopreneur")
    globex.ask("lead-42", "register", channel="email", ladder="webinar")
    tracker.ask("lead-42", "register", channel="email", ladder="webinar")
    assert acme.get("lead-42", ladder="solopreneur").status == "pending"
    assert globex.get("lead-42", ladder="webinar").status == "pending"
    assert tracker.get("lead-42", ladder="webinar").status == "pending"


# ---- d) workers and funnels scoped ----------------------------------------------------------


def asked_in(scopes: list[cl.Tracker]) -> None:
    for scope in scopes:
        scope.enroll("lead-42", ladder="solopreneur")
        scope.ask("lead-42", "admit_problem", channel="email")


def test_a_tenant_worker_runs_only_its_tenants_timers(tracker: cl.Tracker) -> None:
    acme, globex = tracker.tenant("acme"), tracker.tenant("globex")
    asked_in([acme, globex, tracker])
    later = T0 + timedelta(days=30)
    assert acme.run_due(later).skipped == ()
    assert acme.get("lead-42").status == "parked"
    assert globex.get("lead-42").status == "pending"
    assert tracker.get("lead-42").status == "pending"
    assert tracker.run_due(later, tenant="globex").skipped == ()
    assert globex.get("lead-42").status == "parked"
    assert tracker.get("lead-42").status == "pending"
    assert tracker.run_due(later) >= 1  # a worker without a tenant serves all
    assert tracker.get("lead-42").status == "parked"


def test_a_tenant_relay_sends_only_its_tenants_messages(tracker: cl.Tracker) -> None:
    acme, globex = tracker.tenant("acme"), tracker.tenant("globex")
    asked_in([acme, globex])
    messenger = tracker.messenger
    assert isinstance(messenger, cl.RecordingMessenger)
    assert acme.relay().sent >= 1
    assert {m.enrollment_id for m in messenger.sent} == {acme.get("lead-42").id}
    assert tracker.relay(tenant="globex").sent >= 1
    assert {m.enrollment_id for m in messenger.sent} == {
        acme.get("lead-42").id,
        globex.get("lead-42").id,
    }
    with pytest.raises(cl.LadderError, match="scoped to tenant 'acme'"):
        acme.relay(tenant="globex")
    with pytest.raises(cl.LadderError, match="scoped to tenant 'acme'"):
        acme.run_due(tenant="globex")


def test_a_tenant_redrives_only_its_own_dead_letters(store: Any) -> None:
    messenger = cl.RecordingMessenger(fail=lambda message: True)
    tracker = cl.Tracker(
        store=store,
        clock=cl.SteppableClock(T0),
        ladders=[cl.load(SEED)],
        messenger=messenger,
        max_attempts=1,
    )
    acme, globex = tracker.tenant("acme"), tracker.tenant("globex")
    asked_in([acme, globex])
    dead = tracker.relay().dead
    assert dead >= 2
    # asked for every key while all are dead, globex still redrives only its own
    assert globex.redrive(keys=[e.message.key for e in store.outbox()]) == dead // 2
    assert acme.redrive() == dead // 2
    assert tracker.redrive() == 0  # every dead letter is back to pending


def test_a_tenant_funnel_counts_only_its_own(tracker: cl.Tracker) -> None:
    acme, globex = tracker.tenant("acme"), tracker.tenant("globex")
    asked_in([acme, globex, tracker])
    globex.enroll("lead-43", ladder="solopreneur")
    assert cl.funnel(acme, ladder="solopreneur").enrollments == 1
    assert cl.funnel(globex, ladder="solopreneur").enrollments == 2
    assert cl.funnel(tracker.store, ladder="solopreneur", tenant="globex").enrollments == 2
    assert cl.funnel(tracker, ladder="solopreneur").enrollments == 4  # unscoped: every one
    with pytest.raises(cl.LadderError, match="cannot count tenant 'globex'"):
        cl.funnel(acme, ladder="solopreneur", tenant="globex")


def test_a_tenant_funnel_does_not_name_other_tenants_ladders(tracker: cl.Tracker) -> None:
    tracker.register(SEED_AS("secret"), tenant="globex")
    tracker.tenant("globex").enroll("p", ladder="secret")
    tracker.tenant("acme").enroll("p", ladder="solopreneur")
    assert cl.funnel(tracker.tenant("acme")).ladder == "solopreneur"
    with pytest.raises(cl.LadderError) as refused:
        cl.funnel(tracker.tenant("acme"), ladder="webinar")
    assert "secret" not in str(refused.value)


# ---- the same walls for the AsyncTracker --------------------------------------------------


def scoped(driver: Any, tenant: str) -> Any:
    """The tenant's view of the driver's tracker, driven alike (sync in a thread, or async)."""
    from trackers import Driver  # a plugin too: imported once pytest registered it

    return Driver(driver.tracker.tenant(tenant), driver.store)


@pytest.mark.anyio
async def test_tenants_are_walled_off_sync_and_async(make: Any) -> None:
    driver = make(ladders=[cl.load(SEED)], clock=cl.SteppableClock(T0))
    acme, globex = scoped(driver, "acme"), scoped(driver, "globex")
    assert acme.tracker.tenant_id == "acme"
    await acme.enroll("lead-42", ladder="solopreneur")
    await globex.enroll("lead-42", ladder="solopreneur")
    await acme.ask("lead-42", "admit_problem", channel="email")
    await globex.ask("lead-42", "admit_problem", channel="email")  # its own prospect
    with pytest.raises(cl.NotEnrolled):
        await driver.get("lead-42")
    await acme.commit("lead-42", idempotency_key="hook-1")
    await globex.decline("lead-42", idempotency_key="hook-1")  # not acme's replay
    assert (await acme.get("lead-42")).position == "admit_problem"
    assert (await globex.get("lead-42")).status == "parked"
    later = T0 + timedelta(days=30)
    assert (await acme.run_due(later)).skipped == ()


@pytest.mark.anyio
async def test_a_tenant_async_relay_sends_only_its_own(make: Any) -> None:
    messenger = cl.RecordingMessenger()
    driver = make(ladders=[cl.load(SEED)], clock=cl.SteppableClock(T0), messenger=messenger)
    acme, globex = scoped(driver, "acme"), scoped(driver, "globex")
    for view in (acme, globex):
        await view.enroll("lead-42", ladder="solopreneur")
        await view.ask("lead-42", "admit_problem", channel="email")
    assert (await acme.relay()).sent >= 1
    assert {m.enrollment_id for m in messenger.sent} == {"@acme/solopreneur/lead-42"}
    assert (await driver.relay(tenant="globex")).sent >= 1
    assert {m.enrollment_id for m in messenger.sent} == {
        "@acme/solopreneur/lead-42",
        "@globex/solopreneur/lead-42",
    }


def test_the_funnel_command_counts_one_tenant(tmp_path: Path) -> None:
    import json

    from typer.testing import CliRunner

    from commitladder.cli import app
    from commitladder.sql import SqlStore

    url = f"sqlite:///{tmp_path / 'crm.db'}"
    store = SqlStore(url)
    store.create_schema()
    tracker = cl.Tracker(store=store, clock=cl.SteppableClock(T0), ladders=[cl.load(SEED)])
    asked_in([tracker.tenant("acme"), tracker.tenant("globex"), tracker])
    tracker.tenant("globex").enroll("lead-43", ladder="solopreneur")
    store.close()
    runner = CliRunner()
    result = runner.invoke(app, ["funnel", "--db", url, "--tenant", "globex", "-f", "json"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["enrollments"] == 2
    assert cl.funnel(url, tenant="acme").enrollments == 1
    assert cl.funnel(url).enrollments == 4


def test_a_tenant_forecast_sees_only_its_own_deals(tracker: cl.Tracker) -> None:
    acme, globex = tracker.tenant("acme"), tracker.tenant("globex")
    asked_in([acme, globex])
    globex.enroll("lead-43", ladder="solopreneur")
    mine = cl.forecast(acme, ladder="solopreneur", method="declared")
    assert {deal.enrollment_id for deal in mine.deals} == {"@acme/solopreneur/lead-42"}
    theirs = cl.forecast(globex, ladder="solopreneur", method="declared")
    assert len(theirs.deals) == 2


# ---- tenants meet the prospect lifecycle (issue 14's features, merged beside tenants) ----


def returning(name: str = "returning") -> cl.Ladder:
    data = webinar(name).to_dict()
    data["reentry"] = {"policy": "after_end"}
    return cl.Ladder.from_dict(data)


def test_a_second_run_in_a_tenant_stays_in_that_tenant(store: Any) -> None:
    tracker = cl.Tracker(store=store, clock=cl.SteppableClock(T0), ladders=[returning()])
    acme, globex = tracker.tenant("acme"), tracker.tenant("globex")
    acme.enroll("p", ladder="returning", now=T0)
    globex.enroll("p", ladder="returning", now=T0)
    acme.end("p", "lost", now=T0 + timedelta(hours=1))
    again = acme.enroll("p", ladder="returning", now=T0 + timedelta(hours=2))
    assert again.id == "@acme/returning/p~2"
    assert again.tenant == "acme"
    assert [e.id for e in acme.enrollments("p")] == ["@acme/returning/p", "@acme/returning/p~2"]
    assert [e.id for e in globex.enrollments("p")] == ["@globex/returning/p"]
    assert tracker.enrollments("p") == []  # the unscoped tracker's prospects have no tenant


def test_forget_and_rekey_on_a_view_touch_only_that_tenant(store: Any) -> None:
    tracker = cl.Tracker(store=store, clock=cl.SteppableClock(T0), ladders=[webinar()])
    acme, globex = tracker.tenant("acme"), tracker.tenant("globex")
    acme.enroll("p", ladder="webinar", now=T0)
    globex.enroll("p", ladder="webinar", now=T0)
    acme.forget("p", reason="asked to be erased", now=T0 + timedelta(hours=1))
    with pytest.raises(cl.NotEnrolled):
        acme.get("p")
    assert globex.get("p").status == "ready"
    globex.rekey("p", "contact-1")
    assert globex.get("contact-1").tenant == "globex"
    with pytest.raises(cl.NotEnrolled):
        acme.rekey("p", "contact-2")  # acme's p is gone; globex's is not acme's to move


def test_purge_runs_on_the_unscoped_tracker_only(store: Any) -> None:
    tracker = cl.Tracker(store=store, clock=cl.SteppableClock(T0), ladders=[webinar()])
    with pytest.raises(cl.LadderError, match="unscoped tracker"):
        tracker.tenant("acme").purge(sent_before=T0)
    assert tracker.purge(sent_before=T0).total == 0


def test_a_rekey_or_a_migration_keeps_the_zone_and_the_tenant(store: Any) -> None:
    tracker = cl.Tracker(store=store, clock=cl.SteppableClock(T0), ladders=[webinar()])
    acme = tracker.tenant("acme")
    acme.enroll("p", ladder="webinar", now=T0, timezone="Asia/Kolkata")
    acme.rekey("p", "contact-1")
    moved = acme.get("contact-1")
    assert (moved.tenant, moved.timezone) == ("acme", "Asia/Kolkata")
    v2 = webinar().to_dict()
    v2["version"] = 2
    v2["migrations"] = [{"from_version": 1}]
    tracker.register(cl.Ladder.from_dict(v2))  # the shared ladder, version 2
    acme.migrate("webinar", to_version=2, dry_run=False)
    migrated = acme.get("contact-1")
    assert (migrated.ladder.version, migrated.tenant, migrated.timezone) == (
        2,
        "acme",
        "Asia/Kolkata",
    )


def test_a_bulk_enrollment_on_a_view_belongs_to_the_tenant(store: Any) -> None:
    tracker = cl.Tracker(store=store, clock=cl.SteppableClock(T0), ladders=[webinar()])
    acme = tracker.tenant("acme")
    acme.enroll_many(["p", "q"], ladder="webinar", now=T0)
    assert [acme.get(p).tenant for p in ("p", "q")] == ["acme", "acme"]
    assert acme.get("p").id == "@acme/webinar/p"
    with pytest.raises(cl.NotEnrolled):
        tracker.tenant("globex").get("p")
    report = acme.enroll_many(["p", "r"], ladder="webinar", now=T0)
    assert report.enrolled == ("r",)
    assert [p for p, _ in report.skipped] == ["p"]  # acme's p is live already
    assert [e.id for e in acme.enrollments("r")] == ["@acme/webinar/r"]
