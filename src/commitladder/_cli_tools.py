"""Commands people look at: ``check``, ``graph``, ``simulate``, ``funnel``, ``schema``, ``demo``.

Registered on the ``commitladder`` app by ``cli.py``. Each command keeps the exit
codes of the whole command line (0 fine, 1 the input has problems, 2 a usage
error or a missing extra/program) and speaks in sentences: what went wrong,
where, what to do. Heavy parts (SQLAlchemy, graphviz, matplotlib) load only in
the command that needs them.
"""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Literal

import typer
from rich import box
from rich.table import Table

from ._errors import DefinitionError, LadderError
from ._ladder import Ladder, load
from .cli import _state, app, err, out, seed_ladder

if TYPE_CHECKING:
    from ._simulate import SimulationReport
    from ._stats import Funnel

DEFAULT_PREFIX = "commitladder_"

Files = Annotated[
    list[Path],
    typer.Argument(exists=True, dir_okay=False, readable=True, help="Ladder YAML files."),
]
File = Annotated[
    Path, typer.Argument(exists=True, dir_okay=False, readable=True, help="A ladder YAML file.")
]
Prefix = Annotated[
    str, typer.Option("--prefix", help="Table-name prefix of the store (SqlStore(prefix=...)).")
]


@contextmanager
def _speaking() -> Iterator[None]:
    """Errors as one sentence on stderr and an exit code; tracebacks only with --debug."""
    from ._charts import PlotMissing
    from ._graph import GraphvizMissing

    try:
        yield
    except (GraphvizMissing, PlotMissing) as exc:
        if _state["debug"]:
            raise
        err.print(f"error: {exc}", markup=False)
        raise typer.Exit(2) from None
    except DefinitionError as exc:
        if _state["debug"]:
            raise
        for problem in exc.problems:
            out.print(str(problem), markup=False)
        raise typer.Exit(1) from None
    except LadderError as exc:
        if _state["debug"]:
            raise
        err.print(f"error: {exc}", markup=False)
        raise typer.Exit(1) from None


def _db_url(db: str) -> str:
    """A database URL; a plain path means a SQLite file there."""
    return db if "://" in db else f"sqlite:///{db}"


# ---- check --------------------------------------------------------------------------------


class CheckFormat(StrEnum):
    text = "text"
    json = "json"


@app.command()
def check(
    files: Files,
    strict: Annotated[bool, typer.Option("--strict", help="Warnings fail too (exit 1).")] = False,
    fmt: Annotated[
        CheckFormat, typer.Option("--format", help="text for people, json for CI annotations.")
    ] = CheckFormat.text,
) -> None:
    """Lint ladders: each finding with a stable code, severity, file:line:column and a fix.

    Exit 0 when no finding fails (errors fail; warnings too with --strict), 1 when one
    does or a file is not a valid ladder, 2 on a usage error.

    Example: commitladder check examples/ladders/*.yaml --strict
    """
    from ._lint import Finding, locate
    from ._yaml import read_yaml

    found: list[Finding] = []
    failed_files = 0
    for file in files:
        try:
            ladder = load(file)
        except DefinitionError as exc:
            failed_files += 1
            found.extend(
                Finding(
                    code="invalid_definition",
                    severity="error",
                    location=p.path,
                    message=p.message,
                    hint="correct the definition (commitladder validate shows the same problems)",
                    source=p.source,
                    line=p.line,
                    column=p.column,
                )
                for p in exc.problems
            )
            continue
        findings = locate(ladder.lint(), read_yaml(file.read_bytes(), source=str(file)))
        found.extend(findings)
        if fmt is CheckFormat.text and not findings:
            out.print(f"{file}: ok, no findings", markup=False)
    failing = [f for f in found if f.severity == "error" or (strict and f.severity == "warning")]
    if fmt is CheckFormat.json:
        out.print_json(json.dumps([f.to_dict() for f in found]))
    else:
        for finding in found:
            out.print(str(finding), markup=False)
        counts = {s: sum(1 for f in found if f.severity == s) for s in ("error", "warning", "info")}
        summary = ", ".join(f"{n} {s}{'s' * (n != 1)}" for s, n in counts.items() if n)
        if found:
            err.print(
                f"{summary} in {len(files)} file{'s' * (len(files) != 1)}"
                + ("" if failing else "; none fails" + ("" if strict else " (use --strict)")),
                markup=False,
            )
    if failing or failed_files:
        raise typer.Exit(1)


# ---- graph --------------------------------------------------------------------------------


class GraphFormat(StrEnum):
    mermaid = "mermaid"
    dot = "dot"
    svg = "svg"
    png = "png"


