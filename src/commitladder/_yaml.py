"""Safe, located YAML reading for ladder files.

Turns YAML text into plain Python data plus a map from each value's path to its
``(line, column)``, so every later problem can point at the file. It must never
run code from a file, never keep the last of two duplicate keys silently, and
never expand an alias bomb: size, depth, alias and node counts are bounded
before anything is built.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import yaml
from yaml.constructor import SafeConstructor
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from ._errors import DefinitionError, Problem
from ._format import MAX_ALIASES, MAX_BYTES, MAX_DEPTH, MAX_NODES

__all__ = ["MAX_BYTES", "Located", "Path", "read_yaml"]

Path = tuple[str | int, ...]

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
) -> Located:
    """Parse one YAML document safely. Raises ``DefinitionError`` with located problems."""
    raw = text.encode("utf-8") if isinstance(text, str) else text
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
    try:
        aliases = _check_shape(decoded, source, max_depth, max_aliases)
        node = yaml.compose(decoded, Loader=yaml.SafeLoader)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        message = " ".join(p for p in (exc.context, exc.problem) if p) or str(exc)
        line = mark.line + 1 if mark else None
        column = mark.column + 1 if mark else None
        raise DefinitionError([Problem("", message, source, line, column)]) from exc
    except yaml.YAMLError as exc:
        raise DefinitionError([Problem("", str(exc), source)]) from exc
    located = Located(data=None, source=source)
    if node is None:
        raise DefinitionError([Problem("", "the file is empty; a ladder needs `ladder:`", source)])
    builder = _Builder(located, aliases)
    located.data = builder.build(node, ())
    if builder.problems:
        raise DefinitionError(builder.problems)
    return located


def _check_shape(text: str, source: str | None, max_depth: int, max_aliases: int) -> int:
    """Walk the event stream (no tree yet) to bound nesting and alias use."""
    depth = 0
    aliases = 0
    for event in yaml.parse(text, Loader=yaml.SafeLoader):
        if isinstance(event, (yaml.MappingStartEvent, yaml.SequenceStartEvent)):
            depth += 1
            if depth > max_depth:
                raise _located_error(
                    source, event, f"nesting is deeper than {max_depth} levels; flatten the file"
                )
        elif isinstance(event, (yaml.MappingEndEvent, yaml.SequenceEndEvent)):
            depth -= 1
        elif isinstance(event, yaml.AliasEvent):
            aliases += 1
            if aliases > max_aliases:
                raise _located_error(
                    source,
                    event,
                    f"more than {max_aliases} aliases (*name); a ladder needs none: "
                    "use `defaults:` to share settings",
                )
    return aliases


def _located_error(source: str | None, event: yaml.Event, message: str) -> DefinitionError:
    mark = event.start_mark
    if mark is None:
        return DefinitionError([Problem("", message, source)])
    return DefinitionError([Problem("", message, source, mark.line + 1, mark.column + 1)])


class _Builder:
    """Builds plain data from composed nodes, recording positions and problems."""

    def __init__(self, located: Located, aliases: int) -> None:
        self.located = located
        self.aliases = aliases
        self.problems: list[Problem] = []
        self.nodes = 0
        self.scalars = SafeConstructor()

    def _problem(self, node: Node, path: Path, message: str) -> None:
        mark = node.start_mark
        self.problems.append(
            Problem(dotted(path), message, self.located.source, mark.line + 1, mark.column + 1)
        )

    def build(self, node: Node, path: Path) -> Any:
        if len(path) > MAX_DEPTH:  # aliases can nest deeper than the text shows
            self._problem(node, path, f"nesting is deeper than {MAX_DEPTH} levels; flatten it")
            raise DefinitionError(self.problems)
        self.nodes += 1
        if self.nodes > MAX_NODES:
            self._problem(
                node,
                path,
                f"the document expands to more than {MAX_NODES:,} values"
                + (
                    " through aliases (*name); a ladder needs none: use `defaults:` to share "
                    "settings"
                    if self.aliases
                    else "; split it into smaller ladders"
                ),
            )
            raise DefinitionError(self.problems)
        self.located.values.setdefault(path, (node.start_mark.line + 1, node.start_mark.column + 1))
        if node.tag not in _ALLOWED_TAGS:
            self._problem(
                node,
                path,
                f"the tag {node.tag!r} is not allowed; ladder files hold plain "
                "strings, numbers, lists and mappings only",
            )
            return None
        if isinstance(node, MappingNode):
            return dict(self._mapping(node, path))
        if isinstance(node, SequenceNode):
            return [self.build(child, (*path, i)) for i, child in enumerate(node.value)]
        assert isinstance(node, ScalarNode)
        if node.tag == _TAG + "timestamp":
            return node.value  # no field takes a date; keep what was written
        try:
            return self.scalars.construct_object(node)
        except (ValueError, KeyError, IndexError, yaml.YAMLError) as exc:
            kind = str(node.tag).removeprefix(_TAG)
            self._problem(node, path, f"{node.value!r} cannot be read as {kind} ({exc})")
            return None

    def _mapping(self, node: MappingNode, path: Path) -> Iterator[tuple[str, Any]]:
        seen: dict[str, int] = {}
        for key_node, value_node in node.value:
            if not isinstance(key_node, ScalarNode) or key_node.tag == _TAG + "merge":
                what = "merge keys (<<)" if key_node.tag == _TAG + "merge" else "complex keys"
                self._problem(key_node, path, f"{what} are not supported; write keys out plainly")
                continue
            key = key_node.value  # as written: `no:` stays the string 'no', not False
            child = (*path, key)
            if key in seen:
                self._problem(
                    key_node,
                    child,
                    f"duplicate key {key!r} (first at line {seen[key]}); YAML would keep only "
                    "the last one: remove or merge them",
                )
                continue
            seen[key] = key_node.start_mark.line + 1
            mark = key_node.start_mark
            self.located.keys[child] = (mark.line + 1, mark.column + 1)
            yield key, self.build(value_node, child)
