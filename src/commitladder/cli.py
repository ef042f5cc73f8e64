"""The ``commitladder`` command line (needs the ``cli`` extra: Typer and Rich).

Exit codes, for every command: 0 success, 1 the input has problems (a ladder is
invalid, a rule broke), 2 a usage error (bad options, missing file). Errors are
printed without tracebacks unless ``--debug`` is given.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from datetime import timedelta
from functools import partial
from importlib import resources
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console

from ._errors import DefinitionError, LadderError, Refused
from ._ladder import Ladder, load

app = typer.Typer(
    name="commitladder",
    help="Sales ladders that ask for one micro-commitment at a time.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
out = Console(highlight=False, soft_wrap=True)
err = Console(stderr=True, highlight=False, soft_wrap=True)
_state = {"debug": False}


@app.callback()
def _options(
    debug: Annotated[bool, typer.Option("--debug", help="Show tracebacks of errors.")] = False,
) -> None:
    _state["debug"] = debug


@app.command()
def validate(
    files: Annotated[
        list[Path],
        typer.Argument(exists=True, dir_okay=False, readable=True, help="Ladder YAML files."),
    ],
) -> None:
    """Check ladder files: print "ok" or every problem, as path:line:column: field: message.

    Example: commitladder validate ladders/*.yaml
    """
    failed = 0
    for file in files:
        try:
            ladder = load(file)
        except DefinitionError as exc:
            failed += 1
            for problem in exc.problems:
                out.print(str(problem), markup=False)
            continue
        rungs, ends = len(ladder.rungs), len(ladder.ends)
        out.print(
            f"{file}: ok ({ladder.name} v{ladder.version}: {rungs} rung{'s' * (rungs != 1)}, "
            f"{ends} end{'s' * (ends != 1)})",
            markup=False,
        )
    if failed:
        err.print(f"{failed} of {len(files)} file{'s' if len(files) > 1 else ''} invalid")
        raise typer.Exit(1)


def seed_ladder() -> Ladder:
    """The seed ladder (solopreneur consulting) shipped inside the package."""
    text = resources.files("commitladder").joinpath("seed/solopreneur.yaml").read_bytes()
    return Ladder.from_yaml(text, source="solopreneur.yaml")


def walk_demo() -> None:
    """Walk one prospect up the seed ladder in memory, showing each guard at work
    (``commitladder demo --walk``)."""
    from ._clock import SteppableClock

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
    from ._enrollment import Enrollment

    same = Enrollment.replay(ladder, [ev.to_dict() for ev in e.history]).snapshot() == e.snapshot()
    out.print("[green]yes[/green]" if same else "[red]NO[/red]")
    if not same:
        raise typer.Exit(1)


def main() -> None:
    """Run the command line; errors print as one message, with a traceback only on --debug."""
    try:
        app(standalone_mode=True)
    except Exception as exc:
        if _state["debug"] or "--debug" in sys.argv:
            raise
        what = "error" if isinstance(exc, LadderError) else f"internal error ({type(exc).__name__})"
        err.print(f"{what}: {exc}", markup=False)
        err.print("rerun with --debug to see the traceback", markup=False)
        raise SystemExit(1) from None


# ---- property testing and paths (commitladder.testing, commitladder._paths) -------------------


def _load_or_report(file: Path) -> Ladder | None:
    try:
        return load(file)
    except DefinitionError as exc:
        for problem in exc.problems:
            out.print(str(problem), markup=False)
        return None


@app.command("test")
def property_test(
    files: Annotated[
        list[Path],
        typer.Argument(exists=True, dir_okay=False, readable=True, help="Ladder YAML files."),
    ],
    examples: Annotated[
        int, typer.Option("--examples", "-n", min=1, help="Random climbs per ladder.")
    ] = 200,
    seed: Annotated[
        int | None, typer.Option("--seed", min=0, help="Repeat a run (printed with each run).")
    ] = None,
    steps: Annotated[int, typer.Option("--steps", min=1, help="Commands per climb, at most.")] = 40,
) -> None:
    """Property-test each ladder's rules: lint proofs, then random climbs with hypothesis.

    Exit 0 when every rule holds, 1 when one broke (the story shows how), 2 when a ladder
    file is invalid. Example: commitladder test ladders/*.yaml --seed 7
    """
    try:
        from ._lint import locate
        from ._yaml import read_yaml
        from .testing import prove
    except ImportError:
        err.print(
            "commitladder test needs the `testing` extra: pip install 'commitladder[testing]'"
        )
        raise typer.Exit(2) from None
    invalid = broken = 0
    for file in files:
        ladder = _load_or_report(file)
        if ladder is None:
            invalid += 1
            continue
        rules = ("max_size_step", "requires_before", "max_asks_without_commitment")
        findings = locate(
            [f for f in ladder.lint() if f.code in rules],
            read_yaml(file.read_bytes(), source=str(file)),
        )
        for finding in findings:
            out.print(str(finding), markup=False)  # file:line:column: ...
        verdict = prove(ladder, max_examples=examples, seed=seed, steps=steps)
        if verdict.broken is not None:
            broken += 1
            out.print(f"{file}: FAILED after {verdict.examples} climbs", markup=False)
            out.print(str(verdict.broken), markup=False)
        elif findings:
            broken += 1
            out.print(
                f"{file}: FAILED: lint proves a rule false on some path "
                f"({verdict.examples} random climbs did not meet it; seed {verdict.seed})",
                markup=False,
            )
        else:
            directed = f", {verdict.directed} of them directed runs of no's"
            out.print(
                f"{file}: ok, every rule held over {verdict.examples} climbs"
                f"{directed if verdict.directed else ''} (seed {verdict.seed})",
                markup=False,
            )
    if invalid:
        raise typer.Exit(2)
    if broken:
        raise typer.Exit(1)


@app.command()
def paths(
    file: Annotated[
        Path, typer.Argument(exists=True, dir_okay=False, readable=True, help="A ladder file.")
    ],
) -> None:
    """List the shortest command sequence reaching each rung (a commitment) and each end.

    Example: commitladder paths ladders/solopreneur.yaml
    """
    ladder = _load_or_report(file)
    if ladder is None:
        raise typer.Exit(2)
    for target, path in ladder.paths().items():
        out.print(f"{target} ({path.kind}, {len(path)} steps):", markup=False)
        for number, step in enumerate(path, start=1):
            out.print(f"  {number}. {step}", markup=False)
    unreachable = [r for r in ladder.rungs if r not in ladder.paths()]
    if unreachable:
        out.print(f"never reached: {', '.join(unreachable)}", markup=False)


# the commands people look at: check, graph, simulate, funnel, schema and demo
from . import _cli_tools  # noqa: E402, F401
