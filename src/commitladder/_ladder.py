"""The compiled ladder: an immutable, validated definition with lookup tables and its machine.

A ``Ladder`` is built once (from YAML, a dict or the pydantic models) and then
serves every enrollment on it. It must never be half-built: construction either
validates everything or raises ``DefinitionError``.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Mapping
from datetime import datetime
from functools import cached_property
from types import MappingProxyType
from typing import TYPE_CHECKING, Any

from ._calendar import Calendar
from ._clock import Clock
from ._files import read_ladder_file
from ._format import MAX_BYTES
from ._tables import End, Rung, Tables, compile_tables

# The definition layer (pydantic, PyYAML) loads with the first ladder built, not with
# `import commitladder`: a CLI's --help or a worker that only imports must not pay for it.
if TYPE_CHECKING:
    from transitions import Machine

    from ._definition import LadderDefinition, MigrationDefinition, Reentry, Rules
    from ._enrollment import Enrollment
    from ._events import Event
    from ._lint import Finding
    from ._names import DisplayName
    from ._paths import Path as LadderPath

__all__ = ["End", "Ladder", "Rung", "load"]

Listener = Callable[["Event"], object]


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
            definition = _checked_definition(definition)
        self.definition = definition
        self.name = definition.ladder
        self.version = definition.version
        self.title = definition.title
        self.exclusive = definition.exclusive
        reentry = definition.reentry
        #: what enrolling an ended prospect again does (``Reentry``)
        self.reentry: Reentry = (
            reentry if not isinstance(reentry, str) else type(definition).reentry_of(reentry)
        )
        #: how live enrollments of older versions move onto this one, by their version
        self.migrations: Mapping[int, MigrationDefinition] = MappingProxyType(
            {m.from_version: m for m in definition.migrations}
        )
        self.rules: Rules = definition.rules
        self.start: tuple[str, ...] = tuple(definition.start)
        self._listeners: tuple[Listener, ...] = tuple(listeners)
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
                stage=r.stage,
                probability=r.probability,
                meta=r.meta,
            )
        self.rungs: Mapping[str, Rung] = MappingProxyType(rungs)
        self.ends: Mapping[str, End] = MappingProxyType(
            {
                k: End(k, e.result, e.title, e.stage, e.probability, e.meta)
                for k, e in definition.ends.items()
            }
        )
        #: when business days are, for ``3bd`` durations (None: no ``calendar:`` section)
        self.calendar: Calendar | None = (
            definition.calendar.build() if definition.calendar is not None else None
        )
        #: caps on first asks (the ``throttles:`` section), in the order declared
        self.throttles = tuple(t.build() for t in definition.throttles)
        #: the compiled lookup tables the rules read (see ``Tables``)
        self.tables: Tables = compile_tables(self.start, self.rungs, self.ends, self.name)

    @cached_property
    def machine(self) -> Machine:
        """The ``transitions`` machine this ladder compiles to, built on first use.

        Its states are ``<position>:ready``, ``<position>:asking:<rung>``,
        ``<position>:parked`` and the ends; every transition carries the ladder's rules
        as its condition, so firing a trigger on it
        (``ladder.machine.events["ask:intro_call"].trigger(enrollment, channel="phone")``)
        cannot bypass one. Enrollments never need it: they run the same rules directly.
        """
        from ._machine import build_machine

        return build_machine(self)

    def finishes(self, rung: str, outcome: str | None = None) -> str | None:
        """The end a commitment to ``rung`` (with ``outcome``) reaches at once, if any."""
        return self.tables.finish.get((rung, outcome))

    def next_rungs(self, position: str | None, outcome: str | None = None) -> tuple[str, ...]:
        """The rungs the ladder offers after committing to ``position`` (with ``outcome``)."""
        return self.tables.after.get((position, outcome), ())

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
        from ._validate import validate
        from ._yaml import read_yaml

        located = read_yaml(text, source=source, max_bytes=max_bytes)
        return cls(validate(located.data, located), listeners=listeners, _checked=True)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], *, listeners: Iterable[Listener] = ()) -> Ladder:
        """Compile a ladder from plain data (the same shape as the YAML)."""
        from ._validate import validate

        # anything but a mapping goes to validation as it is, which says what a ladder is
        plain = dict(data) if isinstance(data, Mapping) else data
        return cls(validate(plain), listeners=listeners, _checked=True)

    def to_dict(self) -> dict[str, Any]:
        """Plain data that ``from_dict`` turns back into an equal ladder."""
        data: dict[str, Any] = self.definition.model_dump(mode="json", exclude_unset=True)
        return data

    def to_yaml(self) -> str:
        """YAML text that ``from_yaml`` turns back into an equal ladder."""
        import yaml

        class Dumper(yaml.SafeDumper):
            pass

        def text(dumper: yaml.SafeDumper, data: str) -> yaml.ScalarNode:
            # PyYAML writes NEL (U+0085) raw in a quoted scalar, where its own reader folds it
            # to a space; a double-quoted scalar escapes it as \N, which reads back as NEL
            if "\x85" in data:
                return dumper.represent_scalar("tag:yaml.org,2002:str", data, style='"')
            return dumper.represent_str(data)

        Dumper.add_representer(str, text)
        return yaml.dump(
            self.to_dict(), Dumper=Dumper, sort_keys=False, allow_unicode=True, width=100
        )

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
        display_name: DisplayName | None = None,
        timezone: str | None = None,
    ) -> Enrollment:
        """Start ``prospect`` on this ladder and return their in-memory ``Enrollment``.

        ``display_name`` names them in refusal sentences (see ``Enrollment.start``);
        ``timezone`` is the prospect's IANA time zone (``"Asia/Kolkata"``): business days
        are counted there; without it, in the ladder calendar's zone."""
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
            display_name=display_name,
            timezone=timezone,
        )

    def add_listener(self, listener: Listener) -> None:
        """Call ``listener(event)`` after each event of every enrollment on this ladder."""
        self._listeners = (*self._listeners, listener)

    def remove_listener(self, listener: Listener) -> None:
        """Stop calling ``listener`` (``ValueError`` if it was not added)."""
        listeners = list(self._listeners)
        listeners.remove(listener)
        self._listeners = tuple(listeners)

    @property
    def listeners(self) -> tuple[Listener, ...]:
        """The ladder's listeners, in the order they are called."""
        return self._listeners

    def _identity(self) -> tuple[Any, ...]:
        d = self.definition
        return (
            self.name,
            self.version,
            d.title,
            d.description,
            self.exclusive,
            self.reentry,
            tuple(d.migrations),
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


def _checked_definition(definition: LadderDefinition) -> LadderDefinition:
    """``definition`` validated as a whole (the models check fields one by one only)."""
    from ._definition import LadderDefinition
    from ._validate import validate

    if not isinstance(definition, LadderDefinition):
        kind = type(definition).__name__
        raise TypeError(
            f"Ladder() takes a LadderDefinition, not {kind}: build one from plain data with "
            "Ladder.from_dict(data), from YAML with Ladder.from_yaml(text) or cl.load(path)"
        )
    return validate(definition.model_dump(mode="json", exclude_unset=True))


def load(
    path: str | os.PathLike[str],
    *,
    max_bytes: int = MAX_BYTES,
    listeners: Iterable[Listener] = (),
) -> Ladder:
    """Read and compile the ladder file at ``path``.

    Reads a regular file only (a directory, a FIFO or a device is refused before it is
    opened) and at most ``max_bytes``, whatever the file system says of its size. A
    missing file raises ``LadderFileNotFoundError``, a ``DefinitionError`` that is also a
    ``FileNotFoundError``.
    """
    name = os.fspath(path)
    raw = read_ladder_file(name, max_bytes=max_bytes)
    return Ladder.from_yaml(raw, source=name, max_bytes=max_bytes, listeners=listeners)
