"""Hooks run inside the store's transaction: they see each write's events and the CRM stage
the deal moved from and to, a host's own stage field written through the store's connection
commits with the ladder, and a hook that fails rolls both back."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

import commitladder as cl
from support import T0

pytest_plugins = ["dbfixtures"]

STAGED = """\
ladder: staged
start: discovery
defaults: {channels: [email]}
rungs:
  discovery: {kind: meeting, size: 2, next: proposal, stage: Qualification, probability: 0.2}
  proposal:
    kind: proposal
    size: 3
    next: won
    on_decline: lost
    expires_after: 1d
    on_expire: lost
    stage: Proposal/Price Quote
    probability: 0.75
ends:
  won: {result: won, stage: Closed Won, probability: 1}
  lost: {result: lost, stage: Closed Lost, probability: 0}
"""
LADDER = cl.Ladder.from_yaml(STAGED)


def moves(changes: list[cl.StageChange]) -> list[tuple[Any, ...]]:
    return [
        (c.events[-1].type, c.rung_before, c.rung_after, c.stage_before, c.stage_after, c.end)
        for c in changes
    ]


def test_a_hook_sees_every_write_with_its_stage_change(store: Any) -> None:
    seen: list[cl.StageChange] = []
    tracker = cl.Tracker(store=store, ladders=[LADDER], hooks=[seen.append])
    tracker.enroll("acme", ladder="staged", now=T0)
    tracker.ask("acme", "discovery", now=T0)
    tracker.commit("acme", now=T0 + timedelta(hours=1))
    tracker.ask("acme", "proposal", now=T0 + timedelta(hours=2))
    tracker.commit("acme", now=T0 + timedelta(hours=3))
    assert moves(seen) == [
        ("Enrolled", None, None, None, None, None),
        ("AskIssued", None, None, None, None, None),
        ("Committed", None, "discovery", None, "Qualification", None),
        ("AskIssued", "discovery", "discovery", "Qualification", "Qualification", None),
        ("Ended", "discovery", "proposal", "Qualification", "Closed Won", "won"),
    ]
    assert [c.moved for c in seen] == [False, False, True, False, True]
    last = seen[-1]
    assert (last.prospect, last.ladder, last.version) == ("acme", "staged", 1)
    assert (last.status_before, last.status_after) == ("pending", "ended")
    assert [e.type for e in last.events] == ["Committed", "Ended"]


def test_a_timer_that_ends_the_deal_runs_the_hooks(store: Any) -> None:
    seen: list[cl.StageChange] = []
    tracker = cl.Tracker(store=store, ladders=[LADDER])
    tracker.enroll("acme", ladder="staged", now=T0)
    tracker.ask("acme", "discovery", now=T0)
    tracker.commit("acme", now=T0)
    tracker.ask("acme", "proposal", now=T0)
    tracker.add_hook(seen.append)
    tracker.run_due(T0 + timedelta(days=2))
    assert [(c.stage_before, c.stage_after, c.end) for c in seen] == [
        ("Qualification", "Closed Lost", "lost")
    ]


def test_a_replayed_command_runs_no_hook(store: Any) -> None:
    seen: list[cl.StageChange] = []
    tracker = cl.Tracker(store=store, ladders=[LADDER], hooks=[seen.append])
    tracker.enroll("acme", ladder="staged", now=T0)
    tracker.ask("acme", "discovery", now=T0, idempotency_key="k1")
    tracker.ask("acme", "discovery", now=T0, idempotency_key="k1")
    assert len(seen) == 2


class Boom(Exception):
    pass


def test_on_the_memory_store_a_failing_hook_reaches_the_caller() -> None:
    def fail(change: cl.StageChange) -> None:
        if change.moved:
            raise Boom("the CRM refused the stage")

    tracker = cl.Tracker(store=cl.MemoryStore(), ladders=[LADDER], hooks=[fail])
    tracker.enroll("acme", ladder="staged", now=T0)
    tracker.ask("acme", "discovery", now=T0)
    with pytest.raises(Boom):
        tracker.commit("acme", now=T0)


# ---- SQL: the host's row commits and rolls back with the ladder ---------------------------


@pytest.fixture(params=["sqlite", "postgresql", "mysql"])
def crm(request: pytest.FixtureRequest, tmp_path: Any) -> Any:
    """A SqlStore with its own table prefix and the host's `deals` table beside it."""
    import sqlalchemy as sa

    from commitladder.sql import SqlStore
    from dbfixtures import backend_url, fresh_prefix

    prefix = fresh_prefix()
    store = SqlStore(backend_url(request.param, tmp_path), prefix=prefix)
    store.create_schema()
    deals = sa.Table(
        f"{prefix}deals",
        sa.MetaData(),
        sa.Column("prospect", sa.String(100), primary_key=True),
        sa.Column("stage", sa.String(100)),
    )
    with store.engine.begin() as conn:
        deals.create(conn)
        conn.execute(deals.insert().values(prospect="acme", stage="New"))
    yield store, deals
    with store.engine.begin() as conn:
        deals.drop(conn)
    store.drop_schema()
    store.close()


