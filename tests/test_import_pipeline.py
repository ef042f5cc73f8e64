"""`commitladder import` turns each CRM's default pipeline, in that CRM's own export format,
into a starter ladder: open stages as rungs with their stage and probability, closed stages
as ends, comments where a stage is the seller's work; the result passes validate and check."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

import commitladder as cl
from commitladder.cli import app

PIPELINES = Path(__file__).parent / "pipelines"
FIXTURES = {
    "salesforce": PIPELINES / "salesforce_opportunity_stages.csv",
    "hubspot": PIPELINES / "hubspot_deal_pipelines.json",
    "odoo": PIPELINES / "odoo_crm_stage.csv",
    "pipedrive": PIPELINES / "pipedrive_stages.json",
}
runner = CliRunner()


def imported(system: str, text: str | None = None, **options: Any) -> str:
    path = FIXTURES[system]
    return cl.import_pipeline(  # type: ignore[arg-type]
        system, path.read_text() if text is None else text, source=path.name, **options
    )


def stages(ladder: cl.Ladder) -> list[tuple[str, str | None, float | None]]:
    """(rung, stage, probability) along the ladder's only path."""
    out, rung = [], ladder.start[0]
    while rung in ladder.rungs:
        r = ladder.rungs[rung]
        out.append((r.id, r.stage, r.probability))
        rung = r.next[0]
    return out


@pytest.mark.parametrize("system", list(FIXTURES))
def test_the_default_pipeline_imports_to_a_ladder_that_passes_validate_and_check(
    system: str, tmp_path: Path
) -> None:
    path = tmp_path / f"{system}.yaml"
    path.write_text(imported(system))
    result = runner.invoke(app, ["validate", str(path)])
    assert result.exit_code == 0, result.output
    verdict = cl.verify(path, strict=True)
    assert verdict.ok, verdict
    assert cl.load(path).lint() == []


def test_salesforce_stages_become_rungs_in_sort_order_with_their_probabilities() -> None:
    ladder = cl.Ladder.from_yaml(imported("salesforce"))
    assert stages(ladder) == [
        ("prospecting", "Prospecting", 0.1),
        ("qualification", "Qualification", 0.1),
        ("needs_analysis", "Needs Analysis", 0.2),
        ("value_proposition", "Value Proposition", 0.5),
        ("id_decision_makers", "Id. Decision Makers", 0.6),
        ("perception_analysis", "Perception Analysis", 0.7),
        ("proposal_price_quote", "Proposal/Price Quote", 0.75),
        ("negotiation_review", "Negotiation/Review", 0.9),
    ]
    assert ladder.rungs["negotiation_review"].next == ("closed_won",)
    assert ladder.rungs["negotiation_review"].on_decline == "closed_lost"
    won, lost = ladder.ends["closed_won"], ladder.ends["closed_lost"]
    assert (won.result, won.stage, won.probability) == ("won", "Closed Won", 1)
    assert (lost.result, lost.stage, lost.probability) == ("lost", "Closed Lost", 0)
    assert ladder.rungs["prospecting"].meta == {
        "salesforce_api_name": "Prospecting",
        "salesforce_id": "01J000000000001EAA",
        "forecast_category": "Pipeline",
    }


def test_salesforce_rest_json_imports_like_the_data_loader_csv() -> None:
    rows = list(csv.DictReader(io.StringIO(FIXTURES["salesforce"].read_text())))
    records = [
        {
            "attributes": {"type": "OpportunityStage"},
            **row,
            "DefaultProbability": float(row["DefaultProbability"]),
            "IsActive": row["IsActive"] == "true",
            "IsClosed": row["IsClosed"] == "true",
            "IsWon": row["IsWon"] == "true",
            "SortOrder": int(row["SortOrder"]),
        }
        for row in rows
    ]
    text = json.dumps({"totalSize": len(records), "done": True, "records": records})
    assert imported("salesforce", text) == imported("salesforce")


