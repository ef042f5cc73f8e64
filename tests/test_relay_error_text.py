"""A messenger's error text never wedges ``relay()`` (issue 13, item 1), on every store.

Whatever a messenger raises, the attempt is recorded with storable text, so the
message retries with backoff and dead-letters after its budget, as any failure does.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

import commitladder as cl

pytest_plugins = ["dbfixtures"]

T0 = datetime(2026, 1, 5, 9, tzinfo=UTC)
HELLO = cl.Ladder.from_dict(
    {
        "ladder": "hello",
        "version": 1,
        "start": "hello",
        "rungs": {"hello": {"kind": "conversation", "size": 1, "next": "won"}},
        "ends": {"won": {"result": "won"}},
    }
)


class _UnreadableError(Exception):
    def __str__(self) -> str:
        raise RuntimeError("the error's own message fails")


class Hostile:
    """A messenger that always fails, with an error whose text a database refuses."""

    def __init__(self, error: Exception) -> None:
        self.error = error
        self.calls = 0

    def send(self, message: cl.Message) -> None:
        self.calls += 1
        raise self.error


ERRORS = {
    "lone-surrogate": (RuntimeError("reply: \udcff"), "RuntimeError: reply: \\udcff"),
    "nul-byte": (RuntimeError("smtp said \x00 no"), "RuntimeError: smtp said \\x00 no"),
    "str-raises": (_UnreadableError(), "_UnreadableError: <its message could not be read"),
}


@pytest.mark.parametrize("case", list(ERRORS), ids=list(ERRORS))
def test_a_hostile_error_text_is_recorded_then_retried_then_dead_lettered(
    store: Any, case: str
) -> None:
    error, recorded = ERRORS[case]
    messenger = Hostile(error)
    tracker = cl.Tracker(store=store, messenger=messenger, ladders=[HELLO], max_attempts=2)
    tracker.enroll("p", ladder="hello", now=T0)
    tracker.ask("p", "hello", channel="email", now=T0)

    first = tracker.relay(now=T0)
    assert first == cl.RelayReport(retrying=1)
    [entry] = store.outbox()
    assert (entry.status, entry.attempts) == ("pending", 1)
    assert entry.last_error is not None
    assert entry.last_error.startswith(recorded)

    assert tracker.relay(now=T0) == cl.RelayReport()  # backing off: not due again yet
    later = tracker.relay(now=T0 + timedelta(hours=1))
    assert later == cl.RelayReport(dead=1)
    [entry] = store.outbox()
    assert (entry.status, entry.attempts, messenger.calls) == ("dead", 2, 2)


def test_a_store_accepts_any_text_as_an_error(store: Any) -> None:
    tracker = cl.Tracker(store=store, ladders=[HELLO])
    tracker.enroll("p", ladder="hello", now=T0)
    tracker.ask("p", "hello", channel="email", now=T0)
    [entry] = store.outbox()
    store.message_failed(entry.message.key, "\udcff\x00\ud800 end", T0 + timedelta(minutes=1))
    [entry] = store.outbox()
    assert entry.last_error == "\\udcff\\x00\\ud800 end"
