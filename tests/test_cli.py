"""`commitladder validate` and `commitladder demo`: output and exit codes 0/1/2."""

# the demo is the README's first command: it runs here as a real process, as a user runs it

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from commitladder._stats import read_funnel
from commitladder.cli import app
from support import image_size, needs_dot

EXAMPLES = sorted(Path(__file__).parent.parent.joinpath("examples", "ladders").glob("*.yaml"))
runner = CliRunner()

BROKEN = """\
ladder: broken
start: admit
rungs:
  admit_problem: {kind: conversation, size: 1, next: intro_cal}
  intro_call: {kind: call, size: 2, expire_after: 3d, next: won}
ends:
  won: {result: won}
"""


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: p.name)
def test_validate_says_ok_for_each_example(path: Path) -> None:
    result = runner.invoke(app, ["validate", str(path)])
    assert result.exit_code == 0, result.output
    assert f"{path}: ok" in result.output


def test_validate_prints_every_problem_located_and_exits_1(tmp_path: Path) -> None:
    bad = tmp_path / "broken.yaml"
    bad.write_text(BROKEN)
    result = runner.invoke(app, ["validate", str(bad), str(EXAMPLES[0])])
    assert result.exit_code == 1
    lines = [line for line in result.stdout.splitlines() if line.startswith(str(bad))]
    assert lines == [
        f"{bad}:2:8: start: unknown rung 'admit'; did you mean 'admit_problem'?",
        f"{bad}:4:54: rungs.admit_problem.next: unknown target 'intro_cal'; "
        "did you mean 'intro_call'?",
        f"{bad}:5:37: rungs.intro_call.expire_after: unknown field 'expire_after'; "
        "did you mean 'expires_after'?",
    ]
    assert f"{EXAMPLES[0]}: ok" in result.stdout
    assert "Traceback" not in result.output


def test_validate_exits_2_on_usage_errors(tmp_path: Path) -> None:
    assert runner.invoke(app, ["validate"]).exit_code == 2
    assert runner.invoke(app, ["validate", str(tmp_path / "missing.yaml")]).exit_code == 2
    assert runner.invoke(app, ["validate", "--no-such-option", str(EXAMPLES[0])]).exit_code == 2


def test_validate_reports_unsafe_yaml_without_running_it(tmp_path: Path) -> None:
    marker = tmp_path / "pwned"
    evil = tmp_path / "evil.yaml"
    evil.write_text(f"ladder: !!python/object/apply:os.system ['touch {marker}']\n")
    result = runner.invoke(app, ["validate", str(evil)])
    assert result.exit_code == 1
    assert "is not allowed" in result.stdout
    assert not marker.exists()


@needs_dot
def test_demo_simulates_the_seed_ladder_into_sqlite_and_draws_it_in_a_real_process(
    tmp_path: Path,
) -> None:
    out = tmp_path / "demo"
    result = subprocess.run(
        [sys.executable, "-m", "commitladder", "demo", "--out", str(out), "-n", "300"],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr
    assert "Funnel of solopreneur: 300 enrollments" in result.stdout
    assert "admit_problem" in result.stdout
    assert "ended: " in result.stdout
    for name in ("demo.db", "solopreneur.yaml", "solopreneur.svg"):
        assert (out / name).is_file(), name
        assert f"{out / name}" in result.stdout
    width, height = image_size((out / "solopreneur.svg").read_bytes())
    assert width > 400
    assert height > 600
    assert "asked " in (out / "solopreneur.svg").read_text()  # live counts on the edges
    funnel = read_funnel(f"sqlite:///{out / 'demo.db'}")
    assert funnel.enrollments == 300
    assert f"won {funnel.ends['won']}" in result.stdout
    assert "done in " in result.stdout
    assert "Traceback" not in result.stderr


def test_demo_without_graphviz_writes_mermaid_and_dot_and_says_so(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "graphviz", None)
    out = tmp_path / "demo"
    result = runner.invoke(app, ["demo", "--out", str(out), "-n", "20"])
    assert result.exit_code == 0, result.output
    assert "note: no SVG" in result.stderr
    assert "pip install 'commitladder[graph]'" in result.stderr
    assert (out / "solopreneur.mmd").read_text().splitlines()[3] == "flowchart BT"
    assert (out / "solopreneur.dot").read_text().startswith('digraph "solopreneur"')
    assert not (out / "solopreneur.svg").exists()


def test_demo_walk_shows_each_guard_on_one_prospect() -> None:
    result = runner.invoke(app, ["demo", "--walk"])
    assert result.exit_code == 0, result.output
    assert "refused ask intro_call while that ask is open" in result.stdout
    assert "ended at won (won)" in result.stdout
    assert "replayed state equal: yes" in result.stdout
