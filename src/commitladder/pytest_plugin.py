"""pytest plugin: ladder files become test items that property-test the ladder's rules.

Collected: files named ``*.ladder.yaml`` / ``*.ladder.yml`` anywhere pytest looks, and
files matching the ``commitladder_ladders`` ini globs (relative to the rootdir). Other
YAML is left alone, so a project's own fixtures are never collected by surprise. An
item passes or fails exactly as ``commitladder test`` judges the file (both call
``commitladder.verify``); a broken rule fails it with the sales story, not hypothesis
internals.

This module must stay light at import (pytest loads it in every run of every project
that installs commitladder): hypothesis and the testing kit are imported only when a
ladder item runs.
"""

from __future__ import annotations

from collections.abc import Iterator
from fnmatch import fnmatch
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from _pytest._code.code import TerminalRepr

    from .testing import RuleBroken

__all__ = ["LadderFile", "LadderItem", "LadderRuleFailed"]

SUFFIXES = (".ladder.yaml", ".ladder.yml")


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("commitladder", "commitladder: property-test ladder files")
    group.addoption(
        "--commitladder-examples",
        type=int,
        default=None,
        help="random climbs per ladder file (default: commitladder_examples ini, else 200)",
    )
    group.addoption(
        "--commitladder-seed",
        type=int,
        default=None,
        help="seed for the ladder property tests (default: a fresh one, printed on failure)",
    )
    group.addoption(
        "--commitladder-strict",
        action="store_true",
        default=False,
        help="lint warnings fail a ladder file too, as with `commitladder check --strict`",
    )
    group.addoption(
        "--commitladder-off",
        action="store_true",
        default=False,
        help="do not collect ladder files",
    )
    parser.addini(
        "commitladder_ladders",
        type="linelist",
        default=[],
        help="globs (relative to the rootdir) of ladder files to collect, besides *.ladder.yaml",
    )
    parser.addini("commitladder_examples", default="200", help="random climbs per ladder file")


def _wanted(file_path: Path, config: pytest.Config) -> bool:
    if config.getoption("commitladder_off"):
        return False
    if file_path.name.endswith(SUFFIXES):
        return True
    globs: list[str] = config.getini("commitladder_ladders")
    if not globs:
        return False
    try:
        relative = file_path.relative_to(config.rootpath).as_posix()
    except ValueError:
        return False
    return any(fnmatch(relative, pattern) for pattern in globs)


def pytest_collect_file(file_path: Path, parent: pytest.Collector) -> LadderFile | None:
    if file_path.suffix in (".yaml", ".yml") and _wanted(file_path, parent.config):
        return LadderFile.from_parent(parent, path=file_path)
    return None


class LadderRuleFailed(Exception):
    """A ladder item failed: invalid definition, a lint proof, or a broken rule."""


class LadderFile(pytest.File):
    """A ladder file: one item that lint-proves and property-tests its rules."""

    def collect(self) -> Iterator[LadderItem]:
        yield LadderItem.from_parent(self, name="rules")


class LadderItem(pytest.Item):
    """Property-test one ladder's rules (built-in invariants and its own ``rules:``)."""

    def runtest(self) -> None:
        from ._verify import verify

        config = self.config
        examples = config.getoption("commitladder_examples") or int(
            config.getini("commitladder_examples")
        )
        result = verify(
            self.path,
            examples=examples,
            seed=config.getoption("commitladder_seed"),
            strict=config.getoption("commitladder_strict"),
        )
        if result.ok:
            return
        problems = [str(finding) for finding in result.failing]
        if result.broken is not None:
            problems.append(_story(result.broken))
        raise LadderRuleFailed("\n".join(problems))

    def repr_failure(
        self,
        excinfo: pytest.ExceptionInfo[BaseException],
        style: Any = None,
    ) -> str | TerminalRepr:
        if isinstance(excinfo.value, LadderRuleFailed):
            return f"{self.path.name}:\n{excinfo.value}"
        return super().repr_failure(excinfo)

    def reportinfo(self) -> tuple[Path, int | None, str]:
        return self.path, None, f"ladder rules: {self.path.name}"


def _story(broken: RuleBroken) -> str:
    """The broken rule's sales story, with the replay option of this plugin."""
    lines = [f"Ladder {broken.ladder!r} broke rule {broken.rule}: {broken.message}"]
    if broken.story:
        lines.append("How it happened:")
        lines.extend(f"  {n}. {line}" for n, line in enumerate(broken.story, start=1))
    if broken.seed is not None:
        lines.append(f"Replay it with --commitladder-seed {broken.seed}.")
    return "\n".join(lines)
