"""``commitladder forecast``: the open deals of a store, their chances and expected revenue.

The forecast (``commitladder._forecast``), SQLAlchemy and the chart backend load inside
the command, never at import.
"""

from __future__ import annotations

import sys
from datetime import UTC, datetime
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich import box
from rich.table import Table

from ._output import DEFAULT_PREFIX, Prefix, db_url, err, out, plain, speaking
from ._simulation import print_table

if TYPE_CHECKING:
    from commitladder._forecast import Backtest, Forecast, ForecastRow

__all__ = ["ForecastFormat", "forecast"]


class ForecastFormat(StrEnum):
    table = "table"
    csv = "csv"
    json = "json"
    png = "png"


class Method(StrEnum):
    learned = "learned"
    position = "position"
    declared = "declared"


def _money(value: float) -> str:
    return f"{value:,.0f}"


def _chance(value: float | None) -> str:
    return "-" if value is None else f"{value:.0%}"


def _rows_table(title: str, rows: tuple[ForecastRow, ...], first: str) -> Table:
    table = Table(title=title, box=box.SIMPLE_HEAD, title_justify="left")
    for name in (first, "deals", "amount", "expected", "low", "high"):
        table.add_column(name, justify="left" if name == first else "right", no_wrap=True)
    for row in rows:
        table.add_row(
            row.key,
            f"{row.deals:,}",
            _money(row.amount),
            _money(row.expected),
            _money(row.low),
            _money(row.high),
        )
    return table


def forecast_tables(found: Forecast) -> list[Table]:
    """The forecast as Rich tables: by stage, by close month, the chances per position,
    and (learned) per state of the open deals."""
    total = found.total
    head = (
        f"Forecast of {found.ladder} as of {found.as_of:%Y-%m-%d %H:%M} ({found.method}): "
        f"{total.deals:,} open deals, expected {_money(total.expected)} of "
        f"{_money(total.amount)} (low {_money(total.low)}, high {_money(total.high)})"
    )
    chances = Table(
        title=f"P(won | position), {found.confidence:.0%} intervals",
        box=box.SIMPLE_HEAD,
        title_justify="left",
    )
    for name in ("position", "P(won)", "low", "high", "sample", "source", "days to win"):
        chances.add_column(name, justify="left" if name == "position" else "right")
    for c in found.chances:
        days = "-" if c.time_to_win is None else f"{c.time_to_win.total_seconds() / 86400:.1f}"
        chances.add_row(
            c.position or "(start)",
            _chance(c.probability),
            _chance(c.low),
            _chance(c.high),
            f"{c.sample:,}",
            c.source,
            days,
        )
    tables = [
        _rows_table(head, found.by_stage, "stage"),
        _rows_table("By expected close month", found.by_month, "month"),
        chances,
    ]
    if found.states:
        tables.append(_states_table(found))
    return tables


def _states_table(found: Forecast) -> Table:
    """The chances of the states the open deals stand in: what the forecast used."""
    from commitladder._forecast import MAX_ASKS_APART

    table = Table(
        title="P(won | state) of the open deals: asks since the last commitment, status "
        "(pooled: too few deals left that state; its position's chance stands in)",
        box=box.SIMPLE_HEAD,
        title_justify="left",
    )
    for name in ("position", "asks", "status", "deals", "P(won)", "low", "high", "sample"):
        table.add_column(name, justify="left" if name in ("position", "status") else "right")
    table.add_column("source")
    deals: dict[tuple[str | None, int, str], int] = {}
    for d in found.deals:
        key = (d.position, d.asks, d.status)
        deals[key] = deals.get(key, 0) + 1
    for c in found.states:
        assert c.asks is not None
        assert c.status is not None
        table.add_row(
            c.position or "(start)",
            f"{c.asks}+" if c.asks == MAX_ASKS_APART else str(c.asks),
            c.status,
            f"{deals.get((c.position, c.asks, c.status), 0):,}",
            _chance(c.probability),
            _chance(c.low),
            _chance(c.high),
            f"{c.sample:,}",
            c.source,
        )
    return table


def _backtest_text(result: Backtest) -> str:
    def error(value: float | None) -> str:
        return "-" if value is None else f"{value:+.1%}"

    return (
        f"Backtest: as of {result.as_of:%Y-%m-%d}, {result.deals:,} open deals, checked "
        f"{result.until:%Y-%m-%d}: expected wins {result.expected_wins:,.1f} vs actual "
        f"{result.actual_wins:,} ({error(result.count_error)}); expected revenue "
        f"{_money(result.expected_revenue)} vs won {_money(result.actual_revenue)} "
        f"({error(result.revenue_error)}); Brier score "
        f"{'-' if result.brier is None else f'{result.brier:.3f}'}; still open: "
        f"{result.still_open:,}"
    )


def _utc(value: datetime | None) -> datetime | None:
    """A date from the command line, read in UTC unless it names its own zone."""
    if value is None or value.tzinfo is not None:
        return value
    return value.replace(tzinfo=UTC)


