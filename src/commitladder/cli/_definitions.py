"""Commands about ladder files themselves: ``validate``, ``check`` and ``schema``.

Nothing here runs an enrollment or opens a database. The ladder stack (pydantic,
the compiled core) is imported inside each command, never at import.
"""

from __future__ import annotations

import json
import sys
from collections import Counter
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from commitladder._errors import DefinitionError

from ._output import Files, err, out, print_findings, speaking

if TYPE_CHECKING:
    from commitladder._verify import Verification

__all__ = ["CheckFormat", "check", "schema", "validate"]


def validate(ctx: typer.Context, files: Files) -> None:
    """Load ladder files: print ok, or every problem with its place.

    Each problem prints as FILE:LINE:COLUMN: FIELD: MESSAGE, with a "did you mean" where
    a name is close to one the ladder declares.

    \b
    Example:
      commitladder validate ladders/*.yaml
    """
    from commitladder._ladder import load

    failed = 0
    with speaking(ctx):
        for file in files:
            try:
                ladder = load(file)
            except DefinitionError as exc:
                failed += 1
                for problem in exc.problems:
                    out.print(str(problem), markup=False)
                continue
            rungs, ends = len(ladder.rungs), len(ladder.ends)
            out.print(
                f"{file}: ok ({ladder.name} v{ladder.version}: {rungs} rung{'s' * (rungs != 1)}, "
                f"{ends} end{'s' * (ends != 1)})",
                markup=False,
            )
    if failed:
        err.print(f"{failed} of {len(files)} file{'s' if len(files) > 1 else ''} invalid")
        raise typer.Exit(1)


class CheckFormat(StrEnum):
    text = "text"
    json = "json"


def check(
    ctx: typer.Context,
    files: Files,
    strict: Annotated[bool, typer.Option("--strict", help="Warnings fail too (exit 1).")] = False,
    fmt: Annotated[
        CheckFormat, typer.Option("--format", help="text for people, json for CI annotations.")
    ] = CheckFormat.text,
) -> None:
    """Lint ladders: findings with a code, a place and a fix.

    The same findings, and the same verdict, as `commitladder test` and the pytest plugin
    give before their random climbs. A finding that says the same thing about several
    places is printed once, with the places listed under it. Exit 0 when no finding
    fails (errors fail; warnings too with --strict), 1 when one does or a file is not a
    valid ladder, 2 on a usage error.

    \b
    Example:
      commitladder check examples/ladders/*.yaml --strict
    """
    from commitladder._verify import verify

    with speaking(ctx):
        results = [verify(file, strict=strict) for file in files]
        results = _compare_versions(results, files)
    found = [finding for result in results for finding in result.findings]
    if fmt is CheckFormat.json:
        out.print_json(json.dumps([f.to_dict() for f in found]))
    else:
        for result in results:
            if not result.findings:
                out.print(f"{result.source}: ok, no findings", markup=False)
            print_findings(result.findings)
        if found:
            fails = any(result.failing for result in results)
            counts = Counter(f.severity for f in found for _ in f.places or [f])
            summary = ", ".join(
                f"{counts[s]} {s}{'s' * (counts[s] != 1)}"
                for s in ("error", "warning", "info")
                if counts[s]
            )
            err.print(
                f"{summary} in {len(files)} file{'s' * (len(files) != 1)}"
                + ("" if fails else "; none fails" + ("" if strict else " (use --strict)")),
                markup=False,
            )
    if not all(result.ok for result in results):
        raise typer.Exit(1)


def _compare_versions(results: list[Verification], files: list[Path]) -> list[Verification]:
    """Add, to each ladder that migrates from an older version also given, what the
    comparison finds (a rung gone without a mapping): ``check v1.yaml v2.yaml``."""
    from dataclasses import replace

    from commitladder._lint import locate
    from commitladder._migrate import migration_findings
    from commitladder._yaml import read_yaml

    ladders = [r.ladder for r in results]
    out_ = []
    for result, file in zip(results, files, strict=True):
        newer = result.ladder
        extra = [
            finding
            for older in ladders
            if newer is not None and older is not None
            for finding in migration_findings(older, newer)
        ]
        if extra:
            located = locate(extra, read_yaml(file.read_bytes(), source=str(file)))
            result = replace(result, findings=(*located, *result.findings))
        out_.append(result)
    return out_


def schema(
    ctx: typer.Context,
    output: Annotated[
        Path | None,
        typer.Option("--output", "-o", metavar="FILE", help="Write here instead of stdout."),
    ] = None,
) -> None:
    """Print the JSON Schema of the ladder format, for editors.

    The YAML language server (VS Code, vim, emacs...) then completes and checks ladder
    files as you type, when their first line names the schema:

    \b
      # yaml-language-server: $schema=<path or URL of the schema>

    \b
    Example:
      commitladder schema -o ladder.schema.json
    """
    with speaking(ctx):
        from commitladder._schema import schema_text

        text = schema_text()
    if output is None:
        sys.stdout.write(text)
        sys.stdout.flush()
    else:
        output.write_text(text, encoding="utf-8")
        err.print(f"wrote {output}", markup=False)
