"""Commands that show a ladder's shape: ``graph`` (a diagram) and ``paths`` (the routes).

Mermaid and DOT need nothing installed; SVG and PNG go through Graphviz, imported
only when asked for. ``graph --db`` reads live counts with SQLAlchemy, imported only then.
"""

from __future__ import annotations

import sys
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from ._output import DEFAULT_PREFIX, File, Prefix, db_url, err, out, speaking

if TYPE_CHECKING:
    from commitladder._ladder import Ladder
    from commitladder._stats import Funnel

__all__ = ["GraphFormat", "graph", "paths"]


class GraphFormat(StrEnum):
    mermaid = "mermaid"
    dot = "dot"
    svg = "svg"
    png = "png"


def _diagram(ladder: Ladder, fmt: GraphFormat, funnel: Funnel | None) -> bytes:
    from commitladder._graph import render, to_dot, to_mermaid

    if fmt is GraphFormat.mermaid:
        return to_mermaid(ladder, funnel).encode()
    dot = to_dot(ladder, funnel)
    if fmt is GraphFormat.dot:
        return dot.encode()
    return render(dot, fmt.value)  # type: ignore[arg-type]


def graph(
    ctx: typer.Context,
    file: File,
    fmt: Annotated[
        GraphFormat | None,
        typer.Option("--format", "-f", help="Default: from -o's suffix, else mermaid."),
    ] = None,
    output: Annotated[
        Path | None,
        typer.Option("--output", "-o", metavar="FILE", help="Write here instead of stdout."),
    ] = None,
    db: Annotated[
        str | None,
        typer.Option(
            "--db",
            metavar="URL",
            help="Store URL (or SQLite file): put live counts on each edge.",
        ),
    ] = None,
    prefix: Prefix = DEFAULT_PREFIX,
) -> None:
    """Draw a ladder, with live counts from a store.

    The drawing reads bottom-up: rungs by size, outcomes on branches, ends coloured by
    result. Mermaid and DOT need nothing installed; SVG and PNG need Graphviz (the
    `graph` extra and the `dot` program). With --db, each edge carries the asks it stands
    for: asked, yes, no, expired and the conversion.

    \b
    Example:
      commitladder graph ladder.yaml -o ladder.svg --db demo.db
    """
    if fmt is None:
        suffix = output.suffix.lower().lstrip(".") if output else ""
        fmt = GraphFormat(suffix) if suffix in GraphFormat.__members__ else GraphFormat.mermaid
        if suffix == "mmd":
            fmt = GraphFormat.mermaid
    if fmt is GraphFormat.png and output is None:
        err.print("a PNG is binary: give -o FILE.png (or use --format svg, dot or mermaid)")
        raise typer.Exit(2)
    with speaking(ctx):
        from commitladder._ladder import load

        ladder = load(file)
        funnel = None
        if db is not None:
            from commitladder._stats import read_funnel

            funnel = read_funnel(db_url(db), ladder=ladder.name, prefix=prefix)
        data = _diagram(ladder, fmt, funnel)
    if output is None:
        sys.stdout.write(data.decode())
        sys.stdout.flush()
        return
    output.write_bytes(data)
    err.print(f"wrote {output} ({fmt.value}, {len(data):,} bytes)", markup=False)


def paths(ctx: typer.Context, file: File) -> None:
    """List the shortest way to reach each rung and each end.

    Each way is the command sequence that gets there first: a rung is reached by a
    commitment to it, an end by the command that ends the enrollment.

    \b
    Example:
      commitladder paths ladders/solopreneur.yaml
    """
    with speaking(ctx):  # an invalid file: its problems, located, and exit 1
        from commitladder._ladder import load

        ladder = load(file)
        found = ladder.paths()
    for target, path in found.items():
        out.print(f"{target} ({path.kind}, {len(path)} steps):", markup=False)
        for number, step in enumerate(path, start=1):
            out.print(f"  {number}. {step}", markup=False)
    unreachable = [r for r in ladder.rungs if r not in found]
    if unreachable:
        out.print(f"never reached: {', '.join(unreachable)}", markup=False)
