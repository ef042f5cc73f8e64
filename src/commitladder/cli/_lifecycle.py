"""``commitladder purge`` and ``migrate``: the commands that look after a store over years.

They open the store the way ``funnel`` does (``--db``, ``--prefix``) and never touch
a ladder's rules: everything they do is a ``Tracker`` method a program can call too.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from ._output import DEFAULT_PREFIX, File, Prefix, db_url, err, out, speaking

if TYPE_CHECKING:
    from commitladder._migrate import MigrationReport

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


def migrate(
    ctx: typer.Context,
    file: File,
    db: Annotated[
        str, typer.Option("--db", metavar="URL", help="Store URL, or a SQLite file path.")
    ],
    apply: Annotated[
        bool, typer.Option("--apply", help="Move them (without it: a dry run, nothing written).")
    ] = False,
    batch: Annotated[
        int, typer.Option("--batch", min=1, metavar="N", help="Enrollments read per page.")
    ] = 500,
    actor: Annotated[
        str | None, typer.Option("--actor", metavar="NAME", help="Recorded in each event.")
    ] = None,
    prefix: Prefix = DEFAULT_PREFIX,
) -> None:
    """Move live enrollments onto a new version of their ladder.

    FILE is the new version; its migrations section says how states of older versions
    map onto it. Without --apply it is a dry run: a table of how many enrollments move
    from each state to each state, and which cannot move and why; nothing is written.
    With --apply each enrollment moves in its own transaction with a Migrated event; run
    it again after a crash and it goes on where it stopped.

    \b
    Example:
      commitladder migrate --db commitladder-demo/demo.db ladder_v2.yaml
    """
    with speaking(ctx):
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

        from commitladder._ladder import load
        from commitladder._tracker import Tracker
        from commitladder.sql import SqlStore

        ladder = load(file)
        store = SqlStore(db_url(db), prefix=prefix)
        try:
            tracker = Tracker(store=store, ladders=[ladder])
            if not apply:
                report = tracker.migrate(ladder.name, batch=batch, actor=actor)
            else:
                dry = tracker.migrate(ladder.name, batch=batch)
                total = dry.moving + len(dry.blocked) + dry.current
                with Progress(
                    TextColumn("[bold]migrating[/bold] to v" + str(ladder.version)),
                    BarColumn(),
                    MofNCompleteColumn(),
                    console=err,
                ) as bar:
                    task = bar.add_task("", total=total)
                    report = tracker.migrate(
                        ladder.name,
                        dry_run=False,
                        batch=batch,
                        actor=actor,
                        progress=lambda seen: bar.advance(task, seen),
                    )
        finally:
            store.close()
        _print_report(report)
        if report.blocked:
            raise typer.Exit(1)


def _print_report(report: MigrationReport) -> None:
    from rich import box
    from rich.table import Table

    from ._simulation import print_table

    table = Table(
        title=f"{report.ladder}: live enrollments onto v{report.to_version}",
        box=box.SIMPLE_HEAD,
        title_justify="left",
    )
    for name in ("from", "to", "enrollments"):
        table.add_column(name, justify="right" if name == "enrollments" else "left")
    for (source, target), count in sorted(report.moves.items()):
        table.add_row(source, target, f"{count:,}")
    print_table(table)
    if report.blocked:
        why: dict[str, list[str]] = {}
        for eid, state, reason in report.blocked:
            why.setdefault(f"{state}: {reason}", []).append(eid)
        out.print(f"{len(report.blocked):,} cannot move:", markup=False)
        for reason, ids in sorted(why.items()):
            shown = ", ".join(ids[:3]) + (", ..." if len(ids) > 3 else "")
            out.print(f"  {len(ids):,} x {reason} ({shown})", markup=False)
    if report.dry_run:
        out.print(
            f"dry run: {report.moving:,} would move, {len(report.blocked):,} cannot, "
            f"{report.current:,} on v{report.to_version} already; nothing was written "
            "(--apply moves them)",
            markup=False,
        )
    else:
        out.print(
            f"moved {report.migrated:,}; {len(report.blocked):,} cannot move; "
            f"{report.current:,} were on v{report.to_version} already",
            markup=False,
        )


def enroll(
    ctx: typer.Context,
    file: File,
    db: Annotated[
        str, typer.Option("--db", metavar="URL", help="Store URL, or a SQLite file path.")
    ],
    from_csv: Annotated[
        Path,
        typer.Option(
            "--from-csv",
            exists=True,
            dir_okay=False,
            readable=True,
            metavar="CSV",
            help="A CSV file with a header row; one prospect per row.",
        ),
    ],
    column: Annotated[
        str, typer.Option("--column", metavar="NAME", help="The column holding prospect ids.")
    ] = "prospect",
    batch: Annotated[
        int, typer.Option("--batch", min=1, metavar="N", help="Prospects per transaction.")
    ] = 1_000,
    actor: Annotated[
        str | None, typer.Option("--actor", metavar="NAME", help="Recorded in each event.")
    ] = None,
    prefix: Prefix = DEFAULT_PREFIX,
) -> None:
    """Enroll a list of prospects from a CSV file on a ladder.

    FILE is the ladder. Prospects already enrolled, or kept out by the ladder's re-entry
    policy, are skipped and counted by reason. Batches of --batch prospects, each one
    transaction.

    \b
    Example:
      commitladder enroll ladder.yaml --db crm.db --from-csv leads.csv
    """
    import csv

    with speaking(ctx):
        from commitladder._ladder import load
        from commitladder._tracker import Tracker
        from commitladder.sql import SqlStore

        with from_csv.open(newline="", encoding="utf-8-sig") as handle:
            reader = csv.DictReader(handle)
            if column not in (reader.fieldnames or []):
                found = ", ".join(reader.fieldnames or []) or "none"
                err.print(
                    f"{from_csv}: no column {column!r} (columns: {found}); "
                    "name the one holding prospect ids with --column",
                    markup=False,
                )
                raise typer.Exit(2)
            prospects = [row[column].strip() for row in reader if (row[column] or "").strip()]
        ladder = load(file)
        store = SqlStore(db_url(db), prefix=prefix)
        try:
            store.create_schema()
            report = Tracker(store=store, ladders=[ladder]).enroll_many(
                prospects, ladder=ladder, batch=batch, actor=actor
            )
        finally:
            store.close()
        reasons: dict[str, int] = {}
        for _, why in report.skipped:
            key = "already enrolled" if why.startswith("already enrolled") else why
            reasons[key] = reasons.get(key, 0) + 1
        out.print(
            f"enrolled {len(report.enrolled):,} on {ladder.name} v{ladder.version}; "
            f"skipped {len(report.skipped):,}",
            markup=False,
        )
        for why, count in sorted(reasons.items()):
            out.print(f"  {count:,} x {why}", markup=False)
