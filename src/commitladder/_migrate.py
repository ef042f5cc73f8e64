"""Moving live enrollments onto a newer version of their ladder, by its declared mapping.

``plan`` decides, for one stored snapshot, whether it can move and where to: the
``Migrated`` event and the state it folds to, or why it cannot (a rung the new version
neither has nor maps, an open ask whose renamed rung no longer allows its channel, a
state with no place in the new version). It needs only the new version: the old one's
names come from the snapshot. The tracker writes what it plans, one enrollment per
transaction; nothing here writes.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

from ._events import Migrated
from ._fold import fold
from ._state import State

if TYPE_CHECKING:
    from ._ladder import Ladder
    from ._lint import Finding

__all__ = ["MigrationReport", "Planned", "migration_findings", "plan"]


@dataclass(frozen=True, slots=True)
class Planned:
    """One enrollment's move: its state before and after (``"v1 qualify:ready"``), and the
    ``Migrated`` event with the state it folds to; or ``why`` it cannot move."""

    source: str
    target: str | None = None
    event: Migrated | None = None
    state: State | None = None
    why: str | None = None


@dataclass(frozen=True, slots=True)
class MigrationReport:
    """What ``Tracker.migrate`` found (a dry run) or did (``dry_run=False``).

    ``moves`` counts enrollments by ``(state before, state after)``, each state written
    with its version (``"v1 intro_call:asking:qualify"``); ``blocked`` lists
    ``(enrollment_id, state, why)`` for those that cannot move; ``migrated`` is how many
    this call moved (0 in a dry run); ``current`` how many were on the target version
    already (moved by an earlier, perhaps interrupted, run).
    """

    ladder: str
    to_version: int
    dry_run: bool
    moves: Mapping[tuple[str, str], int] = field(default_factory=dict)
    blocked: tuple[tuple[str, str, str], ...] = ()
    migrated: int = 0
    current: int = 0

    @property
    def moving(self) -> int:
        """How many enrollments move (or moved)."""
        return sum(self.moves.values())


def plan(
    snapshot: Mapping[str, Any],
    target: Ladder,
    at: datetime,
    *,
    actor: str | None = None,
    reason: str | None = None,
) -> Planned:
    """Where the enrollment ``snapshot`` describes goes on ``target`` (see the module)."""
    version = int(snapshot["version"])
    state = State.from_dict(snapshot)
    source = f"v{version} {state.state}"
    migration = target.migrations.get(version)
    if migration is None:
        return Planned(
            source,
            why=f"v{target.version} declares no migration from v{version} "
            f"(add `migrations: [{{from_version: {version}, ...}}]` to it)",
        )
    renamed, removed = migration.renamed, migration.removed

    def name(rung: str) -> str:
        return renamed.get(rung) or removed.get(rung) or rung

    pending, expired = state.pending, state.expired
    named = {state.position, state.redirect, *state.cooldowns, *state.earlier}
    named |= {v for v in state.asked if isinstance(v, str)}
    named |= {ask.rung for ask in (pending, expired) if ask is not None}
    for rung in sorted(r for r in named if r is not None):
        if name(rung) not in target.rungs and name(rung) not in target.ends:
            return Planned(
                source,
                why=f"rung {rung!r} of v{version} is not in v{target.version}, which does not "
                "map it: add it to `renamed` or `removed`",
            )
    if state.status == "ended" and migration.ends.get(state.end or "", state.end) not in (
        target.ends
    ):
        return Planned(
            source,
            why=f"end {state.end!r} of v{version} is not in v{target.version}: map it in `ends`",
        )
    withdrawn = None
    why_withdrawn = None
    if pending is not None:
        if pending.rung in removed:
            withdrawn = pending.seq
            why_withdrawn = f"rung {pending.rung} was removed in v{target.version}"
        else:
            asked = target.rungs[name(pending.rung)]
            position = name(state.position) if state.position is not None else None
            if position not in target.ends and (position, asked.id) not in target.tables.asking:
                at_ = position or "the start"
                return Planned(
                    source,
                    why=f"its open ask for {pending.rung} would be for {asked.id} from "
                    f"{at_} in v{target.version}, which is not a next step there: answer or "
                    "withdraw it first",
                )
            if asked.channels is not None and pending.channel not in asked.channels:
                return Planned(
                    source,
                    why=f"the open ask for {pending.rung} was made by {pending.channel}, which "
                    f"{asked.id} does not allow in v{target.version} "
                    f"({', '.join(asked.channels)}): answer or withdraw it first",
                )
    event = Migrated(
        enrollment_id=state.ident.id,
        seq=state.seq + 1,
        at=max(at, state.at),
        from_version=version,
        to_version=target.version,
        renamed=dict(renamed),
        removed=dict(removed),
        ends=dict(migration.ends),
        withdrawn=withdrawn,
        actor=actor,
        reason=reason or why_withdrawn,
    )
    try:
        after = fold(target, state, event)
    except KeyError as exc:
        return Planned(
            source,
            why=f"its state has no place in v{target.version}: {exc.args[0]!r} is not a state "
            "there (the open ask's rung is not a next step from its position)",
        )
    if after.state not in target.tables.states:
        return Planned(source, why=f"state {after.state!r} does not exist in v{target.version}")
    return Planned(source, f"v{target.version} {after.state}", event, after)


def migration_findings(older: Ladder, newer: Ladder) -> list[Finding]:
    """What ``check`` says about ``newer``'s migration from ``older`` (another version of
    the same ladder): every rung or end of ``older`` that is gone from ``newer`` with no
    mapping is an error (enrollments there could not move)."""
    from ._lint import Finding  # lint loads the definition layer: only ``check`` needs it

    migration = newer.migrations.get(older.version)
    if older.name != newer.name or migration is None:
        return []
    index = [m.from_version for m in newer.definition.migrations].index(older.version)
    mapped = {**migration.renamed, **migration.removed}
    found = []
    for rung in older.rungs:
        if rung not in newer.rungs and rung not in mapped:
            found.append(
                Finding(
                    code="unmapped_rung",
                    severity="error",
                    location=f"migrations.{index}",
                    message=f"rung {rung!r} of v{older.version} is gone from v{newer.version} "
                    "and the migration does not map it: enrollments there could not move",
                    hint=f"add it to `renamed: {{{rung}: <new id>}}` or "
                    f"`removed: {{{rung}: <rung or end>}}`",
                )
            )
    for end in older.ends:
        if end not in newer.ends and end not in migration.ends:
            found.append(
                Finding(
                    code="unmapped_end",
                    severity="error",
                    location=f"migrations.{index}",
                    message=f"end {end!r} of v{older.version} is gone from v{newer.version} "
                    "and the migration does not map it",
                    hint=f"add it to `ends: {{{end}: <end of v{newer.version}>}}`",
                )
            )
    return found
