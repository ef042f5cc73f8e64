"""The fold of a ``Migrated`` event: an enrollment's state, renamed onto a new version.

Every name a state holds (the position, the open or expired ask's rung, the redirect,
cooldowns, the asks log, the end) goes through the event's mapping; an ask the event
withdrew is closed and its mapped rung becomes the next thing to ask; a position
mapped to an end ends the enrollment there. It trusts its event, as the fold does:
``plan`` (in ``_migrate``) checked beforehand that the result fits the new ladder.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ._events import Migrated
from ._state import State
from ._values import Ask

if TYPE_CHECKING:
    from ._ladder import Ladder

__all__ = ["remap"]


def remap(ladder: Ladder, s: State, event: Migrated) -> None:
    """Fold ``event`` into ``s`` (a copy no one else holds), on ``ladder``, the new version."""
    renamed, removed = event.renamed, event.removed

    def name(rung: str) -> str:
        return renamed.get(rung) or removed.get(rung) or rung

    ident = s.ident
    s.ident = ident._replace(version=event.to_version)  # the zone and tenant stay
    if event.withdrawn is not None and s.pending is not None:
        target = name(s.pending.rung)
        s.pending = None
        s.since = event.at
        s.status = "ready"
        s.redirect = target if target in ladder.rungs else None
        if target in ladder.ends:  # the asked rung was removed into an end: it ends there
            s.status, s.end = "ended", target
    elif s.redirect is not None:
        target = name(s.redirect)
        s.redirect = target if target in ladder.rungs else None
    if s.pending is not None:
        s.pending = _renamed(s.pending, name(s.pending.rung))
    if s.expired is not None:
        rung = name(s.expired.rung)
        s.expired = _renamed(s.expired, rung) if rung in ladder.rungs else None
    s.cooldowns = {name(r): t for r, t in s.cooldowns.items() if name(r) in ladder.rungs}
    s.asked = tuple(name(v) if isinstance(v, str) else v for v in s.asked)
    earlier: dict[str, int] = {}
    for rung, count in s.earlier.items():
        earlier[name(rung)] = earlier.get(name(rung), 0) + count
    s.earlier = earlier
    if s.end is not None:
        s.end = event.ends.get(s.end, s.end)
    position = name(s.position) if s.position is not None else None
    if position is not None and position in ladder.ends:  # the rung was removed into an end
        s.status, s.end, s.pending, s.redirect = "ended", position, None, None
        s.needs = s.resume_at = None
        s.since = event.at
        position = None
    s.position = position
    if position is None or ladder.rungs[position].outcomes is None:
        s.outcome = None if position is not None else s.outcome
    elif s.outcome not in (ladder.rungs[position].outcomes or {}):
        s.outcome = None
    tables = ladder.tables
    if s.status == "ended":
        s.state = s.end or ""
    elif s.status == "parked":
        s.state = tables.parked[position]
    elif s.pending is not None:
        s.state = tables.asking[(position, s.pending.rung)]
    else:
        s.state = tables.ready[position]


def _renamed(ask: Ask, rung: str) -> Ask:
    return ask._replace(rung=rung)
