"""Commands about prospects in a store: ``simulate`` (made-up ones) and ``funnel`` (any).

Both talk to a database through ``SqlStore``; SQLAlchemy, the simulator and the
chart backend load inside the command that needs them, never at import.
"""

from __future__ import annotations

import sys
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Literal

import typer
from rich import box
from rich.table import Table

from ._output import DEFAULT_PREFIX, File, Prefix, db_url, err, out, plain, speaking

if TYPE_CHECKING:
    from commitladder._funnel import FunnelFigures
    from commitladder._ladder import Ladder
    from commitladder._simulate import SimulationReport

__all__ = [
    "FunnelFormat",
    "funnel",
    "funnel_table",
    "print_table",
    "run_simulation",
    "simulate",
]


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


def funnel_table(funnel: FunnelFigures, *, title: str | None = None) -> Table:
    """The funnel as a Rich table, one row per rung in funnel order."""
    table = Table(
        title=title or f"Funnel of {funnel.ladder}: {funnel.enrollments:,} enrollments",
        caption=_ends_text(funnel),
        box=box.SIMPLE_HEAD,
        title_justify="left",
        caption_justify="left",
    )
    # yes = committed, no = declined, wait = median time from ask to yes, stay = median time
    # on the rung (commitment to the next commitment or the end), p90 = its 90th percentile
    columns = ("rung", "asked", "yes", "no", "expired", "conv.", "wait", "stay", "p90", "open")
    for name in (*columns, "parked"):
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
            _human(row.time_to_commit.median),
            _human(row.time_in_rung.median),
            _human(row.time_in_rung.p90),
            f"{row.open:,}",
            f"{row.parked:,}",
        )
    return table


def print_table(table: Table) -> None:
    """Print ``table`` on stdout, at least 112 columns wide."""
    # a pipe or a narrow terminal gets 80 columns from Rich: a funnel needs about 105
    from rich.console import Console

    colour: Literal["auto"] | None = "auto" if out.color_system else None
    wide = Console(file=out.file, width=max(out.width, 112), highlight=False, color_system=colour)
    wide.print(table)


def _ends_text(funnel: FunnelFigures) -> str:
    ends = ", ".join(f"{name} {count:,}" for name, count in sorted(funnel.ends.items()))
    return f"ended: {ends or 'none yet'}; still climbing: {funnel.active:,}"


def funnel(
    ctx: typer.Context,
    db: Annotated[
        str, typer.Option("--db", metavar="URL", help="Store URL, or a SQLite file path.")
    ],
    ladder: Annotated[
        str | None,
        typer.Option("--ladder", metavar="NAME", help="Ladder name, when the store holds several."),
    ] = None,
    fmt: Annotated[
        FunnelFormat, typer.Option("--format", "-f", help="png needs -o and the plot extra.")
    ] = FunnelFormat.table,
    output: Annotated[
        Path | None,
        typer.Option("--output", "-o", metavar="FILE", help="Write here instead of stdout."),
    ] = None,
    prefix: Prefix = DEFAULT_PREFIX,
    version: Annotated[
        list[int] | None,
        typer.Option("--version", metavar="N", help="Only enrollments on this ladder version."),
    ] = None,
    since: Annotated[
        datetime | None,
        typer.Option("--since", metavar="DATE", help="Only enrollments from this date (UTC)."),
    ] = None,
    until: Annotated[
        datetime | None,
        typer.Option("--until", metavar="DATE", help="Only enrollments before this date (UTC)."),
    ] = None,
    cohort: Annotated[
        Cohort | None,
        typer.Option("--cohort", help="Also one funnel per week or month of enrollment."),
    ] = None,
    tenant: Annotated[
        str | None,
        typer.Option("--tenant", metavar="ID", help="Only this tenant's enrollments."),
    ] = None,
) -> None:
    """Report a store's funnel per rung: asked, yes, no, expired.

    Also the conversion, the median time from ask to yes, the time deals stay on each rung
    (median and 90th percentile), and how many asks are open now and how many deals are
    parked there. Read-only. PNG draws a funnel chart (the `plot` extra: matplotlib) and
    needs -o.

    \b
    Example:
      commitladder funnel --db commitladder-demo/demo.db --format csv
      commitladder funnel --db crm.db --cohort month --since 2026-01-01
      commitladder funnel --db crm.db --tenant acme
    """
    if fmt is FunnelFormat.png and output is None:
        err.print("a PNG is binary: give -o FILE.png (or use --format table, csv or json)")
        raise typer.Exit(2)
    with speaking(ctx):
        from commitladder._funnel import funnel as read

        found = read(
            db_url(db),
            ladder=ladder,
            prefix=prefix,
            versions=version or None,
            since=_utc(since),
            until=_utc(until),
            cohort=None if cohort is None else cohort.value,
            tenant=tenant,
        )
        if fmt is FunnelFormat.png:
            from commitladder._charts import funnel_png

            data = funnel_png(found)
        elif fmt is FunnelFormat.table:
            tables = [funnel_table(found)] + [
                funnel_table(
                    c.figures, title=f"Cohort {c.label}: {c.figures.enrollments:,} enrollments"
                )
                for c in found.cohorts
            ]
            if output is None:
                for table in tables:
                    print_table(table)
                return
            data = "".join(plain(t) for t in tables).encode()
        else:
            data = (found.to_csv() if fmt is FunnelFormat.csv else found.to_json() + "\n").encode()
    if output is None:
        sys.stdout.write(data.decode())
        sys.stdout.flush()
    else:
        output.write_bytes(data)
        err.print(f"wrote {output} ({fmt.value}, {len(data):,} bytes)", markup=False)


