"""The pytest plugin collects *.ladder.yaml (and the commitladder_ladders globs), nothing else,
and judges each file as `commitladder test` does."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

pytest_plugins = ["pytester"]

HERE = Path(__file__).parent
GOOD = HERE.parent / "examples" / "ladders" / "solopreneur.yaml"
BROKEN = HERE / "broken_ladders" / "skips_qualification.yaml"
TRAPPED = HERE / "broken_ladders" / "trapped.yaml"
SMELLS = HERE / "broken_ladders" / "smells.yaml"


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


def test_a_broken_rule_says_how_to_replay_it_with_this_plugins_option(
    pytester: pytest.Pytester,
) -> None:
    """Regression: the story said `Replay it with --seed 3`, which pytest does not know."""
    shutil.copy(BROKEN, pytester.path / "skips.ladder.yaml")
    result = pytester.runpytest_subprocess(
        "--commitladder-examples", "20",
        "--commitladder-seed", "1",
    )  # fmt: skip
    result.assert_outcomes(failed=1)
    text = result.stdout.str()
    assert "Replay it with --commitladder-seed 1." in text
    assert " --seed" not in text
    result.stdout.fnmatch_lines(["How it happened:", "  1. Day 0: Asked for admit_problem."])


def test_a_loop_with_no_way_out_fails_the_item_as_it_fails_check_and_test(
    pytester: pytest.Pytester,
) -> None:
    shutil.copy(TRAPPED, pytester.path / "trapped.ladder.yaml")
    result = pytester.runpytest_subprocess("--commitladder-examples", "10")
    result.assert_outcomes(failed=1)
    text = result.stdout.str()
    assert "error [cycle_without_exit]" in text
    assert "error [dead_end]" in text
    assert "warning [unreachable_rung]" not in text  # a warning does not fail, so not shown


def test_lint_warnings_fail_an_item_only_with_commitladder_strict(
    pytester: pytest.Pytester,
) -> None:
    shutil.copy(SMELLS, pytester.path / "smells.ladder.yaml")
    pytester.runpytest_subprocess("--commitladder-examples", "5").assert_outcomes(passed=1)
    strict = pytester.runpytest_subprocess("--commitladder-examples", "5", "--commitladder-strict")
    strict.assert_outcomes(failed=1)
    assert "warning [no_expiry]" in strict.stdout.str()


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
