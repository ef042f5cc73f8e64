"""Simulation: seeded prospects climb through a real Tracker and SqlStore; the same seed gives
the same history; the ladder's `simulation:` section sets the answers; `commitladder simulate`."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

import commitladder as cl
from commitladder._simulate import DEFAULT_ANSWER, answers, prospect_name
from commitladder.cli import app, seed_ladder
from commitladder.sql import SqlStore
from support import EXAMPLE_FILES, simulate_into

runner = CliRunner()


def _log(url: str) -> list[tuple[Any, ...]]:
    store = SqlStore(url)
    try:
        with store.engine.connect() as conn:
            rows = conn.exec_driver_sql(
                "SELECT enrollment_id, seq, type, at, body FROM commitladder_events "
                "ORDER BY enrollment_id, seq"
            )
            return [tuple(row) for row in rows]
    finally:
        store.close()


def test_the_same_seed_gives_the_same_history_event_for_event(tmp_path: Path) -> None:
    urls = [f"sqlite:///{tmp_path / name}" for name in ("a.db", "b.db", "c.db")]
    for url, seed in zip(urls, (5, 5, 6), strict=True):
        simulate_into(url, seed_ladder(), prospects=25, seed=seed, days=30)
    first, again, other = (_log(url) for url in urls)
    assert len(first) > 25 * 4
    assert first == again
    assert first != other


def test_every_prospect_is_enrolled_and_no_one_ever_holds_two_open_asks(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 's.db'}"
    report = simulate_into(url, seed_ladder(), prospects=40, seed=1)
    log = _log(url)
    assert len({row[0] for row in log}) == 40
    open_asks: dict[str, int] = {}
    for eid, _, kind, _, _ in log:
        if kind == "AskIssued":
            open_asks[eid] = open_asks.get(eid, 0) + 1
            assert open_asks[eid] == 1, f"{eid} got a second open ask"
        elif kind in ("Committed", "Declined", "AskExpired", "AskWithdrawn", "Ended"):
            open_asks[eid] = 0
    assert report.commands >= 40 * 3
    assert sum(report.results.values()) <= 40
    assert report.finished - report.started == timedelta(days=60)


def _ladder_with(simulation: dict[str, Any]) -> cl.Ladder:
    data = seed_ladder().to_dict()
    data["simulation"] = simulation
    return cl.Ladder.from_dict(data)


def test_prospects_who_always_say_yes_all_reach_an_end_and_none_declines(tmp_path: Path) -> None:
    ladder = _ladder_with(
        {
            "defaults": {"commit": 1, "decline": 0, "reply_after": "1h"},
            "rungs": {"qualify": {"outcomes": {"current_opportunity": 1}}},
        }
    )
    url = f"sqlite:///{tmp_path / 'yes.db'}"
    report = simulate_into(url, ladder, prospects=20, seed=2)
    kinds = {row[2] for row in _log(url)}
    assert report.results == {"won": 20}
    assert not kinds & {"Declined", "AskExpired", "Parked"}


def test_prospects_who_never_answer_let_every_ask_expire(tmp_path: Path) -> None:
    ladder = _ladder_with({"defaults": {"commit": 0, "decline": 0}})
    url = f"sqlite:///{tmp_path / 'silent.db'}"
    simulate_into(url, ladder, prospects=10, seed=2, days=90)
    kinds = [row[2] for row in _log(url)]
    assert "Committed" not in kinds
    assert "Declined" not in kinds
    assert kinds.count("AskExpired") >= 10
    assert kinds.count("FollowedUp") >= 10  # a silent prospect is followed up first


def test_a_rung_setting_wins_over_the_section_defaults_and_those_over_the_built_in_ones() -> None:
    ladder = _ladder_with(
        {
            "defaults": {"commit": 0.5},
            "rungs": {
                "qualify": {"commit": 0.1, "decline": 0.3, "outcomes": {"not_a_prospect": 2}}
            },
        }
    )
    found = answers(ladder)
    assert (found["qualify"].commit, found["qualify"].decline) == (0.1, 0.3)
    assert found["qualify"].outcomes == {"not_a_prospect": 2}
    assert (found["intro_call"].commit, found["intro_call"].decline) == (
        0.5,
        DEFAULT_ANSWER.decline,
    )
    assert answers(seed_ladder())["proposal"] == DEFAULT_ANSWER
    assert set(answers(seed_ladder())["qualify"].outcomes or {}) == set(
        seed_ladder().rungs["qualify"].outcomes or {}
    )


@pytest.mark.parametrize(
    ("simulation", "message"),
    [
        ({"rungs": {"qualfy": {}}}, "simulation.rungs.qualfy: unknown rung 'qualfy'; did you mean"),
        (
            {"rungs": {"qualify": {"outcomes": {"maybe": 1}}}},
            "unknown outcome 'maybe'; qualify's outcomes are current_opportunity",
        ),
        ({"rungs": {"intro_call": {"outcomes": {"x": 1}}}}, "intro_call does not branch"),
        ({"defaults": {"commit": 0.8, "decline": 0.4}}, "add up to more than 1"),
        (
            {"defaults": {"decline": 0.5}, "rungs": {"purchase": {"commit": 0.7}}},
            "simulation.rungs.purchase: commit (0.7) and decline (0.5, with simulation.defaults)",
        ),
        ({"defaults": {"comit": 0.5}}, "unknown field 'comit'; did you mean 'commit'?"),
        ({"defaults": {"reply_after": "soon"}}, "'soon' is not a duration"),
        ({"defaults": {"commit": 1.5}}, "less than or equal to 1"),
    ],
)
def test_a_wrong_simulation_section_is_a_located_definition_problem(
    simulation: dict[str, Any], message: str
) -> None:
    with pytest.raises(cl.DefinitionError) as info:
        _ladder_with(simulation)
    assert message in str(info.value)


def test_the_section_round_trips_through_yaml() -> None:
    ladder = _ladder_with(
        {"defaults": {"reply_after": "36h"}, "rungs": {"purchase": {"commit": 0.3}}}
    )
    again = cl.Ladder.from_yaml(ladder.to_yaml())
    assert again.definition.simulation == ladder.definition.simulation
    assert "reply_after: 36h" in ladder.to_yaml()


@pytest.mark.parametrize("path", EXAMPLE_FILES, ids=lambda p: p.name)
def test_cli_simulates_every_example_and_prints_its_funnel(path: Path, tmp_path: Path) -> None:
    db = tmp_path / "sim.db"
    args = ["simulate", str(path), "-n", "15", "--days", "40", "--seed", "4", "--db", str(db)]
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    ladder = cl.load(path)
    assert f"Funnel of {ladder.name}: 15 enrollments" in result.stdout
    assert ladder.start[0] in result.stdout
    assert f"stored in {db}" in result.stdout
    again = runner.invoke(app, args)
    assert again.exit_code == 1
    assert f"already holds a simulation of {ladder.name} with seed 4" in again.stderr
    assert "Traceback" not in again.output


def test_cli_simulate_reports_an_invalid_ladder_and_bad_options(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("ladder: x\nstart: a\nrungs: {a: {kind: call, size: 1, next: nowhere}}\n")
    result = runner.invoke(app, ["simulate", str(bad), "--db", str(tmp_path / "x.db")])
    assert result.exit_code == 1
    assert "unknown target 'nowhere'" in result.stdout
    assert runner.invoke(app, ["simulate", str(EXAMPLE_FILES[0]), "-n", "0"]).exit_code == 2


def _enrollments(db: Path) -> list[str]:
    rows = _log(f"sqlite:///{db}")
    return sorted({row[0] for row in rows})


def test_a_second_run_with_the_same_seed_is_refused_whatever_its_size(tmp_path: Path) -> None:
    """Regression: `-n 5 --seed 7` into a store holding the `-n 12 --seed 7` run was mixed
    into it (the names were padded to the run's size, so the check for the first missed)."""
    db = tmp_path / "sim.db"
    path = str(EXAMPLE_FILES[0])
    first = runner.invoke(app, ["simulate", path, "-n", "12", "--seed", "7", "--db", str(db)])
    assert first.exit_code == 0, first.output
    before = _enrollments(db)
    assert len(before) == 12
    for size in ("5", "12", "300"):
        again = runner.invoke(app, ["simulate", path, "-n", size, "--seed", "7", "--db", str(db)])
        assert again.exit_code == 1, again.output
        assert f"already holds a simulation of {cl.load(path).name} with seed 7" in again.stderr
        assert "choose another seed, or another database" in again.stderr
    assert _enrollments(db) == before  # nothing of the refused runs was written


def test_a_run_with_another_seed_is_kept_apart_and_the_funnel_says_it_counts_both(
    tmp_path: Path,
) -> None:
    db = tmp_path / "sim.db"
    path = str(EXAMPLE_FILES[0])
    runner.invoke(app, ["simulate", path, "-n", "12", "--seed", "7", "--db", str(db)])
    other = runner.invoke(app, ["simulate", path, "-n", "5", "--seed", "8", "--db", str(db)])
    assert other.exit_code == 0, other.output
    name = cl.load(path).name
    names = [eid.split("/")[1] for eid in _enrollments(db)]
    assert sorted(names) == sorted(
        [prospect_name(name, 7, n) for n in range(1, 13)]
        + [prospect_name(name, 8, n) for n in range(1, 6)]
    )
    assert "Funnel of " in other.stdout
    assert ": 17 enrollments" in other.stdout
    assert "also holds 12 enrollments" in other.stderr


def test_runs_of_two_ladders_with_one_seed_share_no_prospect_and_keep_their_histories(
    tmp_path: Path,
) -> None:
    """A made-up prospect on two ladders would hold one open ask for both: the second run
    would not be the run its seed names. Each ladder's prospects are its own."""
    shared, alone = f"sqlite:///{tmp_path / 'shared.db'}", f"sqlite:///{tmp_path / 'alone.db'}"
    other = cl.load(EXAMPLE_FILES[0])
    assert other.name != seed_ladder().name
    simulate_into(shared, seed_ladder(), prospects=6, seed=2, days=20)
    simulate_into(shared, other, prospects=6, seed=2, days=20)
    simulate_into(alone, other, prospects=6, seed=2, days=20)
    in_shared = [row for row in _log(shared) if row[0].startswith(f"{other.name}/")]
    assert in_shared == _log(alone)
    assert {row[0].split("/")[1].split("-sim")[0] for row in _log(shared)} == {
        seed_ladder().name,
        other.name,
    }
    with pytest.raises(cl.LadderError, match=rf"simulation of {other.name} with seed 2 "):
        simulate_into(shared, other, prospects=3, seed=2, days=20)
