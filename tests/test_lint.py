"""Lint proves `max_size_step` and `requires_before` over every path, naming the offending one;
`commitladder test` reports findings and property-test verdicts with exit codes 0/1/2."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

import commitladder as cl
from commitladder._lint import CHECKS, Finding, check, lint
from commitladder.cli import app

HERE = Path(__file__).parent
EXAMPLES = sorted((HERE.parent / "examples" / "ladders").glob("*.yaml"))
BROKEN = HERE / "broken_ladders"
runner = CliRunner()


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: p.name)
def test_example_ladders_have_no_findings(path: Path) -> None:
    assert cl.load(path).lint() == []


def test_a_size_jump_is_found_with_its_path_and_location() -> None:
    (finding,) = cl.load(BROKEN / "size_jump.yaml").lint()
    assert finding.code == "max_size_step"
    assert finding.severity == "error"
    assert finding.location == "rungs.intro_call.next"
    assert finding.path == ("admit_problem", "intro_call", "proposal")
    assert "start -> admit_problem -> intro_call, then ask proposal" in finding.message
    assert finding.hint


def test_a_deep_size_jump_names_the_shortest_route() -> None:
    (finding,) = cl.load(BROKEN / "deep_size_jump.yaml").lint()
    assert finding.path == ("admit_problem", "intro_call", "qualify", "nurture", "proposal")
    assert finding.location == "rungs.nurture.next"


def test_a_requires_before_bypass_through_a_redirect_is_found() -> None:
    (finding,) = cl.load(BROKEN / "skips_qualification.yaml").lint()
    assert finding.code == "requires_before"
    assert finding.location == "rules.requires_before.proposal"
    assert finding.path == ("admit_problem", "intro_call", "proposal")
    assert finding.to_dict()["path"] == list(finding.path)


def test_rules_the_graph_cannot_break_give_no_findings() -> None:
    assert cl.load(BROKEN / "too_many_asks.yaml").lint() == []  # a dynamic rule only


def test_checks_register_by_stable_code() -> None:
    assert list(CHECKS) >= ["max_size_step", "requires_before"]
    with pytest.raises(ValueError, match="already registered"):
        check("max_size_step")(lambda ladder: [])
    with pytest.raises(ValueError, match="unknown lint check"):
        lint(cl.load(EXAMPLES[0]), select=["nope"])
    assert isinstance(Finding("x", "info", "rules", "m", "h"), Finding)


def test_cli_test_passes_a_good_ladder() -> None:
    result = runner.invoke(app, ["test", str(EXAMPLES[0]), "--examples", "30", "--seed", "1"])
    assert result.exit_code == 0, result.output
    assert "ok, every rule held over 30 climbs (seed 1)" in result.output


def test_cli_test_fails_a_broken_ladder_with_the_story() -> None:
    result = runner.invoke(app, ["test", str(BROKEN / "skips_qualification.yaml"), "--seed", "3"])
    assert result.exit_code == 1
    assert "[requires_before]" in result.output
    assert "broke rule requires_before" in result.output
    assert "  1. Day 0: Asked for admit_problem." in result.output
    assert "Traceback" not in result.output


def test_cli_test_exits_2_on_an_invalid_ladder(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("ladder: x\nstart: a\nrungs: {a: {kind: call, size: 1, next: nowhere}}\n")
    result = runner.invoke(app, ["test", str(bad), str(EXAMPLES[0]), "--examples", "5"])
    assert result.exit_code == 2
    assert "unknown target 'nowhere'" in result.output
