"""``commitladder test``: lint proofs, then random climbs with hypothesis, per ladder file.

Hypothesis and the testing kit load only when the command runs; without the
``testing`` extra the command says how to install it (exit 2).
"""

from __future__ import annotations

from typing import Annotated

import typer

from commitladder._errors import DefinitionError

from ._output import Files, err, out, speaking

__all__ = ["property_test"]


def property_test(
    ctx: typer.Context,
    files: Files,
    examples: Annotated[
        int,
        typer.Option("--examples", "-n", min=1, metavar="N", help="Random climbs per ladder."),
    ] = 200,
    seed: Annotated[
        int | None,
        typer.Option("--seed", min=0, metavar="SEED", help="Repeat a run (printed with each run)."),
    ] = None,
    steps: Annotated[
        int, typer.Option("--steps", min=1, metavar="N", help="Commands per climb, at most.")
    ] = 40,
) -> None:
    """Property-test each ladder's rules: lint, then random climbs.

    Exit 0 when every rule holds, 1 when one broke (the story shows how), 2 when a ladder
    file is invalid.

    \b
    Example:
      commitladder test ladders/*.yaml --seed 7
    """
    try:
        from commitladder._lint import locate
        from commitladder._yaml import read_yaml
        from commitladder.testing import prove
    except ImportError:
        err.print(
            "commitladder test needs the `testing` extra: pip install 'commitladder[testing]'"
        )
        raise typer.Exit(2) from None
    from commitladder._ladder import load

    invalid = broken = 0
    with speaking(ctx):
        for file in files:
            try:
                ladder = load(file)
            except DefinitionError as exc:
                for problem in exc.problems:
                    out.print(str(problem), markup=False)
                invalid += 1
                continue
            rules = ("max_size_step", "requires_before", "max_asks_without_commitment")
            findings = locate(
                [f for f in ladder.lint() if f.code in rules],
                read_yaml(file.read_bytes(), source=str(file)),
            )
            for finding in findings:
                out.print(str(finding), markup=False)  # file:line:column: ...
            verdict = prove(ladder, max_examples=examples, seed=seed, steps=steps)
            if verdict.broken is not None:
                broken += 1
                out.print(f"{file}: FAILED after {verdict.examples} climbs", markup=False)
                out.print(str(verdict.broken), markup=False)
            elif findings:
                broken += 1
                out.print(
                    f"{file}: FAILED: lint proves a rule false on some path "
                    f"({verdict.examples} random climbs did not meet it; seed {verdict.seed})",
                    markup=False,
                )
            else:
                directed = f", {verdict.directed} of them directed runs of no's"
                out.print(
                    f"{file}: ok, every rule held over {verdict.examples} climbs"
                    f"{directed if verdict.directed else ''} (seed {verdict.seed})",
                    markup=False,
                )
    if invalid:
        raise typer.Exit(2)
    if broken:
        raise typer.Exit(1)
