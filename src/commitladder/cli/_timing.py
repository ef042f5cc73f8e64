"""``explain-time``: when a prospect's next messages would go out, in both time zones."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

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
    ahead: Annotated[
        int,
        typer.Option(
            min=0,
            help="First asks under the same throttles already queued (the store's count).",
        ),
    ] = 0,
) -> None:
    """Show when an ask's messages would go out, in both time zones.

    The ask, each follow-up and the expiry, at the times the library computes
    (business days, holidays, send windows in the prospect's zone), shown in the
    ladder's zone and the prospect's. Where a throttle caps the ask, --ahead says
    how many first asks are queued before it; the ask goes out after them.

    \b
    Example:
      commitladder explain-time ladder.yaml --at 2026-12-04T22:30Z -z Asia/Kolkata
      commitladder explain-time ladder.yaml --at 2026-12-04T10:00Z --ahead 120
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
        from commitladder._timing import caps, timeline

        ladder = load(file)
        moments = timeline(
            ladder, at=when, rung=rung, channel=channel, timezone=timezone, ahead=ahead
        )
        capped = caps(ladder, channel or _channel(ladder, rung))
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
    if capped:
        limits = ", ".join(f"{c.most} a {c.per}" for c in capped)
        out.print(
            f"throttled: at most {limits} per sender; this counts {ahead} first asks queued "
            "ahead of it (--ahead N; tracker.sends_at(prospect) reads a stored ask's place)",
            markup=False,
        )


def _channel(ladder: Any, rung: str | None) -> str:
    """The channel ``timeline`` picks when none is given."""
    rung = rung or ladder.start[0]
    allowed = ladder.rungs[rung].channels if rung in ladder.rungs else None
    return allowed[0] if allowed else "email"
