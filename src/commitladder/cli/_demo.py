"""``commitladder demo``: the seed ladder end to end, simulated in a store or walked by hand.

The seed ladder ships inside the package (``seed/solopreneur.yaml``). The demo
simulates a population through a durable tracker on SQLite, prints the funnel and
draws it; ``--walk`` instead takes one prospect up in memory, guard by guard.
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Callable
from contextlib import closing
from datetime import timedelta
from functools import partial
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from ._output import DEFAULT_PREFIX, db_url, err, out, speaking
from ._simulation import funnel_table, print_table, run_simulation

if TYPE_CHECKING:
    from commitladder._ladder import Ladder
    from commitladder._stats import Funnel

__all__ = ["demo", "seed_ladder", "walk_demo"]


def seed_ladder() -> Ladder:
    """The seed ladder (solopreneur consulting) shipped inside the package."""
    from commitladder._ladder import Ladder

    text = resources.files("commitladder").joinpath("seed/solopreneur.yaml").read_bytes()
    return Ladder.from_yaml(text, source="solopreneur.yaml")


def walk_demo() -> None:
    """Walk one prospect up the seed ladder in memory, showing each guard at work
    (``commitladder demo --walk``)."""
    from commitladder._clock import SteppableClock
    from commitladder._enrollment import Enrollment
    from commitladder._errors import Refused

    ladder = seed_ladder()
    clock = SteppableClock()
    start = clock.now()
    out.print(f"[bold]{ladder.title}[/bold]: ladder {ladder.name!r}, {len(ladder.rungs)} rungs")
    e = ladder.enroll("dana@acme.example", clock=clock, actor="sam")

    def day() -> str:
        return f"day {(clock.now() - start).days:>2}"

    def step(text: str, action: Callable[[], Any]) -> None:
        try:
            action()
        except Refused as refusal:
            out.print(f"  {day()}  [yellow]refused[/yellow] {text}")
            out.print(f"          [dim]{refusal.code}:[/dim] {refusal}")
            return
        out.print(f"  {day()}  [green]ok[/green]      {text}  ->  {e.status}, at {e.position}")

    def wait(days: float) -> None:
        clock.advance(timedelta(days=days))

    step("ask admit_problem by email", lambda: e.ask("admit_problem", channel="email"))
    step("ask intro_call while that ask is open", lambda: e.ask("intro_call"))
    wait(1)
    step("prospect says yes", e.commit)
    step("jump to purchase", lambda: e.ask("purchase"))
    step("ask intro_call by email", lambda: e.ask("intro_call", channel="email"))
    step("ask intro_call by phone", lambda: e.ask("intro_call", channel="phone"))
    step("follow up at once", e.follow_up)
    wait(2)
    step("follow up two days later", e.follow_up)
    wait(1)
    step("prospect says not now", lambda: e.decline(needs="a case study"))
    step("ask intro_call again", lambda: e.ask("intro_call", channel="phone"))
    step("resume after sending the case study", e.resume)
    step("ask intro_call again", lambda: e.ask("intro_call", channel="phone"))
    wait(3)
    step("ask intro_call after the cooldown", lambda: e.ask("intro_call", channel="phone"))
    step("prospect says yes", e.commit)
    step("ask qualify", lambda: e.ask("qualify", channel="video_call"))
    wait(1)
    step("record a yes without the answers", e.commit)
    step(
        "record the yes: current opportunity, pain and timeline",
        lambda: e.commit(
            outcome="current_opportunity",
            facts={"pain": "onboarding takes 6 weeks", "timeline": "this quarter"},
        ),
    )
    for rung, channel in (
        ("explore_solutions", "video_call"),
        ("presentation", "video_call"),
        ("proposal", "email"),
        ("purchase", "email"),
    ):
        step(f"ask {rung}", partial(e.ask, rung, channel=channel))
        wait(2)
        step("prospect says yes", e.commit)
    out.print(f"\n[bold]{e.prospect}[/bold]: {e.status} at {e.ended} ({e.result})")
    out.print(f"history: {len(e.history)} events; replayed state equal: ", end="")
    same = Enrollment.replay(ladder, [ev.to_dict() for ev in e.history]).snapshot() == e.snapshot()
    out.print("[green]yes[/green]" if same else "[red]NO[/red]")
    if not same:
        raise typer.Exit(1)


def demo(
    ctx: typer.Context,
    folder: Annotated[
        Path,
        typer.Option("--out", metavar="DIR", help="Folder for the demo's files (made if missing)."),
    ] = Path("commitladder-demo"),
    prospects: Annotated[
        int, typer.Option("--prospects", "-n", min=1, metavar="N", help="Made-up prospects.")
    ] = 1000,
    seed: Annotated[
        int, typer.Option("--seed", min=0, metavar="SEED", help="Same seed, same history.")
    ] = 0,
    walk: Annotated[
        bool,
        typer.Option("--walk", help="Instead: walk one prospect up in memory, guard by guard."),
    ] = False,
) -> None:
    """Simulate 1,000 prospects on the seed ladder and draw them.

    The prospects climb through a durable Tracker on SQLite. Writes demo.db, the ladder
    (solopreneur.yaml) and its diagram (SVG when Graphviz is installed, else Mermaid and
    DOT) into --out, and says where they are.

    \b
    Example:
      commitladder demo --out /tmp/demo
    """
    if walk:
        with speaking(ctx):
            walk_demo()
        return
    began = time.perf_counter()
    with speaking(ctx):
        ladder = seed_ladder()
        folder.mkdir(parents=True, exist_ok=True)
        database = folder / "demo.db"
        for stale in (database, folder / "demo.db-wal", folder / "demo.db-shm"):
            stale.unlink(missing_ok=True)  # the demo's own files: each run starts afresh
        ladder_file = folder / "solopreneur.yaml"
        ladder_file.write_bytes(
            resources.files("commitladder").joinpath("seed/solopreneur.yaml").read_bytes()
        )
        url = db_url(str(database))
        out.print(
            f"[bold]{ladder.title}[/bold]: {prospects:,} simulated prospects climb the seed "
            f"ladder through a durable Tracker on SQLite (seed {seed})"
        )
        report = run_simulation(
            ladder, url, prospects=prospects, seed=seed, days=90, prefix=DEFAULT_PREFIX
        )
        delivered = _relay_and_purge(ladder, database, days=90)
        from commitladder._funnel import funnel as read
        from commitladder._stats import read_funnel

        print_table(funnel_table(read(url, ladder=ladder.name)))
        found = read_funnel(url, ladder=ladder.name)  # the edges, for the diagram
        out.print(
            f"{report.commands:,} commands, {report.refused:,} refused by the guards, "
            f"{report.timers:,} timers fired, over 90 simulated days",
            markup=False,
        )
        out.print(
            f"{delivered:,} messages relayed, then purged from the outbox "
            f"(demo.db: {_size(database)})",
            markup=False,
        )
        written, drawn = _demo_diagrams(ladder, found, folder)
    out.print("\n[bold]Files[/bold]")
    for path, what in [(database, "the store (SQLite)"), (ladder_file, "the ladder"), *written]:
        out.print(f"  {path}  {what}", markup=False)
    out.print("\n[bold]Next[/bold]")
    # only what runs here: a PNG needs Graphviz, which drew the SVG if it is installed
    picture = "ladder.png" if drawn else "ladder.mmd"
    for line in (
        f"commitladder funnel --db {database} --format csv",
        f"commitladder graph {ladder_file} --db {database} -o {picture}",
        f"commitladder check {ladder_file}",
    ):
        out.print(f"  {line}", markup=False)
    out.print(f"\ndone in {time.perf_counter() - began:.1f}s", markup=False)


class _Discard:
    """The demo's messenger: every message is delivered to nowhere."""

    def send(self, message: object) -> None:
        pass


