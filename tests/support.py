"""Test helpers shared by the modules: a fixed start time, the guard ladder, refusal checks.

Nothing here reads the wall clock: every time-dependent call passes ``now=`` built
from ``T0``.
"""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Callable, Mapping
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, TypeVar

import pytest

import commitladder as cl

T0 = datetime(2026, 1, 5, 9, tzinfo=UTC)
EXAMPLES_DIR = Path(__file__).parent.parent / "examples" / "ladders"
EXAMPLE_FILES = sorted(EXAMPLES_DIR.glob("*.yaml"))
EXAMPLE_NAMES = [p.stem for p in EXAMPLE_FILES]

R = TypeVar("R", bound=cl.Refused)

# Tests that draw with Graphviz's `dot` skip where it is missing, like the database tests;
# CI installs it and sets COMMITLADDER_TEST_REQUIRE_DOT=1, so there they run or fail.
needs_dot = pytest.mark.skipif(
    shutil.which("dot") is None and not os.environ.get("COMMITLADDER_TEST_REQUIRE_DOT"),
    reason="Graphviz's `dot` is not installed, so SVG/PNG drawing is not tested "
    "(Debian/Ubuntu: apt-get install graphviz; macOS: brew install graphviz)",
)

# A ladder whose every timer and limit is chosen so each guard is easy to reach:
#   hello --> call --> qualify --(yes)--> offer --> won
#                 \-- on_expire: nudge --> call      \-- on_decline: nurture --> qualify
#   qualify: (later) -> nurture, (never) -> disqualified, on_decline -> lost
GUARDS_YAML = """\
ladder: guards
version: 2
title: Guard test ladder
start: hello
defaults:
  expires_after: 3d
  follow_ups: {max: 2, every: 1d}
  cooldown: 2d
  next_ask_within: 1d
  max_asks: 2
  channels: [email, phone]
rungs:
  hello:
    kind: conversation
    size: 1
    next: call
  call:
    kind: call
    size: 2
    channels: [phone]
    on_expire: nudge
    next: qualify
  nudge:
    kind: download
    size: 1
    expires_after: null
    follow_ups: null
    next: call
  qualify:
    kind: meeting
    size: 3
    requires: [budget, timeline]
    outcomes:
      yes: offer
      later: nurture
      never: disqualified
    on_decline: lost
  nurture:
    kind: subscribe
    size: 1
    max_asks: 1
    next: qualify
  offer:
    kind: purchase
    size: 4
    next: won
    on_decline: nurture
ends:
  won: {result: won}
  lost: {result: lost}
  disqualified: {result: lost}
"""

FACTS = {"budget": 10_000, "timeline": "Q2"}


def simple(name: str) -> cl.Ladder:
    """A one-rung ladder (``hello``, then ``won``): races and stress tests."""
    return cl.Ladder.from_dict(
        {
            "ladder": name,
            "version": 1,
            "start": "hello",
            "rungs": {"hello": {"kind": "conversation", "size": 1, "next": "won"}},
            "ends": {"won": {"result": "won"}},
        }
    )


def ladders() -> list[cl.Ladder]:
    """The seed ladder and two one-rung ladders, ``alpha`` and ``beta``."""
    seed = cl.load(Path(cl.__file__).parent / "seed" / "solopreneur.yaml")
    return [seed, simple("alpha"), simple("beta")]


def at(**delta: float) -> datetime:
    """``T0`` plus ``days=``, ``hours=`` ..."""
    return T0 + timedelta(**delta)


def climb(e: cl.Enrollment, *rungs: str, now: datetime = T0) -> cl.Enrollment:
    """Ask for and commit to each rung in turn (with the guard ladder's facts/outcomes)."""
    for rung in rungs:
        e.ask(rung, now=now)
        outcome = "yes" if rung == "qualify" else None
        e.commit(outcome=outcome, facts=FACTS if rung == "qualify" else None, now=now)
    return e


def assert_refused(e: cl.Enrollment, kind: type[R], code: str, command: Callable[[], object]) -> R:
    """Run ``command``; it must raise ``kind`` with ``code`` and change nothing at all."""
    before = json.dumps(e.snapshot(), sort_keys=True)
    history = e.history
    state = e.state
    with pytest.raises(kind) as info:
        command()
    refusal = info.value
    assert isinstance(refusal, cl.Refused)
    assert isinstance(refusal, cl.LadderError)
    assert type(refusal) is kind
    assert refusal.code == code
    assert refusal.rule == code
    assert refusal.enrollment_id == e.id
    data = refusal.to_dict()
    assert json.loads(json.dumps(data))["code"] == code
    assert data["message"] == refusal.message == str(refusal)
    assert data["enrollment_id"] == e.id
    assert data["message"]
    assert json.dumps(e.snapshot(), sort_keys=True) == before
    assert e.history == history
    assert e.state == state
    return refusal


