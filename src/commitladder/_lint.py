"""Lint: findings about a valid ladder, each with a stable code, a location and a fix hint.

A ladder that compiles can still contradict its own ``rules:`` or trap prospects
(a rung nobody reaches, a loop with no way out, an ask that never lapses). The
checks here prove or refute such claims statically, over every path of the
ladder's graph (see ``_paths.ask_graph``), and name the shortest offending path.
A check is a function registered with ``@check`` under a stable code. Lint never
raises on a valid ladder and never runs an enrollment; ``locate`` adds
``file:line:column`` to findings from the YAML the ladder was read from, and
``grouped`` merges the findings of one code that say the same thing about several
places into one, for people (``lint`` itself keeps one finding per place, which a
program filters, suppresses or annotates by location).
"""

from __future__ import annotations

import dataclasses
import re
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any, Literal

from ._calendar import Calendar, Window, after, format_span, next_open
from ._definition import PARK
from ._paths import ask_graph

if TYPE_CHECKING:
    from ._ladder import Ladder
    from ._yaml import Located

__all__ = ["CHECKS", "Finding", "Place", "Severity", "check", "grouped", "lint", "locate"]

Severity = Literal["error", "warning", "info"]
_Key = tuple[str | None, str | None]


@dataclass(frozen=True, slots=True)
class Place:
    """One of the places a grouped finding is about: where, and what is particular there."""

    location: str
    detail: str
    path: tuple[str, ...] = ()
    line: int | None = None
    column: int | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "location": self.location,
            "detail": self.detail,
            "path": list(self.path),
            "line": self.line,
            "column": self.column,
        }


@dataclass(frozen=True, slots=True)
class Finding:
    """One thing lint found: ``code`` is stable (for programs and ignores), the rest is for people.

    ``location`` is the dotted field path the finding is about (``rules.max_size_step``);
    ``path`` is the offending route, as the rungs committed to in order, then the rung(s)
    asked. ``source``, ``line`` and ``column`` say where ``location`` stands in a YAML
    file, once ``locate`` has found it.

    A check that can find the same thing at many places also splits its message into a
    ``summary`` (what it means, the same at every place) and a ``detail`` (what is
    particular to this place). ``grouped`` merges such findings: the merged one says the
    summary once and lists its ``places``; its own ``location``, ``path``, ``line`` and
    ``column`` are those of the first place.
    """

    code: str
    severity: Severity
    location: str
    message: str
    hint: str
    path: tuple[str, ...] = field(default=())
    source: str | None = None
    line: int | None = None
    column: int | None = None
    summary: str | None = None
    detail: str | None = None
    places: tuple[Place, ...] = field(default=())

    def __str__(self) -> str:
        where = ""
        if self.source is not None:
            where = ":".join(str(p) for p in (self.source, self.line, self.column) if p) + ": "
        if not self.places:
            return (
                f"{where}{self.location}: {self.severity} [{self.code}] {self.message} "
                f"(fix: {self.hint})"
            )
        head = f"{self.source}: " if self.source is not None else ""
        lines = [
            f"{head}{self.severity} [{self.code}] at {len(self.places)} places: {self.message} "
            f"(fix: {self.hint})"
        ]
        for place in self.places:
            spot = ":".join(str(p) for p in (self.source, place.line, place.column) if p)
            lines.append(f"  {spot + ': ' if spot else ''}{place.location}: {place.detail}")
        return "\n".join(lines)

    def to_dict(self) -> dict[str, Any]:
        return {
            "code": self.code,
            "severity": self.severity,
            "location": self.location,
            "message": self.message,
            "hint": self.hint,
            "path": list(self.path),
            "source": self.source,
            "line": self.line,
            "column": self.column,
            "places": [place.to_dict() for place in self.places],
        }


Check = Callable[["Ladder"], Iterable[Finding]]
#: Every registered check, by code, in the order they run.
CHECKS: dict[str, Check] = {}


def check(code: str) -> Callable[[Check], Check]:
    """Register a lint check under its stable ``code``."""

    def register(fn: Check) -> Check:
        if code in CHECKS:
            raise ValueError(f"lint check {code!r} is already registered")
        CHECKS[code] = fn
        return fn

    return register


