"""Events: immutable, and to_dict / event_from_dict round-trip, through JSON too."""

from __future__ import annotations

import json
from typing import Any, get_args

import pytest

import commitladder as cl
from support import T0, at

COMMON: dict[str, Any] = {"enrollment_id": "guards/acme", "at": T0, "actor": "ana", "reason": "r"}

EVENTS: list[cl.Event] = [
    cl.Enrolled(seq=1, prospect="acme", ladder="guards", version=2, **COMMON),
    cl.AskIssued(seq=2, rung="hello", channel="email", expires_at=at(days=3), **COMMON),
    cl.AskIssued(seq=2, rung="nudge", channel="email", expires_at=None, **COMMON),
    cl.FollowedUp(seq=3, ask_seq=2, channel="phone", number=1, **COMMON),
    cl.Committed(seq=4, ask_seq=2, rung="qualify", outcome="yes", facts={"budget": 1}, **COMMON),
    cl.Committed(seq=4, ask_seq=2, rung="hello", late=True, **COMMON),
    cl.Declined(
        seq=5, ask_seq=4, rung="hello", then="park", needs="a case", resume_at=at(days=9), **COMMON
    ),
    cl.Declined(seq=5, ask_seq=4, rung="offer", then="nurture", **COMMON),
    cl.AskExpired(seq=6, ask_seq=5, rung="call", then="nudge", **COMMON),
    cl.AskWithdrawn(seq=7, ask_seq=6, rung="call", **COMMON),
    cl.Parked(seq=8, cause="declined", needs="budget", resume_at=at(days=30), **COMMON),
    cl.Parked(seq=8, cause="expired", **COMMON),
    cl.Resumed(seq=9, **COMMON),
    cl.Ended(seq=10, end="won", result="won", **COMMON),
    cl.Ended(seq=10, end="lost", result="lost", ask_seq=9, enrollment_id="x", at=T0),
    cl.LateCommitment(
        seq=11, ask_seq=2, rung="hello", outcome=None, facts={"pain": "yes"}, **COMMON
    ),
    cl.Rekeyed(seq=12, was="lead-7", prospect="acme", **COMMON),
    cl.Migrated(
        seq=13,
        from_version=1,
        to_version=2,
        renamed={"hello": "hi"},
        removed={"nudge": "hi", "call": "lost"},
        ends={"lost": "gone"},
        withdrawn=12,
        **COMMON,
    ),
    cl.Migrated(seq=13, from_version=1, to_version=3, renamed={}, removed={}, ends={}, **COMMON),
]
IDS = [f"{ev.type}-{i}" for i, ev in enumerate(EVENTS)]


def test_every_kind_of_event_is_covered_and_exported() -> None:
    kinds = {cls.__name__ for cls in get_args(cl.Event)}
    assert kinds == {type(ev).__name__ for ev in EVENTS}
    assert kinds <= set(cl.__all__)
    assert all(isinstance(ev, cl.Event) for ev in EVENTS), "Event works with isinstance"


@pytest.mark.parametrize("event", EVENTS, ids=IDS)
def test_to_dict_and_event_from_dict_round_trip(event: cl.Event) -> None:
    data = event.to_dict()
    assert data["type"] == type(event).__name__ == event.type
    assert data["seq"] == event.seq
    assert cl.event_from_dict(data) == event


@pytest.mark.parametrize("event", EVENTS, ids=IDS)
def test_to_dict_is_json_and_survives_a_json_round_trip(event: cl.Event) -> None:
    text = json.dumps(event.to_dict())
    back = cl.event_from_dict(json.loads(text))
    assert back == event
    assert type(back) is type(event)


@pytest.mark.parametrize("event", EVENTS, ids=IDS)
def test_data_holds_only_the_fields_particular_to_the_event(event: cl.Event) -> None:
    assert set(event.data()).isdisjoint({"enrollment_id", "seq", "at", "actor", "reason"})
    assert event.to_dict()["data"].keys() == event.data().keys()


@pytest.mark.parametrize("event", EVENTS, ids=IDS)
def test_events_are_immutable(event: cl.Event) -> None:
    with pytest.raises(AttributeError):
        event.seq = 99  # type: ignore[misc]
    with pytest.raises(AttributeError):
        event.at = at(days=1)  # type: ignore[misc]
    with pytest.raises((AttributeError, TypeError)):
        event.extra = 1  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    "garbage",
    [
        {},
        {"type": "Nope", "enrollment_id": "x", "seq": 1, "at": T0.isoformat()},
        {"type": "Event", "enrollment_id": "x", "seq": 1, "at": T0.isoformat()},
        {"type": "AskIssued", "enrollment_id": "x", "seq": 1, "at": T0.isoformat()},
        {"type": "Resumed", "seq": 1, "at": T0.isoformat()},
        {"type": "Resumed", "enrollment_id": "x", "seq": "one", "at": T0.isoformat()},
        {"type": "Resumed", "enrollment_id": "x", "seq": 1, "at": "yesterday"},
        {"type": "Resumed", "enrollment_id": "x", "seq": 1, "at": T0.isoformat(), "data": {"x": 1}},
        {"type": "Resumed", "enrollment_id": "x", "seq": 1, "at": T0.isoformat(), "data": 5},
        {
            "type": "AskIssued",
            "enrollment_id": "x",
            "seq": 2,
            "at": T0.isoformat(),
            "data": {"rung": "a", "channel": "email", "expires_at": "never"},
        },
        "AskIssued",
        None,
        [],
    ],
    ids=[
        "empty",
        "unknown-type",
        "base-type",
        "missing-data",
        "missing-enrollment-id",
        "bad-seq",
        "bad-time",
        "unknown-field",
        "data-not-a-mapping",
        "bad-data-time",
        "a-string",
        "none",
        "a-list",
    ],
)
def test_event_from_dict_rejects_garbage_with_ladder_error(garbage: Any) -> None:
    with pytest.raises(cl.LadderError, match="not a commitladder event"):
        cl.event_from_dict(garbage)