def stage_field(deals: Any) -> Any:
    """A hook keeping the host's `deals.stage` in step, through the store's connection."""

    def hook(change: cl.StageChange) -> None:
        if change.moved:
            change.store.connection.execute(  # type: ignore[attr-defined]
                deals.update()
                .where(deals.c.prospect == change.prospect)
                .values(stage=change.stage_after)
            )

    return hook


def deal_stage(store: Any, deals: Any) -> str:
    import sqlalchemy as sa

    with store.engine.connect() as conn:
        return str(conn.execute(sa.select(deals.c.stage)).scalar_one())


def test_the_hosts_stage_field_commits_with_the_ladder(crm: Any) -> None:
    store, deals = crm
    tracker = cl.Tracker(store=store, ladders=[LADDER], hooks=[stage_field(deals)])
    tracker.enroll("acme", ladder="staged", now=T0)
    tracker.ask("acme", "discovery", now=T0)
    tracker.commit("acme", now=T0)
    assert deal_stage(store, deals) == "Qualification"
    tracker.ask("acme", "proposal", now=T0)
    tracker.decline("acme", now=T0)
    assert deal_stage(store, deals) == "Closed Lost"


def test_a_failing_hook_rolls_back_the_hosts_row_and_the_ladder(crm: Any) -> None:
    store, deals = crm

    blocked = [True]

    def refuse(change: cl.StageChange) -> None:
        if blocked and change.stage_after == "Closed Won":
            raise Boom("the CRM refused to close the deal")

    tracker = cl.Tracker(store=store, ladders=[LADDER], hooks=[stage_field(deals), refuse])
    tracker.enroll("acme", ladder="staged", now=T0)
    tracker.ask("acme", "discovery", now=T0)
    tracker.commit("acme", now=T0)
    tracker.ask("acme", "proposal", now=T0)
    with pytest.raises(Boom):
        tracker.commit("acme", now=T0)
    # the stage field was written before the second hook failed: rolled back with the rest
    assert deal_stage(store, deals) == "Qualification"
    assert store.load("staged/acme").status == "pending"
    assert [e["type"] for e in store.events("staged/acme")][-1] == "AskIssued"
    # the ask is still open, so the yes can come again once the host allows it
    blocked.clear()  # the host fixed what refused the stage
    tracker.commit("acme", now=T0)
    assert deal_stage(store, deals) == "Closed Won"
    assert store.load("staged/acme").status == "ended"


def test_in_a_host_transaction_a_rollback_drops_the_stage_field_and_the_ladder(
    crm: Any,
) -> None:
    from commitladder.sql import SqlStore

    store, deals = crm
    cl.Tracker(store=store, ladders=[LADDER]).enroll("acme", ladder="staged", now=T0)
    with store.engine.connect() as conn:
        tx = conn.begin()
        joined = SqlStore.joined(conn, store)
        tracker = cl.Tracker(store=joined, ladders=[LADDER], hooks=[stage_field(deals)])
        tracker.ask("acme", "discovery", now=T0)
        tracker.commit("acme", now=T0)
        tx.rollback()
    assert deal_stage(store, deals) == "New"
    assert store.load("staged/acme").status == "ready"


def test_a_store_outside_a_transaction_has_no_connection(tmp_path: Any) -> None:
    from commitladder.sql import SqlStore

    store = SqlStore(f"sqlite:///{tmp_path / 'x.db'}")
    try:
        with pytest.raises(cl.StoreError, match="in no transaction"):
            _ = store.connection
        with store.session() as bound:
            assert bound.connection is not None
    finally:
        store.close()
