"""Lint proves `max_size_step` and `requires_before` over every path, naming the offending one;
findings that say the same thing about several places are grouped for people; `commitladder
check` and `commitladder test` report them, and their verdicts, with exit codes 0/1/2."""

from __future__ import annotations

import json
import re
from datetime import timedelta
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st
from typer.testing import CliRunner

import commitladder as cl
from commitladder._lint import CHECKS, Finding, check, grouped, lint, locate
from commitladder._yaml import read_yaml
from commitladder.cli import app
from commitladder.testing import prove
from support import T0

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


def test_too_many_asks_in_a_row_are_found_with_the_asks_that_break_the_rule() -> None:
    (finding,) = cl.load(BROKEN / "too_many_asks.yaml").lint()
    assert finding.code == "max_asks_without_commitment"
    assert finding.location == "rules.max_asks_without_commitment"
    assert finding.path == ("admit_problem",) * 5
    assert "at the start, up to 5 asks" in finding.message
    assert "allows 3" in finding.message


def test_the_asks_found_really_happen_on_an_enrollment() -> None:
    """The static bound is reached: ask, hear no, resume, ask again... five times."""
    ladder = cl.load(BROKEN / "too_many_asks.yaml")
    (finding,) = ladder.lint()
    e = ladder.enroll("lead", now=T0)
    for n, rung in enumerate(finding.path):
        e.ask(rung, now=T0 + timedelta(days=n))
        e.decline(now=T0 + timedelta(days=n))
        e.resume(now=T0 + timedelta(days=n))
    assert e.asks_without_commitment == len(finding.path) == 5


def test_asks_in_a_loop_of_redirects_count_on_the_route_that_reaches_them() -> None:
    (finding,) = cl.load(BROKEN / "nurture_loop.yaml").lint()
    assert finding.code == "max_asks_without_commitment"
    assert finding.path[0] == "admit_problem"
    assert sorted(finding.path[1:]) == ["nurture"] * 3 + ["purchase"] * 3
    assert "after start -> admit_problem, up to 6 asks" in finding.message


def test_a_rung_committed_on_every_route_to_a_position_has_an_ask_less_there() -> None:
    """After b, a (max 3) and c (max 1) are offered; a was committed on every way to b, so
    at most 2 + 1 asks follow: a rule of 3 holds, and one of 2 breaks at the start."""
    data = {
        "ladder": "again",
        "start": "a",
        "defaults": {"expires_after": "7d"},
        "rungs": {
            "a": {"kind": "call", "size": 1, "max_asks": 3, "next": "b"},
            "b": {"kind": "call", "size": 1, "max_asks": 1, "next": ["a", "c"]},
            "c": {"kind": "call", "size": 1, "max_asks": 1, "next": "won"},
        },
        "ends": {"won": {"result": "won"}},
        "rules": {"max_asks_without_commitment": 3},
    }
    assert cl.Ladder.from_dict(data).lint() == []
    data["rules"] = {"max_asks_without_commitment": 2}
    (finding,) = cl.Ladder.from_dict(data).lint()
    assert finding.path == ("a", "a", "a")


def test_unlimited_asks_break_any_limit() -> None:
    data = cl.load(BROKEN / "too_many_asks.yaml").to_dict()
    data["defaults"]["max_asks"] = None
    found = cl.Ladder.from_dict(data).lint()
    (finding,) = [f for f in found if f.code == "max_asks_without_commitment"]
    assert "admit_problem can be asked again and again" in finding.message
    assert "max_asks" in finding.hint


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
    verdict = prove(cl.load(EXAMPLES[0]), seed=1, max_examples=30)
    climbs = f"{30 + verdict.directed} climbs"
    if verdict.directed:
        climbs += f", {verdict.directed} of them directed runs of no's"
    assert f"ok, every rule held over {climbs} (seed 1)" in result.output


def test_cli_test_fails_a_broken_ladder_with_the_story() -> None:
    result = runner.invoke(app, ["test", str(BROKEN / "skips_qualification.yaml"), "--seed", "3"])
    assert result.exit_code == 1
    assert "[requires_before]" in result.output
    # the lint proof is located in the file, like `commitladder check` prints it
    assert re.search(r"skips_qualification\.yaml:\d+:\d+: rules\.requires_before", result.output)
    assert "broke rule requires_before" in result.output
    assert "  1. Day 0: Asked for admit_problem." in result.output
    assert "Traceback" not in result.output