def lint(ladder: Ladder, *, select: Iterable[str] | None = None) -> list[Finding]:
    """Run every check (or those in ``select``) and return the findings, errors first."""
    codes = list(CHECKS) if select is None else list(select)
    unknown = [c for c in codes if c not in CHECKS]
    if unknown:
        raise ValueError(f"unknown lint check(s): {', '.join(unknown)}; known: {', '.join(CHECKS)}")
    found = [f for code in codes for f in CHECKS[code](ladder)]
    order = {"error": 0, "warning": 1, "info": 2}
    return sorted(found, key=lambda f: order[f.severity])


_PART = re.compile(r"([^.\[\]]+)|\[(\d+)\]")


def locate(findings: Iterable[Finding], located: Located) -> list[Finding]:
    """The findings with ``source:line:column`` read from ``located`` (the ladder's YAML).

    A location the file does not spell out (a setting inherited from ``defaults:``)
    points at the nearest enclosing key that it does.
    """
    placed = []
    for finding in findings:
        path = tuple(name or int(index) for name, index in _PART.findall(finding.location))
        line, column = located.where(path, key=True)
        placed.append(dataclasses.replace(finding, source=located.source, line=line, column=column))
    return placed


def grouped(findings: Iterable[Finding]) -> list[Finding]:
    """``findings`` with those that say the same thing about several places merged into one.

    Findings of one code, in one file, with the same ``summary`` and ``hint`` make one
    finding whose message is the summary and whose ``places`` list each of them with its
    ``detail``; it stands where the first of them stood. Everything else is kept as is.
    """
    found = list(findings)
    members: dict[tuple[str | None, ...], list[Finding]] = {}
    for finding in found:
        if (k := _group_key(finding)) is not None:
            members.setdefault(k, []).append(finding)
    merged = []
    for finding in found:
        k = _group_key(finding)
        if k is None or len(members[k]) == 1:
            merged.append(finding)
        elif members[k][0] is finding:
            group = members[k]
            places = tuple(
                Place(f.location, f.detail or "", f.path, f.line, f.column) for f in group
            )
            merged.append(
                dataclasses.replace(finding, message=finding.summary or "", places=places)
            )
    return merged


def _group_key(finding: Finding) -> tuple[str | None, ...] | None:
    if finding.summary is None or finding.detail is None:
        return None  # a finding about one place only
    return (finding.source, finding.code, finding.summary, finding.hint)


def route_text(path: tuple[str, ...]) -> str:
    """``start -> a -> b, then ask c`` for a path of commitments followed by an ask."""
    *committed, asked = path
    return " -> ".join(["start", *committed]) + f", then ask {asked}"


def _successors(ladder: Ladder, rung: str) -> list[_Key]:
    outcomes = ladder.rungs[rung].outcomes
    return [(rung, o) for o in outcomes] if outcomes is not None else [(rung, None)]


def _walk(ladder: Ladder, *, avoid: str | None = None) -> Iterator[tuple[_Key, tuple[str, ...]]]:
    """Breadth-first over (position, outcome), with the commitments that led there (the
    position last), never committing to ``avoid``."""
    graph = ask_graph(ladder)
    start: _Key = (None, None)
    seen: dict[_Key, tuple[str, ...]] = {start: ()}
    queue: deque[_Key] = deque([start])
    while queue:
        key = queue.popleft()
        route = seen[key]
        yield key, route
        for rung in graph[key]:
            if rung == avoid:
                continue
            for nxt in _successors(ladder, rung):
                if nxt not in seen:
                    seen[nxt] = (*route, rung)
                    queue.append(nxt)


def _edge_location(ladder: Ladder, key: _Key, asked: str) -> str:
    position, outcome = key
    if asked in ladder.next_rungs(position, outcome):
        if position is None:
            return "start"
        return f"rungs.{position}." + (f"outcomes.{outcome}" if outcome else "next")
    for rung in ask_graph(ladder)[key]:
        for name in ("on_decline", "on_expire"):
            if getattr(ladder.rungs[rung], name) == asked:
                return f"rungs.{rung}.{name}"
    return "rungs"  # pragma: no cover - every asked rung is a target or a redirect


