"""``commitladder test``: lint proofs, then random climbs with hypothesis, per ladder file.

It reports what ``commitladder.verify`` finds, the same verdict ``check`` and the
pytest plugin give. Hypothesis and the testing kit load only when the command runs;
without the ``testing`` extra the command says how to install it (exit 2).
"""

from __future__ import annotations

from typing import Annotated

import typer

from ._output import Files, err, out, print_findings, speaking

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
    strict: Annotated[bool, typer.Option("--strict", help="Lint warnings fail too.")] = False,
) -> None:
    """Property-test each ladder's rules: lint, then random climbs.

    Every lint finding is printed as `commitladder check` prints it, then the climbs'
    verdict; a broken rule is told as a numbered sales story. Exit 0 when the ladder
    passes, 1 when a rule broke, lint found an error (a warning too with --strict) or a
    file is not a valid ladder, 2 on a usage error.

    \b
    Example:
      commitladder test ladders/*.yaml --seed 7
    """
    try:
        import commitladder.testing  # noqa: F401  # hypothesis: fail early, with the fix
    except ImportError:
        err.print(
            "commitladder test needs the `testing` extra: pip install 'commitladder[testing]'"
        )
        raise typer.Exit(2) from None
    from commitladder._verify import verify

    failed = 0
    with speaking(ctx):
        for file in files:
            result = verify(file, examples=examples, seed=seed, steps=steps, strict=strict)
            print_findings(result.findings)
            verdict, broken = result.verdict, result.broken
            if verdict is None:  # the file is not a valid ladder: its problems are above
                failed += 1
                out.print(f"{file}: FAILED: not a valid ladder", markup=False)
            elif broken is not None:
                failed += 1
                out.print(f"{file}: FAILED after {verdict.examples} climbs", markup=False)
                out.print(str(broken), markup=False)
            elif result.failing:
                failed += 1
                codes = ", ".join(dict.fromkeys(f.code for f in result.failing))
                out.print(
                    f"{file}: FAILED: lint found {codes} ({verdict.examples} random climbs "
                    f"did not meet a broken rule; seed {verdict.seed})",
                    markup=False,
                )
            else:
                directed = f", {verdict.directed} of them directed runs of no's"
                out.print(
                    f"{file}: ok, every rule held over {verdict.examples} climbs"
                    f"{directed if verdict.directed else ''} (seed {verdict.seed})",
                    markup=False,
                )
    if failed:
        raise typer.Exit(1)