def snapshot_json(e: cl.Enrollment) -> Mapping[str, Any]:
    data: Mapping[str, Any] = json.loads(json.dumps(e.snapshot()))
    return data


def report(request: pytest.FixtureRequest, title: str, figures: Mapping[str, int]) -> None:
    """Print counted figures past pytest's capture (end-to-end tests report what they did)."""
    if not figures:
        return
    capture = request.config.pluginmanager.get_plugin("capturemanager")
    reporter = request.config.pluginmanager.get_plugin("terminalreporter")
    if capture is None or reporter is None:
        return
    line = ", ".join(f"{key}: {value}" for key, value in sorted(figures.items()))
    with capture.global_and_fixture_disabled():
        reporter.write_line(f"\n{title}: {line}")


def simulate_into(
    url: str,
    ladder: cl.Ladder,
    *,
    prospects: int,
    seed: int,
    days: int = 60,
    prefix: str = "commitladder_",
) -> Any:
    """Run the simulator on a fresh SqlStore at ``url``; returns its report."""
    from commitladder._simulate import START, simulate
    from commitladder.sql import SqlStore

    store = SqlStore(url, prefix=prefix)
    store.create_schema()
    clock = cl.SteppableClock(START)
    tracker = cl.Tracker(store=store, clock=clock, ladders=[ladder])
    try:
        return simulate(ladder, tracker, clock, prospects=prospects, seed=seed, days=days)
    finally:
        store.close()


def image_size(data: bytes) -> tuple[int, int]:
    """Width and height of a PNG (from its IHDR chunk) or an SVG (its width/height, in pt or
    px); fails if ``data`` is neither."""
    import struct
    import xml.etree.ElementTree as ET

    if data.startswith(b"\x89PNG\r\n\x1a\n"):
        assert data[12:16] == b"IHDR", "a PNG starts with its IHDR chunk"
        width, height = struct.unpack(">II", data[16:24])
        return width, height
    root = ET.fromstring(data)
    assert root.tag == "{http://www.w3.org/2000/svg}svg", root.tag
    return tuple(  # type: ignore[return-value]
        round(float(root.attrib[name].removesuffix("pt").removesuffix("px")))
        for name in ("width", "height")
    )


QUEUED_YAML = """\
ladder: cold
start: intro
calendar:
  timezone: America/New_York
  send_windows:
    email: ["08:00-18:00"]
throttles:
  - {max: 50, per: day, channel: email, sender: actor}
defaults:
  expires_after: 3bd
  follow_ups: {max: 2, every: 1bd}
rungs:
  intro: {kind: call, size: 1, next: won, channels: [email]}
ends:
  won: {result: won}
"""


def queued_asks_week(store: Any) -> None:
    """120 first asks on Friday 10:00 New York under 50 a day (the last goes on Tuesday);
    then every half hour to Thursday evening: fire the timers, follow up at once on each
    follow-up-due alert, relay. Every follow-up goes out strictly after its ask; the
    expiry stays 3 business days after the ask was made."""
    from zoneinfo import ZoneInfo

    new_york = ZoneInfo("America/New_York")
    friday, tuesday = (
        datetime(2026, 12, 4, 10, tzinfo=new_york),
        datetime(2026, 12, 8, 8, tzinfo=new_york),
    )
    ladder = cl.Ladder.from_yaml(QUEUED_YAML)
    clock = cl.SteppableClock(friday)
    sent: list[tuple[datetime, cl.Message]] = []

    class Stamping:
        def send(self, message: cl.Message) -> None:
            sent.append((clock.now(), message))
            if message.kind == "follow_up_due":
                tracker.follow_up(message.prospect, actor="sam")

    tracker = cl.Tracker(store=store, ladders=[ladder], messenger=Stamping(), clock=clock)
    for n in range(120):
        tracker.enroll(f"p{n}", ladder="cold")
        tracker.ask(f"p{n}", "intro", channel="email", actor="sam")
    assert tracker.sends_at("p119") == tuesday
    while clock.now() < datetime(2026, 12, 10, 18, tzinfo=new_york):
        tracker.run_due()
        while tracker.relay(limit=500).sent:
            pass
        clock.advance(minutes=30)
    asks = {m.prospect: at for at, m in sent if m.kind == "ask"}
    follow_ups = [(m.prospect, at) for at, m in sent if m.kind == "follow_up"]
    assert len(asks) == 120
    assert max(asks.values()) == tuesday
    assert {p for p, _ in follow_ups} == set(asks)  # every prospect was followed up
    early = [(p, at, asks[p]) for p, at in follow_ups if at <= asks[p]]
    assert early == []
    expired = {m.prospect: at for at, m in sent if m.kind == "ask_expired"}
    assert expired["p119"] == datetime(2026, 12, 9, 10, tzinfo=new_york)
