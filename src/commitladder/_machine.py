"""The one module that imports ``transitions``: compiles a ladder into a static machine.

States read ``<position>:ready``, ``<position>:asking:<rung>``, ``<position>:parked``
(``(start)`` before the first commitment) and the ends. One machine serves every
enrollment of the ladder; enrollments are never attached to it, only passed to
``machine.events[name].trigger(model, ...)``.

Every transition carries the ladder's guard as its condition, so firing triggers on
``ladder.machine`` directly cannot bypass a rule. A guard that refuses raises the
``Refused`` it met (``queued=True`` would swallow it, so the machine is not queued).
The state change is the last thing that happens: the guard computes the whole new
snapshot first, and setting the model's state swaps it in with one assignment.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from transitions import EventData, Machine

if TYPE_CHECKING:
    from ._ladder import Ladder

__all__ = ["build_machine", "routes"]

Guard = Callable[[EventData], bool]


def _guard(trigger: str) -> Guard:
    """The condition of every transition of ``trigger``: stage the command, match the dest."""

    def condition(event: EventData) -> bool:
        model: Any = event.model
        staged = model._stage(event, trigger, event.kwargs)
        return bool(staged == event.transition.dest)  # type: ignore[union-attr]

    condition.__name__ = f"guard[{trigger}]"
    return condition


def build_machine(ladder: Ladder) -> Machine:
    rungs, ends = ladder.rungs, ladder.ends
    states = [*ladder._ready.values(), *ladder._parked.values(), *ladder._asking.values(), *ends]
    machine = Machine(
        model=None,
        states=states,
        initial=None,
        auto_transitions=False,
        send_event=True,
        queued=False,
        name=f"ladder {ladder.name}",
    )
    # trigger -> dest -> sources, so each (trigger, dest) is one add_transition call
    table: dict[str, dict[str, list[str]]] = defaultdict(lambda: defaultdict(list))

    def commit_dests(rung: str) -> list[str]:
        dests = [ladder._ready[rung]]
        rung_def = rungs[rung]
        routes = list(rung_def.outcomes) if rung_def.outcomes is not None else [None]
        for outcome in routes:
            end = ladder.finishes(rung, outcome)
            if end is not None and end not in dests:
                dests.append(end)
        return dests

    def answer_dest(position: str | None, target: str) -> str:
        if target in ends:
            return target
        if target in rungs:
            return ladder._ready[position]
        return ladder._parked[position]

    for (position, rung), asking in ladder._asking.items():
        ready, parked = ladder._ready[position], ladder._parked[position]
        table[f"ask:{rung}"][asking].append(ready)
        table["follow_up"][asking].append(asking)
        table["withdraw"][ready].append(asking)
        table["decline"][answer_dest(position, rungs[rung].on_decline)].append(asking)
        table["expire"][answer_dest(position, rungs[rung].on_expire)].append(asking)
        for dest in commit_dests(rung):
            # the open ask, or a late yes to an expired one (from ready or parked)
            table["commit"][dest].extend((asking, ready, parked))
    for position in ladder._candidates:
        table["resume"][ladder._ready[position]].append(ladder._parked[position])
    live = [s for s in states if s not in ends]
    for end in ends:
        table[f"end:{end}"][end].extend(live)

    # Thousands of transitions on a big ladder: build them the way add_transition does,
    # without its per-call argument normalisation (the states are known to exist).
    for trigger, by_dest in table.items():
        guard = _guard(trigger)
        event = machine.events[trigger] = machine._create_event(trigger, machine)
        for dest, sources in by_dest.items():
            for source in dict.fromkeys(sources):
                event.add_transition(machine._create_transition(source, dest, [guard]))
    return machine


def routes(machine: Machine) -> dict[tuple[str, str], frozenset[str]]:
    """``(trigger, source) -> destinations``, read off the machine's own transitions."""
    return {
        (name, source): frozenset(t.dest for t in transitions if t.dest is not None)
        for name, event in machine.events.items()
        for source, transitions in event.transitions.items()
    }
