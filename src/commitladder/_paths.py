"""Shortest paths through a ladder: the fewest commands that reach each rung and end.

In the spirit of XState's ``getShortestPaths``: a breadth-first search over the
ladder's graph (where a prospect stands, how they answered, where a "no" sent
them). A rung is reached when the prospect commits to it; an end, when the
enrollment ends there. The steps are commands (``commitladder.commands``), so a
path runs on an enrollment as it is. The search reads the ladder's tables only:
it never runs an enrollment and ignores limits that only bite on repetition
(``max_asks``, cooldowns), which a shortest path never meets. The same graph
serves the lint's static proofs.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Literal

from ._values import PARK
from .commands import AskFor, Command, Commit, Decline, End, Expire

if TYPE_CHECKING:
    from ._enrollment import Enrollment
    from ._events import Event
    from ._ladder import Ladder

__all__ = ["EXAMPLE_FACT", "Path", "ask_graph", "shortest_paths"]

#: A value given for each required fact when a path commits (the facts' content is not modelled).
EXAMPLE_FACT = "example"


@dataclass(frozen=True, slots=True)
class Path:
    """The shortest command sequence that reaches ``target`` (a rung or an end)."""

    target: str
    kind: Literal["rung", "end"]
    steps: tuple[Command, ...] = field(default=())

    def __len__(self) -> int:
        return len(self.steps)

    def __iter__(self) -> Iterator[Command]:
        return iter(self.steps)

    def rungs(self) -> tuple[str, ...]:
        """The rungs committed to along the path, in order."""
        found: list[str] = []
        asked: str | None = None
        for step in self.steps:
            if isinstance(step, AskFor):
                asked = step.rung
            elif isinstance(step, Commit) and asked is not None:
                found.append(asked)
        return tuple(found)

    def run(self, enrollment: Enrollment, *, now: datetime | None = None) -> list[Event]:
        """Run the steps on ``enrollment`` at ``now`` (an expiry at the ask's ``expires_at``,
        when that is later); returns the events they recorded."""
        events: list[Event] = []
        for step in self.steps:
            at = now
            pending = enrollment.pending
            if isinstance(step, Expire) and pending is not None and pending.expires_at:
                at = pending.expires_at if now is None or pending.expires_at > now else now
            events.extend(enrollment.execute(step, now=at))
            if at is not None and now is not None:
                now = max(now, at)
        return events

    def __str__(self) -> str:
        return f"{self.target}: " + " -> ".join(str(s) for s in self.steps)


# A node of the search: where the prospect stands (position, its outcome) and the rung a
# "no" redirected them to, if any. Parking is never on a shortest path (resume undoes it).
_Node = tuple[str | None, str | None, str | None]
# A move: two commands, the node (or end) they lead to, and the rung a commit reached
_Move = tuple[tuple[Command, ...], "_Node | str", str | None]


def _moves(ladder: Ladder, node: _Node) -> Iterator[_Move]:
    """Each two-command move from ``node``: the steps, the next node (or an end id), and
    the rung committed to on the way (if any)."""
    position, outcome, redirect = node
    allowed = (redirect,) if redirect is not None else ladder.next_rungs(position, outcome)
    for rung_id in allowed:
        rung = ladder.rungs[rung_id]
        channel = rung.channels[0] if rung.channels else None
        ask = AskFor(rung_id, channel)
        facts = dict.fromkeys(sorted(rung.requires), EXAMPLE_FACT) or None
        routes = list(rung.outcomes) if rung.outcomes is not None else [None]
        for choice in routes:
            commit = Commit(outcome=choice, facts=facts)
            end = ladder.finishes(rung_id, choice)
            yield (ask, commit), end if end is not None else (rung_id, choice, None), rung_id
        for answer, then in ((Decline(), rung.on_decline), (Expire(), rung.on_expire)):
            if then == PARK or (isinstance(answer, Expire) and rung.expires_after is None):
                continue
            nxt = then if then in ladder.ends else (position, outcome, then)
            yield (ask, answer), nxt, None


def shortest_paths(ladder: Ladder) -> dict[str, Path]:
    """The shortest path to every reachable rung and end, rungs first, in declaration order.

    A rung whose commitment ends the enrollment at once is reached too (its path ends
    there). An end reachable only by hand (``end()``) gets the one-step path ``end <id>``.
    """
    start: _Node = (None, None, None)
    came: dict[_Node, tuple[_Node, tuple[Command, ...]] | None] = {start: None}
    found: dict[str, tuple[_Node, tuple[Command, ...]]] = {}
    queue: deque[_Node] = deque([start])
    while queue:
        node = queue.popleft()
        for steps, nxt, committed in _moves(ladder, node):
            if committed is not None:
                found.setdefault(committed, (node, steps))
            if isinstance(nxt, str):
                found.setdefault(nxt, (node, steps))
                continue
            if nxt not in came:
                came[nxt] = (node, steps)
                queue.append(nxt)

    def route(node: _Node) -> tuple[Command, ...]:
        steps: list[Command] = []
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
            paths[end_id] = Path(end_id, "end", (End(end_id),))
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
