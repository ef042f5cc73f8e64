"""Lint: findings about a valid ladder, each with a stable code, a location and a fix hint.

A ladder that compiles can still contradict its own ``rules:``. The checks here
prove or refute those claims statically, over every path of the ladder's graph
(see ``_paths.ask_graph``), and name the shortest offending path. A check is a
function registered with ``@check``; later checks plug in the same way. Lint
never raises on a valid ladder and never runs an enrollment.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

from ._paths import ask_graph

if TYPE_CHECKING:
    from ._ladder import Ladder

__all__ = ["CHECKS", "Finding", "Severity", "check", "lint"]

Severity = Literal["error", "warning", "info"]
_Key = tuple[str | None, str | None]


@dataclass(frozen=True, slots=True)
class Finding:
    """One thing lint found: ``code`` is stable (for programs and ignores), the rest is for people.

    ``location`` is the dotted field path the finding is about (``rules.max_size_step``);
    ``path`` is the offending route, as the rungs committed to in order, then the rung asked.
    """

    code: str
    severity: Severity
    location: str
    message: str
    hint: str
    path: tuple[str, ...] = field(default=())

    def __str__(self) -> str:
        return f"{self.location}: {self.severity} [{self.code}] {self.message} (fix: {self.hint})"

    def to_dict(self) -> dict[str, Any]:
        return {
            "code": self.code,
            "severity": self.severity,
            "location": self.location,
            "message": self.message,
            "hint": self.hint,
            "path": list(self.path),
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
            yield Finding(
                code="max_size_step",
                severity="error",
                location=_edge_location(ladder, key, asked),
                message=(
                    f"the ask for {asked} (size {there}) right after {position} (size {here}) "
                    f"climbs {there - here}, but rules.max_size_step allows {step}; "
                    f"path: {route_text(path)}"
                ),
                hint=(
                    f"put a smaller rung between {position} and {asked}, lower {asked}'s size, "
                    "or relax rules.max_size_step"
                ),
                path=path,
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
