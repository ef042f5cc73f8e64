"""Hostile hosts: messengers and listeners that fail in odd ways never stop a worker, never
lose or wedge a message, and never undo a stored command.

Issue 13: the guarantees hold under attack in the middle; the failures were at the
edges, where a host's code raises something odd. A messenger may raise anything that is
an ``Exception`` (with any text, or a ``__str__`` that raises), return anything, or be
slow; a listener likewise. ``KeyboardInterrupt`` and ``SystemExit`` are not swallowed.
Cases that allocate without bound run in a child process with a time and memory budget.
"""

from __future__ import annotations

import logging
import subprocess
import sys
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import commitladder as cl

HERE = Path(__file__).resolve().parent
LADDER = cl.load("examples/ladders/solopreneur.yaml")
T0 = datetime(2026, 1, 5, 9, tzinfo=UTC)


class Unprintable(Exception):
    def __str__(self) -> str:
        raise RuntimeError("this exception cannot be printed")


def failure(kind: str, text: str) -> BaseException:
    if kind == "unprintable":
        return Unprintable()
    if kind == "huge":
        return RuntimeError(text * 100_000)
    return {"value": ValueError, "os": OSError, "lookup": KeyError, "runtime": RuntimeError}[kind](
        text
    )


behaviours = st.lists(
    st.one_of(
        st.just(("ok", "")),
        st.tuples(
            st.sampled_from(["value", "os", "lookup", "runtime", "unprintable", "huge"]),
            st.text(alphabet=st.characters(codec=None), max_size=8),
        ),
        st.just(("garbage", "")),
    ),
    min_size=1,
    max_size=6,
)


class Hostile:
    """A messenger that does, send after send, what it was told to."""

    def __init__(self, plan: list[tuple[str, str]]) -> None:
        self.plan = plan
        self.calls = 0

    def send(self, message: cl.Message) -> Any:
        kind, text = self.plan[self.calls % len(self.plan)]
        self.calls += 1
        if kind == "ok":
            return None
        if kind == "garbage":
            return object()  # a messenger's return value means nothing
        raise failure(kind, text)


def store_for(kind: str, tmp_path: Any) -> Any:
    if kind == "memory":
        return cl.MemoryStore()
    from commitladder.sql import SqlStore

    store = SqlStore(f"sqlite:///{tmp_path / f'hosts-{id(tmp_path)}.db'}", prefix="h_")
    store.create_schema()
    return store