class Cohort(StrEnum):
    week = "week"
    month = "month"


def _utc(value: datetime | None) -> datetime | None:
    """A date from the command line, read in UTC unless it names its own zone."""
    if value is None or value.tzinfo is not None:
        return value
    return value.replace(tzinfo=UTC)


def run_simulation(
    ladder: Ladder, url: str, *, prospects: int, seed: int, days: int, prefix: str
) -> SimulationReport:
    """Simulate into the store at ``url`` with a progress bar on stderr."""
    from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

    from commitladder._clock import SteppableClock
    from commitladder._simulate import START, simulate
    from commitladder._tracker import Tracker
    from commitladder.sql import SqlStore

    store = SqlStore(url, prefix=prefix)
    try:
        store.create_schema()
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


def simulate(
    ctx: typer.Context,
    file: File,
    prospects: Annotated[
        int, typer.Option("--prospects", "-n", min=1, metavar="N", help="Made-up prospects.")
    ] = 1000,
    seed: Annotated[
        int, typer.Option("--seed", min=0, metavar="SEED", help="Same seed, same history.")
    ] = 0,
    db: Annotated[
        str, typer.Option("--db", metavar="URL", help="Store URL, or a SQLite file path.")
    ] = "commitladder-simulation.db",
    days: Annotated[
        int, typer.Option("--days", min=1, metavar="DAYS", help="Simulated days.")
    ] = 90,
    prefix: Prefix = DEFAULT_PREFIX,
) -> None:
    """Simulate prospects climbing a ladder; print the funnel.

    Every command goes through a real Tracker and store. Prospects enrol over the first
    half of the period and answer each ask with the chances of the ladder's
    `simulation:` section (or 60% yes, 20% no, the rest silent, replies after about 2
    days); timers run on a simulated clock.

    \b
    Example:
      commitladder simulate ladder.yaml -n 500 --seed 7 --db sim.db
    """
    url = db_url(db)
    with speaking(ctx):
        from commitladder._funnel import funnel as read
        from commitladder._ladder import load

        ladder = load(file)
        report = run_simulation(
            ladder, url, prospects=prospects, seed=seed, days=days, prefix=prefix
        )
        found = read(url, ladder=ladder.name, prefix=prefix)
    print_table(funnel_table(found))
    out.print(
        f"{report.commands:,} commands ({report.refused:,} refused by the guards), "
        f"{report.timers:,} timers over {days} simulated days; stored in {db}",
        markup=False,
    )
    others = found.enrollments - report.prospects
    if others:
        err.print(
            f"note: {db} also holds {others:,} enrollment{'s' * (others != 1)} of "
            f"{ladder.name} from earlier runs, and the funnel counts them too; simulate "
            "into a fresh --db to see this run alone",
            markup=False,
        )
