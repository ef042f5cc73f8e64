"""Shortest paths through a ladder: the fewest commands that reach each rung and end.

In the spirit of XState's ``getShortestPaths``: a breadth-first search over the
ladder's graph (where a prospect stands, how they answered, where a "no" sent
them). A rung is reached when the prospect commits to it; an end, when the
enrollment ends there. The search reads the ladder's tables only: it never runs
an enrollment and ignores limits that only bite on repetition (``max_asks``,
cooldowns), which a shortest path never meets. The same graph serves the lint's
static proofs.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Literal

from ._definition import PARK

if TYPE_CHECKING:
    from ._enrollment import Enrollment
    from ._ladder import Ladder

__all__ = ["Path", "Step", "ask_graph", "shortest_paths"]

Action = Literal["ask", "commit", "decline", "expire", "end"]

#: A value given for each required fact when a path commits (the facts' content is not modelled).
EXAMPLE_FACT = "example"


@dataclass(frozen=True, slots=True)
class Step:
    """One command of a path, concrete enough to run on an enrollment."""

    action: Action
    rung: str | None = None
    channel: str | None = None
    outcome: str | None = None
    facts: tuple[str, ...] = ()
    end: str | None = None

    def apply(self, enrollment: Enrollment, *, now: datetime | None = None) -> None:
        """Run this step on ``enrollment`` (an expiry runs at the ask's ``expires_at``)."""
        if self.action == "ask":
            assert self.rung is not None
            enrollment.ask(self.rung, channel=self.channel, now=now)
        elif self.action == "commit":
            facts = dict.fromkeys(self.facts, EXAMPLE_FACT) or None
            enrollment.commit(outcome=self.outcome, facts=facts, now=now)
        elif self.action == "decline":
            enrollment.decline(now=now)
        elif self.action == "expire":
            pending = enrollment.pending
            due = pending.expires_at if pending is not None else None
            enrollment.expire(now=due if due is not None and (now is None or due > now) else now)
        else:
            assert self.end is not None
            enrollment.end(self.end, now=now)

    def __str__(self) -> str:
        if self.action == "ask":
            return f"ask {self.rung}" + (f" by {self.channel}" if self.channel else "")
        if self.action == "commit":
            parts = [f"outcome={self.outcome}"] if self.outcome else []
            if self.facts:
                parts.append("facts: " + ", ".join(self.facts))
            return "commit" + (f" ({'; '.join(parts)})" if parts else "")
        if self.action == "end":
            return f"end {self.end}"
        return self.action


@dataclass(frozen=True, slots=True)
class Path:
    """The shortest command sequence that reaches ``target`` (a rung or an end)."""

    target: str
    kind: Literal["rung", "end"]
    steps: tuple[Step, ...] = field(default=())

    def __len__(self) -> int:
        return len(self.steps)

    def __iter__(self) -> Iterator[Step]:
        return iter(self.steps)

    def rungs(self) -> tuple[str, ...]:
        """The rungs committed to along the path, in order."""
        return tuple(s.rung for s in self.steps if s.action == "commit" and s.rung)

    def __str__(self) -> str:
        return f"{self.target}: " + " -> ".join(str(s) for s in self.steps)


# A node of the search: where the prospect stands (position, its outcome) and the rung a
# "no" redirected them to, if any. Parking is never on a shortest path (resume undoes it).
_Node = tuple[str | None, str | None, str | None]


def _moves(ladder: Ladder, node: _Node) -> Iterator[tuple[tuple[Step, ...], _Node | str]]:
    """Each two-command move from ``node``: the steps and the next node (or an end id)."""
    position, outcome, redirect = node
    allowed = (redirect,) if redirect is not None else ladder.next_rungs(position, outcome)
    for rung_id in allowed:
        rung = ladder.rungs[rung_id]
        channel = rung.channels[0] if rung.channels else None
        ask = Step("ask", rung_id, channel)
        facts = tuple(sorted(rung.requires))
        routes = list(rung.outcomes) if rung.outcomes is not None else [None]
        for choice in routes:
            commit = Step("commit", rung_id, outcome=choice, facts=facts)
            end = ladder.finishes(rung_id, choice)
            yield (ask, commit), end if end is not None else (rung_id, choice, None)
        for action, then in (("decline", rung.on_decline), ("expire", rung.on_expire)):
            if then == PARK or (action == "expire" and rung.expires_after is None):
                continue
            answer = Step(action, rung_id)  # type: ignore[arg-type]
            yield (ask, answer), then if then in ladder.ends else (position, outcome, then)


def shortest_paths(ladder: Ladder) -> dict[str, Path]:
    """The shortest path to every reachable rung and end, rungs first, in declaration order.

    An end reachable only by hand (``end()``) gets the one-step path ``end <id>``.
    """
    start: _Node = (None, None, None)
    came: dict[_Node, tuple[_Node, tuple[Step, ...]] | None] = {start: None}
    found: dict[str, tuple[_Node, tuple[Step, ...]]] = {}
    queue: deque[_Node] = deque([start])
    while queue:
        node = queue.popleft()
        for steps, nxt in _moves(ladder, node):
            if isinstance(nxt, str):
                found.setdefault(nxt, (node, steps))
                continue
            if nxt not in came:
                came[nxt] = (node, steps)
                if nxt[0] is not None and nxt[2] is None:
                    found.setdefault(nxt[0], (node, steps))
                queue.append(nxt)

    def route(node: _Node) -> tuple[Step, ...]:
        steps: list[Step] = []
        link = came[node]
        while link is not None:
            node, move = link
            steps[:0] = move
            link = came[node]
        return tuple(steps)

    paths: dict[str, Path] = {}
    for rung_id in ladder.rungs:
        if rung_id in found:
            node, steps = found[rung_id]
            paths[rung_id] = Path(rung_id, "rung", route(node) + steps)
    for end_id in ladder.ends:
        if end_id in found:
            node, steps = found[end_id]
            paths[end_id] = Path(end_id, "end", route(node) + steps)
        else:
            paths[end_id] = Path(end_id, "end", (Step("end", end=end_id),))
    return paths


def ask_graph(ladder: Ladder) -> Mapping[tuple[str | None, str | None], tuple[str, ...]]:
    """Every rung that can be asked at each (position, outcome), "no" redirects included.

    This over-approximates what guards allow (it ignores ``max_asks`` and cooldowns), which
    is what a proof over every path needs.
    """
    graph: dict[tuple[str | None, str | None], tuple[str, ...]] = {}
    keys: list[tuple[str | None, str | None]] = [(None, None)]
    for rung in ladder.rungs.values():
        routes = list(rung.outcomes) if rung.outcomes is not None else [None]
        keys.extend((rung.id, o) for o in routes)
    for key in keys:
        seen = dict.fromkeys(ladder.next_rungs(*key))
        todo = list(seen)
        while todo:
            rung = ladder.rungs[todo.pop()]
            for then in (rung.on_decline, rung.on_expire):
                if then in ladder.rungs and then not in seen:
                    seen[then] = None
                    todo.append(then)
        graph[key] = tuple(seen)
    return graph
