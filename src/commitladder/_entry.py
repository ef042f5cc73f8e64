"""Entry point of the ``commitladder`` command: a clear message when the CLI extra is missing."""

from __future__ import annotations

import sys


def main() -> None:
    try:
        import rich  # noqa: F401
        import typer  # noqa: F401
    except ImportError:
        sys.stderr.write(
            "commitladder: the command line needs the `cli` extra: "
            "pip install 'commitladder[cli]'\n"
        )
        raise SystemExit(2) from None
    from .cli import main as run

    run()
