"""The one module that imports ``transitions``: a ladder's rules as a static machine.

``ladder.machine`` is built here on first use, through ``transitions``' public
constructor: the states of the ladder's tables (``<position>:ready``,
``<position>:asking:<rung>``, ``<position>:parked`` and the ends) and one
transition per ``(trigger, source, destination)`` of ``Tables.transitions``. One
machine serves every enrollment; enrollments are never attached to it, only passed
to ``machine.events[name].trigger(model, ...)``.

Every transition's condition runs the ladder's rules through the enrollment it is
fired on (``preview``, then ``execute``), so firing a trigger directly cannot
bypass a rule: a refused command raises its ``Refused`` and changes nothing (the
machine is not queued, which would swallow it). Trigger names are the only place
commands are spelled as strings; ``command_for`` maps them to command values.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

from transitions import EventData, Machine

from .commands import AskFor, Command, Commit, Decline, End, Expire, FollowUp, Resume, Withdraw

if TYPE_CHECKING:
    from ._ladder import Ladder

__all__ = ["build_machine", "command_for"]

_PLAIN: dict[str, type[Command]] = {
    "follow_up": FollowUp,
    "commit": Commit,
    "decline": Decline,
    "expire": Expire,
    "withdraw": Withdraw,
    "resume": Resume,
}


def command_for(trigger: str, kwargs: Mapping[str, Any]) -> Command:
    """The command a machine trigger stands for (``"ask:intro_call"`` with ``channel=``
    is ``AskFor("intro_call", channel=...)``); ``now=`` is not part of it."""
    args = {k: v for k, v in kwargs.items() if k != "now"}
    kind, _, arg = trigger.partition(":")
    if kind == "ask":
        return AskFor(arg, **args)
    if kind == "end":
        return End(arg, **args)
    return _PLAIN[kind](**args)


def _condition(trigger: str) -> Callable[[EventData], bool]:
    """The condition of every transition of ``trigger``: the rules say where the command
    leads; only the transition to that state runs it."""

    def condition(event: EventData) -> bool:
        model: Any = event.model
        command = command_for(trigger, event.kwargs)
        now = event.kwargs.get("now")
        preview = model.preview(command, now=now)  # raises the refusal it meets
        if event.transition is None or preview.state != event.transition.dest:
            return False
        model.execute(command, now=now)  # the model's state is now the destination
        return True

    condition.__name__ = f"rules[{trigger}]"
    return condition


def build_machine(ladder: Ladder) -> Machine:
    """A static ``transitions`` machine for ``ladder`` (no model attached)."""
    t = ladder.tables
    states = [*t.ready.values(), *t.parked.values(), *t.asking.values(), *ladder.ends]
    conditions: dict[str, Callable[[EventData], bool]] = {}
    transitions = []
    for (trigger, source), dests in t.transitions.items():
        condition = conditions.get(trigger)
        if condition is None:
            condition = conditions[trigger] = _condition(trigger)
        for dest in dests:
            transitions.append(
                {"trigger": trigger, "source": source, "dest": dest, "conditions": [condition]}
            )
    return Machine(
        model=None,
        states=states,
        transitions=transitions,
        initial=None,
        auto_transitions=False,
        send_event=True,
        queued=False,
        name=f"ladder {ladder.name}",
    )