@check("max_size_step")
def _max_size_step(ladder: Ladder) -> Iterator[Finding]:
    step = ladder.rules.max_size_step
    if step is None:
        return
    graph = ask_graph(ladder)
    reported: set[tuple[str, str]] = set()
    for key, route in _walk(ladder):
        position = key[0]
        if position is None:
            continue
        here = ladder.rungs[position].size
        for asked in graph[key]:
            there = ladder.rungs[asked].size
            if there - here <= step or (position, asked) in reported:
                continue
            reported.add((position, asked))
            path = (*route, asked)
            climb = (
                f"the ask for {asked} (size {there}) right after {position} (size {here}) "
                f"climbs {there - here}"
            )
            yield Finding(
                code="max_size_step",
                severity="error",
                location=_edge_location(ladder, key, asked),
                message=(
                    f"{climb}, but rules.max_size_step allows {step}; path: {route_text(path)}"
                ),
                hint=(
                    "put a smaller rung between the two, lower the size of the one asked, "
                    "or relax rules.max_size_step"
                ),
                path=path,
                summary=f"an ask climbs more size than rules.max_size_step allows ({step})",
                detail=f"{climb}; path: {route_text(path)}",
            )


@check("requires_before")
def _requires_before(ladder: Ladder) -> Iterator[Finding]:
    graph = ask_graph(ladder)
    for target, needed in ladder.rules.requires_before.items():
        for required in needed:
            for key, route in _walk(ladder, avoid=required):
                if target not in graph[key]:
                    continue
                path = (*route, target)
                yield Finding(
                    code="requires_before",
                    severity="error",
                    location=f"rules.requires_before.{target}",
                    message=(
                        f"{target} can be asked before any commitment to {required}; "
                        f"path: {route_text(path)}"
                    ),
                    hint=(
                        f"route every way into {target} through {required} "
                        f"(check `next:`, `outcomes:` and `on_decline`/`on_expire` targets), "
                        "or drop the claim"
                    ),
                    path=path,
                )
                break


# ---- the shape of the graph: what can be reached, what can be left ----------------------------


def _reached(ladder: Ladder) -> dict[str, tuple[str, ...]]:
    """Every rung that can be asked, with the shortest route of commitments to its first ask."""
    graph = ask_graph(ladder)
    found: dict[str, tuple[str, ...]] = {}
    for key, route in _walk(ladder):
        for rung in graph[key]:
            found.setdefault(rung, route)
    return found


def _onward(ladder: Ladder, rung_id: str) -> tuple[str, ...]:
    """Where a prospect can go from an ask for ``rung_id``: on a yes, a no, or silence."""
    rung = ladder.rungs[rung_id]
    answers = [rung.on_decline]
    if rung.expires_after is not None:
        answers.append(rung.on_expire)
    return tuple(dict.fromkeys([*rung.targets, *(a for a in answers if a != PARK)]))


def _rung_key(ladder: Ladder, rung_id: str, name: str) -> str:
    """``rungs.<id>.<name>`` when the rung sets it, else ``defaults.<name>`` when that does."""
    own = ladder.definition.rungs[rung_id].model_fields_set
    if name in own or name not in ladder.definition.defaults.model_fields_set:
        return f"rungs.{rung_id}.{name}" if name in own else f"rungs.{rung_id}"
    return f"defaults.{name}"


@check("unreachable_rung")
def _unreachable(ladder: Ladder) -> Iterator[Finding]:
    reached = _reached(ladder)
    for rung_id in ladder.rungs:
        if rung_id in reached:
            continue
        why = (
            "neither `start`, nor any `next:`, `outcomes:`, `on_decline` or `on_expire` that "
            "can be reached leads to it"
        )
        yield Finding(
            code="unreachable_rung",
            severity="warning",
            location=f"rungs.{rung_id}",
            message=f"no prospect can ever be asked for {rung_id}: {why}",
            hint="lead to the rung from the one before it (its `next:`), or delete it",
            summary=f"a rung no prospect can ever be asked for: {why}",
            detail=f"{rung_id} is never asked",
        )


