"""A prospect's life on the ladders: runs and re-entry, re-keying, and erasure.

A re-enrollment is a new enrollment: run 1 has the id ``ladder/prospect``, run ``n``
``ladder/prospect~n``. The ladder's ``reentry`` policy decides whether enrolling a
prospect whose run ended starts run ``n + 1``. A rekey must not clash with what the new
prospect holds; an erased enrollment keeps only what is anonymous. The tracker applies
what this module decides: nothing here writes to a store.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from ._calendar import after
from ._errors import ReentryRefused
from .store import Store, StoredEnrollment

if TYPE_CHECKING:
    from ._ladder import Ladder

__all__ = [
    "BulkReport",
    "ForgetReport",
    "anonymous_events",
    "anonymous_id",
    "anonymous_snapshot",
    "current_runs",
    "next_run",
    "rekey_conflicts",
    "run_number",
]


def run_number(stored: StoredEnrollment) -> int:
    """The run ``stored`` is of its prospect on its ladder (1 for an id given by hand)."""
    base = f"{stored.ladder}/{stored.prospect}~"
    own = stored.id.partition("/")[2] if stored.id.startswith("@") else stored.id  # a tenant's
    if own.startswith(base):
        number = own[len(base) :].partition("~")[0]
        if number.isdigit():
            return int(number)
    return 1


def _newest(runs: Iterable[StoredEnrollment]) -> StoredEnrollment:
    return max(runs, key=lambda s: (run_number(s), s.id))


def current_runs(found: Sequence[StoredEnrollment]) -> list[StoredEnrollment]:
    """Of a prospect's enrollments, the one commands address on each ladder: its newest
    live run, else its newest run."""
    by_ladder: dict[str, list[StoredEnrollment]] = {}
    for stored in found:
        by_ladder.setdefault(stored.ladder, []).append(stored)
    current = []
    for runs in by_ladder.values():
        live = [s for s in runs if s.status != "ended"]
        current.append(_newest(live or runs))
    return current


def next_run(
    store: Store,
    ladder: Ladder,
    prospect: str,
    first: StoredEnrollment,
    at: datetime,
    *,
    base: str | None = None,
    mine: Callable[[StoredEnrollment], bool] = lambda stored: True,
) -> StoredEnrollment | str:
    """What enrolling ``prospect`` on ``ladder`` again does, given their run 1 (``first``):
    the live run to return, or the id of a new run; ``ReentryRefused`` when the policy
    keeps them out."""
    runs = [s for s in store.find(prospect) if s.ladder == ladder.name and mine(s)] or [first]
    live = [s for s in runs if s.status != "ended"]
    reentry = ladder.reentry
    if live and reentry.policy != "any_time":
        return _newest(live)
    last = _newest(runs)
    if reentry.policy == "never":
        raise ReentryRefused(
            f"{prospect} already climbed {ladder.name} (run {run_number(last)}, {last.id}, "
            f"ended) and the ladder does not take a prospect again (reentry: never); "
            "declare reentry: after_end on the ladder to let ended prospects climb again",
            enrollment_id=last.id,
            policy=reentry.policy,
            previous=last.id,
        )
    if reentry.cool_off is not None:
        ended = max(_ended_at(s) for s in runs if s.status == "ended")
        allowed = after(ended, reentry.cool_off, ladder.calendar)
        if at < allowed:
            raise ReentryRefused(
                f"{prospect}'s last run on {ladder.name} ({last.id}) ended on "
                f"{ended:%Y-%m-%d}; the ladder lets a prospect climb again only after a "
                f"cool-off, so enroll them from {allowed:%Y-%m-%d %H:%M %Z}".rstrip(),
                enrollment_id=last.id,
                policy=reentry.policy,
                previous=last.id,
                retry_after=allowed,
            )
    number = max(run_number(s) for s in runs) + 1
    base = base or f"{ladder.name}/{prospect}"  # run 1's id (a tenant's starts with @tenant/)
    eid = f"{base}~{number}"
    while store.load(eid) is not None:  # an id another prospect's own id took: make it unique
        eid = f"{base}~{number}~{uuid.uuid4().hex[:8]}"
    return eid


def _ended_at(stored: StoredEnrollment) -> datetime:
    """When an ended run ended (the time its status last changed)."""
    return datetime.fromisoformat(str(stored.snapshot.get("since") or stored.snapshot["at"]))


def rekey_conflicts(
    moving: Sequence[StoredEnrollment],
    target: Sequence[StoredEnrollment],
    exclusive: Callable[[str], bool],
    overlapping: Callable[[str], bool],
) -> list[str]:
    """The target's enrollments that clash with the moving ones: an open ask on an
    exclusive ladder when one moves too (one open ask per prospect), or a live run on a
    ladder where one moves live (unless that ladder's runs may overlap)."""
    moving_ask = any(s.snapshot.get("pending") and exclusive(s.ladder) for s in moving)
    moving_live = {s.ladder for s in moving if s.status != "ended"}
    clash = []
    for s in target:
        second_ask = moving_ask and s.snapshot.get("pending") and exclusive(s.ladder)
        second_run = s.status != "ended" and s.ladder in moving_live
        if second_ask or (second_run and not overlapping(s.ladder)):
            clash.append(s.id)
    return clash


@dataclass(frozen=True, slots=True)
class BulkReport:
    """What ``Tracker.enroll_many`` did: the prospects it ``enrolled``, in order, and those
    it ``skipped``, each with why (already enrolled, or the ladder's re-entry policy)."""

    enrolled: tuple[str, ...] = ()
    skipped: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True, slots=True)
class ForgetReport:
    """What ``Tracker.forget`` did: how many ``enrollments`` it erased, how many of them it
    ``ended`` first, and how many outbox ``messages`` and idempotency ``receipts`` it
    deleted."""

    enrollments: int = 0
    ended: int = 0
    messages: int = 0
    receipts: int = 0


#: fields of a snapshot or an event's data that hold a prospect's personal data: the
#: prospect id (``was``: a rekey's old id), free text and the facts captured
_ANONYMOUS_DATA = {"prospect": None, "was": None, "facts": None, "needs": None}


def anonymous_events(
    events: Sequence[Mapping[str, Any]], eid: str, prospect: str
) -> list[dict[str, Any]]:
    """``events`` (``Event.to_dict()`` dicts) with nothing personal left: the new
    anonymous ids, no reason, no facts, no needs; rungs, outcomes, ends and times stay,
    so funnels count them as before."""
    out = []
    for event in events:
        data = dict(event.get("data") or {})
        for name in _ANONYMOUS_DATA.keys() & data.keys():
            data[name] = prospect if name in ("prospect", "was") else None
        out.append({**event, "enrollment_id": eid, "reason": None, "data": data})
    return out


def anonymous_snapshot(snapshot: Mapping[str, Any], eid: str, prospect: str) -> dict[str, Any]:
    """An ended enrollment's snapshot with nothing personal left (see ``anonymous_events``)."""
    return {
        **snapshot,
        "id": eid,
        "prospect": prospect,
        "facts": {},
        "needs": None,
        "pending": None,
        "expired": None,  # an ask's id names the enrollment
        "resume_at": None,
    }


def anonymous_id() -> str:
    """A prospect id that names no one."""
    return f"forgotten-{uuid.uuid4().hex[:16]}"
