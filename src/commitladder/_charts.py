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

    from ._funnel import FunnelFigures, RungFigures
    from ._stats import Funnel, RungCounts

__all__ = ["PlotMissing", "funnel_png"]


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
