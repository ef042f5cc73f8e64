"""Hostile arguments to every public command: each ends in events, a refusal, or a typed error
that names the argument, and a command that fails changes nothing.

Issue 13: one bad value from outside must never leak a raw Python error from inside the
library (``'NoneType' object is not iterable`` from ``difflib``, ``unhashable type``,
``OverflowError`` near the end of the calendar, ``UnicodeEncodeError`` in a store).
The values are drawn by Hypothesis, for ``Enrollment`` and for ``Tracker`` on both
stores (which must agree). Marked ``property``: CI's thorough profile runs more.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import commitladder as cl
from commitladder import commands as do

LADDER = cl.load("examples/ladders/solopreneur.yaml")
T0 = datetime(2026, 1, 5, 9, tzinfo=UTC)

# What a command may raise for a bad argument: the library's own errors, or a TypeError
# (a wrong type) whose sentence names the argument.
ALLOWED = (cl.LadderError, TypeError)


class Weird:
    """An object whose every hook fails: it must not reach a hook inside the library."""

    def __str__(self) -> str:
        raise RuntimeError("no str for you")

    __repr__ = __str__

    def __eq__(self, other: object) -> bool:
        raise RuntimeError("no eq for you")

    def __hash__(self) -> int:
        raise RuntimeError("no hash for you")


texts = st.one_of(
    st.text(max_size=12),
    st.text(alphabet=st.characters(codec=None, categories=["Cs", "Cc"]), min_size=1, max_size=4),
    st.sampled_from(
        ["", "admit_problem", "intro_call", "email", "phone", "won", "\x00", "x" * 300]
    ),
)
times = st.one_of(
    st.datetimes(timezones=st.just(UTC)),
    st.datetimes(),  # naive
    st.datetimes(timezones=st.sampled_from([timezone(timedelta(hours=14)), UTC])),
    st.just(datetime.max.replace(tzinfo=UTC)),
    st.just(datetime.min.replace(tzinfo=UTC)),
)
anything = st.one_of(
    st.none(),
    texts,
    st.integers(),
    st.floats(allow_nan=True),
    st.booleans(),
    st.binary(max_size=4),
    st.lists(st.integers(), max_size=3),
    st.dictionaries(st.text(max_size=3), st.integers(), max_size=2),
    times,
    st.builds(Weird),
    st.just(timedelta(days=3)),
)
maybe_text = st.one_of(st.none(), texts, anything)


def enrollment() -> cl.Enrollment:
    e = LADDER.enroll("p", now=T0)
    e.ask("admit_problem", channel="email", now=T0)
    return e


def commands_on(e: cl.Enrollment) -> st.SearchStrategy[Callable[[], object]]:
    """A call of one public method with hostile arguments."""
    kw = {"now": st.one_of(st.none(), times, anything), "actor": maybe_text, "reason": maybe_text}
    return st.one_of(
        st.builds(lambda r, **k: lambda: e.ask(r, **k), anything, channel=maybe_text, **kw),
        st.builds(lambda **k: lambda: e.follow_up(**k), channel=maybe_text, **kw),
        st.builds(
            lambda **k: lambda: e.commit(**k),
            outcome=maybe_text,
            facts=st.one_of(st.none(), anything, st.dictionaries(texts, anything, max_size=2)),
            ask_id=maybe_text,
            **kw,
        ),
        st.builds(
            lambda **k: lambda: e.decline(**k),
            needs=maybe_text,
            resume_at=st.one_of(st.none(), anything),
            ask_id=maybe_text,
            **kw,
        ),
        st.builds(lambda **k: lambda: e.expire(**k), ask_id=maybe_text, **kw),
        st.builds(lambda **k: lambda: e.withdraw(**k), ask_id=maybe_text, **kw),
        st.builds(lambda **k: lambda: e.resume(**k), **kw),
        st.builds(lambda end, **k: lambda: e.end(end, **k), anything, **kw),
        st.builds(
            lambda r, c, n: lambda: e.why_not(r, channel=c, now=n), anything, maybe_text, anything
        ),
        st.builds(lambda n: lambda: e.askable(now=n), anything),
        st.builds(lambda c: lambda: e.execute(c, now=T0), anything),
        st.builds(lambda r, c: lambda: e.execute(do.AskFor(r, c), now=T0), anything, anything),
    )


def check(call: Callable[[], object], snapshot: Callable[[], Any]) -> None:
    before = json.dumps(snapshot(), sort_keys=True, default=str)
    try:
        call()
    except ALLOWED as exc:
        if isinstance(exc, TypeError):
            sentence = "must be" in str(exc) or "facts" in str(exc)
            assert sentence, f"no sentence: {exc!r}"  # noqa: PT017 (any of several errors is allowed: pytest.raises cannot say which)
        after = json.dumps(snapshot(), sort_keys=True, default=str)
        assert after == before, f"{exc!r} left a mark"  # noqa: PT017 (any of several errors is allowed: pytest.raises cannot say which)


@pytest.mark.property
@settings(suppress_health_check=[HealthCheck.too_slow])
@given(st.data())
def test_hostile_arguments_to_an_enrollment_end_in_events_or_typed_errors(
    data: st.DataObject,
) -> None:
    e = enrollment()
    for _ in range(3):
        check(data.draw(commands_on(e)), e.snapshot)


def test_the_reported_crashes_are_typed_errors_naming_the_argument() -> None:
    """Regression (issue 13 item 8): these raised errors from inside difflib and dicts."""
    e = LADDER.enroll("p", now=T0)
    with pytest.raises(TypeError, match="rung must be a string"):
        e.why_not(None)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="channel must be a string"):
        e.ask("admit_problem", channel=5)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="rung must be a string"):
        e.ask(["admit_problem"])  # type: ignore[arg-type]
    assert e.status == "ready"


def test_commands_near_the_end_of_the_calendar_clamp_instead_of_crashing() -> None:
    """Regression (issue 13 item 4): ``ask`` in year 9999 raised OverflowError."""
    late = datetime(9999, 12, 30, tzinfo=UTC)
    e = LADDER.enroll("p", now=late)
    ask = e.ask("admit_problem", now=late)
    assert ask.expires_at == datetime.max.replace(tzinfo=UTC)
    assert all(t.due_at <= datetime.max.replace(tzinfo=UTC) for t in e.timers)
    tracker = cl.Tracker(store=cl.MemoryStore(), ladders=[LADDER])
    tracker.enroll("q", ladder=LADDER, now=late)
    tracker.ask("q", "admit_problem", now=late)
    assert tracker.run_due(late) == 0


@pytest.fixture(params=["memory", "sqlite"])
def tracker(request: pytest.FixtureRequest, tmp_path: Any) -> cl.Tracker:
    if request.param == "memory":
        store: Any = cl.MemoryStore()
    else:
        from commitladder.sql import SqlStore

        store = SqlStore(f"sqlite:///{tmp_path / 'fuzz.db'}")
        store.create_schema()
    return cl.Tracker(store=store, ladders=[LADDER], clock=cl.SteppableClock(T0))


@pytest.mark.property
@settings(
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
@given(
    prospect=anything,
    rung=anything,
    channel=maybe_text,
    key=maybe_text,
    now=st.one_of(st.none(), times),
)
def test_hostile_arguments_to_a_tracker_end_in_events_or_typed_errors(
    tracker: cl.Tracker, prospect: Any, rung: Any, channel: Any, key: Any, now: Any
) -> None:
    calls: list[Callable[[], object]] = [
        lambda: tracker.enroll(prospect, ladder=LADDER, now=now),
        lambda: tracker.ask(prospect, rung, channel=channel, idempotency_key=key, now=now),
        lambda: tracker.commit(prospect, idempotency_key=key, now=now),
        lambda: tracker.get(prospect),
        lambda: tracker.history(prospect),
        lambda: tracker.execute(rung, prospect="p"),
    ]
    for call in calls:
        try:
            call()
        except ALLOWED as exc:
            if isinstance(exc, TypeError):
                assert "must be" in str(exc), f"no sentence: {exc!r}"  # noqa: PT017 (any of several errors is allowed: pytest.raises cannot say which)


@pytest.mark.parametrize("bad", ["lead-\udcff", "lead-\x00", "\ud800"])
def test_both_stores_refuse_a_prospect_id_that_is_not_valid_text(
    tracker: cl.Tracker, bad: str
) -> None:
    """Regression (issue 13 item 10): SqlStore leaked a raw UnicodeEncodeError, MemoryStore
    accepted the id; both refuse it now, before it reaches the store."""
    with pytest.raises(cl.InvalidText, match="prospect"):
        tracker.enroll(bad, ladder=LADDER)
    with pytest.raises(cl.InvalidText):
        tracker.ask(bad, "admit_problem")
    tracker.enroll("ok", ladder=LADDER)
    with pytest.raises(cl.InvalidText, match="idempotency_key"):
        tracker.ask("ok", "admit_problem", idempotency_key=bad)
    with pytest.raises(cl.InvalidText, match="channel"):
        tracker.execute(do.AskFor("admit_problem", bad), prospect="ok")
    assert tracker.get("ok").status == "ready"
