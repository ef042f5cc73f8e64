"""``commitladder import``: a CRM's pipeline export in, a starter ladder out.

The importer (``commitladder._import_pipeline``) loads inside the command; nothing
here opens a network connection: the user exports the stages from the CRM.
"""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer

from ._output import err, speaking

__all__ = ["CrmSystem", "import_pipeline"]


class CrmSystem(StrEnum):
    salesforce = "salesforce"
    hubspot = "hubspot"
    odoo = "odoo"
    pipedrive = "pipedrive"


def import_pipeline(
    ctx: typer.Context,
    system: Annotated[CrmSystem, typer.Argument(help="The CRM the export comes from.")],
    file: Annotated[
        Path,
        typer.Argument(
            metavar="FILE",
            exists=True,
            dir_okay=False,
            readable=True,
            help="The pipeline export: Salesforce OpportunityStage CSV or JSON, HubSpot "
            "pipelines JSON, Odoo crm.stage CSV, Pipedrive stages JSON.",
        ),
    ],
    output: Annotated[
        Path | None,
        typer.Option("--output", "-o", metavar="FILE", help="Write the ladder here."),
    ] = None,
    name: Annotated[
        str | None, typer.Option("--name", metavar="ID", help="The ladder's id.")
    ] = None,
    pipeline: Annotated[
        str | None,
        typer.Option(
            "--pipeline",
            metavar="ID",
            help="Which pipeline (id or label), when the export has several.",
        ),
    ] = None,
    force: Annotated[bool, typer.Option("--force", help="Overwrite the output file.")] = False,
) -> None:
    """Write a starter ladder from a CRM's deal pipeline.

    Open stages become rungs (with `stage:` and `probability:`), closed ones ends. Where
    a stage is the seller's work rather than a commitment the prospect makes, a comment
    suggests the commitment to ask for instead. The ladder always passes `validate`.

    \b
    Example:
      commitladder import salesforce OpportunityStage.csv -o ladder.yaml
      commitladder import hubspot pipelines.json --pipeline default -o ladder.yaml
    """
    with speaking(ctx):
        from commitladder._import_pipeline import import_pipeline as convert

        text = file.read_text(encoding="utf-8-sig")
        ladder = convert(system.value, text, source=file.name, name=name, pipeline=pipeline)
    if output is None:
        typer.echo(ladder, nl=False)
        return
    if output.exists() and not force:
        err.print(f"{output} exists; give --force to overwrite it", markup=False)
        raise typer.Exit(1)
    output.write_text(ladder, encoding="utf-8")
    err.print(f"wrote {output}; next: commitladder check {output}", markup=False)
