"""Rungs and ends carry a CRM stage, a probability and free host data (`meta:`): kept on
round-trip, listed in the JSON Schema, located when wrong, and linted for a pipeline that
goes down or has holes."""

from __future__ import annotations

from typing import Any

import jsonschema
import pytest
from hypothesis import given
from hypothesis import strategies as st
from typer.testing import CliRunner

import commitladder as cl
from commitladder._schema import ladder_schema
from commitladder.cli import app

runner = CliRunner()

PIPELINE = """\
ladder: deals
start: discovery
rungs:
  discovery:
    kind: meeting
    size: 2
    next: proposal
    stage: Qualification
    probability: 0.2
    meta:
      sf_api_name: Qualification
      colour: "#4a90d9"
      playbook: {url: "https://x.test/p", steps: [1, 2]}
  proposal:
    kind: proposal
    size: 3
    next: won
    on_decline: lost
    stage: Proposal/Price Quote
    probability: 0.75
ends:
  won: {result: won, stage: Closed Won, probability: 1, meta: {is_won: true}}
  lost: {result: lost, stage: Closed Lost, probability: 0}
"""


def _ladder(**rung_fields: Any) -> dict[str, Any]:
    return {
        "ladder": "t",
        "start": "a",
        "rungs": {"a": {"kind": "call", "size": 1, "next": "won", **rung_fields}},
        "ends": {"won": {"result": "won"}},
    }


def test_stage_probability_and_meta_reach_the_compiled_rungs_and_ends() -> None:
    ladder = cl.Ladder.from_yaml(PIPELINE)
    assert ladder.rungs["discovery"].stage == "Qualification"
    assert ladder.rungs["discovery"].probability == 0.2
    assert ladder.rungs["discovery"].meta == {
        "sf_api_name": "Qualification",
        "colour": "#4a90d9",
        "playbook": {"url": "https://x.test/p", "steps": [1, 2]},
    }
    assert ladder.ends["won"].stage == "Closed Won"
    assert ladder.ends["won"].meta == {"is_won": True}
    assert ladder.ends["lost"].probability == 0


def test_pipeline_fields_round_trip_through_yaml_and_dicts() -> None:
    ladder = cl.Ladder.from_yaml(PIPELINE)
    again = cl.Ladder.from_yaml(ladder.to_yaml())
    assert again == ladder
    assert again.to_dict() == ladder.to_dict()
    assert again.to_dict()["rungs"]["discovery"]["meta"]["playbook"]["steps"] == [1, 2]


def test_ladders_differing_only_in_stage_are_not_equal() -> None:
    one = cl.Ladder.from_dict(_ladder(stage="Qualification"))
    other = cl.Ladder.from_dict(_ladder(stage="Discovery"))
    assert one != other


json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**53), 2**53) | st.text(max_size=20),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=10), inner, max_size=4)
    ),
    max_leaves=12,
)


@given(meta=st.dictionaries(st.text(min_size=1, max_size=20), json_values, max_size=6))
def test_any_json_meta_is_kept_unchanged(meta: dict[str, Any]) -> None:
    ladder = cl.Ladder.from_dict(_ladder(meta=meta))
    assert ladder.rungs["a"].meta == meta
    assert cl.Ladder.from_yaml(ladder.to_yaml()).rungs["a"].meta == meta


def test_the_json_schema_lists_the_pipeline_fields_and_checks_them() -> None:
    schema = ladder_schema()
    for model in ("RungDefinition", "EndDefinition"):
        assert {"stage", "probability", "meta"} <= set(schema["$defs"][model]["properties"])
    import yaml

    jsonschema.validate(yaml.safe_load(PIPELINE), schema)
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(_ladder(probability=20), schema)


@pytest.mark.parametrize(
    ("field", "value", "words"),
    [
        ("probability", 1.5, "less than or equal to 1"),
        ("probability", -0.1, "greater than or equal to 0"),
        ("meta", [1, 2], "valid dictionary"),
        ("stage", "", "at least 1 character"),
    ],
)
def test_a_bad_pipeline_field_is_a_located_problem(field: str, value: Any, words: str) -> None:
    with pytest.raises(cl.DefinitionError) as caught:
        cl.Ladder.from_dict(_ladder(**{field: value}))
    (problem,) = caught.value.problems
    assert problem.path == f"rungs.a.{field}"
    assert words in problem.message


def test_a_bad_probability_in_yaml_names_its_line_and_column() -> None:
    text = PIPELINE.replace("probability: 0.75", "probability: 75")
    with pytest.raises(cl.DefinitionError) as caught:
        cl.Ladder.from_yaml(text, source="deals.yaml")
    (problem,) = caught.value.problems
    assert (problem.line, problem.column) == (20, 18)
    assert "deals.yaml:20:18" in str(caught.value)


def test_a_pipeline_that_climbs_has_no_probability_findings() -> None:
    codes = {f.code for f in cl.Ladder.from_yaml(PIPELINE).lint()}
    assert not codes & {"probability_decreases", "probability_missing"}


def test_a_commitment_to_a_lower_probability_is_warned_with_its_path() -> None:
    text = PIPELINE.replace("probability: 0.75", "probability: 0.1")
    (finding,) = [f for f in cl.Ladder.from_yaml(text).lint() if f.code.startswith("prob")]
    assert finding.code == "probability_decreases"
    assert finding.severity == "warning"
    assert finding.location == "rungs.discovery.next"
    assert finding.path == ("discovery", "proposal")
    assert "(probability 0.2) leads to proposal (probability 0.1)" in finding.message


def test_a_won_end_below_its_rung_is_warned_but_a_lost_end_is_not() -> None:
    text = PIPELINE.replace("Closed Won, probability: 1", "Closed Won, probability: 0.5")
    found = [f for f in cl.Ladder.from_yaml(text).lint() if f.code == "probability_decreases"]
    assert [(f.location, f.path) for f in found] == [
        ("rungs.proposal.next", ("discovery", "proposal", "won"))
    ]


def test_a_rung_without_probability_among_others_is_warned() -> None:
    text = PIPELINE.replace("    probability: 0.75\n", "")
    (finding,) = [f for f in cl.Ladder.from_yaml(text).lint() if f.code.startswith("prob")]
    assert finding.code == "probability_missing"
    assert finding.location == "rungs.proposal"


def test_a_ladder_without_any_probability_is_not_warned() -> None:
    codes = {f.code for f in cl.Ladder.from_dict(_ladder()).lint()}
    assert "probability_missing" not in codes


def test_check_prints_the_probability_warning_with_its_location(tmp_path: Any) -> None:
    path = tmp_path / "deals.yaml"
    path.write_text(PIPELINE.replace("probability: 0.75", "probability: 0.1"))
    result = runner.invoke(app, ["check", str(path)])
    assert "[probability_decreases]" in result.output
    assert "deals.yaml:" in result.output


def test_text_with_a_next_line_character_round_trips_through_yaml() -> None:
    """Regression: PyYAML wrote NEL (U+0085) raw and read it back as a space."""
    ladder = cl.Ladder.from_dict({**_ladder(meta={"a\x85b": "c\x85d"}), "title": "x\x85y"})
    again = cl.Ladder.from_yaml(ladder.to_yaml())
    assert again.rungs["a"].meta == {"a\x85b": "c\x85d"}
    assert again.title == "x\x85y"
