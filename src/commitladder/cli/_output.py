"""What every command shares: the two consoles, the error boundary and the option types.

Errors speak to the user here, once for every command: a sentence on stderr and an
exit code (1 the input has problems, 2 a missing extra or program), and a traceback
only with ``--debug``. It must stay light to import: ``--help`` and ``--version``
load this module, and must not load pydantic, SQLAlchemy or hypothesis.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console

from commitladder._errors import DefinitionError, LadderError

if TYPE_CHECKING:
    from rich.table import Table

    from commitladder._lint import Finding

__all__ = [
    "DEBUG",
    "DEFAULT_PREFIX",
    "File",
    "Files",
    "Prefix",
    "db_url",
    "err",
    "out",
    "print_findings",
    "speaking",
]

out = Console(highlight=False, soft_wrap=True)
err = Console(stderr=True, highlight=False, soft_wrap=True)

#: Where the global ``--debug`` flag travels: ``ctx.meta`` is shared by every nested context.
DEBUG = "commitladder.debug"
#: The table-name prefix of a ``SqlStore`` unless ``--prefix`` says otherwise.
DEFAULT_PREFIX = "commitladder_"

Files = Annotated[
    list[Path],
    typer.Argument(
        exists=True, dir_okay=False, readable=True, metavar="FILE", help="Ladder YAML files."
    ),
]
File = Annotated[
    Path,
    typer.Argument(
        exists=True, dir_okay=False, readable=True, metavar="FILE", help="A ladder YAML file."
    ),
]
Prefix = Annotated[
    str,
    typer.Option(
        "--prefix", metavar="PREFIX", help="Table-name prefix of the store (SqlStore(prefix=...))."
    ),
]


@contextmanager
def speaking(ctx: typer.Context) -> Iterator[None]:
    """Turn what a command raises into a sentence and an exit code; re-raise with --debug.

    Problems in a ladder file are printed located, on stdout (exit 1); a missing extra or
    program says how to install it (exit 2); any other commitladder error is one line
    (exit 1); anything else is an internal error, with a pointer to ``--debug``.
    """
    try:
        yield
    except (typer.Exit, typer.Abort):
        raise
    except Exception as exc:
        if ctx.meta.get(DEBUG, False):
            raise
        raise typer.Exit(_report(exc)) from None


def _report(exc: Exception) -> int:
    """Print ``exc`` for people; return the exit code."""
    if isinstance(exc, DefinitionError):
        for problem in exc.problems:
            out.print(str(problem), markup=False)
        return 1
    if not isinstance(exc, LadderError):
        err.print(f"internal error ({type(exc).__name__}): {exc}", markup=False)
        err.print("rerun with --debug to see the traceback", markup=False)
        return 1
    from commitladder._charts import PlotMissing
    from commitladder._graph import GraphvizMissing

    err.print(f"error: {exc}", markup=False)
    return 2 if isinstance(exc, (GraphvizMissing, PlotMissing)) else 1


def db_url(db: str) -> str:
    """A database URL; a plain path means a SQLite file there."""
    return db if "://" in db else f"sqlite:///{db}"


def print_findings(findings: Iterable[Finding]) -> None:
    """Lint findings as ``check`` prints them: one per line, located."""
    for finding in findings:
        out.print(str(finding), markup=False)


def plain(table: Table) -> str:
    """``table`` as the plain text a file gets (120 columns, no colour)."""
    import io

    console = Console(width=120, file=io.StringIO())
    console.print(table)
    text: str = console.file.getvalue()  # type: ignore[attr-defined]
    return text
