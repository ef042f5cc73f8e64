"""ladder.paths(): the shortest command sequence to each rung and end, replayable as given."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
from typer.testing import CliRunner

import commitladder as cl
from commitladder.cli import app

EXAMPLES = sorted((Path(__file__).parent.parent / "examples" / "ladders").glob("*.yaml"))
NOW = datetime(2026, 1, 5, 9, tzinfo=UTC)


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: p.name)
def test_every_path_replays_and_reaches_its_target(path: Path) -> None:
    ladder = cl.load(path)
    paths = ladder.paths()
    assert set(ladder.rungs) | set(ladder.ends) >= set(paths)
    assert set(ladder.ends) <= set(paths)
    for target, route in paths.items():
        e = ladder.enroll("p", now=NOW)
        route.run(e, now=NOW)  # an expiry runs at the ask's expires_at
        if route.kind == "rung":
            assert e.position == target, route
        else:
            assert e.ended == target, route


def test_paths_are_shortest() -> None:
    ladder = cl.load(EXAMPLES[0].parent / "solopreneur.yaml")
    paths = ladder.paths()
    assert [str(s) for s in paths["intro_call"]] == [
        "ask admit_problem by email",
        "commit",
        "ask intro_call by phone",
        "commit",
    ]
    assert paths["disqualified"].rungs() == ("admit_problem", "intro_call", "qualify")
    assert len(paths["won"]) == 14
    assert [str(s) for s in paths["lost"]] == ["end lost"]  # only reachable by hand


def test_a_redirect_on_expiry_is_a_path() -> None:
    ladder = cl.load(EXAMPLES[0].parent / "saas_trial.yaml")
    steps = [str(s) for s in ladder.paths()["product_updates"]]
    assert steps[2:5] == ["ask trial by email", "expire", "ask product_updates by email"]


def test_cli_paths_prints_numbered_steps() -> None:
    result = CliRunner().invoke(app, ["paths", str(EXAMPLES[0].parent / "solopreneur.yaml")])
    assert result.exit_code == 0, result.output
    assert "intro_call (rung, 4 steps):\n  1. ask admit_problem by email\n" in result.output


def test_cli_paths_on_an_invalid_ladder_exits_1(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("ladder: x\nstart: a\nrungs: {}\nends: {}\n")
    result = CliRunner().invoke(app, ["paths", str(bad)])
    assert result.exit_code == 1


def test_a_rung_whose_commitment_ends_the_enrollment_is_reached() -> None:
    ladder = cl.load(EXAMPLES[0].parent / "solopreneur.yaml")
    paths = ladder.paths()
    assert "purchase" in paths, "its own won path commits purchase"
    assert paths["purchase"].rungs()[-1] == "purchase"
    assert paths["won"].rungs() == paths["purchase"].rungs()
    e = ladder.enroll("p", now=NOW)
    paths["purchase"].run(e, now=NOW)
    assert e.ended == "won"
    assert set(paths) >= set(ladder.rungs), "every rung of the seed ladder is reachable"