def _relay_and_purge(ladder: Ladder, database: Path, *, days: int) -> int:
    """Deliver the simulation's outbox (to nowhere), purge what was delivered, and compact
    the file: a store that relays and purges stays small."""
    from commitladder._simulate import START
    from commitladder._tracker import Tracker
    from commitladder.sql import SqlStore

    end = START + timedelta(days=days)
    store = SqlStore(db_url(str(database)), prefix=DEFAULT_PREFIX)
    try:
        tracker = Tracker(store=store, messenger=_Discard(), ladders=[ladder])
        delivered = 0
        while sent := tracker.relay(limit=1_000, now=end).sent:
            delivered += sent
        tracker.purge(sent_before=end + timedelta(seconds=1))
    finally:
        store.close()
    # SQLite keeps the pages of deleted rows for reuse: give them back to the disk
    with closing(sqlite3.connect(database)) as conn:
        conn.execute("VACUUM")
    return delivered


def _size(path: Path) -> str:
    size = path.stat().st_size
    return f"{size / 1_000_000:.1f} MB" if size >= 1_000_000 else f"{size / 1_000:.0f} kB"


def _demo_diagrams(
    ladder: Ladder, funnel: Funnel, folder: Path
) -> tuple[list[tuple[Path, str]], bool]:
    """SVG with live counts when Graphviz is there; otherwise Mermaid and DOT, saying why.

    Returns the files written, and whether Graphviz could draw.
    """
    from commitladder._graph import GraphvizMissing, render, to_dot, to_mermaid

    dot = to_dot(ladder, funnel)
    svg = folder / f"{ladder.name}.svg"
    try:
        svg.write_bytes(render(dot, "svg"))
    except GraphvizMissing as missing:
        svg.unlink(missing_ok=True)
        err.print(f"note: no SVG: {missing}", markup=False)
    else:
        return [(svg, "the diagram with live counts")], True
    written = []
    for suffix, text, what in (
        ("mmd", to_mermaid(ladder, funnel), "the diagram with live counts (Mermaid)"),
        ("dot", dot, "the same as Graphviz DOT: dot -Tsvg to draw it"),
    ):
        path = folder / f"{ladder.name}.{suffix}"
        path.write_text(text, encoding="utf-8")
        written.append((path, what))
    return written, False