def test_an_inactive_salesforce_stage_is_left_out() -> None:
    text = (
        FIXTURES["salesforce"]
        .read_text()
        .replace('"Perception Analysis","70","true"', '"Perception Analysis","70","false"')
    )
    ladder = cl.Ladder.from_yaml(imported("salesforce", text))
    assert "perception_analysis" not in ladder.rungs
    assert ladder.rungs["id_decision_makers"].next == ("proposal_price_quote",)


def test_seller_work_stages_get_a_comment_and_a_commitment_to_ask_instead() -> None:
    text = imported("salesforce")
    block = text[text.index("# 'Needs Analysis'") : text.index("  needs_analysis:")]
    block = " ".join(line.strip(" #") for line in block.splitlines())
    assert "analysing needs is the seller's work, not a commitment the prospect makes" in block
    assert "Ask instead for a discovery meeting" in block
    proposal = text.index("  proposal_price_quote:")
    assert "#" not in text[text.rindex("\n", 0, proposal - 1) : proposal]  # a commitment


def test_hubspot_stages_keep_their_ids_and_the_closed_ones_become_ends() -> None:
    ladder = cl.Ladder.from_yaml(imported("hubspot"))
    assert [(r, p) for r, _, p in stages(ladder)] == [
        ("appointment_scheduled", 0.2),
        ("qualified_to_buy", 0.4),
        ("presentation_scheduled", 0.6),
        ("decision_maker_bought_in", 0.8),
        ("contract_sent", 0.9),
    ]
    assert ladder.rungs["contract_sent"].meta == {"hubspot_stage_id": "contractsent"}
    assert {k: e.result for k, e in ladder.ends.items()} == {
        "closed_won": "won",
        "closed_lost": "lost",
    }


def test_hubspot_with_several_pipelines_asks_which_and_takes_an_id_or_label() -> None:
    data = json.loads(FIXTURES["hubspot"].read_text())
    other = {**data["results"][0], "id": "123", "label": "Renewals"}
    text = json.dumps({"results": [data["results"][0], other]})
    with pytest.raises(cl.PipelineImportError, match=r"2 pipelines: Sales Pipeline \(id def"):
        imported("hubspot", text)
    assert "Renewals" not in imported("hubspot", text, pipeline="default")
    assert imported("hubspot", text, pipeline="Renewals") == imported("hubspot")
    with pytest.raises(cl.PipelineImportError, match="no pipeline 'nope'"):
        imported("hubspot", text, pipeline="nope")


def test_odoo_stages_with_a_won_stage_and_lost_as_a_status() -> None:
    ladder = cl.Ladder.from_yaml(imported("odoo"))
    assert [r for r, _, _ in stages(ladder)] == ["new", "qualified", "proposition"]
    assert ladder.ends["won"].stage == "Won"
    assert ladder.ends["lost"].result == "lost"
    assert ladder.rungs["new"].meta == {"odoo_id": "crm.stage_lead1", "folded": False}
    assert all(r.probability is None for r in ladder.rungs.values())


def test_odoo_export_with_the_labels_odoo_shows_reads_the_same() -> None:
    text = FIXTURES["odoo"].read_text()
    rest = text.split("\n", 1)[1]
    labelled = '"ID","Stage Name","Sequence","Is Won Stage?","Folded in Pipeline"\n' + rest
    assert imported("odoo", labelled) == imported("odoo")


def test_pipedrive_stages_with_won_and_lost_ends_and_a_warning_about_100_percent() -> None:
    text = imported("pipedrive")
    ladder = cl.Ladder.from_yaml(text)
    assert [r for r, _, _ in stages(ladder)] == [
        "qualified",
        "contact_made",
        "demo_scheduled",
        "proposal_made",
        "negotiations_started",
    ]
    assert "# Every open stage has a probability of 100%" in text
    assert "# Pipedrive keeps won as a deal's status, not a stage" in text
    assert ladder.rungs["demo_scheduled"].meta == {"pipedrive_stage_id": 3}


