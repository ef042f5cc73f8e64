"""Safe, located YAML reading for ladder files.

Turns YAML text into plain Python data plus a map from each value's path to its
``(line, column)``, so every later problem can point at the file. It must never
run code from a file, never keep the last of two duplicate keys silently, and
never expand an alias bomb: size, depth, alias and node counts are bounded
before anything is built. It parses with libyaml's C parser where PyYAML has
it (ten times faster), else with PyYAML's own; both give the same data, the same
locations and the same limits.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any, TypeAlias

import yaml
from yaml.constructor import SafeConstructor
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode
from yaml.resolver import Resolver

from ._errors import DefinitionError, Problem
from ._format import MAX_ALIASES, MAX_BYTES, MAX_DEPTH, MAX_NODES, Limit, limit_at, listed
from ._syntax import syntax_problem, unreadable_problem

__all__ = ["LOADERS", "MAX_BYTES", "Located", "Path", "SafeLoaderClass", "read_yaml"]

Path = tuple[str | int, ...]

SafeLoaderClass: TypeAlias = type[yaml.SafeLoader] | type[yaml.CSafeLoader]
#: The safe loaders of this installation, the fastest first: libyaml's (when PyYAML was
#: built with it) and PyYAML's pure-Python one. Only their parsers and composers run.
LOADERS: tuple[SafeLoaderClass, ...] = (
    (yaml.CSafeLoader, yaml.SafeLoader) if yaml.__with_libyaml__ else (yaml.SafeLoader,)
)

_TAG = "tag:yaml.org,2002:"
_ALLOWED_TAGS = frozenset(
    _TAG + name for name in ("str", "int", "float", "bool", "null", "map", "seq", "timestamp")
)


@dataclass
class Located:
    """Plain data read from YAML, with where each value and each key stands."""

    data: Any
    source: str | None = None
    values: dict[Path, tuple[int, int]] = field(default_factory=dict)
    keys: dict[Path, tuple[int, int]] = field(default_factory=dict)

    def where(self, path: Path, *, key: bool = False) -> tuple[int | None, int | None]:
        """The best known ``(line, column)`` for ``path``, walking up to a located parent."""
        table = self.keys if key else self.values
        probe = path
        while True:
            if probe in table:
                return table[probe]
            if probe in self.values:
                return self.values[probe]
            if not probe:
                return None, None
            probe = probe[:-1]

    def problem(self, path: Path, message: str, *, key: bool = False) -> Problem:
        line, column = self.where(path, key=key)
        return Problem(
            path=dotted(path), message=message, source=self.source, line=line, column=column
        )


def dotted(path: Path) -> str:
    """``('rungs', 'intro', 'next', 0)`` -> ``'rungs.intro.next[0]'``."""
    text = ""
    for part in path:
        if isinstance(part, int):
            text += f"[{part}]"
        else:
            text += f".{part}" if text else str(part)
    return text


def read_yaml(
    text: str | bytes,
    *,
    source: str | None = None,
    max_bytes: int = MAX_BYTES,
    max_depth: int = MAX_DEPTH,
    max_aliases: int = MAX_ALIASES,
    loader: SafeLoaderClass = LOADERS[0],
) -> Located:
    """Parse one YAML document safely. Raises ``DefinitionError`` with located problems."""
    if isinstance(text, str):
        try:
            raw = text.encode("utf-8")
        except UnicodeEncodeError as exc:  # a lone surrogate: not text any file can hold
            msg = (
                f"the text is not valid Unicode: character {exc.start} is a lone surrogate "
                f"({text[exc.start]!r}); decode the file as UTF-8 without errors='surrogateescape'"
            )
            raise DefinitionError([Problem("", msg, source)]) from exc
    else:
        raw = text
    if len(raw) > max_bytes:
        raise DefinitionError(
            [
                Problem(
                    "",
                    f"the file is {len(raw):,} bytes, over the limit of {max_bytes:,}; "
                    "split it or raise max_bytes",
                    source,
                )
            ]
        )
    try:
        decoded = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        msg = f"the file is not UTF-8 text (byte {exc.start})"
        raise DefinitionError([Problem("", msg, source)]) from exc
    located = Located(data=None, source=source)
    reader = _Reader(located, max_depth=max_depth, max_aliases=max_aliases)
    try:
        found = reader.read(yaml.parse(decoded, Loader=loader))
    except yaml.MarkedYAMLError as exc:
        raise DefinitionError([syntax_problem(exc, decoded, source, loader)]) from exc
    except yaml.YAMLError as exc:
        raise DefinitionError([unreadable_problem(exc, decoded, source)]) from exc
    if reader.problems:
        raise DefinitionError(listed(reader.problems))
    if not found:
        raise DefinitionError([Problem("", "the file is empty; a ladder needs `ladder:`", source)])
    return located


_LONGEST_NUMBER = 40
# the safe constructor's own readers of plain values
_SCALARS: dict[str, Callable[[SafeConstructor, ScalarNode], Any]] = {
    "int": SafeConstructor.construct_yaml_int,
    "float": SafeConstructor.construct_yaml_float,
    "bool": SafeConstructor.construct_yaml_bool,
    "null": SafeConstructor.construct_yaml_null,
}
_COLLECTIONS = (yaml.MappingStartEvent, yaml.SequenceStartEvent)
_MERGE = _TAG + "merge"
_PLAIN = "write keys out plainly"
_ENDS = (yaml.MappingEndEvent, yaml.SequenceEndEvent)


def _where(event: yaml.Event) -> tuple[int, int]:
    """Where an event starts, from 1 (both parsers mark every event they emit)."""
    mark = event.start_mark
    assert mark is not None
    return mark.line + 1, mark.column + 1


class _Stop(Exception):
    """Reading stops here: a limit is broken, and ``problems`` says which."""


@dataclass(eq=False)
class _Open:
    """A mapping or list being read: where it goes, and the key waiting for its value."""

    path: Path
    value: dict[str, Any] | list[Any]
    keep: bool  # False inside a value that is dropped (after a refused key, a refused tag)
    limit: Limit | None
    is_key: bool = False  # a mapping or list written as a key: read through, then dropped
    key: str | None = None
    key_wanted: bool = True  # in a mapping: the next node is a key
    drop_value: bool = False  # in a mapping: the next value is dropped
    seen: dict[str, int] = field(default_factory=dict)  # key -> line, for duplicates


class _Reader:
    """Builds plain data from the parser's event stream, in one pass and without recursion.

    One pass: nothing is composed into a tree first, so a file over a limit stops being
    read where the limit is crossed (the 1,001st rung), however long the rest is. Aliases
    replay the events recorded under their anchor, and count towards every limit.
    """

    def __init__(self, located: Located, *, max_depth: int, max_aliases: int) -> None:
        self.located = located
        self.max_depth = max_depth
        self.max_aliases = max_aliases
        self.problems: list[Problem] = []
        self.stack: list[_Open] = []
        # typed here: PyYAML's stubs leave Resolver.resolve untyped
        self.resolve: Callable[[type[Node], str | None, Any], str] = Resolver().resolve
        self.scalars = SafeConstructor()
        self.anchors: dict[str, list[yaml.Event]] = {}
        self.recording: list[tuple[str, list[yaml.Event], int]] = []  # anchor, events, depth
        self.aliases = 0
        self.values = 0
        self.done = False

    def read(self, events: Iterator[yaml.Event]) -> bool:
        """Read the one document of ``events``; False when there is none."""
        try:
            for event in events:
                if isinstance(event, yaml.DocumentStartEvent) and self.done:
                    self._refuse(
                        event,
                        (),
                        "a second YAML document starts here (`---`); a ladder file holds one "
                        "ladder: remove the line, or split the file in two",
                    )
                if isinstance(event, yaml.NodeEvent | yaml.CollectionEndEvent):
                    self._record(event)
                    self._event(event, replayed=0)
        except _Stop:
            return True
        return self.done

    # ---- one event ---------------------------------------------------------------------

    def _record(self, event: yaml.Event) -> None:
        """Keep the events of every anchored node being read, for the aliases to it."""
        if isinstance(event, yaml.ScalarEvent | yaml.CollectionStartEvent) and event.anchor:
            name = str(event.anchor)
            if name in self.anchors or any(a == name for a, *_ in self.recording):
                self._refuse(
                    event,
                    self._here(),
                    f"the anchor &{name} is defined twice; a ladder needs no anchors: "
                    "write the values out, or share them through `defaults:`",
                )
            self.recording.append((name, [], len(self.stack)))
        for _, recorded, _ in self.recording:
            recorded.append(event)
        while self.recording and self._closes(event, self.recording[-1][2]):
            name, recorded, _ = self.recording.pop()
            self.anchors[name] = recorded

    def _closes(self, event: yaml.Event, depth: int) -> bool:
        """Whether ``event`` ends the node anchored at ``depth`` (seen before it is read)."""
        if isinstance(event, _ENDS):
            return len(self.stack) == depth + 1  # the anchored collection closes
        return isinstance(event, yaml.ScalarEvent) and len(self.stack) == depth

    def _event(self, event: yaml.Event, *, replayed: int) -> None:
        if isinstance(event, yaml.AliasEvent):
            self._alias(event, replayed)
        elif isinstance(event, _ENDS):
            done = self.stack.pop()
            if not done.is_key:  # a refused key's end: its value comes next
                self._place(done.value, event, done.keep, built=True)
        elif isinstance(event, yaml.NodeEvent):
            self._node(event)

    def _alias(self, event: yaml.AliasEvent, replayed: int) -> None:
        if not replayed:
            self.aliases += 1
            if self.aliases > self.max_aliases:
                self._refuse(
                    event,
                    self._here(),
                    f"more than {self.max_aliases} aliases (*name); a ladder needs none: "
                    "use `defaults:` to share settings",
                )
        name = str(event.anchor)
        recorded = self.anchors.get(name)
        if recorded is None:
            inside = any(a == name for a, *_ in self.recording)
            self._refuse(
                event,
                self._here(),
                f"the alias *{name} is used inside its own anchor &{name}"
                if inside
                else f"the alias *{name} names no anchor (&{name}) before it",
            )
            return
        for again in recorded:
            self._event(again, replayed=replayed + 1)

    def _node(self, event: yaml.NodeEvent) -> None:
        depth = len(self.stack) + (1 if isinstance(event, _COLLECTIONS) else 0)
        path = self._child_path()
        if depth > self.max_depth:
            self._refuse(event, path, f"nesting is deeper than {self.max_depth} levels; flatten it")
        parent = self.stack[-1] if self.stack else None
        if parent is not None and isinstance(parent.value, dict) and parent.key_wanted:
            self._key(parent, event)
            return
        keep = parent is None or (parent.keep and not parent.drop_value)
        self.values += 1
        if self.values > MAX_NODES:
            self._refuse(event, path, self._too_many_values())
        if keep:
            self.located.values.setdefault(path, _where(event))
        tag = self._tag(event)
        if tag not in _ALLOWED_TAGS:
            if keep:
                self._problem(
                    event,
                    path,
                    f"the tag {tag!r} is not allowed; ladder files hold plain strings, "
                    "numbers, lists and mappings only",
                )
            keep = False
        if isinstance(event, yaml.MappingStartEvent):
            self.stack.append(_Open(path, {}, keep, limit_at(path)))
        elif isinstance(event, yaml.SequenceStartEvent):
            self.stack.append(_Open(path, [], keep, limit_at(path)))
        else:
            assert isinstance(event, yaml.ScalarEvent)
            value = self._scalar(event, tag, path) if keep else None
            self._place(value, event, keep, built=False)

    def _key(self, parent: _Open, event: yaml.NodeEvent) -> None:
        """A node in key position: a plain scalar, read as written (``no:`` stays 'no')."""
        parent.key_wanted = False
        parent.drop_value = True
        if not isinstance(event, yaml.ScalarEvent):
            if parent.keep:
                self._problem(event, parent.path, "complex keys are not supported; " + _PLAIN)
            # read through the key's own mapping or list, building nothing
            self.stack.append(_Open(parent.path, [], False, None, is_key=True))
            return
        # only `<<` (or an explicit tag) can be a merge key: spare the resolver for the rest
        if (event.tag is not None or event.value == "<<") and self._tag(event) == _MERGE:
            if parent.keep:
                self._problem(event, parent.path, "merge keys (<<) are not supported; " + _PLAIN)
            return
        key = event.value
        child = (*parent.path, key)
        line, column = _where(event)
        assert isinstance(parent.value, dict)
        if key in parent.seen:
            if parent.keep:
                self._problem(
                    event,
                    child,
                    f"duplicate key {key!r} (first at line {parent.seen[key]}); YAML would keep "
                    "only the last one: remove or merge them",
                )
            return
        parent.seen[key] = line
        parent.key = key
        parent.drop_value = False
        if parent.keep:
            self.located.keys[child] = (line, column)

    def _place(self, value: Any, event: yaml.Event, keep: bool, *, built: bool) -> None:
        """Put a finished node into the collection it belongs to (or at the top)."""
        if not self.stack:
            self.located.data = value
            self.done = True
            return
        parent = self.stack[-1]
        if not parent.keep:
            if isinstance(parent.value, dict):
                parent.key_wanted = True
            return
        if isinstance(parent.value, dict):
            parent.key_wanted = True
            if parent.drop_value or (not keep and not built):
                return
            assert parent.key is not None
            parent.value[parent.key] = value if keep else None
        else:
            parent.value.append(value if keep else None)
        count = len(parent.value)
        if parent.limit is not None and count > parent.limit.most:
            self._refuse(event, parent.path, parent.limit.message(), at_key=True)

    # ---- pieces ------------------------------------------------------------------------

    def _child_path(self) -> Path:
        if not self.stack:
            return ()
        parent = self.stack[-1]
        if isinstance(parent.value, dict):
            return (*parent.path, parent.key) if parent.key is not None else parent.path
        return (*parent.path, len(parent.value))

    def _here(self) -> Path:
        return self.stack[-1].path if self.stack else ()

    def _tag(self, event: yaml.NodeEvent) -> str:
        tag = getattr(event, "tag", None)
        if tag is not None and tag != "!":
            return str(tag)
        if isinstance(event, yaml.ScalarEvent):
            return self.resolve(ScalarNode, event.value, event.implicit)
        kind = MappingNode if isinstance(event, yaml.MappingStartEvent) else SequenceNode
        return self.resolve(kind, None, getattr(event, "implicit", True))

    def _scalar(self, event: yaml.ScalarEvent, tag: str, path: Path) -> Any:
        kind = tag.removeprefix(_TAG)
        if kind in ("str", "timestamp"):
            return event.value  # no field takes a date; keep what was written
        if kind in ("int", "float") and len(event.value) > _LONGEST_NUMBER:
            # YAML 1.1 reads 1:2:3 as a base-60 number, in time that grows with the square
            # of its length: a 1 MiB one takes minutes. A ladder's numbers are short.
            self._problem(
                event,
                path,
                f"{event.value[:20] + '...'!r} is a number {len(event.value):,} characters "
                f"long; a ladder's numbers have at most {_LONGEST_NUMBER}: check it, or quote "
                "it if it is text",
            )
            return None
        build = _SCALARS.get(kind)
        node = ScalarNode(tag, event.value, style=event.style)
        try:
            if build is None:  # `!!map` or `!!seq` on a plain value
                raise ValueError(f"a {kind} cannot be written as one value")
            return build(self.scalars, node)
        except (ValueError, KeyError, IndexError, yaml.YAMLError) as exc:
            self._problem(event, path, f"{event.value!r} cannot be read as {kind} ({exc})")
            return None

    def _too_many_values(self) -> str:
        return f"the document expands to more than {MAX_NODES:,} values" + (
            " through aliases (*name); a ladder needs none: use `defaults:` to share settings"
            if self.aliases
            else "; split it into smaller ladders"
        )

    def _problem(self, event: yaml.Event, path: Path, message: str) -> None:
        line, column = _where(event)
        self.problems.append(Problem(dotted(path), message, self.located.source, line, column))

    def _refuse(self, event: yaml.Event, path: Path, message: str, *, at_key: bool = False) -> None:
        """Stop reading: record the problem (at the collection's key, for a limit)."""
        if at_key and path in self.located.keys:
            line, column = self.located.keys[path]
            self.problems.append(Problem(dotted(path), message, self.located.source, line, column))
        else:
            self._problem(event, path, message)
        raise _Stop
