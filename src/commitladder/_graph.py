"""Diagrams of a ladder for people: Mermaid and Graphviz DOT text, SVG/PNG through Graphviz.

The drawing reads bottom-up like a ladder: the first rungs at the bottom, each
size of commitment on its own level, the ends on top coloured by result. Edges
say why they are there (an outcome, a "no", silence); each rung shows its expiry
and the facts a yes must bring. Given a ``Funnel`` (``_stats``), every edge also
carries the live counts of the asks it stands for. Text formats need nothing
installed; rendering imports ``graphviz`` only when asked, and a missing package
or ``dot`` binary is a ``GraphvizMissing`` error that says how to install it.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

from ._calendar import format_span
from ._definition import PARK
from ._errors import LadderError

if TYPE_CHECKING:
    from ._ladder import Ladder
    from ._stats import Funnel

__all__ = ["COLOURS", "Edge", "GraphvizMissing", "edges", "render", "to_dot", "to_mermaid"]

#: Fill colours of ends by result (and of rungs).
COLOURS = {"won": "#c8e6c9", "lost": "#ffcdd2", "neutral": "#e0e0e0", "rung": "#e3f2fd"}

EdgeKind = Literal["start", "next", "outcome", "decline", "expire"]


class GraphvizMissing(LadderError):
    """SVG or PNG was asked for, but the graphviz package or its ``dot`` program is missing."""


@dataclass(frozen=True, slots=True)
class Edge:
    """One arrow of the diagram: ``source`` is a rung id (``None`` for the start)."""

    source: str | None
    target: str
    kind: EdgeKind
    label: str = ""


def edges(ladder: Ladder) -> Iterator[Edge]:
    """Every arrow: the start, each ``next`` and outcome, and each "no" or silence that leads
    somewhere other than parking."""
    for rung_id in ladder.start:
        yield Edge(None, rung_id, "start")
    for rung in ladder.rungs.values():
        if rung.outcomes is not None:
            for outcome, target in rung.outcomes.items():
                yield Edge(rung.id, target, "outcome", outcome.replace("_", " "))
        else:
            for target in rung.next:
                yield Edge(rung.id, target, "next")
        if rung.on_decline != PARK:
            yield Edge(rung.id, rung.on_decline, "decline", "no")
        if rung.on_expire != PARK and rung.expires_after is not None:
            yield Edge(rung.id, rung.on_expire, "expire", "no answer")


def _counts(ladder: Ladder, edge: Edge, funnel: Funnel) -> str:
    """The live counts an edge stands for, as ``asked 40 · yes 30 (75%) · no 6 · expired 4``."""
    if edge.target in ladder.ends:
        assert edge.source is not None  # the start leads to rungs only
        row = funnel.rung(edge.source)
        reached = {
            "outcome": row.outcomes.get(edge.label.replace(" ", "_"), 0),
            "decline": row.declined,
            "expire": row.expired,
        }.get(edge.kind)
        if reached is None:  # `next`: a yes leads here, unless the seller picks among several
            reached = row.committed if ladder.rungs[edge.source].next == (edge.target,) else None
        return "" if reached is None else f"{reached} reached"
    if edge.kind in ("decline", "expire"):
        # the redirected ask is made where the prospect stood when they said no
        assert edge.source is not None
        positions = {
            p for (p, r) in funnel.edges if r == edge.source and edge.target not in _next(ladder, p)
        }
        found = [
            funnel.edges[(p, edge.target)] for p in positions if (p, edge.target) in funnel.edges
        ]
    else:
        hit = funnel.edges.get((edge.source, edge.target))
        found = [hit] if hit is not None else []
    asked = sum(e.asked for e in found)
    if not asked:
        return "asked 0"
    yes = sum(e.committed for e in found)
    no = sum(e.declined for e in found)
    lapsed = sum(e.expired for e in found)
    return f"asked {asked} · yes {yes} ({yes / asked:.0%}) · no {no} · expired {lapsed}"


def _next(ladder: Ladder, position: str | None) -> set[str]:
    if position is None:
        return set(ladder.start)
    rung = ladder.rungs.get(position)
    return set(rung.targets) if rung is not None else set()


def _rung_lines(ladder: Ladder, rung_id: str, funnel: Funnel | None) -> list[str]:
    rung = ladder.rungs[rung_id]
    lines = [rung.title or rung_id, f"{rung.kind}, size {rung.size}"]
    details = []
    if rung.expires_after is not None:
        details.append(f"expires {format_span(rung.expires_after)}")
    if rung.requires:
        details.append("needs " + ", ".join(sorted(rung.requires)))
    if details:
        lines.append(" · ".join(details))
    if funnel is not None:
        row = funnel.rung(rung_id)
        if row.open or row.parked:
            lines.append(f"open {row.open} · parked {row.parked}")
    return lines


def _end_lines(ladder: Ladder, end_id: str, funnel: Funnel | None) -> list[str]:
    end = ladder.ends[end_id]
    lines = [end.title or end_id, end.result]
    if funnel is not None:
        lines[1] += f": {funnel.ends.get(end_id, 0)}"
    return lines


def _levels(ladder: Ladder) -> list[list[str]]:
    """Rungs grouped by size, smallest first (the bottom of the ladder)."""
    sizes = sorted({r.size for r in ladder.rungs.values()})
    return [[r.id for r in ladder.rungs.values() if r.size == s] for s in sizes]


def _edge_label(ladder: Ladder, edge: Edge, funnel: Funnel | None) -> str:
    counts = _counts(ladder, edge, funnel) if funnel is not None else ""
    return " · ".join(part for part in (edge.label, counts) if part)


# ---- Graphviz DOT ---------------------------------------------------------------------------


def _dot_text(text: str) -> str:
    return text.replace("\\", "\\\\").replace('"', '\\"')


def _dot_label(lines: list[str]) -> str:
    return "\\n".join(_dot_text(line) for line in lines)


def to_dot(ladder: Ladder, funnel: Funnel | None = None) -> str:
    """The ladder as a Graphviz digraph, bottom-up by size (``dot -Tsvg`` draws it)."""
    title = ladder.title or ladder.name
    if funnel is not None:
        title += f" (live: {funnel.enrollments} enrollments)"
    out = [
        f'digraph "{_dot_text(ladder.name)}" {{',
        "  rankdir=BT; newrank=true; nodesep=0.5; ranksep=0.6;",
        f'  label="{_dot_text(title)}"; labelloc=t; fontname="Helvetica"; fontsize=18;',
        '  node [fontname="Helvetica", fontsize=11, shape=box, style="rounded,filled", '
        f'fillcolor="{COLOURS["rung"]}", color="#5c6bc0"];',
        '  edge [fontname="Helvetica", fontsize=9, color="#455a64"];',
        '  "(start)" [label="start", shape=circle, style=filled, fillcolor="#37474f", '
        "fontcolor=white, width=0.5, fixedsize=true];",
    ]
    for rung_id in ladder.rungs:
        label = _dot_label(_rung_lines(ladder, rung_id, funnel))
        out.append(f'  "{rung_id}" [label="{label}"];')
    for end_id, end in ladder.ends.items():
        label = _dot_label(_end_lines(ladder, end_id, funnel))
        out.append(
            f'  "{end_id}" [label="{label}", shape=ellipse, style=filled, '
            f'fillcolor="{COLOURS.get(end.result, COLOURS["neutral"])}"];'
        )
    # one level per size, the start below them all and the ends above
    levels = _levels(ladder)
    out.append('  { rank=min; "(start)"; }')
    for level in levels:
        out.append("  { rank=same; " + " ".join(f'"{r}";' for r in level) + " }")
    out.append("  { rank=max; " + " ".join(f'"{e}";' for e in ladder.ends) + " }")
    chain = ['"(start)"', *(f'"{level[0]}"' for level in levels), f'"{next(iter(ladder.ends))}"']
    out.append("  " + " -> ".join(chain) + " [style=invis];")
    size = {r.id: r.size for r in ladder.rungs.values()}
    for edge in edges(ladder):
        source = "(start)" if edge.source is None else edge.source
        attrs = []
        label = _edge_label(ladder, edge, funnel)
        if label:
            attrs.append(f'label="{_dot_text(label)}"')
        if edge.kind == "decline":
            attrs.append('style=dashed, color="#c62828", fontcolor="#c62828"')
        elif edge.kind == "expire":
            attrs.append('style=dotted, color="#6d4c41", fontcolor="#6d4c41"')
        down = edge.source is not None and edge.target in size
        if down and size[edge.target] < size[edge.source or ""]:
            attrs.append("constraint=false")  # a way back down the ladder keeps the levels
        out.append(
            f'  "{source}" -> "{edge.target}"' + (f" [{', '.join(attrs)}]" if attrs else "") + ";"
        )
    out.append("}")
    return "\n".join(out) + "\n"


# ---- Mermaid --------------------------------------------------------------------------------


def _mermaid_id(name: str, kind: str) -> str:
    # prefixed: `end` and friends are Mermaid keywords; '-' would read as an arrow
    return f"{kind}_{name.replace('-', '_')}"


def _mermaid_text(text: str) -> str:
    return text.replace('"', "#quot;")


def to_mermaid(ladder: Ladder, funnel: Funnel | None = None) -> str:
    """The ladder as a Mermaid flowchart (renders in GitHub, GitLab, mkdocs-material)."""
    title = ladder.title or ladder.name
    out = ["---", f"title: {_mermaid_text(title)}", "---", "flowchart BT"]
    out.append('  start(("start"))')
    for level in _levels(ladder):
        for rung_id in level:
            text = "<br/>".join(_mermaid_text(x) for x in _rung_lines(ladder, rung_id, funnel))
            out.append(f'  {_mermaid_id(rung_id, "rung")}["{text}"]')
    for end_id in ladder.ends:
        text = "<br/>".join(_mermaid_text(x) for x in _end_lines(ladder, end_id, funnel))
        out.append(f'  {_mermaid_id(end_id, "end")}(["{text}"])')
    for edge in edges(ladder):
        source = "start" if edge.source is None else _mermaid_id(edge.source, "rung")
        target = _mermaid_id(edge.target, "end" if edge.target in ladder.ends else "rung")
        arrow = {"decline": "-.->", "expire": "-.->"}.get(edge.kind, "-->")
        label = _edge_label(ladder, edge, funnel)
        text = f'|"{_mermaid_text(label)}"|' if label else ""
        out.append(f"  {source} {arrow}{text} {target}")
    out.append(f"  classDef rung fill:{COLOURS['rung']},stroke:#5c6bc0")
    for result in ("won", "lost", "neutral"):
        out.append(f"  classDef {result} fill:{COLOURS[result]},stroke:#37474f")
    out.append("  class " + ",".join(_mermaid_id(r, "rung") for r in ladder.rungs) + " rung")
    for result in ("won", "lost", "neutral"):
        ids = [_mermaid_id(e.id, "end") for e in ladder.ends.values() if e.result == result]
        if ids:
            out.append(f"  class {','.join(ids)} {result}")
    return "\n".join(out) + "\n"


# ---- rendering ------------------------------------------------------------------------------

INSTALL_GRAPHVIZ = (
    "install Graphviz's `dot` program (Debian/Ubuntu: apt-get install graphviz; macOS: brew "
    "install graphviz; others: https://graphviz.org/download/)"
)


def render(dot: str, fmt: Literal["svg", "png"]) -> bytes:
    """Draw DOT text as SVG or PNG with Graphviz's ``dot``."""
    try:
        import graphviz  # type: ignore[import-untyped,unused-ignore]  # no stubs, no py.typed
    except ImportError:
        raise GraphvizMissing(
            f"drawing {fmt.upper()} needs the `graph` extra: pip install 'commitladder[graph]', "
            f"and {INSTALL_GRAPHVIZ}; or use --format mermaid or dot, which need nothing"
        ) from None
    try:
        data: bytes = graphviz.Source(dot).pipe(format=fmt)
    except graphviz.ExecutableNotFound:
        raise GraphvizMissing(
            f"drawing {fmt.upper()} needs Graphviz: {INSTALL_GRAPHVIZ}; or use --format "
            "mermaid or dot, which need nothing"
        ) from None
    return data