def _diagram(ladder: Ladder, fmt: GraphFormat, funnel: Funnel | None) -> bytes:
    from ._graph import render, to_dot, to_mermaid

    if fmt is GraphFormat.mermaid:
        return to_mermaid(ladder, funnel).encode()
    dot = to_dot(ladder, funnel)
    if fmt is GraphFormat.dot:
        return dot.encode()
    return render(dot, fmt.value)  # type: ignore[arg-type]


@app.command()
def graph(
    file: File,
    fmt: Annotated[
        GraphFormat | None,
        typer.Option("--format", "-f", help="Default: from -o's suffix, else mermaid."),
    ] = None,
    output: Annotated[
        Path | None, typer.Option("--output", "-o", help="Write here instead of stdout.")
    ] = None,
    db: Annotated[
        str | None,
        typer.Option("--db", help="Store URL (or SQLite file): put live counts on each edge."),
    ] = None,
    prefix: Prefix = DEFAULT_PREFIX,
) -> None:
    """Draw a ladder bottom-up: rungs by size, outcomes on branches, ends coloured by result.

    Mermaid and DOT need nothing installed; SVG and PNG need Graphviz (the `graph` extra
    and the `dot` program). With --db, each edge carries the asks it stands for: asked,
    yes, no, expired and the conversion.

    Example: commitladder graph examples/ladders/solopreneur.yaml -o ladder.svg --db demo.db
    """
    if fmt is None:
        suffix = output.suffix.lower().lstrip(".") if output else ""
        fmt = GraphFormat(suffix) if suffix in GraphFormat.__members__ else GraphFormat.mermaid
        if suffix == "mmd":
            fmt = GraphFormat.mermaid
    if fmt is GraphFormat.png and output is None:
        err.print("a PNG is binary: give -o FILE.png (or use --format svg, dot or mermaid)")
        raise typer.Exit(2)
    with _speaking():
        ladder = load(file)
        funnel = None
        if db is not None:
            from ._stats import read_funnel

            funnel = read_funnel(_db_url(db), ladder=ladder.name, prefix=prefix)
        data = _diagram(ladder, fmt, funnel)
    if output is None:
        sys.stdout.write(data.decode())
        sys.stdout.flush()
        return
    output.write_bytes(data)
    err.print(f"wrote {output} ({fmt.value}, {len(data):,} bytes)", markup=False)


# ---- funnel -------------------------------------------------------------------------------


class FunnelFormat(StrEnum):
    table = "table"
    csv = "csv"
    json = "json"
    png = "png"


def _human(wait: timedelta | None) -> str:
    if wait is None:
        return "-"
    hours = wait / timedelta(hours=1)
    return f"{hours:.0f}h" if hours < 48 else f"{hours / 24:.1f}d"


def funnel_table(funnel: Funnel) -> Table:
    """The funnel as a Rich table, one row per rung in funnel order."""
    table = Table(
        title=f"Funnel of {funnel.ladder}: {funnel.enrollments:,} enrollments",
        caption=_ends_text(funnel),
        box=box.SIMPLE_HEAD,
        title_justify="left",
        caption_justify="left",
    )
    # yes = committed, no = declined, wait = median time from ask to yes
    for name in ("rung", "asked", "yes", "no", "expired", "conv.", "wait", "open", "parked"):
        table.add_column(name, justify="left" if name == "rung" else "right", no_wrap=True)
    for row in funnel.rungs:
        rate = f"{row.conversion:.0%}" if row.conversion is not None else "-"
        table.add_row(
            row.rung,
            f"{row.asked:,}",
            f"{row.committed:,}",
            f"{row.declined:,}",
            f"{row.expired:,}",
            rate,
            _human(row.median_time_to_commit),
            f"{row.open:,}",
            f"{row.parked:,}",
        )
    return table


def _print_table(table: Table) -> None:
    # a pipe or a narrow terminal gets 80 columns from Rich: a funnel needs about 90
    from rich.console import Console

    colour: Literal["auto"] | None = "auto" if out.color_system else None
    wide = Console(file=out.file, width=max(out.width, 96), highlight=False, color_system=colour)
    wide.print(table)


def _ends_text(funnel: Funnel) -> str:
    ends = ", ".join(f"{name} {count:,}" for name, count in sorted(funnel.ends.items()))
    return f"ended: {ends or 'none yet'}; still climbing: {funnel.active:,}"