def forecast(
    ctx: typer.Context,
    db: Annotated[
        str, typer.Option("--db", metavar="URL", help="Store URL, or a SQLite file path.")
    ],
    amounts: Annotated[
        Path | None,
        typer.Option(
            "--amounts", metavar="CSV", help="Deal amounts: a CSV with prospect,amount columns."
        ),
    ] = None,
    ladder: Annotated[
        str | None,
        typer.Option("--ladder", metavar="NAME", help="Ladder name, when the store holds several."),
    ] = None,
    ladder_file: Annotated[
        Path | None,
        typer.Option(
            "--ladder-file",
            metavar="FILE",
            help="The ladder file: its stages and declared probabilities.",
        ),
    ] = None,
    method: Annotated[
        Method,
        typer.Option(
            "--method",
            help="Learn P(won) from each deal's state, or from its position only, or use "
            "the declared ones.",
        ),
    ] = Method.learned,
    min_sample: Annotated[
        int | None,
        typer.Option(
            "--min-sample",
            min=1,
            metavar="N",
            help="A state fewer deals left takes its position's chance (default 30).",
        ),
    ] = None,
    as_of: Annotated[
        datetime | None,
        typer.Option("--as-of", metavar="DATE", help="Forecast as of this time (UTC)."),
    ] = None,
    backtest: Annotated[
        datetime | None,
        typer.Option(
            "--backtest",
            metavar="DATE",
            help="Forecast as of this past date and compare with what closed since.",
        ),
    ] = None,
    fmt: Annotated[
        ForecastFormat, typer.Option("--format", "-f", help="png needs -o and the plot extra.")
    ] = ForecastFormat.table,
    output: Annotated[
        Path | None,
        typer.Option("--output", "-o", metavar="FILE", help="Write here instead of stdout."),
    ] = None,
    prefix: Prefix = DEFAULT_PREFIX,
) -> None:
    """Forecast open deals: P(won) times amount, by stage and month.

    P(won) is learned from the store's history, from each deal's state (its rung, the
    asks since its last commitment, parked or not; a state few deals left takes its
    rung's chance) or its rung only (--method position), with intervals and the sample
    behind them; or declared by the ladder's `probability:` fields (--ladder-file). With
    --backtest DATE, forecast as of that past date from what was known then, and say how
    far it was from what closed since. Read-only.

    \b
    Example:
      commitladder forecast --db crm.db --amounts deals.csv --ladder-file l.yaml
      commitladder forecast --db crm.db --amounts deals.csv --backtest 2026-03-01
    """
    if fmt is ForecastFormat.png and output is None:
        err.print("a PNG is binary: give -o FILE.png (or use --format table, csv or json)")
        raise typer.Exit(2)
    with speaking(ctx):
        from commitladder._forecast import MIN_SAMPLE, read_amounts
        from commitladder._forecast import backtest as run_backtest
        from commitladder._forecast import forecast as run_forecast
        from commitladder._ladder import Ladder, load

        compiled: Ladder | str | None = ladder
        if ladder_file is not None:
            compiled = load(ladder_file)
        table = read_amounts(amounts) if amounts is not None else None
        if min_sample is None:
            min_sample = MIN_SAMPLE
        tested = None
        if backtest is not None:
            tested = run_backtest(
                db_url(db),
                as_of=backtest if backtest.tzinfo else backtest.replace(tzinfo=UTC),
                until=_utc(as_of),
                ladder=compiled,
                amounts=table,
                method=method.value,
                min_sample=min_sample,
                prefix=prefix,
            )
            found = tested.forecast
        else:
            found = run_forecast(
                db_url(db),
                ladder=compiled,
                amounts=table,
                method=method.value,
                as_of=_utc(as_of),
                min_sample=min_sample,
                prefix=prefix,
            )
        if table is None:
            err.print("note: no --amounts: every deal counts 0; the chances stand alone")
        elif found.missing_amounts:
            err.print(
                f"note: {found.missing_amounts:,} open deals have no amount in {amounts}; "
                "they count 0",
                markup=False,
            )
        if fmt is ForecastFormat.png:
            from commitladder._charts import forecast_png

            data = forecast_png(found)
        elif fmt is ForecastFormat.table:
            tables = forecast_tables(found)
            if output is None:
                for t in tables:
                    print_table(t)
                if tested is not None:
                    out.print(_backtest_text(tested), markup=False)
                return
            text = "".join(plain(t) for t in tables)
            data = (text + (_backtest_text(tested) + "\n" if tested else "")).encode()
        elif fmt is ForecastFormat.csv:
            data = found.to_csv().encode()
        else:
            data = ((tested or found).to_json() + "\n").encode()
    if output is None:
        sys.stdout.write(data.decode())
        sys.stdout.flush()
    else:
        output.write_bytes(data)
        err.print(f"wrote {output} ({fmt.value}, {len(data):,} bytes)", markup=False)