def _components(nodes: list[str], edges: Mapping[str, tuple[str, ...]]) -> list[list[str]]:
    """Strongly connected components (Tarjan), each in declaration order."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []
    order = {n: i for i, n in enumerate(nodes)}

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for nxt in edges[node]:
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in on_stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            component = []
            while True:
                top = stack.pop()
                on_stack.discard(top)
                component.append(top)
                if top == node:
                    break
            found.append(sorted(component, key=order.__getitem__))

    for node in nodes:
        if node not in index:
            visit(node)
    return found


def _trapped(ladder: Ladder) -> tuple[list[list[str]], list[str]]:
    """The loops no end can be reached from (each a list of rungs), and the other rungs that
    can only lead into them."""
    onward = {r: tuple(t for t in _onward(ladder, r) if t in ladder.rungs) for r in ladder.rungs}
    leaves = {r for r in ladder.rungs if any(t in ladder.ends for t in _onward(ladder, r))}
    # walk backwards from the rungs that reach an end directly
    back: dict[str, list[str]] = {r: [] for r in ladder.rungs}
    for rung, targets in onward.items():
        for target in targets:
            back[target].append(rung)
    free, todo = set(leaves), list(leaves)
    while todo:
        for before in back[todo.pop()]:
            if before not in free:
                free.add(before)
                todo.append(before)
    stuck = [r for r in ladder.rungs if r not in free]
    inner = {r: tuple(t for t in onward[r] if t not in free) for r in stuck}
    loops, others = [], []
    for component in _components(stuck, inner):
        members = set(component)
        if all(t in members for r in component for t in inner[r]):
            loops.append(component)
        else:
            others.extend(component)
    order = list(ladder.rungs)
    return loops, sorted(others, key=order.index)


@check("cycle_without_exit")
def _cycle_without_exit(ladder: Ladder) -> Iterator[Finding]:
    for loop in _trapped(ladder)[0]:
        shown = " -> ".join([*loop, loop[0]])
        yield Finding(
            code="cycle_without_exit",
            severity="error",
            location=f"rungs.{loop[0]}",
            message=(
                f"the loop {shown} has no way out: whatever the prospect answers, no end "
                "can be reached from it, so a deal that enters it circles until ended by hand"
            ),
            hint=(
                f"give one of {', '.join(loop)} a way to an end (a `next:`, an outcome, or "
                "`on_decline: lost`)"
            ),
            path=tuple(loop),
        )


@check("dead_end")
def _dead_end(ladder: Ladder) -> Iterator[Finding]:
    loops, others = _trapped(ladder)
    for rung_id in others:
        trap = next((loop for loop in loops if _leads_into(ladder, rung_id, set(loop))), loops[0])
        yield Finding(
            code="dead_end",
            severity="error",
            location=f"rungs.{rung_id}",
            message=(
                f"no end can be reached from {rung_id}: every way on leads into the loop "
                f"{', '.join(trap)}, which has no way out"
            ),
            hint="lead the rung (or the loop after it) to an end, e.g. `next: won`",
            summary="no end can be reached from a rung: every way on leads into a loop with "
            "no way out",
            detail=f"{rung_id} leads only into the loop {', '.join(trap)}",
        )


def _leads_into(ladder: Ladder, start: str, targets: set[str]) -> bool:
    seen, todo = {start}, [start]
    while todo:
        for nxt in _onward(ladder, todo.pop()):
            if nxt in targets:
                return True
            if nxt in ladder.rungs and nxt not in seen:
                seen.add(nxt)
                todo.append(nxt)
    return False


# ---- what happens when the prospect does not say yes ---------------------------------------


@check("no_expiry")
def _no_expiry(ladder: Ladder) -> Iterator[Finding]:
    for rung in ladder.rungs.values():
        if rung.expires_after is not None:
            continue
        why = (
            "if the prospect goes silent it stays open forever, and while it is open nothing "
            "else can be asked of them"
        )
        yield Finding(
            code="no_expiry",
            severity="warning",
            location=_rung_key(ladder, rung.id, "expires_after"),
            message=f"an ask for {rung.id} never expires: {why}",
            hint="give the rung `expires_after:` (say 7d), or set it under `defaults:`",
            summary=f"an ask never expires: {why}",
            detail=f"an ask for {rung.id} never expires",
        )


@check("no_decline_path")
def _no_decline_path(ladder: Ladder) -> Iterator[Finding]:
    graph = ask_graph(ladder)
    reported: set[str] = set()
    for key, route in _walk(ladder):
        offered = graph[key]
        if len(offered) != 1:
            continue
        rung = ladder.rungs[offered[0]]
        if rung.id in reported or rung.on_decline != PARK or rung.max_asks is not None:
            continue
        reported.add(rung.id)
        after = f"after {key[0]}" if key[0] else "at the start"
        why = (
            "a no parks the deal, and nothing caps the asks, so the seller can only ask the "
            "same thing again, without end"
        )
        yield Finding(
            code="no_decline_path",
            severity="warning",
            location=f"rungs.{rung.id}",
            message=(
                f"a no to {rung.id} leads nowhere: {after} it is the only thing to ask, {why}"
            ),
            summary=f"where a rung is the only thing to ask, {why}",
            detail=f"{after}, {rung.id} is the only thing to ask",
            hint=(
                "send a no somewhere with `on_decline:` (a smaller rung, a nurture rung, or "
                "an end such as lost), or cap the asks with `max_asks:`"
            ),
            path=(*route, rung.id),
        )


@check("same_outcomes")
def _same_outcomes(ladder: Ladder) -> Iterator[Finding]:
    for rung in ladder.rungs.values():
        outcomes = rung.outcomes
        if outcomes is None or len(outcomes) < 2 or len(set(outcomes.values())) != 1:
            continue
        target = next(iter(outcomes.values()))
        yield Finding(
            code="same_outcomes",
            severity="warning",
            location=f"rungs.{rung.id}.outcomes",
            message=(
                f"every outcome of {rung.id} ({', '.join(outcomes)}) leads to {target}: "
                "the answer classifies the prospect but changes nothing"
            ),
            hint="lead the outcomes to different rungs, or replace `outcomes:` with `next:`",
            summary="every outcome of a rung leads to the same place: the answer classifies "
            "the prospect but changes nothing",
            detail=f"every outcome of {rung.id} ({', '.join(outcomes)}) leads to {target}",
        )


@check("unused_channel")
def _unused_channel(ladder: Ladder) -> Iterator[Finding]:
    declared = ladder.definition.defaults.channels or []
    used = {c for rung in ladder.rungs.values() for c in rung.channels or ()}
    for i, channel in enumerate(declared):
        if channel in used:
            continue
        yield Finding(
            code="unused_channel",
            severity="warning",
            location=f"defaults.channels[{i}]",
            message=(
                f"channel {channel} is declared in defaults but every rung sets its own "
                "channels without it, so nobody can be asked over it"
            ),
            hint="remove the channel from `defaults.channels`, or allow it on a rung",
            summary="a channel is declared in defaults but every rung sets its own channels "
            "without it, so nobody can be asked over it",
            detail=f"nobody can be asked over {channel}",
        )


# ---- rules.max_asks_without_commitment ---------------------------------------------------------


def _dominators(ladder: Ladder) -> dict[str, set[_Key]]:
    """For each rung, the (position, outcome) keys that can only be reached by committing to it
    first: there, at least one of its ``max_asks`` is used up already."""
    everywhere = {key for key, _ in _walk(ladder)}
    return {
        rung: everywhere - {key for key, _ in _walk(ladder, avoid=rung)} for rung in ladder.rungs
    }


@check("max_asks_without_commitment")
def _max_asks_without_commitment(ladder: Ladder) -> Iterator[Finding]:
    """Bound the asks that can follow one another with no commitment, from every position.

    Between two commitments the position stands still, so only the rungs offered there
    (its ``next``/``outcomes``, closed over ``on_decline``/``on_expire`` redirects) can be
    asked, each at most its ``max_asks`` times over the whole enrollment: the bound is their
    sum, less one for each rung that every route to the position committed to. Asking again
    after a no (park, resume), a redirect, or a withdrawn ask each reach that bound, so it is
    exact when the prospect arrives with those asks unspent; when earlier asks were
    necessarily spent on other rungs it over-estimates, so this check is sound (it never
    misses a broken rule) but may, rarely, report one that a real climb cannot break.
    A rung without ``max_asks`` on the way makes the number of asks unbounded.
    """
    limit = ladder.rules.max_asks_without_commitment
    if limit is None:
        return
    graph = ask_graph(ladder)
    spent = _dominators(ladder)
    for key, route in _walk(ladder):
        offered = graph[key]
        counts: dict[str, int | None] = {}
        for rung_id in offered:
            cap = ladder.rungs[rung_id].max_asks
            counts[rung_id] = None if cap is None else max(cap - (key in spent[rung_id]), 0)
        unbounded = [r for r, n in counts.items() if n is None]
        total = sum(n or 0 for n in counts.values())
        if not unbounded and total <= limit:
            continue
        where = "at the start" if key[0] is None else "after " + " -> ".join(["start", *route])
        where += f" (answer: {key[1]})" if key[1] else ""
        if unbounded:
            message = (
                f"{where}, {', '.join(unbounded)} can be asked again and again without a "
                f"commitment (no max_asks), but rules.max_asks_without_commitment allows {limit}"
            )
            asks = tuple(unbounded[0] for _ in range(limit + 1))
            hint = f"give {', '.join(unbounded)} `max_asks:`, or set it under `defaults:`"
        else:
            detail = ", ".join(f"{r} {n}x" for r, n in counts.items() if n)
            message = (
                f"{where}, up to {total} asks can follow one another without a commitment "
                f"({detail}), but rules.max_asks_without_commitment allows {limit}"
            )
            asks = tuple(r for r, n in counts.items() for _ in range(n or 0))
            hint = (
                "lower `max_asks` of those rungs, send a no to an end instead of another "
                "rung, or raise rules.max_asks_without_commitment"
            )
        yield Finding(
            code="max_asks_without_commitment",
            severity="error",
            location="rules.max_asks_without_commitment",
            message=message,
            hint=hint,
            path=(*route, *asks),
        )
        return  # the shortest offending route is enough


def _routes(ladder: Ladder) -> dict[str, tuple[str, ...]]:
    """The shortest run of commitments reaching each rung (the rung last)."""
    routes: dict[str, tuple[str, ...]] = {}
    for (position, _), route in _walk(ladder):
        if position is not None and position not in routes:
            routes[position] = route
    return routes


@check("probability_decreases")
def _probability_decreases(ladder: Ladder) -> Iterator[Finding]:
    routes = _routes(ladder)
    for rung in ladder.rungs.values():
        here = rung.probability
        if here is None:
            continue
        if rung.outcomes is not None:
            edges = [(f"rungs.{rung.id}.outcomes.{o}", t) for o, t in rung.outcomes.items()]
        else:
            edges = [(f"rungs.{rung.id}.next", t) for t in rung.next]
        for location, target in edges:
            step = ladder.rungs.get(target) or ladder.ends[target]
            # a commitment leading to a lost or neutral end may well lower the chance
            if step.probability is None or step.probability >= here:
                continue
            if target in ladder.ends and ladder.ends[target].result != "won":
                continue
            route = routes.get(rung.id, (rung.id,))
            drop = (
                f"a commitment to {rung.id} (probability {here:g}) leads to {target} "
                f"(probability {step.probability:g})"
            )
            yield Finding(
                code="probability_decreases",
                severity="warning",
                location=location,
                message=(
                    f"{drop}: a prospect who says yes would look less likely to buy; "
                    f"path: {' -> '.join(['start', *route, target])}"
                ),
                hint=(
                    "give the later stage the higher probability (a CRM pipeline climbs "
                    "towards won), or check the two stages are in the right order"
                ),
                path=(*route, target),
                summary="a commitment leads to a lower probability of a win",
                detail=drop,
            )


@check("probability_missing")
def _probability_missing(ladder: Ladder) -> Iterator[Finding]:
    given = [r.id for r in ladder.rungs.values() if r.probability is not None]
    if not given:
        return
    for rung in ladder.rungs.values():
        if rung.probability is not None:
            continue
        yield Finding(
            code="probability_missing",
            severity="warning",
            location=f"rungs.{rung.id}",
            message=(
                f"{rung.id} has no probability while {len(given)} other rung(s) have one "
                f"({', '.join(given[:3])}{', ...' if len(given) > 3 else ''}): a forecast "
                "has no declared chance for deals standing there"
            ),
            hint=f"give {rung.id} `probability:` (0 to 1, say 0.3 for 30%)",
            summary="a rung has no probability while others have one",
            detail=f"{rung.id} has no probability",
        )


# ---- calendars (issue 17) --------------------------------------------------------------------

#: lint looks at four weeks from this Monday for send-window gaps (holidays included)
_CALENDAR_PROBE = datetime(2026, 1, 5, tzinfo=UTC)


@check("window_never_opens")
def _window_never_opens(ladder: Ladder) -> Iterator[Finding]:
    calendar = ladder.calendar
    if calendar is None:
        return
    used = {c for r in ladder.rungs.values() for c in (r.channels or ())}
    any_channel = any(r.channels is None for r in ladder.rungs.values())
    for channel, spans in calendar.windows.items():
        location = f"calendar.send_windows.{channel}"
        try:
            next_open(calendar, _CALENDAR_PROBE, spans)
        except ValueError:
            yield Finding(
                code="window_never_opens",
                severity="warning",
                location=location,
                message=f"the {channel} window never opens: no business day in a year",
                hint="check `working_days:` and `holidays: dates:`",
            )
            continue
        if channel != "default" and not any_channel and channel not in used:
            yield Finding(
                code="window_never_opens",
                severity="warning",
                location=location,
                message=f"the {channel} window never opens for an ask: no rung asks over {channel}",
                hint=f"add {channel} to a rung's `channels:`, or remove this window",
            )


@check("expires_before_window")
def _expires_before_window(ladder: Ladder) -> Iterator[Finding]:
    calendar = ladder.calendar
    if calendar is None or not calendar.windows:
        return
    here = calendar.zone()
    for rung in ladder.rungs.values():
        span = rung.expires_after
        if span is None:
            continue
        channels = rung.channels or tuple(calendar.windows)
        for channel in channels:
            spans = calendar.window(channel)
            worst = _longest_wait(calendar, spans) if spans else None
            if worst is None:
                continue
            closed, opens = worst
            expires = after(closed, span, calendar)
            if expires > opens:
                continue
            shown = f"{closed.astimezone(here):%a %H:%M}"
            yield Finding(
                code="expires_before_window",
                severity="warning",
                location=_rung_key(ladder, rung.id, "expires_after"),
                message=(
                    f"an ask for {rung.id} over {channel} made as the window closes ({shown}) "
                    f"expires ({format_span(span)}) before the window opens again "
                    f"({opens.astimezone(here):%a %H:%M}): it lapses before its message goes out"
                ),
                hint="make `expires_after:` longer than the longest closed stretch (say 3bd)",
            )


def _longest_wait(calendar: Calendar, spans: tuple[Window, ...]) -> tuple[datetime, datetime]:
    """The window closing, in four weeks from ``_CALENDAR_PROBE``, followed by the longest
    wait for the next opening: (when it closed, when it opens again)."""
    here = calendar.zone()
    worst: tuple[datetime, datetime] | None = None
    first = _CALENDAR_PROBE.astimezone(here).date()
    for offset in range(28):
        day = first + timedelta(days=offset)
        if not calendar.is_business_day(day):
            continue
        for _, end in spans:
            wall = datetime.combine(day, datetime.min.time()) + timedelta(seconds=end)
            closed = wall.replace(tzinfo=here).astimezone(UTC)
            try:
                opens = next_open(calendar, closed, spans)
            except ValueError:
                continue
            if worst is None or opens - closed > worst[1] - worst[0]:
                worst = (closed, opens)
    return worst if worst is not None else (_CALENDAR_PROBE, _CALENDAR_PROBE)


@check("throttle_cannot_drain")
def _throttle_cannot_drain(ladder: Ladder) -> Iterator[Finding]:
    rules = ladder.throttles
    calendar = ladder.calendar
    for i, day in enumerate(rules):
        if day.per != "day":
            continue
        for hour in rules:
            covers = hour.channel in (None, day.channel) and hour.sender in (None, day.sender)
            if hour.per != "hour" or not covers:
                continue
            channel = hour.channel or day.channel
            spans = calendar.window(channel) if calendar is not None else ()
            hours = len({h for a, b in spans for h in range(a // 3600, (b - 1) // 3600 + 1)})
            hours = hours or 24
            if hour.most * hours >= day.most:
                continue
            over = f" over {channel}" if channel else ""
            yield Finding(
                code="throttle_cannot_drain",
                severity="warning",
                location=f"throttles[{i}]",
                message=(
                    f"{day.most} first asks a day{over} cannot all go out: {hour.most} an hour "
                    f"over the {hours} hours the window is open lets {hour.most * hours} through, "
                    "so a full day's asks queue into the next day and the queue only grows"
                ),
                hint=f"lower the daily cap to {hour.most * hours}, or raise the hourly one",
            )
