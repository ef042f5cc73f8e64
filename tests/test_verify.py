"""`commitladder.verify`: one verdict on a ladder, which `check`, `test` and the pytest plugin
all give, so they cannot disagree."""

from __future__ import annotations

import functools
import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

import commitladder as cl
from commitladder.cli import app

HERE = Path(__file__).parent
TUTORIAL = HERE.parent / "docs" / "tutorial"
GOOD = HERE.parent / "examples" / "ladders" / "solopreneur.yaml"
FILES = sorted(
    [
        *(HERE.parent / "examples" / "ladders").glob("*.yaml"),
        *(HERE / "broken_ladders").glob("*.yaml"),
        TUTORIAL / "first_ladder.yaml",
        TUTORIAL / "broken_ladder.yaml",
    ]
)
runner = CliRunner()

pytest_plugins = ["pytester"]


def test_a_good_ladder_passes_with_no_findings() -> None:
    result = cl.verify(GOOD)
    assert result.ok
    assert result.findings == ()
    assert result.ladder is not None
    assert result.verdict is None  # no climbs asked for


def test_errors_fail_and_warnings_fail_only_when_strict() -> None:
    trapped = cl.verify(HERE / "broken_ladders" / "trapped.yaml")
    assert not trapped.ok
    assert [f.code for f in trapped.failing] == ["cycle_without_exit", "dead_end"]
    smells = HERE / "broken_ladders" / "smells.yaml"
    assert cl.verify(smells).ok
    strict = cl.verify(smells, strict=True)
    assert not strict.ok
    assert len(strict.failing) == 4


def test_a_file_that_does_not_load_is_a_verdict_not_an_exception() -> None:
    result = cl.verify(TUTORIAL / "broken_ladder.yaml")
    assert not result.ok
    assert result.ladder is None
    assert [(f.code, f.line) for f in result.findings] == [
        ("invalid_definition", 19),
        ("invalid_definition", 24),
        ("invalid_definition", 30),
    ]


def test_a_ladder_object_is_verified_without_file_positions() -> None:
    ladder = cl.load(TUTORIAL / "first_ladder.yaml")
    result = cl.verify(ladder)
    assert result.source == ladder.name
    (group,) = result.findings
    assert group.source is None
    assert len(group.places) == 4


def test_climbs_run_only_when_asked_for_and_their_broken_rule_fails() -> None:
    result = cl.verify(HERE / "broken_ladders" / "skips_qualification.yaml", examples=20, seed=1)
    assert result.verdict is not None
    assert result.verdict.seed == 1
    assert result.broken is not None
    assert result.broken.rule == "requires_before"
    assert not result.ok
    with pytest.raises(ValueError, match="examples must be 0"):
        cl.verify(GOOD, examples=-1)


def test_lint_only_needs_no_hypothesis() -> None:
    code = (
        "import json, sys, commitladder as cl; "
        f"cl.verify({str(GOOD)!r}); print(json.dumps(sorted(sys.modules)))"
    )
    loaded = json.loads(subprocess.check_output([sys.executable, "-c", code], text=True))
    assert [m for m in loaded if m.split(".")[0] == "hypothesis"] == []


@functools.cache
def _passes(path: Path, *, climbs: int) -> bool:
    return cl.verify(path, examples=climbs, seed=1).ok


@pytest.mark.parametrize("path", FILES, ids=lambda p: p.name)
def test_check_and_test_exit_as_verify_judges(path: Path) -> None:
    checked = runner.invoke(app, ["check", str(path)])
    tested = runner.invoke(app, ["test", str(path), "--examples", "5", "--seed", "1"])
    assert checked.exit_code == (0 if _passes(path, climbs=0) else 1), checked.output
    assert tested.exit_code == (0 if _passes(path, climbs=5) else 1), tested.output


def test_the_plugin_passes_and_fails_the_files_verify_passes_and_fails(
    pytester: pytest.Pytester,
) -> None:
    for path in FILES:
        shutil.copy(path, pytester.path / f"{path.stem}.ladder.yaml")
    result = pytester.runpytest_subprocess(
        "-rA", "--commitladder-examples", "5", "--commitladder-seed", "1"
    )
    text = result.stdout.str()
    assert {"PASSED", "FAILED"} <= set(text.split())  # both verdicts are on trial
    for path in FILES:
        expected = "PASSED" if _passes(path, climbs=5) else "FAILED"
        assert f"{expected} {path.stem}.ladder.yaml::rules" in text, path.name
