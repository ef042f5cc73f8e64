"""The ``commitladder`` app: its global options, and every command registered in one place.

The command modules never import this one: they define plain functions, and this
module registers them, so nothing is registered by an import side effect. The global
``--debug`` travels in the click context (``ctx.meta``), not in a module global.
"""

from __future__ import annotations

from typing import Annotated

import typer

from commitladder import __version__

from . import (
    _definitions,
    _demo,
    _drawing,
    _forecasting,
    _importing,
    _lifecycle,
    _proving,
    _simulation,
    _timing,
)
from ._output import DEBUG, out

__all__ = ["app", "main"]

app = typer.Typer(
    name="commitladder",
    help="Sales ladders that ask for one micro-commitment at a time.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
)
"""The Typer application behind the ``commitladder`` command (``typer.testing.CliRunner``
runs it in tests)."""


def _print_version(wanted: bool) -> None:
    if wanted:
        out.print(f"commitladder {__version__}", markup=False)
        raise typer.Exit()


@app.callback()
def _options(
    ctx: typer.Context,
    debug: Annotated[bool, typer.Option("--debug", help="Show tracebacks of errors.")] = False,
    version: Annotated[
        bool,
        typer.Option(
            "--version",
            callback=_print_version,
            is_eager=True,
            help="Print the version and exit.",
        ),
    ] = False,
) -> None:
    ctx.meta[DEBUG] = debug


app.command()(_definitions.validate)
app.command()(_definitions.check)
app.command()(_drawing.graph)
app.command()(_drawing.paths)
app.command("explain-time")(_timing.explain_time)
app.command("test")(_proving.property_test)
app.command()(_simulation.simulate)
app.command()(_simulation.funnel)
app.command()(_forecasting.forecast)
app.command()(_definitions.schema)
app.command("import")(_importing.import_pipeline)
app.command()(_demo.demo)
app.command()(_lifecycle.purge)
app.command()(_lifecycle.migrate)
app.command()(_lifecycle.enroll)


def main() -> None:
    """Run the command line (the ``commitladder`` console script)."""
    app()
