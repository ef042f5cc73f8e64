"""The ``Store`` protocol's own promises, on every store (memory, SQLite, PostgreSQL, MySQL).

An idempotency key used a second time is an answer, not an error: ``apply`` and
``remember`` return the first ``Receipt`` and write nothing. A taken key never breaks
the transaction it was met in (PostgreSQL aborts a transaction on a failed insert;
the SQL store asks with ``ON CONFLICT DO NOTHING`` instead).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

import commitladder as cl
from commitladder.store import Change, Receipt

pytest_plugins = ["dbfixtures"]

SEED = Path(cl.__file__).parent / "seed" / "solopreneur.yaml"
T0 = datetime(2026, 1, 5, 9, tzinfo=UTC)


@pytest.fixture
def enrolled(store: Any) -> Any:
    """The store, with ``p`` enrolled on the seed ladder."""
    cl.Tracker(store=store, ladders=[cl.load(SEED)]).enroll("p", ladder="solopreneur", now=T0)
    return store


def change(store: Any, *, key: str | None, status: str = "parked") -> Change:
    """A change to ``p``'s stored enrollment, made by hand, under idempotency ``key``."""
    stored = store.load("solopreneur/p")
    return Change(
        enrollment_id=stored.id,
        prospect=stored.prospect,
        ladder=stored.ladder,
        status=status,
        expected_version=stored.version,
        snapshot=stored.snapshot,
        events=[{"type": "Resumed", "seq": 10 + stored.version, "at": T0.isoformat(), "data": {}}],
        receipt=Receipt(key, "resume", stored.id, {"events": []}) if key is not None else None,
        now=T0,
    )


def test_apply_returns_none_once_written(enrolled: Any) -> None:
    assert enrolled.apply(change(enrolled, key="k1")) is None
    assert enrolled.load("solopreneur/p").status == "parked"
    assert enrolled.recall("k1") == Receipt("k1", "resume", "solopreneur/p", {"events": []})


def test_a_replayed_key_returns_the_first_receipt_and_writes_nothing(enrolled: Any) -> None:
    enrolled.apply(change(enrolled, key="k1"))
    before = (enrolled.load("solopreneur/p"), enrolled.events("solopreneur/p"))
    first = enrolled.apply(change(enrolled, key="k1", status="ended"))
    assert first == Receipt("k1", "resume", "solopreneur/p", {"events": []})
    assert (enrolled.load("solopreneur/p"), enrolled.events("solopreneur/p")) == before


def test_remember_returns_the_first_receipt_of_a_taken_key(enrolled: Any) -> None:
    refused = Receipt("k2", "commit", "solopreneur/p", {"refused": {"code": "no_open_ask"}})
    assert enrolled.remember(refused, T0) is None
    other = Receipt("k2", "commit", "solopreneur/p", {"refused": {"code": "ask_pending"}})
    assert enrolled.remember(other, T0) == refused
    assert enrolled.apply(change(enrolled, key="k2")) == refused
    assert enrolled.load("solopreneur/p").status == "ready"


def test_a_taken_key_leaves_the_session_usable(enrolled: Any) -> None:
    """On PostgreSQL a failed insert would abort the transaction: the next statement of
    the same session would fail. A taken key is found without one."""
    enrolled.apply(change(enrolled, key="k3"))
    later = T0 + timedelta(days=1)
    with enrolled.session() as session:
        assert session.apply(change(enrolled, key="k3", status="ended")) is not None
        assert session.remember(Receipt("k3", "x", "solopreneur/p", {}), later) is not None
        assert session.load("solopreneur/p").status == "parked"  # still readable
        assert session.apply(change(enrolled, key="k4", status="pending")) is None
    assert enrolled.load("solopreneur/p").status == "pending"
    assert enrolled.recall("k4") is not None