@app.command()
def funnel(
    db: Annotated[str, typer.Option("--db", help="Store URL, or a SQLite file path.")],
    ladder: Annotated[
        str | None, typer.Option("--ladder", help="Ladder name, when the store holds several.")
    ] = None,
    fmt: Annotated[FunnelFormat, typer.Option("--format", "-f")] = FunnelFormat.table,
    output: Annotated[
        Path | None, typer.Option("--output", "-o", help="Write here instead of stdout.")
    ] = None,
    prefix: Prefix = DEFAULT_PREFIX,
) -> None:
    """Report the funnel from a store's event log: per rung asked, yes, no, expired, conversion.

    Also the median time from ask to yes, and how many asks are open now and how many
    deals are parked there. Read-only. PNG draws a funnel chart (the `plot` extra:
    matplotlib) and needs -o.

    Example: commitladder funnel --db commitladder-demo/demo.db --format csv
    """
    if fmt is FunnelFormat.png and output is None:
        err.print("a PNG is binary: give -o FILE.png (or use --format table, csv or json)")
        raise typer.Exit(2)
    with _speaking():
        from ._stats import read_funnel

        found = read_funnel(_db_url(db), ladder=ladder, prefix=prefix)
        if fmt is FunnelFormat.png:
            from ._charts import funnel_png

            data = funnel_png(found)
        elif fmt is FunnelFormat.table:
            if output is None:
                _print_table(funnel_table(found))
                return
            data = _plain(funnel_table(found)).encode()
        else:
            data = (found.to_csv() if fmt is FunnelFormat.csv else found.to_json() + "\n").encode()
    if output is None:
        sys.stdout.write(data.decode())
        sys.stdout.flush()
    else:
        output.write_bytes(data)
        err.print(f"wrote {output} ({fmt.value}, {len(data):,} bytes)", markup=False)


def _plain(table: Table) -> str:
    import io

    from rich.console import Console

    console = Console(width=120, file=io.StringIO())
    console.print(table)
    text: str = console.file.getvalue()  # type: ignore[attr-defined]
    return text


# ---- schema -------------------------------------------------------------------------------


@app.command()
def schema(
    output: Annotated[
        Path | None, typer.Option("--output", "-o", help="Write here instead of stdout.")
    ] = None,
) -> None:
    """Print the JSON Schema of the ladder format, for editors (YAML language server).

    Put this first line in a ladder file to get completion and checks as you type:
    # yaml-language-server: $schema=<path or URL of the schema>

    Example: commitladder schema -o ladder.schema.json
    """
    from ._schema import schema_text

    text = schema_text()
    if output is None:
        sys.stdout.write(text)
        sys.stdout.flush()
    else:
        output.write_text(text, encoding="utf-8")
        err.print(f"wrote {output}", markup=False)


# ---- simulate -----------------------------------------------------------------------------


def run_simulation(
    ladder: Ladder, url: str, *, prospects: int, seed: int, days: int, prefix: str
) -> SimulationReport:
    """Simulate into the store at ``url`` with a progress bar on stderr."""
    from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

    from ._clock import SteppableClock
    from ._simulate import START, simulate
    from ._tracker import Tracker
    from .sql import SqlStore

    store = SqlStore(url, prefix=prefix)
    try:
        store.create_schema()
        if store.load(f"{ladder.name}/sim{seed}-{1:0{len(str(prospects))}d}") is not None:
            raise LadderError(
                f"the database already holds a simulation of {ladder.name} with seed {seed}; "
                "pass another --seed, or another --db"
            )
        clock = SteppableClock(START)
        tracker = Tracker(store=store, clock=clock, ladders=[ladder])
        with Progress(
            TextColumn("[bold]simulating[/bold] {task.description}"),
            BarColumn(),
            TextColumn("day {task.completed:.0f} of {task.total:.0f}"),
            TimeElapsedColumn(),
            console=err,
            transient=False,
        ) as bar:
            task = bar.add_task(f"{prospects:,} prospects on {ladder.name}", total=days)

            def progress(done: float) -> None:
                bar.update(task, completed=done * days)

            return simulate(
                ladder,
                tracker,
                clock,
                prospects=prospects,
                seed=seed,
                days=days,
                progress=progress,
            )
    finally:
        store.close()


@app.command()
def simulate(
    file: File,
    prospects: Annotated[int, typer.Option("--prospects", "-n", min=1)] = 1000,
    seed: Annotated[int, typer.Option("--seed", min=0, help="Same seed, same history.")] = 0,
    db: Annotated[
        str, typer.Option("--db", help="Store URL, or a SQLite file path.")
    ] = "commitladder-simulation.db",
    days: Annotated[int, typer.Option("--days", min=1, help="Simulated days.")] = 90,
    prefix: Prefix = DEFAULT_PREFIX,
) -> None:
    """Simulate prospects climbing a ladder through a real Tracker and store; print the funnel.

    Prospects enrol over the first half of the period and answer each ask with the
    chances of the ladder's `simulation:` section (or 60% yes, 20% no, the rest silent,
    replies after about 2 days); timers run on a simulated clock.

    Example: commitladder simulate examples/ladders/saas_trial.yaml -n 500 --seed 7 --db sim.db
    """
    url = _db_url(db)
    with _speaking():
        ladder = load(file)
        report = run_simulation(
            ladder, url, prospects=prospects, seed=seed, days=days, prefix=prefix
        )
        from ._stats import read_funnel

        found = read_funnel(url, ladder=ladder.name, prefix=prefix)
    _print_table(funnel_table(found))
    out.print(
        f"{report.commands:,} commands ({report.refused:,} refused by the guards), "
        f"{report.timers:,} timers over {days} simulated days; stored in {db}",
        markup=False,
    )


