"""Live counts: the funnel folded from an event log, read-only from a SqlStore (SQLite and
PostgreSQL), and `commitladder funnel` in each format."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path

import pytest
from typer.testing import CliRunner

import commitladder as cl
from commitladder._stats import fold, read_funnel
from commitladder.cli import app, seed_ladder
from commitladder.sql import SqlStore
from support import EXAMPLES_DIR, T0, image_size, simulate_into

runner = CliRunner()


def test_a_known_history_folds_to_exact_counts() -> None:
    ladder = seed_ladder()
    a, b = ladder.enroll("a", now=T0), ladder.enroll("b", now=T0)
    a.ask("admit_problem", now=T0)
    a.commit(now=T0 + timedelta(hours=10))
    a.ask("intro_call", now=T0 + timedelta(days=1))  # still open
    b.ask("admit_problem", now=T0)
    b.decline(needs="time", now=T0 + timedelta(hours=1))  # parked
    b.resume(now=T0 + timedelta(days=4))
    b.ask("admit_problem", now=T0 + timedelta(days=4))
    b.commit(now=T0 + timedelta(days=4, hours=30))
    funnel = fold(ladder.name, [event for x in (a, b) for event in x.history])
    admit, intro = funnel.rung("admit_problem"), funnel.rung("intro_call")
    assert (admit.asked, admit.committed, admit.declined, admit.expired) == (3, 2, 1, 0)
    assert admit.conversion == pytest.approx(2 / 3)
    assert admit.median_time_to_commit == timedelta(hours=20)  # of 10h and 30h
    assert (intro.asked, intro.open, intro.parked) == (1, 1, 0)
    assert [r.rung for r in funnel.rungs] == ["admit_problem", "intro_call"]
    assert funnel.edges[(None, "admit_problem")].asked == 3
    assert funnel.edges[("admit_problem", "intro_call")].asked == 1
    assert (funnel.enrollments, funnel.active, funnel.ends) == (2, 2, {})


def test_counts_read_from_a_store_add_up(simulated_db: str) -> None:
    """Every ask is answered one way or is open now; every enrollment ended or is active."""
    funnel = read_funnel(simulated_db)
    assert funnel.ladder == "solopreneur"
    assert funnel.enrollments == 80
    for row in funnel.rungs:
        answered = row.committed + row.declined + row.expired + row.withdrawn
        assert row.asked == answered + row.open, row
    assert sum(funnel.ends.values()) + funnel.active == 80
    assert sum(e.asked for e in funnel.edges.values()) == sum(r.asked for r in funnel.rungs)
    assert funnel.rungs[0].rung == "admit_problem"


def test_reading_never_writes(simulated_db: str, tmp_path: Path) -> None:
    path = simulated_db.removeprefix("sqlite:///")
    before = Path(path).stat().st_mtime_ns
    read_funnel(simulated_db)
    assert Path(path).stat().st_mtime_ns == before
    missing = tmp_path / "missing.db"
    result = runner.invoke(app, ["funnel", "--db", str(missing)])
    assert result.exit_code == 1
    assert f"no database file at {missing}" in result.stderr
    assert not missing.exists()


def test_cli_funnel_as_a_table_csv_and_json(simulated_db: str) -> None:
    table = runner.invoke(app, ["funnel", "--db", simulated_db])
    assert table.exit_code == 0, table.output
    assert "Funnel of solopreneur: 80 enrollments" in table.stdout
    assert "admit_problem" in table.stdout
    assert "conv." in table.stdout
    csv_out = runner.invoke(app, ["funnel", "--db", simulated_db, "--format", "csv"]).stdout
    header, first, *_ = csv_out.splitlines()
    assert header.startswith("rung,asked,committed,declined,expired")
    assert first.startswith("admit_problem,")
    data = json.loads(runner.invoke(app, ["funnel", "--db", simulated_db, "-f", "json"]).stdout)
    assert data == cl.funnel(simulated_db).to_dict()


def test_cli_funnel_draws_a_png_chart(simulated_db: str, tmp_path: Path) -> None:
    png = tmp_path / "funnel.png"
    result = runner.invoke(app, ["funnel", "--db", simulated_db, "-f", "png", "-o", str(png)])
    assert result.exit_code == 0, result.output
    width, height = image_size(png.read_bytes())
    assert 600 <= width <= 2000
    assert 300 <= height <= 2000
    assert runner.invoke(app, ["funnel", "--db", simulated_db, "-f", "png"]).exit_code == 2


def test_cli_funnel_asks_which_ladder_when_the_store_holds_several(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'two.db'}"
    simulate_into(url, seed_ladder(), prospects=3, seed=1, days=5)
    simulate_into(url, cl.load(EXAMPLES_DIR / "webinar.yaml"), prospects=3, seed=1, days=5)
    result = runner.invoke(app, ["funnel", "--db", url])
    assert result.exit_code == 1
    assert "several ladders (solopreneur, webinar_led); pick one with --ladder" in result.stderr
    picked = runner.invoke(app, ["funnel", "--db", url, "--ladder", "webinar_led"])
    assert picked.exit_code == 0
    assert "Funnel of webinar_led: 3 enrollments" in picked.stdout
    wrong = runner.invoke(app, ["funnel", "--db", url, "--ladder", "nope"])
    assert wrong.exit_code == 1
    assert "no enrollments on ladder 'nope'" in wrong.stderr
    prefix = runner.invoke(app, ["funnel", "--db", url, "--prefix", "other_"])
    assert prefix.exit_code == 1
    assert "no commitladder tables with prefix 'other_'" in prefix.stderr


def test_funnel_and_graph_read_live_counts_from_postgresql(tmp_path: Path) -> None:
    """The same seed into PostgreSQL and SQLite gives the same funnel."""
    from dbfixtures import fresh_prefix, server_url  # after pytest registered the plugin

    url = server_url("postgresql")
    prefix = fresh_prefix()
    sqlite = f"sqlite:///{tmp_path / 'same.db'}"
    try:
        simulate_into(url, seed_ladder(), prospects=12, seed=9, days=30, prefix=prefix)
        simulate_into(sqlite, seed_ladder(), prospects=12, seed=9, days=30)
        result = runner.invoke(app, ["funnel", "--db", url, "--prefix", prefix, "-f", "json"])
        assert result.exit_code == 0, result.output
        assert json.loads(result.stdout) == cl.funnel(sqlite).to_dict()
        graph = runner.invoke(
            app, ["graph", str(EXAMPLES_DIR / "solopreneur.yaml"), "--db", url, "--prefix", prefix]
        )
        assert graph.exit_code == 0, graph.output
        asked = read_funnel(sqlite).edges[(None, "admit_problem")].asked
        assert f'start -->|"asked {asked} · yes' in graph.stdout
    finally:
        store = SqlStore(url, prefix=prefix)
        store.drop_schema()
        store.close()
