"""The ladder format's reserved word and its limits, as plain constants.

The models, the validator, the YAML reader, the loader and the docs read their
limits from here, so each is written once. This module must stay light: an
enrollment needs ``PARK`` (defined in ``_values``) without pydantic or PyYAML.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from ._errors import Problem
from ._values import PARK  # defined once, at the bottom of the package

__all__ = [
    "MAX_ALIASES",
    "MAX_BYTES",
    "MAX_CHANNELS",
    "MAX_DEPTH",
    "MAX_ENDS",
    "MAX_ID",
    "MAX_NODES",
    "MAX_NUMBER",
    "MAX_OUTCOMES",
    "MAX_PROBLEMS",
    "MAX_REQUIRES",
    "MAX_RUNGS",
    "MAX_TARGETS",
    "PARK",
    "Limit",
    "limit_at",
    "limits_broken",
    "listed",
]

# ---- what a YAML file may hold ---------------------------------------------------------
MAX_BYTES = 1 << 20  # 1 MiB: a real ladder is a few KiB
MAX_DEPTH = 64  # nesting of mappings and lists, the top-level mapping included
MAX_ALIASES = 100  # `*name` uses; a ladder needs none
MAX_NODES = 100_000  # values once aliases are expanded

# ---- what a ladder may declare (YAML, dicts and the models alike) -----------------------
# Far above any real sales process (a large one has a few dozen rungs), low enough that
# validating and compiling a ladder at every limit stays well under a second.
MAX_RUNGS = 1_000
MAX_ENDS = 100
MAX_TARGETS = 100  # `next:` targets of a rung, `start:` rungs, rungs in a requires_before list
MAX_OUTCOMES = 100  # outcomes of a branching rung (and their simulated weights)
MAX_CHANNELS = 32  # channels of a rung or of the defaults
MAX_REQUIRES = 100  # facts a commitment must carry
MAX_ID = 64  # characters in an id
#: ``version`` and every count (``max_asks``, ``follow_ups.max``, ...): a signed 32-bit
#: integer, which every database column and packed history can hold.
MAX_NUMBER = 2**31 - 1


@dataclass(frozen=True, slots=True)
class Limit:
    """How many items one collection of a ladder may hold, and what to do about more."""

    most: int
    items: str  # what it holds, plural: "rungs"
    hint: str

    def message(self) -> str:
        """What to say of a collection over the limit (the YAML reader stops counting there)."""
        return f"more than {self.most:,} {self.items}; {self.hint}"


_SPLIT = "split the process into smaller ladders"
_CHANNELS = "a channel is a way to reach the prospect: use fewer"
#: Every collection with a limit, by its path; ``*`` stands for any rung id. Shorter paths
#: come first: a collection's items are only looked at once it is within its own limit.
LIMITS: dict[tuple[str, ...], Limit] = {
    ("rungs",): Limit(MAX_RUNGS, "rungs", _SPLIT),
    ("ends",): Limit(MAX_ENDS, "ends", "merge the ends that mean the same"),
    ("start",): Limit(MAX_TARGETS, "rungs to start from", _SPLIT),
    ("defaults", "channels"): Limit(MAX_CHANNELS, "channels", _CHANNELS),
    ("rules", "requires_before"): Limit(MAX_RUNGS, "rungs", _SPLIT),
    ("simulation", "rungs"): Limit(MAX_RUNGS, "rungs", _SPLIT),
    ("rungs", "*", "next"): Limit(MAX_TARGETS, "targets", "let the seller pick from fewer"),
    ("rungs", "*", "outcomes"): Limit(MAX_OUTCOMES, "outcomes", "classify into fewer"),
    ("rungs", "*", "requires"): Limit(MAX_REQUIRES, "facts", "require fewer"),
    ("rungs", "*", "channels"): Limit(MAX_CHANNELS, "channels", _CHANNELS),
    ("rules", "requires_before", "*"): Limit(MAX_TARGETS, "rungs", "name fewer"),
    ("simulation", "defaults", "outcomes"): Limit(MAX_OUTCOMES, "outcomes", "weigh fewer"),
    ("simulation", "rungs", "*", "outcomes"): Limit(MAX_OUTCOMES, "outcomes", "weigh fewer"),
}
_BY_LENGTH: dict[int, list[tuple[tuple[str, ...], Limit]]] = {}
for _pattern, _limit in LIMITS.items():
    _BY_LENGTH.setdefault(len(_pattern), []).append((_pattern, _limit))


def limit_at(path: Sequence[str | int]) -> Limit | None:
    """The limit of the collection at ``path``, if it has one."""
    for pattern, limit in _BY_LENGTH.get(len(path), ()):
        if all(p == "*" or p == part for p, part in zip(pattern, path, strict=True)):
            return limit
    return None


def limits_broken(data: Any) -> Iterator[tuple[tuple[Any, ...], Limit]]:
    """``(path, limit)`` for each collection in ``data`` holding more than its limit.

    Stops at the first length of path with a broken limit, so it never walks the items of
    a collection that is itself too big: its cost is bounded by the limits.
    """
    for length in sorted(_BY_LENGTH):
        broken = [
            (path, limit)
            for pattern, limit in _BY_LENGTH[length]
            for path, value in _walk(data, pattern, ())
            if isinstance(value, dict | list) and len(value) > limit.most
        ]
        if broken:
            yield from broken
            return


def _walk(value: Any, pattern: tuple[str, ...], path: tuple[Any, ...]) -> Iterator[tuple[Any, Any]]:
    if not pattern:
        yield path, value
        return
    if not isinstance(value, dict):
        return
    head, rest = pattern[0], pattern[1:]
    if head != "*":
        if head in value:
            yield from _walk(value[head], rest, (*path, head))
        return
    for key, child in value.items():
        yield from _walk(child, rest, (*path, key))


#: A ``DefinitionError`` lists at most this many problems, then says how many more.
MAX_PROBLEMS = 100


def listed(problems: Sequence[Problem]) -> list[Problem]:
    """``problems``, cut to ``MAX_PROBLEMS`` with a last one saying how many were left out.

    A hostile or generated file can hold a hundred thousand mistakes; nobody reads them
    all, and building the message would cost more than reading the file.
    """
    if len(problems) <= MAX_PROBLEMS:
        return list(problems)
    kept = list(problems[:MAX_PROBLEMS])
    more = len(problems) - MAX_PROBLEMS
    last = kept[-1]
    kept.append(
        Problem(
            "",
            f"... and {more:,} more problem{'s' if more != 1 else ''} after this one; "
            "fix these and load the ladder again",
            last.source,
        )
    )
    return kept