def test_cli_test_exits_1_on_an_invalid_ladder_like_every_command(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("ladder: x\nstart: a\nrungs: {a: {kind: call, size: 1, next: nowhere}}\n")
    result = runner.invoke(app, ["test", str(bad), str(EXAMPLES[0]), "--examples", "5"])
    assert result.exit_code == 1
    assert "unknown target 'nowhere'" in result.output
    assert f"{bad}: FAILED: not a valid ladder" in result.output
    assert f"{EXAMPLES[0]}: ok" in result.output


def test_check_and_test_fail_a_ladder_whose_loop_has_no_way_out() -> None:
    """Regression: `test` filtered lint to three codes and said "ok, every rule held" on a
    ladder with cycle_without_exit and dead_end errors, which `check` and the plugin fail."""
    path = str(BROKEN / "trapped.yaml")
    checked = runner.invoke(app, ["check", path])
    tested = runner.invoke(app, ["test", path, "--examples", "10", "--seed", "1"])
    assert (checked.exit_code, tested.exit_code) == (1, 1)
    for result in (checked, tested):
        assert "error [cycle_without_exit]" in result.stdout
        assert "error [dead_end]" in result.stdout
    assert "ok, every rule held" not in tested.stdout
    assert "FAILED: lint found cycle_without_exit, dead_end" in tested.stdout


def test_cli_test_fails_on_lint_warnings_only_when_strict() -> None:
    path = str(BROKEN / "smells.yaml")
    relaxed = runner.invoke(app, ["test", path, "--examples", "5", "--seed", "1"])
    assert relaxed.exit_code == 0, relaxed.output
    assert "warning [no_expiry]" in relaxed.stdout
    strict = runner.invoke(app, ["test", path, "--examples", "5", "--seed", "1", "--strict"])
    assert strict.exit_code == 1
    assert "FAILED: lint found no_expiry, no_decline_path, same_outcomes, unused_channel" in (
        strict.stdout
    )


# ---- the shape of the graph and what a "no" or silence does ------------------------------------


def _located(name: str) -> list[Finding]:
    return _located_file(BROKEN / name)


def _located_file(path: Path) -> list[Finding]:
    return locate(cl.load(path).lint(), read_yaml(path.read_bytes(), source=str(path)))


def test_a_loop_with_no_way_out_a_rung_leading_into_it_and_an_orphan_are_found() -> None:
    loop, dead, orphan = _located("trapped.yaml")
    assert (loop.code, loop.severity, loop.location) == (
        "cycle_without_exit",
        "error",
        "rungs.webinar",
    )
    assert loop.path == ("webinar", "survey")
    assert "webinar -> survey -> webinar has no way out" in loop.message
    assert (dead.code, dead.location, dead.line, dead.column) == (
        "dead_end",
        "rungs.newsletter",
        9,
        3,
    )
    assert "leads into the loop webinar, survey" in dead.message
    assert (orphan.code, orphan.severity, orphan.line) == ("unreachable_rung", "warning", 12)
    assert str(orphan).startswith(f"{BROKEN / 'trapped.yaml'}:12:3: rungs.orphan: warning ")


def test_silence_and_no_that_trap_a_deal_are_warned_about_where_the_file_says_so() -> None:
    found = {f.code: f for f in _located("smells.yaml")}
    assert set(found) == {"no_expiry", "no_decline_path", "same_outcomes", "unused_channel"}
    assert all(f.severity == "warning" for f in found.values())
    assert (found["no_expiry"].location, found["no_expiry"].line) == (
        "rungs.intro_call.expires_after",
        15,
    )
    assert found["no_decline_path"].path == ("admit_problem", "intro_call")
    assert (found["same_outcomes"].location, found["same_outcomes"].line) == (
        "rungs.qualify.outcomes",
        22,
    )
    unused = found["unused_channel"]
    assert (unused.location, unused.line, unused.column) == ("defaults.channels[2]", 8, 28)
    assert "fax" in unused.message
    assert unused.to_dict()["line"] == 8


def test_a_setting_inherited_from_defaults_is_reported_on_the_defaults() -> None:
    data = cl.load(BROKEN / "smells.yaml").to_dict()
    del data["rungs"]["intro_call"]["expires_after"]
    data["defaults"]["expires_after"] = None
    locations = sorted(
        f.location for f in cl.Ladder.from_dict(data).lint() if f.code == "no_expiry"
    )
    assert locations == ["defaults.expires_after"] * 3


# ---- commitladder check ---------------------------------------------------------------------


def test_cli_check_says_ok_for_each_example() -> None:
    result = runner.invoke(app, ["check", "--strict", *map(str, EXAMPLES)])
    assert result.exit_code == 0, result.output
    assert result.stdout.count(": ok, no findings") == len(EXAMPLES)


def test_cli_check_prints_located_findings_and_fails_on_errors() -> None:
    path = BROKEN / "trapped.yaml"
    result = runner.invoke(app, ["check", str(path)])
    assert result.exit_code == 1
    assert f"{path}:10:3: rungs.webinar: error [cycle_without_exit] the loop" in result.stdout
    assert "(fix: " in result.stdout
    assert "2 errors, 1 warning in 1 file" in result.stderr
    assert "Traceback" not in result.output


def test_cli_check_fails_on_warnings_only_when_strict() -> None:
    path = str(BROKEN / "smells.yaml")
    relaxed = runner.invoke(app, ["check", path])
    assert relaxed.exit_code == 0
    assert "4 warnings in 1 file; none fails (use --strict)" in relaxed.stderr
    assert runner.invoke(app, ["check", "--strict", path]).exit_code == 1


def test_cli_check_json_is_one_list_for_ci_annotations(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("ladder: x\nstart: a\nrungs: {a: {kind: call, size: 1, next: nowhere}}\n")
    result = runner.invoke(
        app, ["check", "--format", "json", str(BROKEN / "smells.yaml"), str(bad)]
    )
    assert result.exit_code == 1
    found = json.loads(result.stdout)
    codes = [f["code"] for f in found]
    assert codes.count("invalid_definition") == 2  # the unknown target, the missing ends
    assert {"no_expiry", "same_outcomes"} <= set(codes)
    first = next(f for f in found if f["code"] == "no_expiry")
    assert (first["line"], first["column"], first["severity"]) == (15, 5, "warning")
    assert first["source"] == str(BROKEN / "smells.yaml")


def test_cli_check_usage_errors_exit_2(tmp_path: Path) -> None:
    assert runner.invoke(app, ["check"]).exit_code == 2
    assert runner.invoke(app, ["check", str(tmp_path / "missing.yaml")]).exit_code == 2
    assert runner.invoke(app, ["check", "--format", "xml", str(EXAMPLES[0])]).exit_code == 2


# ---- findings that say the same thing about several places ------------------------------------

TUTORIAL = HERE.parent / "docs" / "tutorial" / "first_ladder.yaml"


def test_lint_keeps_one_finding_per_place() -> None:
    """`Ladder.lint()` is for programs: each finding is one place to filter or annotate."""
    found = cl.load(TUTORIAL).lint()
    assert [f.location for f in found] == [
        "rungs.admit_problem",
        "rungs.short_call",
        "rungs.qualify",
        "rungs.newsletter",
    ]
    assert all(f.code == "no_decline_path" and not f.places for f in found)


def test_findings_of_one_code_that_say_the_same_are_grouped_with_their_places() -> None:
    (group,) = grouped(_located_file(TUTORIAL))
    assert (group.code, group.severity, group.location, group.line) == (
        "no_decline_path",
        "warning",
        "rungs.admit_problem",
        15,
    )
    assert [(p.location, p.line, p.column) for p in group.places] == [
        ("rungs.admit_problem", 15, 3),
        ("rungs.short_call", 21, 3),
        ("rungs.qualify", 28, 3),
        ("rungs.newsletter", 37, 3),
    ]
    assert group.places[0].detail == "at the start, admit_problem is the only thing to ask"
    assert group.places[3].detail == "after qualify, newsletter is the only thing to ask"
    assert group.places[3].path == ("admit_problem", "short_call", "qualify", "newsletter")
    # the shared sentence is said once, not once per rung
    assert str(group).count("nothing caps the asks") == 1


def test_findings_that_differ_in_what_they_say_stay_apart() -> None:
    found = grouped(_located("smells.yaml") + _located("trapped.yaml"))
    assert [f.code for f in found] == [
        "no_expiry",
        "no_decline_path",
        "same_outcomes",
        "unused_channel",
        "cycle_without_exit",
        "dead_end",
        "unreachable_rung",
    ]
    assert not any(f.places for f in found)


def test_findings_in_different_files_are_not_grouped(tmp_path: Path) -> None:
    copy = tmp_path / "smells.yaml"
    copy.write_text((BROKEN / "smells.yaml").read_text())
    found = grouped(_located("smells.yaml") + _located_file(copy))
    assert len(found) == 8


def test_three_rungs_inheriting_no_expiry_from_defaults_are_one_finding() -> None:
    data = cl.load(BROKEN / "smells.yaml").to_dict()
    del data["rungs"]["intro_call"]["expires_after"]
    data["defaults"]["expires_after"] = None
    (group,) = [f for f in grouped(cl.Ladder.from_dict(data).lint()) if f.code == "no_expiry"]
    assert [p.location for p in group.places] == ["defaults.expires_after"] * 3
    assert [p.detail for p in group.places] == [
        f"an ask for {rung} never expires" for rung in ("admit_problem", "intro_call", "qualify")
    ]


def test_cli_check_prints_a_group_once_with_each_place_located() -> None:
    result = runner.invoke(app, ["check", str(TUTORIAL)])
    assert result.exit_code == 0
    lines = result.stdout.splitlines()
    assert lines[0].startswith(f"{TUTORIAL}: warning [no_decline_path] at 4 places: ")
    assert lines[1:] == [
        f"  {TUTORIAL}:15:3: rungs.admit_problem: at the start, admit_problem is the only "
        "thing to ask",
        f"  {TUTORIAL}:21:3: rungs.short_call: after admit_problem, short_call is the only "
        "thing to ask",
        f"  {TUTORIAL}:28:3: rungs.qualify: after short_call, qualify is the only thing to ask",
        f"  {TUTORIAL}:37:3: rungs.newsletter: after qualify, newsletter is the only thing to ask",
    ]
    assert len(result.stdout) < 1000  # it was four warnings of about 400 characters each
    assert "4 warnings in 1 file; none fails (use --strict)" in result.stderr


def test_cli_check_json_lists_a_groups_places() -> None:
    result = runner.invoke(app, ["check", "--format", "json", str(TUTORIAL)])
    (group,) = json.loads(result.stdout)
    assert (group["location"], group["line"], group["column"]) == ("rungs.admit_problem", 15, 3)
    assert [(p["location"], p["line"]) for p in group["places"]] == [
        ("rungs.admit_problem", 15),
        ("rungs.short_call", 21),
        ("rungs.qualify", 28),
        ("rungs.newsletter", 37),
    ]
    assert group["places"][1]["path"] == ["admit_problem", "short_call"]


def test_an_invalid_file_gets_a_hint_that_says_what_to_do() -> None:
    """Regression: the hint was circular ("commitladder validate shows the same problems")."""
    result = runner.invoke(
        app, ["check", "--format", "json", str(TUTORIAL.parent / "broken_ladder.yaml")]
    )
    found = json.loads(result.stdout)
    assert {f["code"] for f in found} == {"invalid_definition"}
    for finding in found:
        assert "validate" not in finding["hint"]
        assert "linted only once it loads" in finding["hint"]


_findings = st.builds(
    Finding,
    code=st.sampled_from(["a", "b"]),
    severity=st.just("warning"),
    location=st.sampled_from(["rungs.x", "rungs.y", "defaults.channels[0]"]),
    message=st.just("m"),
    hint=st.sampled_from(["h1", "h2"]),
    source=st.sampled_from([None, "one.yaml", "two.yaml"]),
    line=st.integers(1, 10_000),  # unique per list: it names the finding below
    summary=st.sampled_from([None, "s1", "s2"]),
    detail=st.sampled_from([None, "here", "there"]),
)


def _key(f: Finding) -> tuple[object, ...] | None:
    return None if f.summary is None or f.detail is None else (f.source, f.code, f.summary, f.hint)


@given(st.lists(_findings, max_size=12, unique_by=lambda f: f.line))
def test_grouping_loses_no_place_invents_none_and_merges_all_that_say_the_same(
    found: list[Finding],
) -> None:
    by_line = {f.line: f for f in found}
    merged = grouped(found)
    members = [[p.line for p in f.places] if f.places else [f.line] for f in merged]
    assert sorted(line for group in members for line in group) == sorted(by_line)
    order = [line for line in (f.line for f in found) if any(line == g[0] for g in members)]
    assert [g[0] for g in members] == order  # each stands where its first member stood
    for finding, lines in zip(merged, members, strict=True):
        keys = {_key(by_line[line]) for line in lines}
        if finding.places:
            assert len(lines) >= 2
            assert keys == {_key(finding)} != {None}
            assert finding.message == finding.summary
            assert [p.detail for p in finding.places] == [by_line[n].detail for n in lines]
        else:
            assert finding is by_line[lines[0]]
    keyed = [_key(f) for f in merged if _key(f) is not None]
    assert len(keyed) == len(set(keyed))  # nothing left that should have joined a group
