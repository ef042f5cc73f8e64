"""The compiled ladder: an immutable, validated definition with lookup tables and its machine.

A ``Ladder`` is built once (from YAML, a dict or the pydantic models) and then
serves every enrollment on it. It must never be half-built: construction either
validates everything or raises ``DefinitionError``.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from types import MappingProxyType
from typing import TYPE_CHECKING, Any

import yaml

from ._clock import Clock
from ._definition import LadderDefinition, Rules
from ._errors import DefinitionError, Problem
from ._log import symbols
from ._validate import validate
from ._yaml import MAX_BYTES, read_yaml

if TYPE_CHECKING:
    from transitions import Machine

    from ._enrollment import Enrollment
    from ._events import Event
    from ._lint import Finding
    from ._paths import Path as LadderPath

__all__ = ["End", "Ladder", "Rung", "load"]

Listener = Callable[["Event"], object]


@dataclass(frozen=True, slots=True)
class Rung:
    """A rung with every setting resolved (its own, else the ladder's defaults)."""

    id: str
    kind: str
    size: int
    title: str | None
    ask: str | None
    channels: tuple[str, ...] | None
    expires_after: timedelta | None
    follow_ups_max: int
    follow_ups_every: timedelta | None
    cooldown: timedelta | None
    next_ask_within: timedelta | None
    max_asks: int | None
    next: tuple[str, ...]
    outcomes: Mapping[str, str] | None
    requires: frozenset[str]
    on_decline: str
    on_expire: str

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
    """A terminal outcome of the ladder; ``result`` is ``won``, ``lost`` or ``neutral``."""

    id: str
    result: str
    title: str | None


class Ladder:
    """A compiled, immutable ladder. Build it with ``load``, ``from_yaml`` or ``from_dict``."""

    def __init__(
        self,
        definition: LadderDefinition,
        *,
        listeners: Iterable[Listener] = (),
        _checked: bool = False,
    ) -> None:
        if not _checked:
            definition = validate(definition.model_dump(mode="json", exclude_unset=True))
        self.definition = definition
        self.name = definition.ladder
        self.version = definition.version
        self.title = definition.title
        self.exclusive = definition.exclusive
        self.rules: Rules = definition.rules
        self.start: tuple[str, ...] = tuple(definition.start)
        self._listeners: list[Listener] = list(listeners)
        defaults = definition.defaults
        rungs: dict[str, Rung] = {}
        for rung_id, r in definition.rungs.items():

            def pick(name: str, _r: Any = r) -> Any:
                own = getattr(_r, name)
                return own if name in _r.model_fields_set else getattr(defaults, name)

            follow = pick("follow_ups")
            channels = pick("channels")
            rungs[rung_id] = Rung(
                id=rung_id,
                kind=str(r.kind),
                size=r.size,
                title=r.title,
                ask=r.ask,
                channels=tuple(channels) if channels is not None else None,
                expires_after=pick("expires_after"),
                follow_ups_max=follow.max if follow is not None else 0,
                follow_ups_every=follow.every if follow is not None else None,
                cooldown=pick("cooldown"),
                next_ask_within=pick("next_ask_within"),
                max_asks=pick("max_asks"),
                next=tuple(r.next or ()),
                outcomes=MappingProxyType(dict(r.outcomes)) if r.outcomes is not None else None,
                requires=frozenset(r.requires),
                on_decline=r.on_decline,
                on_expire=r.on_expire,
            )
        self.rungs: Mapping[str, Rung] = MappingProxyType(rungs)
        self.ends: Mapping[str, End] = MappingProxyType(
            {k: End(k, e.result, e.title) for k, e in definition.ends.items()}
        )
        self._compile_tables()
        from ._machine import build_machine, routes

        self.machine: Machine = build_machine(self)
        self._routes = routes(self.machine)

    # ---- tables the guards read -------------------------------------------------------

    def _compile_tables(self) -> None:
        rungs, ends = self.rungs, self.ends
        # after[(rung, outcome)] -> rungs askable next; finish[(rung, outcome)] -> end reached
        self._after: dict[tuple[str | None, str | None], tuple[str, ...]] = {
            (None, None): self.start
        }
        self._finish: dict[tuple[str, str | None], str | None] = {}
        for rung in rungs.values():
            routes: Iterable[tuple[str | None, tuple[str, ...]]]
            if rung.outcomes is not None:
                routes = [(o, (t,)) for o, t in rung.outcomes.items()]
            else:
                routes = [(None, rung.next)]
            for outcome, targets in routes:
                nxt = tuple(t for t in targets if t in rungs)
                self._after[(rung.id, outcome)] = nxt
                reached = [t for t in targets if t in ends]
                self._finish[(rung.id, outcome)] = (
                    reached[0] if not nxt and len(reached) == 1 else None
                )
        # candidates[position] -> every rung that could ever be asked from there
        self._candidates: dict[str | None, tuple[str, ...]] = {}
        forward: dict[str | None, list[str]] = {None: list(self.start)}
        for (p, _), nxt in self._after.items():
            if p is not None:
                forward.setdefault(p, []).extend(nxt)
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
            self._candidates[position] = tuple(found)
        # names events hold, so histories store them as small numbers (see _log)
        self._symbols = symbols(
            (
                "park",
                "declined",
                "expired",
                *rungs,
                *ends,
                *(end.result for end in ends.values()),
                *(c for rung in rungs.values() for c in rung.channels or ()),
                *(o for rung in rungs.values() for o in rung.outcomes or ()),
            )
        )
        # machine state names, built once and shared by every enrollment
        self._ready: dict[str | None, str] = {}
        self._parked: dict[str | None, str] = {}
        self._asking: dict[tuple[str | None, str], str] = {}
        for position, candidates in self._candidates.items():
            label = "(start)" if position is None else position
            self._ready[position] = f"{label}:ready"
            self._parked[position] = f"{label}:parked"
            for rung_id in candidates:
                self._asking[(position, rung_id)] = f"{label}:asking:{rung_id}"

    def finishes(self, rung: str, outcome: str | None = None) -> str | None:
        """The end a commitment to ``rung`` (with ``outcome``) reaches at once, if any."""
        return self._finish.get((rung, outcome))

    def next_rungs(self, position: str | None, outcome: str | None = None) -> tuple[str, ...]:
        """The rungs the ladder offers after committing to ``position`` (with ``outcome``)."""
        return self._after.get((position, outcome), ())

    def paths(self) -> dict[str, LadderPath]:
        """The shortest command sequence reaching each rung (a commitment) and each end."""
        from ._paths import shortest_paths

        return shortest_paths(self)

    def lint(self) -> list[Finding]:
        """Findings about this ladder, e.g. a ``rules:`` claim its graph breaks, with the path."""
        from ._lint import lint

        return lint(self)

    # ---- building -----------------------------------------------------------------------

    @classmethod
    def from_yaml(
        cls,
        text: str | bytes,
        *,
        source: str | None = None,
        max_bytes: int = MAX_BYTES,
        listeners: Iterable[Listener] = (),
    ) -> Ladder:
        """Compile a ladder from YAML text; problems are located as ``source:line:column``."""
        located = read_yaml(text, source=source, max_bytes=max_bytes)
        return cls(validate(located.data, located), listeners=listeners, _checked=True)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], *, listeners: Iterable[Listener] = ()) -> Ladder:
        """Compile a ladder from plain data (the same shape as the YAML)."""
        return cls(validate(dict(data)), listeners=listeners, _checked=True)

    def to_dict(self) -> dict[str, Any]:
        """Plain data that ``from_dict`` turns back into an equal ladder."""
        data: dict[str, Any] = self.definition.model_dump(mode="json", exclude_unset=True)
        return data

    def to_yaml(self) -> str:
        """YAML text that ``from_yaml`` turns back into an equal ladder."""
        return yaml.safe_dump(self.to_dict(), sort_keys=False, allow_unicode=True, width=100)

    # ---- using ----------------------------------------------------------------------------

    def enroll(
        self,
        prospect: str,
        *,
        enrollment_id: str | None = None,
        now: datetime | None = None,
        clock: Clock | None = None,
        actor: str | None = None,
        reason: str | None = None,
        listeners: Iterable[Listener] = (),
    ) -> Enrollment:
        """Start ``prospect`` on this ladder and return their in-memory ``Enrollment``."""
        from ._enrollment import Enrollment

        return Enrollment.start(
            self,
            prospect,
            enrollment_id=enrollment_id,
            now=now,
            clock=clock,
            actor=actor,
            reason=reason,
            listeners=listeners,
        )

    def add_listener(self, listener: Listener) -> None:
        """Call ``listener(event)`` after each event of every enrollment on this ladder."""
        self._listeners.append(listener)

    def remove_listener(self, listener: Listener) -> None:
        self._listeners.remove(listener)

    @property
    def listeners(self) -> tuple[Listener, ...]:
        return tuple(self._listeners)

    def _identity(self) -> tuple[Any, ...]:
        d = self.definition
        return (
            self.name,
            self.version,
            d.title,
            d.description,
            self.exclusive,
            self.start,
            dict(self.rungs),
            dict(self.ends),
            self.rules,
        )

    def __eq__(self, other: object) -> bool:
        """Ladders are equal when they behave the same: same rungs, settings resolved."""
        if not isinstance(other, Ladder):
            return NotImplemented
        return self._identity() == other._identity()

    def __hash__(self) -> int:
        return hash((self.name, self.version))

    def __repr__(self) -> str:
        size = f"{len(self.rungs)} rungs, {len(self.ends)} ends"
        return f"<Ladder {self.name!r} v{self.version}: {size}>"


def load(
    path: str | os.PathLike[str],
    *,
    max_bytes: int = MAX_BYTES,
    listeners: Iterable[Listener] = (),
) -> Ladder:
    """Read and compile the ladder file at ``path``."""
    file = Path(path)
    try:
        size = file.stat().st_size
        if size > max_bytes:
            msg = f"the file is {size:,} bytes, over the limit of {max_bytes:,}"
            raise DefinitionError([Problem("", msg, str(path))])
        raw = file.read_bytes()
    except OSError as exc:
        raise DefinitionError(
            [Problem("", f"cannot read the file: {exc.strerror}", str(path))]
        ) from exc
    return Ladder.from_yaml(raw, source=str(path), max_bytes=max_bytes, listeners=listeners)