@pytest.mark.property
@pytest.mark.parametrize("kind", ["memory", "sqlite"])
@settings(
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
@given(plan=behaviours)
def test_a_hostile_messenger_never_wedges_or_loses_a_message(
    kind: str, plan: list[tuple[str, str]], tmp_path_factory: pytest.TempPathFactory
) -> None:
    store = store_for(kind, tmp_path_factory.mktemp("hosts"))
    clock = cl.SteppableClock(T0)
    tracker = cl.Tracker(
        store=store,
        messenger=Hostile(plan),
        clock=clock,
        ladders=[LADDER],
        max_attempts=3,
        backoff=timedelta(seconds=1),
    )
    tracker.enroll("p", ladder=LADDER)
    tracker.ask("p", "admit_problem")
    for _ in range(8):  # more rounds than attempts: every message settles
        tracker.relay()
        clock.advance(hours=2)
    outbox = store.outbox()
    assert outbox, "the ask made a message"
    for entry in outbox:
        assert entry.status in ("sent", "dead"), entry
        assert 1 <= entry.attempts <= 3
        if entry.status == "dead":
            assert entry.last_error, "a dead message says why"
            entry.last_error.encode("utf-8")  # the stored text is valid text
            assert len(entry.last_error) <= 2000
    assert tracker.get("p").status == "pending", "no messenger failure undoes a command"


def test_an_interrupt_in_the_messenger_is_not_swallowed_and_loses_nothing() -> None:
    class Interrupted:
        def send(self, message: cl.Message) -> None:
            raise KeyboardInterrupt

    store = cl.MemoryStore()
    clock = cl.SteppableClock(T0)
    tracker = cl.Tracker(store=store, messenger=Interrupted(), clock=clock, ladders=[LADDER])
    tracker.enroll("p", ladder=LADDER)
    tracker.ask("p", "admit_problem")
    with pytest.raises(KeyboardInterrupt):
        tracker.relay()
    (entry,) = store.outbox()
    assert (entry.status, entry.attempts) == ("pending", 0), "nothing was marked sent"
    clock.advance(minutes=10)  # once the lease ends, another relay takes it
    good = cl.Tracker(store=store, messenger=cl.RecordingMessenger(), clock=clock, ladders=[LADDER])
    assert good.relay().sent == 1


@pytest.mark.parametrize(
    "listen",
    [
        lambda event: 1 / 0,
        lambda event: (_ for _ in ()).throw(Unprintable()),
        lambda event: object(),
        lambda event: [event] * 3,
    ],
    ids=["raises", "raises-unprintable", "returns-garbage", "returns-a-list"],
)
def test_a_hostile_listener_never_undoes_a_stored_command(
    listen: Callable[[cl.Event], object], caplog: pytest.LogCaptureFixture
) -> None:
    tracker = cl.Tracker(store=cl.MemoryStore(), ladders=[LADDER], listeners=[listen])
    e = LADDER.enroll("mem", now=T0, listeners=[listen])
    with caplog.at_level(logging.ERROR, logger="commitladder"):
        tracker.enroll("p", ladder=LADDER, now=T0)
        tracker.ask("p", "admit_problem", now=T0)
        e.ask("admit_problem", now=T0)
    assert tracker.get("p").status == "pending"
    assert e.status == "pending"


_CHILD = """
import resource, sys
resource.setrlimit(resource.RLIMIT_AS, ({limit}, {limit}))
sys.path.insert(0, {tests!r})
try:
    import test_fuzz_hosts
    getattr(test_fuzz_hosts, {name!r})()
    print("ok")
except MemoryError:
    print("memory")
except BaseException as exc:  # the parent reports what escaped
    print(type(exc).__name__)
"""


def isolated(fn: Callable[[], object], *, seconds: float = 20, memory_mb: int = 1024) -> str:
    """Run ``fn`` (a function of this module) in a fresh interpreter with a memory budget;
    what happened, or 'hung'.

    A fresh interpreter, not a fork: forking a pytest-xdist worker copies its threads' locks
    (the output streams among them), and a child could wait forever on one (it did, in CI).
    """
    code = _CHILD.format(limit=memory_mb << 20, tests=str(HERE), name=fn.__name__)
    try:
        done = subprocess.run(
            [sys.executable, "-c", code],
            cwd=HERE.parent,
            capture_output=True,
            text=True,
            timeout=seconds,
            check=False,
        )
    except subprocess.TimeoutExpired:
        return "hung"
    lines = done.stdout.strip().splitlines()
    return lines[-1] if lines else f"exit {done.returncode}: {done.stderr[-500:]}"


def _huge_errors() -> None:
    class Flood:
        def send(self, message: cl.Message) -> None:
            raise RuntimeError("\udcff\x00" * 5_000_000)  # 10 MB of invalid text

    clock = cl.SteppableClock(T0)
    tracker = cl.Tracker(
        store=cl.MemoryStore(), messenger=Flood(), clock=clock, ladders=[LADDER], max_attempts=2
    )
    tracker.enroll("p", ladder=LADDER)
    tracker.ask("p", "admit_problem")
    for _ in range(3):
        tracker.relay()
        clock.advance(hours=2)
    (entry,) = tracker.store.outbox()  # type: ignore[attr-defined]
    assert entry.status == "dead"
    assert len(entry.last_error) <= 2000


def test_a_flood_of_invalid_error_text_is_cut_short_within_a_budget() -> None:
    assert isolated(_huge_errors, seconds=60, memory_mb=1024) == "ok"
