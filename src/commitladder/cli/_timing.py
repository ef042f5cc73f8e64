"""``explain-time``: when a prospect's next messages would go out, in both time zones."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

import typer

from ._output import File, err, out, speaking

__all__ = ["explain_time"]


def explain_time(
    ctx: typer.Context,
    file: File,
    at: Annotated[
        str,
        typer.Option(
            "--at",
            metavar="TIME",
            help="When the ask is made: ISO 8601 with an offset (2026-12-04T17:30-05:00).",
        ),
    ],
    timezone: Annotated[
        str | None,
        typer.Option("--timezone", "-z", help="The prospect's IANA zone (default: the ladder's)."),
    ] = None,
    rung: Annotated[
        str | None, typer.Option(help="The rung asked (default: the first start).")
    ] = None,
    channel: Annotated[
        str | None, typer.Option(help="The channel (default: the rung's first).")
    ] = None,
) -> None:
    """Show when an ask's messages would go out, in both time zones.

    The ask, each follow-up and the expiry, at the times the library computes
    (business days, holidays, send windows in the prospect's zone), shown in the
    ladder's zone and the prospect's. Throttles may queue a first ask later still,
    depending on the other asks in the store.

    \b
    Example:
      commitladder explain-time ladder.yaml --at 2026-12-04T22:30Z -z Asia/Kolkata
    """
    try:
        when = datetime.fromisoformat(at)
    except ValueError:
        err.print(f"--at {at!r} is not an ISO 8601 time: write 2026-12-04T17:30-05:00")
        raise typer.Exit(2) from None
    if when.tzinfo is None:
        err.print(f"--at {at!r} has no offset: write 2026-12-04T17:30-05:00 (or ...Z for UTC)")
        raise typer.Exit(2)
    with speaking(ctx):
        from commitladder._calendar import zone
        from commitladder._ladder import load
        from commitladder._timing import timeline

        ladder = load(file)
        moments = timeline(ladder, at=when, rung=rung, channel=channel, timezone=timezone)
        seller = ladder.calendar.timezone if ladder.calendar is not None else "UTC"
        prospect = timezone or seller
    width = max(len(m.what) for m in moments)
    out.print(f"seller zone {seller}, prospect zone {prospect}", markup=False)
    for m in moments:
        here, there = m.at.astimezone(zone(seller)), m.at.astimezone(zone(prospect))
        line = f"{m.what:<{width}}  {here:%a %Y-%m-%d %H:%M} {seller}"
        if prospect != seller:
            line += f"  |  {there:%a %Y-%m-%d %H:%M} {prospect}"
        out.print(line, markup=False)
