"""``commitladder purge``: the commands that look after a store over the years.

They open the store the way ``funnel`` does (``--db``, ``--prefix``) and never touch
a ladder's rules: everything they do is a ``Tracker`` method a program can call too.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Annotated

import typer

from ._output import DEFAULT_PREFIX, Prefix, db_url, err, out, speaking

Age = Annotated[str, typer.Option(metavar="DURATION", help="A duration: 30d, 12w, P90D.")]


def _duration(text: str, option: str) -> timedelta:
    from commitladder._durations import parse_duration

    try:
        return parse_duration(text)
    except (TypeError, ValueError) as exc:
        err.print(f"{option}: {exc}", markup=False)
        raise typer.Exit(2) from None


def purge(
    ctx: typer.Context,
    db: Annotated[
        str, typer.Option("--db", metavar="URL", help="Store URL, or a SQLite file path.")
    ],
    older_than: Annotated[
        str,
        typer.Option(
            "--older-than", metavar="DURATION", help="Delete what is older than this (90d)."
        ),
    ],
    dead_older_than: Annotated[
        str | None,
        typer.Option(
            "--dead-older-than",
            metavar="DURATION",
            help="Another horizon for dead-lettered messages (default: --older-than).",
        ),
    ] = None,
    keep_receipts: Annotated[
        bool,
        typer.Option("--keep-receipts", help="Keep idempotency receipts, whatever their age."),
    ] = False,
    prefix: Prefix = DEFAULT_PREFIX,
) -> None:
    """Delete delivered and dead messages and old receipts.

    Outbox messages delivered or dead-lettered, and idempotency receipts, older than
    --older-than.

    Messages not yet delivered, enrollments and their histories are never deleted: funnels
    stay right. Runs in batches, each its own transaction.

    \b
    Example:
      commitladder purge --db commitladder-demo/demo.db --older-than 90d
    """
    horizon = _duration(older_than, "--older-than")
    dead = _duration(dead_older_than, "--dead-older-than") if dead_older_than else horizon
    with speaking(ctx):
        from commitladder._tracker import Tracker
        from commitladder.sql import SqlStore

        now = datetime.now(UTC)
        store = SqlStore(db_url(db), prefix=prefix)
        try:
            done = Tracker(store=store).purge(
                sent_before=now - horizon,
                dead_before=now - dead,
                receipts_before=None if keep_receipts else now - horizon,
            )
        finally:
            store.close()
        out.print(
            f"purged {done.sent:,} delivered and {done.dead:,} dead messages and "
            f"{done.receipts:,} receipts",
            markup=False,
        )
