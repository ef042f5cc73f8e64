"""The pytest plugin collects *.ladder.yaml (and the commitladder_ladders globs), nothing else."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

pytest_plugins = ["pytester"]

HERE = Path(__file__).parent
GOOD = HERE.parent / "examples" / "ladders" / "solopreneur.yaml"
BROKEN = HERE / "broken_ladders" / "skips_qualification.yaml"


def test_ladder_files_become_items_and_a_broken_rule_fails_with_the_story(
    pytester: pytest.Pytester,
) -> None:
    shutil.copy(GOOD, pytester.path / "solo.ladder.yaml")
    shutil.copy(BROKEN, pytester.path / "skips.ladder.yaml")
    shutil.copy(GOOD, pytester.path / "not_a_ladder_test.yaml")
    result = pytester.runpytest_subprocess(
        "--commitladder-examples", "40",
        "--commitladder-seed", "3",
    )  # fmt: skip
    result.assert_outcomes(passed=1, failed=1)
    text = result.stdout.str()
    assert "FAILED skips.ladder.yaml::rules" in text
    assert "[requires_before]" in text
    assert "Traceback" not in text


def test_ini_globs_collect_other_names(pytester: pytest.Pytester) -> None:
    (pytester.path / "ladders").mkdir()
    shutil.copy(GOOD, pytester.path / "ladders" / "solo.yaml")
    shutil.copy(GOOD, pytester.path / "other.yaml")
    pytester.makeini(
        "[pytest]\ncommitladder_ladders = ladders/*.yaml\ncommitladder_examples = 20\n"
    )
    result = pytester.runpytest_subprocess("-v")
    result.assert_outcomes(passed=1)
    result.stdout.fnmatch_lines(["*ladders/solo.yaml::rules PASSED*"])


def test_commitladder_off_collects_nothing(pytester: pytest.Pytester) -> None:
    shutil.copy(GOOD, pytester.path / "solo.ladder.yaml")
    result = pytester.runpytest_subprocess("--commitladder-off")
    assert result.ret == pytest.ExitCode.NO_TESTS_COLLECTED
