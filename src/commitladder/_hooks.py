"""Hooks that run inside the store's transaction: the host's own rows move with the ladder.

A listener hears an event after it is committed; a hook runs before: inside the
same transaction as the command's write, with the events it recorded and the rung
and CRM stage it moved the deal from and to, so a host can update its own row (a
``Deal.stage``) and both commit, or both roll back when either fails. A hook must
never write through another connection than the store's, or the promise is gone.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ._events import Event
    from ._ladder import Ladder
    from ._state import State
    from .store import Store

__all__ = ["Hook", "StageChange", "stage_change"]


@dataclass(frozen=True, slots=True)
class StageChange:
    """What one command (or timer) wrote, as a hook sees it, inside the store's transaction.

    ``rung_before``/``rung_after`` are the deal's position (the last rung committed to);
    ``stage_before``/``stage_after`` the CRM stage of that rung, or of the end reached
    (``None`` where the ladder declares none); ``end`` is the end reached by this
    command, if any. ``store`` is the store in the transaction: on a ``SqlStore``,
    ``store.connection`` is the connection to write the host's rows with.
    """

    enrollment_id: str
    prospect: str
    ladder: str
    version: int
    events: tuple[Event, ...]
    rung_before: str | None
    rung_after: str | None
    stage_before: str | None
    stage_after: str | None
    status_before: str | None
    status_after: str
    end: str | None
    store: Store

    @property
    def moved(self) -> bool:
        """True when the CRM stage changed (the host's stage field needs an update)."""
        return self.stage_before != self.stage_after


#: A callable run with each ``StageChange`` inside the store transaction; raising rolls
#: the command back (``Tracker(hooks=[...])``, ``tracker.add_hook``).
Hook = Callable[[StageChange], object]


def _stage(ladder: Ladder, state: State | None) -> str | None:
    if state is None:
        return None
    if state.end is not None:
        return ladder.ends[state.end].stage
    if state.position is not None:
        return ladder.rungs[state.position].stage
    return None


def stage_change(
    ladder: Ladder,
    store: Store,
    before: State | None,
    after: State,
    events: Sequence[Event],
) -> StageChange:
    """The ``StageChange`` of one write, from the states before and after it."""
    return StageChange(
        enrollment_id=after.ident.id,
        prospect=after.ident.prospect,
        ladder=ladder.name,
        version=ladder.version,
        events=tuple(events),
        rung_before=before.position if before is not None else None,
        rung_after=after.position,
        stage_before=_stage(ladder, before),
        stage_after=_stage(ladder, after),
        status_before=before.status if before is not None else None,
        status_after=after.status,
        end=after.end if before is None or before.end != after.end else None,
        store=store,
    )