@pytest.mark.parametrize(
    ("system", "text", "message"),
    [
        ("salesforce", '"MasterLabel","SortOrder"\n"A","1"\n', r"salesforce_\w+\.csv:1: the CSV"),
        ("salesforce", FIXTURES["salesforce"].read_text().replace('"20"', '"2O"'), r":4: Def"),
        ("salesforce", FIXTURES["salesforce"].read_text().replace('"20"', '"120"'), "120%"),
        ("hubspot", '{"results": [', r"hubspot_deal_pipelines.json:1:14: not JSON"),
        ("odoo", '"name","fold"\n"New","False"\n', "export crm.stage with the fields"),
        ("pipedrive", '{"data": 3}', "GET /v1/stages"),
        ("odoo", '"name","sequence","is_won"\n"Won","1","True"\n', "no open stage"),
    ],
    ids=[
        "missing-columns",
        "bad-number",
        "bad-percent",
        "bad-json",
        "odoo-columns",
        "shape",
        "no-open",
    ],
)
def test_a_broken_export_says_what_is_wrong_and_where(system: str, text: str, message: str) -> None:
    with pytest.raises(cl.PipelineImportError, match=message):
        imported(system, text)


def test_a_stage_named_like_a_yaml_boolean_gets_an_id_that_reads_as_text() -> None:
    """Regression: a closed stage labelled "No" made `next: no`, which YAML reads as false."""
    text = '"MasterLabel","DefaultProbability","IsClosed","IsWon","SortOrder"\n'
    text += '"On","50","false","false","1"\n"No","0","true","true","2"\n'
    ladder = cl.Ladder.from_yaml(cl.import_pipeline("salesforce", text))
    assert ladder.rungs["on_stage"].next == ("no_stage",)
    assert ladder.ends["no_stage"].stage == "No"


def test_the_command_writes_the_ladder_and_will_not_overwrite_without_force(
    tmp_path: Path,
) -> None:
    out = tmp_path / "ladder.yaml"
    args = ["import", "salesforce", str(FIXTURES["salesforce"]), "-o", str(out)]
    result = runner.invoke(app, [*args, "--name", "acme_sales"])
    assert result.exit_code == 0, result.output
    assert "next: commitladder check" in result.stderr
    assert cl.load(out).name == "acme_sales"
    again = runner.invoke(app, args)
    assert again.exit_code == 1
    assert "give --force" in again.stderr
    assert runner.invoke(app, [*args, "--force"]).exit_code == 0
    printed = runner.invoke(app, ["import", "odoo", str(FIXTURES["odoo"])])
    assert printed.stdout == imported("odoo")
    broken = tmp_path / "broken.json"
    broken.write_text("{")
    failed = runner.invoke(app, ["import", "pipedrive", str(broken)])
    assert failed.exit_code == 1
    assert "broken.json:1:2: not JSON" in failed.stderr


labels = st.text(
    alphabet=st.characters(codec="utf-8", exclude_categories=["Cs"]), min_size=1, max_size=60
).filter(lambda s: s.strip() == s and s)


@settings(max_examples=60, deadline=None)
@given(
    st.lists(
        st.tuples(labels, st.integers(0, 100), st.booleans(), st.booleans()),
        min_size=1,
        max_size=12,
    )
)
def test_any_salesforce_export_with_an_open_stage_imports_to_a_valid_ladder(
    rows: list[tuple[str, int, bool, bool]],
) -> None:
    rows = [*rows, ("Open\x85end", 50, False, False)]
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(["MasterLabel", "DefaultProbability", "IsClosed", "IsWon", "SortOrder"])
    for i, (label, chance, closed, won) in enumerate(rows):
        writer.writerow([label, chance, str(closed).lower(), str(closed and won).lower(), i])
    ladder = cl.Ladder.from_yaml(cl.import_pipeline("salesforce", out.getvalue()))
    opened = [(label, chance) for label, chance, closed, _ in rows if not closed]
    assert [(r.stage, r.probability) for r in ladder.rungs.values()] == [
        (label, chance / 100) for label, chance in opened
    ]
    assert {e.result for e in ladder.ends.values()} >= {"won", "lost"}
