"""The funnel as a PNG chart, drawn with matplotlib (the ``plot`` extra), imported lazily.

matplotlib because it is the one plotting library most Python users already have,
it renders headless through its Agg backend with no browser or server, and its
object API (``Figure`` + ``FigureCanvasAgg``) keeps no global state, so drawing
never touches a user's own pyplot session. This module must never import
matplotlib at import time.
"""

from __future__ import annotations

import io
from typing import TYPE_CHECKING

from ._errors import LadderError

if TYPE_CHECKING:
    from collections.abc import Sequence

    from ._forecast import Forecast
    from ._funnel import FunnelFigures, RungFigures
    from ._stats import Funnel, RungCounts

__all__ = ["PlotMissing", "forecast_png", "funnel_png"]


class PlotMissing(LadderError):
    """A PNG chart was asked for but matplotlib is not installed."""


def funnel_png(funnel: Funnel | FunnelFigures, *, title: str | None = None) -> bytes:
    """A horizontal funnel: per rung, bars for asks and commitments, centred, with the
    conversion written beside them; the first rungs on top."""
    try:
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        from matplotlib.figure import Figure
    except ImportError:
        raise PlotMissing(
            "a PNG funnel needs the `plot` extra: pip install 'commitladder[plot]' "
            "(or use --format table, csv or json)"
        ) from None
    rows: Sequence[RungCounts | RungFigures] = funnel.rungs
    figure = Figure(figsize=(9, 0.6 * len(rows) + 1.6), dpi=100)
    FigureCanvasAgg(figure)
    axes = figure.add_subplot()
    names = [row.rung for row in rows]
    positions = list(range(len(rows)))[::-1]
    asked = [row.asked for row in rows]
    committed = [row.committed for row in rows]
    axes.barh(
        positions, asked, left=[-a / 2 for a in asked], color="#c5cae9", label="asked", height=0.8
    )
    axes.barh(
        positions,
        committed,
        left=[-c / 2 for c in committed],
        color="#3949ab",
        label="committed",
        height=0.55,
    )
    widest = max(asked, default=1) or 1
    for y, row in zip(positions, rows, strict=True):
        rate = f"{row.conversion:.0%}" if row.conversion is not None else "-"
        axes.text(
            widest / 2 + widest * 0.03,
            y,
            f"{row.committed}/{row.asked}  {rate}",
            va="center",
            fontsize=9,
        )
    axes.set_yticks(positions, names)
    axes.set_xticks([])
    axes.set_xlim(-widest / 2 - widest * 0.02, widest / 2 + widest * 0.3)
    for side in ("top", "right", "bottom", "left"):
        axes.spines[side].set_visible(False)
    figure.legend(loc="lower right", ncols=2, frameon=False, fontsize=9)
    ends = ", ".join(f"{name} {count}" for name, count in sorted(funnel.ends.items()))
    axes.set_title(
        (title or f"Funnel of {funnel.ladder}")
        + f"\n{funnel.enrollments} enrollments; ended: {ends or 'none yet'}",
        fontsize=11,
    )
    figure.tight_layout(rect=(0, 0.05, 1, 1))
    out = io.BytesIO()
    figure.savefig(out, format="png")
    return out.getvalue()


def forecast_png(forecast: Forecast, *, title: str | None = None) -> bytes:
    """Expected revenue by close month (bars, with the low..high range of the deals'
    intervals as error bars) beside the same by stage."""
    try:
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        from matplotlib.figure import Figure
    except ImportError:
        raise PlotMissing(
            "a PNG forecast needs the `plot` extra: pip install 'commitladder[plot]' "
            "(or use --format table, csv or json)"
        ) from None
    figure = Figure(figsize=(11, 4.8), dpi=100)
    FigureCanvasAgg(figure)
    for index, (rows, label) in enumerate(
        ((forecast.by_month, "by expected close month"), (forecast.by_stage, "by stage"))
    ):
        axes = figure.add_subplot(1, 2, index + 1)
        names = [row.key for row in rows]
        expected = [row.expected for row in rows]
        below = [row.expected - row.low for row in rows]
        above = [row.high - row.expected for row in rows]
        positions = list(range(len(rows)))
        axes.bar(positions, [row.amount for row in rows], color="#c5cae9", label="amount")
        axes.bar(
            positions,
            expected,
            yerr=[below, above],
            color="#3949ab",
            capsize=4,
            width=0.55,
            label="expected",
        )
        axes.set_xticks(positions, names, rotation=30, ha="right", fontsize=8)
        axes.set_title(label, fontsize=10)
        for side in ("top", "right"):
            axes.spines[side].set_visible(False)
    figure.legend(*figure.axes[0].get_legend_handles_labels(), loc="upper right", frameon=False)
    total = forecast.total
    figure.suptitle(
        (title or f"Forecast of {forecast.ladder} as of {forecast.as_of:%Y-%m-%d}")
        + f"\n{total.deals} open deals, expected {total.expected:,.0f} of {total.amount:,.0f} "
        f"({forecast.method})",
        fontsize=11,
    )
    figure.tight_layout()
    out = io.BytesIO()
    figure.savefig(out, format="png")
    return out.getvalue()