# ---- demo ---------------------------------------------------------------------------------


@app.command()
def demo(
    folder: Annotated[
        Path, typer.Option("--out", help="Folder for the demo's files (made if missing).")
    ] = Path("commitladder-demo"),
    prospects: Annotated[int, typer.Option("--prospects", "-n", min=1)] = 1000,
    seed: Annotated[int, typer.Option("--seed", min=0)] = 0,
    walk: Annotated[
        bool,
        typer.Option("--walk", help="Instead: walk one prospect up in memory, guard by guard."),
    ] = False,
) -> None:
    """Simulate 1,000 prospects on the seed ladder, print the funnel, draw it with live counts.

    The prospects climb through a durable Tracker on SQLite. Writes demo.db, the ladder
    (solopreneur.yaml) and its diagram (SVG when Graphviz is installed, else Mermaid and
    DOT) into --out, and says where they are.

    Example: commitladder demo --out /tmp/demo
    """
    if walk:
        from .cli import walk_demo

        walk_demo()
        return
    began = time.perf_counter()
    ladder = seed_ladder()
    folder.mkdir(parents=True, exist_ok=True)
    database = folder / "demo.db"
    for stale in (database, folder / "demo.db-wal", folder / "demo.db-shm"):
        stale.unlink(missing_ok=True)  # the demo's own files: each run starts afresh
    from importlib import resources

    ladder_file = folder / "solopreneur.yaml"
    ladder_file.write_bytes(
        resources.files("commitladder").joinpath("seed/solopreneur.yaml").read_bytes()
    )
    url = _db_url(str(database))
    out.print(
        f"[bold]{ladder.title}[/bold]: {prospects:,} simulated prospects climb the seed "
        f"ladder through a durable Tracker on SQLite (seed {seed})"
    )
    with _speaking():
        report = run_simulation(
            ladder, url, prospects=prospects, seed=seed, days=90, prefix=DEFAULT_PREFIX
        )
        from ._stats import read_funnel

        found = read_funnel(url, ladder=ladder.name)
    _print_table(funnel_table(found))
    out.print(
        f"{report.commands:,} commands, {report.refused:,} refused by the guards, "
        f"{report.timers:,} timers fired, over 90 simulated days",
        markup=False,
    )
    written = _demo_diagrams(ladder, found, folder)
    out.print("\n[bold]Files[/bold]")
    for path, what in [(database, "the store (SQLite)"), (ladder_file, "the ladder"), *written]:
        out.print(f"  {path}  {what}", markup=False)
    out.print("\n[bold]Next[/bold]")
    for line in (
        f"commitladder funnel --db {database} --format csv",
        f"commitladder graph {ladder_file} --db {database} -o ladder.png",
        f"commitladder check {ladder_file}",
    ):
        out.print(f"  {line}", markup=False)
    out.print(f"\ndone in {time.perf_counter() - began:.1f}s", markup=False)


def _demo_diagrams(ladder: Ladder, funnel: Funnel, folder: Path) -> list[tuple[Path, str]]:
    """SVG with live counts when Graphviz is there; otherwise Mermaid and DOT, saying why."""
    from ._graph import GraphvizMissing, render, to_dot, to_mermaid

    dot = to_dot(ladder, funnel)
    svg = folder / f"{ladder.name}.svg"
    try:
        svg.write_bytes(render(dot, "svg"))
    except GraphvizMissing as missing:
        svg.unlink(missing_ok=True)
        err.print(f"note: no SVG: {missing}", markup=False)
    else:
        return [(svg, "the diagram with live counts")]
    written = []
    for suffix, text, what in (
        ("mmd", to_mermaid(ladder, funnel), "the diagram with live counts (Mermaid)"),
        ("dot", dot, "the same as Graphviz DOT: dot -Tsvg to draw it"),
    ):
        path = folder / f"{ladder.name}.{suffix}"
        path.write_text(text, encoding="utf-8")
        written.append((path, what))
    return written
