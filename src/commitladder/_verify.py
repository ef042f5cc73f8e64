"""One verdict on a ladder for every tool that judges one.

``commitladder check``, ``commitladder test`` and the pytest plugin all call ``verify``
and only report what it returns, so they cannot disagree about a ladder: what fails
is decided here, once. A definition that does not load is a finding
(``invalid_definition``), not an exception; lint runs every check, locates the
findings in the file and groups those that say the same thing about several places;
random climbs (the testing kit, hypothesis) run only when asked for, and only then
is hypothesis imported. It never writes anything and never reads the clock.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from ._errors import DefinitionError
from ._lint import Finding, grouped, locate

if TYPE_CHECKING:
    from ._ladder import Ladder
    from .testing import RuleBroken, Verdict

__all__ = ["INVALID_DEFINITION", "Verification", "verify"]

#: The code of a finding that stands for a problem in a definition that does not load.
INVALID_DEFINITION = "invalid_definition"

_FIX_DEFINITION = (
    "correct it in the file, then run again: the ladder is linted only once it loads "
    "(`commitladder schema` lets an editor check the format as you type)"
)


@dataclass(frozen=True, slots=True)
class Verification:
    """What ``verify`` found about one ladder; ``ok`` says whether it passes.

    ``findings`` are every lint finding, grouped, errors first; for a definition that
    does not load they are its problems, as ``invalid_definition`` errors, and ``ladder``
    is ``None``. ``verdict`` is the outcome of the random climbs, ``None`` when none ran.
    """

    source: str
    ladder: Ladder | None
    findings: tuple[Finding, ...]
    verdict: Verdict | None = None
    strict: bool = False

    @property
    def failing(self) -> tuple[Finding, ...]:
        """The findings that fail the ladder: every error, and every warning when strict."""
        failing = ("error", "warning") if self.strict else ("error",)
        return tuple(f for f in self.findings if f.severity in failing)

    @property
    def broken(self) -> RuleBroken | None:
        """The rule a random climb broke, with its story, if one did."""
        return None if self.verdict is None else self.verdict.broken

    @property
    def ok(self) -> bool:
        """No finding fails and no climb broke a rule."""
        return not self.failing and self.broken is None


def verify(
    ladder: Ladder | str | os.PathLike[str],
    *,
    examples: int = 0,
    seed: int | None = None,
    steps: int | None = None,
    strict: bool = False,
) -> Verification:
    """Lint ``ladder`` (a ``Ladder`` or a YAML file) and, with ``examples``, property-test it.

    Findings from a file carry ``file:line:column``. ``examples`` random climbs of up to
    ``steps`` commands each (the testing kit's default when ``None``) run through
    ``commitladder.testing.prove`` with ``seed``; ``0`` runs none (lint only), which
    needs no hypothesis. ``strict`` makes warnings fail too.
    """
    from ._ladder import Ladder, load
    from ._yaml import read_yaml

    if examples < 0:
        raise ValueError(f"examples must be 0 (lint only) or more, not {examples}")
    if isinstance(ladder, Ladder):
        source, findings = ladder.name, ladder.lint()
    else:
        path = Path(ladder)
        source = str(path)
        try:
            ladder = load(path)
        except DefinitionError as exc:
            problems = tuple(
                Finding(
                    code=INVALID_DEFINITION,
                    severity="error",
                    location=p.path,
                    message=p.message,
                    hint=_FIX_DEFINITION,
                    source=p.source,
                    line=p.line,
                    column=p.column,
                )
                for p in exc.problems
            )
            return Verification(source, None, problems, strict=strict)
        findings = locate(ladder.lint(), read_yaml(path.read_bytes(), source=source))
    verdict = None
    if examples:
        from .testing import DEFAULT_STEPS, prove

        verdict = prove(
            ladder,
            max_examples=examples,
            seed=seed,
            steps=DEFAULT_STEPS if steps is None else steps,
        )
    return Verification(source, ladder, tuple(grouped(findings)), verdict, strict)
