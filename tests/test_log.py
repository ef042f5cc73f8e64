"""The packed history gives back events equal to those put in, to the last detail."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from typing import Any
from zoneinfo import ZoneInfo

from hypothesis import given
from hypothesis import strategies as st

import commitladder as cl
from commitladder._log import History
from commitladder._tables import symbols
from support import T0, at, climb

TABLE = symbols(["park", "hello", "call", "email", "phone", "won", "yes"])
EID = "guards/acme"

zones = st.sampled_from(
    [UTC, timezone(timedelta(hours=-5)), ZoneInfo("Europe/Paris"), ZoneInfo("UTC")]
)
moments = st.builds(
    lambda naive, tz: naive.replace(tzinfo=tz),
    st.datetimes(min_value=datetime(1, 1, 2), max_value=datetime(9999, 12, 30)),
    zones,
)
names = st.one_of(st.sampled_from(TABLE[0]), st.text(max_size=8))
maybe = st.none

COMMON = {
    "enrollment_id": st.just(EID),
    "at": moments,
    "actor": st.none() | st.text(max_size=5),
    "reason": st.none() | st.text(max_size=5),
}
kinds: list[st.SearchStrategy[cl.Event]] = [
    st.builds(cl.Enrolled, prospect=names, ladder=names, version=st.integers(1, 10**6), **COMMON),
    st.builds(cl.AskIssued, rung=names, channel=names, expires_at=maybe() | moments, **COMMON),
    st.builds(
        cl.FollowedUp,
        ask_seq=st.integers(1, 10**9),
        channel=names,
        number=st.integers(0, 9),
        **COMMON,
    ),
    st.builds(
        cl.Committed,
        ask_seq=st.integers(1, 10**9),
        rung=names,
        outcome=maybe() | names,
        facts=maybe() | st.dictionaries(st.text(max_size=3), st.integers() | st.text(max_size=3)),
        late=st.booleans(),
        **COMMON,
    ),
    st.builds(
        cl.Declined,
        ask_seq=st.integers(1, 10**9),
        rung=names,
        then=names,
        needs=maybe() | st.text(max_size=9),
        resume_at=maybe() | moments,
        **COMMON,
    ),
    st.builds(cl.AskExpired, ask_seq=st.integers(1, 10**9), rung=names, then=names, **COMMON),
    st.builds(cl.AskWithdrawn, ask_seq=st.integers(1, 10**9), rung=names, **COMMON),
    st.builds(
        cl.Parked, cause=names, needs=maybe() | st.text(), resume_at=maybe() | moments, **COMMON
    ),
    st.builds(cl.Resumed, **COMMON),
    st.builds(cl.Ended, end=names, result=names, ask_seq=maybe() | st.integers(1, 10**9), **COMMON),
    st.builds(
        cl.LateCommitment,
        ask_seq=st.integers(1, 10**9),
        rung=names,
        outcome=maybe() | names,
        facts=maybe() | st.dictionaries(st.text(max_size=5), st.integers()),
        **COMMON,
    ),
]


def exact(event: cl.Event) -> list[tuple[str, Any, str]]:
    """Every field with its value, type and repr: equal datetimes in other zones differ here."""
    return [(name, type(v).__name__, repr(v)) for name, v in zip(event._fields, event, strict=True)]


@st.composite
def histories(draw: st.DrawFn) -> list[cl.Event]:
    drawn = draw(st.lists(st.one_of(kinds), max_size=12))
    return [ev._replace(seq=i) for i, ev in enumerate(drawn, start=1)]


@given(histories())
def test_packed_history_gives_back_exactly_the_events_put_in(events: list[cl.Event]) -> None:
    log = History(EID, TABLE)
    for chunk in (events[:3], events[3:4], events[4:]):  # appended in several batches
        log.append(chunk)
    back = log.events()
    assert back == events
    assert [exact(ev) for ev in back] == [exact(ev) for ev in events]
    assert len(log) == len(events)


def test_names_in_the_ladder_are_stored_as_numbers_and_others_kept_whole() -> None:
    log = History(EID, TABLE)
    log.append([cl.AskIssued(enrollment_id=EID, seq=2, at=T0, rung="hello", channel="email")])
    assert log._extras is None  # a UTC time and ladder names: nothing kept as objects
    log.append([cl.AskIssued(enrollment_id=EID, seq=3, at=T0, rung="hellO", channel="email")])
    assert log._extras == ["hellO"]
    assert [ev.rung for ev in log.events()] == ["hello", "hellO"]


def test_an_enrollment_history_survives_packing(guards: cl.Ladder) -> None:
    e = guards.enroll("acme", now=T0, actor="ana")
    climb(e, "hello", "call")
    e.ask("qualify", channel="phone", now=at(days=5), actor="bo", reason="warm lead")
    e.commit(outcome="yes", facts={"budget": 5000, "timeline": "Q3"}, now=at(days=6))
    history = e.history
    assert [ev.type for ev in history][-2:] == ["AskIssued", "Committed"]
    assert history[0].actor == "ana"
    assert history[-2].reason == "warm lead"
    assert history[-1].facts == {"budget": 5000, "timeline": "Q3"}
    assert cl.Enrollment.replay(guards, history).snapshot() == e.snapshot()
    assert cl.Enrollment.replay(guards, [ev.to_dict() for ev in history]).history == history
