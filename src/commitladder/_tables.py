"""A ladder's compiled tables: what the rules look up, and the machine's transitions.

Built once per ladder from its resolved rungs and ends, then shared by every
enrollment on it. ``transitions`` lists every (trigger, source, destination) of the
state machine ``ladder.machine`` exposes; the rules never fire through it, and a
test checks that every state change they make is one of its transitions. Nothing
here reads an enrollment.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from ._calendar import Span
from ._values import PARK, STATUSES

__all__ = ["End", "Rung", "Tables", "compile_tables", "symbols"]

Route = tuple[str | None, str | None]  # (position, outcome)


@dataclass(frozen=True, slots=True)
class Rung:
    """A rung with every setting resolved (its own, else the ladder's defaults)."""

    id: str
    kind: str
    size: int
    title: str | None
    ask: str | None
    channels: tuple[str, ...] | None
    expires_after: Span | None  # a timedelta, or BusinessDays on the ladder's calendar
    follow_ups_max: int
    follow_ups_every: Span | None
    cooldown: Span | None
    next_ask_within: Span | None
    max_asks: int | None
    next: tuple[str, ...]
    outcomes: Mapping[str, str] | None
    requires: frozenset[str]
    on_decline: str
    on_expire: str
    #: the CRM deal stage this rung stands for, its win probability and the host's own data
    stage: str | None = None
    probability: float | None = None
    meta: Mapping[str, object] | None = None

    @property
    def branches(self) -> bool:
        """True when the answer (an outcome) picks where the ladder goes next."""
        return self.outcomes is not None

    @property
    def targets(self) -> tuple[str, ...]:
        """Every rung or end a commitment here can lead to."""
        if self.outcomes is not None:
            return tuple(dict.fromkeys(self.outcomes.values()))
        return self.next


@dataclass(frozen=True, slots=True)
class End:
    """An end of the ladder: its id, its ``result`` (``won``, ``lost`` or ``neutral``), an
    optional title, and where it sits in a CRM's pipeline (``stage``, ``probability``,
    ``meta``)."""

    id: str
    result: str
    title: str | None
    stage: str | None = None
    probability: float | None = None
    meta: Mapping[str, object] | None = None


@dataclass(frozen=True, slots=True, eq=False)
class Tables:
    """Lookup tables of one ladder (read them; never change them).

    - ``after[(position, outcome)]``: the rungs the ladder offers next;
    - ``finish[(rung, outcome)]``: the end a commitment reaches at once, if any;
    - ``candidates[position]``: every rung that could ever be asked from there;
    - ``ready``/``parked``/``asking``: machine state names by position (and rung);
    - ``symbols``: the names events hold, and each one's index (see ``_log``);
    - ``transitions``: ``(trigger, source) -> destinations`` of the machine;
    - ``states``: every state name.
    """

    after: Mapping[Route, tuple[str, ...]]
    finish: Mapping[tuple[str, str | None], str | None]
    candidates: Mapping[str | None, tuple[str, ...]]
    ready: Mapping[str | None, str]
    parked: Mapping[str | None, str]
    asking: Mapping[tuple[str | None, str], str]
    symbols: tuple[tuple[str, ...], Mapping[str, int]]
    transitions: Mapping[tuple[str, str], tuple[str, ...]]
    #: every machine state name: the ready, parked and asking states, and the ends
    states: frozenset[str]
    #: every name a snapshot holds (states, statuses, rungs, ends, channels, outcomes, the
    #: ladder's name), each mapped to itself: a restored snapshot shares these strings
    names: Mapping[str, str]


def symbols(names: Iterable[str]) -> tuple[tuple[str, ...], dict[str, int]]:
    """A symbol table: the names, and each name's index."""
    table = tuple(dict.fromkeys(names))
    return table, {name: i for i, name in enumerate(table)}


def compile_tables(
    start: tuple[str, ...],
    rungs: Mapping[str, Rung],
    ends: Mapping[str, End],
    ladder_name: str = "",
) -> Tables:
    """The tables of a ladder whose rungs and ends are resolved and validated."""
    after: dict[Route, tuple[str, ...]] = {(None, None): start}
    finish: dict[tuple[str, str | None], str | None] = {}
    for rung in rungs.values():
        routes: Iterable[tuple[str | None, tuple[str, ...]]]
        if rung.outcomes is not None:
            routes = [(o, (t,)) for o, t in rung.outcomes.items()]
        else:
            routes = [(None, rung.next)]
        for outcome, targets in routes:
            nxt = tuple(t for t in targets if t in rungs)
            after[(rung.id, outcome)] = nxt
            reached = [t for t in targets if t in ends]
            finish[(rung.id, outcome)] = reached[0] if not nxt and len(reached) == 1 else None
    candidates = _candidates(start, rungs, after)
    ready: dict[str | None, str] = {}
    parked: dict[str | None, str] = {}
    asking: dict[tuple[str | None, str], str] = {}
    for position, reachable in candidates.items():
        label = "(start)" if position is None else position
        ready[position] = f"{label}:ready"
        parked[position] = f"{label}:parked"
        for rung_id in reachable:
            asking[(position, rung_id)] = f"{label}:asking:{rung_id}"
    names = symbols(
        (
            PARK,
            "declined",
            "expired",
            *rungs,
            *ends,
            *(end.result for end in ends.values()),
            *(c for rung in rungs.values() for c in rung.channels or ()),
            *(o for rung in rungs.values() for o in rung.outcomes or ()),
        )
    )
    states = frozenset((*ready.values(), *parked.values(), *asking.values(), *ends))
    known = {n: n for n in (*names[0], *states, *STATUSES, ladder_name)}
    tables = Tables(after, finish, candidates, ready, parked, asking, names, {}, states, known)
    transitions = _transitions(tables, rungs, ends)
    return Tables(
        after, finish, candidates, ready, parked, asking, names, transitions, states, known
    )


def _candidates(
    start: tuple[str, ...], rungs: Mapping[str, Rung], after: Mapping[Route, tuple[str, ...]]
) -> dict[str | None, tuple[str, ...]]:
    """Every rung that could ever be asked from each position."""
    forward: dict[str | None, list[str]] = {None: list(start)}
    for (position, _), nxt in after.items():
        if position is not None:
            forward.setdefault(position, []).extend(nxt)
    found_at: dict[str | None, tuple[str, ...]] = {}
    for position in (None, *rungs):
        # a redirect (on_decline/on_expire naming a rung) happens at the position the
        # declined rung was asked from, and may chain: close over it
        found = dict.fromkeys(forward.get(position, ()))
        todo = list(found)
        while todo:
            rung = rungs[todo.pop()]
            for target in (rung.on_decline, rung.on_expire):
                if target in rungs and target not in found:
                    found[target] = None
                    todo.append(target)
        found_at[position] = tuple(found)
    return found_at


def _transitions(
    t: Tables, rungs: Mapping[str, Rung], ends: Mapping[str, End]
) -> dict[tuple[str, str], tuple[str, ...]]:
    """``(trigger, source) -> destinations``: every state change a command can make."""
    table: dict[tuple[str, str], dict[str, None]] = {}

    def add(trigger: str, source: str, dest: str) -> None:
        table.setdefault((trigger, source), {})[dest] = None

    def answered(position: str | None, target: str) -> str:
        if target in ends:
            return target
        if target in rungs:
            return t.ready[position]
        return t.parked[position]

    for (position, rung_id), asking in t.asking.items():
        rung = rungs[rung_id]
        ready, parked = t.ready[position], t.parked[position]
        add(f"ask:{rung_id}", ready, asking)
        add("follow_up", asking, asking)
        add("withdraw", asking, ready)
        add("decline", asking, answered(position, rung.on_decline))
        add("expire", asking, answered(position, rung.on_expire))
        dests = [t.ready[rung_id]]
        for outcome in list(rung.outcomes) if rung.outcomes is not None else [None]:
            end = t.finish.get((rung_id, outcome))
            if end is not None:
                dests.append(end)
        for dest in dests:
            # the open ask, or a late yes to an expired one (from ready or parked)
            for source in (asking, ready, parked):
                add("commit", source, dest)
    for position in t.candidates:
        add("resume", t.parked[position], t.ready[position])
    live = [*t.ready.values(), *t.parked.values(), *t.asking.values()]
    for end in ends:
        for source in live:
            add(f"end:{end}", source, end)
    return {key: tuple(dests) for key, dests in table.items()}
