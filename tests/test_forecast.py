"""The forecast: P(won | position) learned from the moves deals made (with an interval that
covers the true chance) or declared by the ladder, times the host's amounts, by stage and
close month; the backtest compares a past forecast with what closed since."""

from __future__ import annotations

import csv
import io
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

import commitladder as cl
from commitladder.cli import app
from forecasting import LADDER, REASK_LADDER, TRUE_WIN, reasked, simulated, true_state_win
from support import T0, image_size

D = timedelta(days=1)
runner = CliRunner()


def small() -> cl.Tracker:
    """Five deals on the known ladder (first -> second -> third -> won; a no ends lost):

    d1 yes, yes, yes: won        d2 yes, yes, no: lost     d3 no: lost
    d4 yes to first, then no ask yet                        d5 asked first, no answer yet
    """
    t = cl.Tracker(store=cl.MemoryStore(), ladders=[LADDER])
    answers = {"d1": "yyy", "d2": "yyn", "d3": "n", "d4": "y", "d5": ""}
    for i, (who, said) in enumerate(answers.items()):
        at = T0 + i * timedelta(hours=1)
        t.enroll(who, ladder="known", now=at)
        for rung, answer in zip(["first", "second", "third"], said or "?", strict=False):
            t.ask(who, rung, now=at)
            at += D
            if answer == "y":
                t.commit(who, now=at)
            elif answer == "n":
                t.decline(who, now=at)
    return t


def test_learned_chances_chain_the_moves_out_of_each_position() -> None:
    found = cl.forecast(small(), ladder=LADDER, as_of=T0 + 10 * D)
    # out of the start: 3 to first, 1 to lost; out of first: 2 to second; out of second: 1
    # to third, 1 to lost; out of third: 1 to won. So 1, 1/2, 1/2 and 3/4 * 1/2.
    assert {c.position: (c.probability, c.sample) for c in found.chances} == {
        None: (0.375, 4),
        "first": (0.5, 2),
        "second": (0.5, 2),
        "third": (1.0, 1),
    }
    assert all(c.source == "learned" for c in found.chances)
    start = found.chance(None)
    assert start.low is not None
    assert start.high is not None
    assert 0 < start.low < 0.375 < start.high < 1
    # d1 won 3 days after its enrollment, 2 after its yes to first
    assert start.time_to_win == 3 * D
    assert found.chance("first").time_to_win == 2 * D


def test_open_deals_times_their_amounts_summed_by_stage_and_month() -> None:
    found = cl.forecast(
        small(), ladder=LADDER, amounts={"d4": 1000.0, "d5": 2000.0}, as_of=T0 + 10 * D
    )
    assert [(d.prospect, d.stage, d.probability, d.expected) for d in found.deals] == [
        ("d4", "Discovery", 0.5, 500.0),
        ("d5", "(no commitment yet)", 0.375, 750.0),
    ]
    assert [(r.key, r.deals, r.amount, r.expected) for r in found.by_stage] == [
        ("(no commitment yet)", 1, 2000.0, 750.0),
        ("Discovery", 1, 1000.0, 500.0),
    ]
    # d4 came to first at T0+3h+1d; the won deal took 2 days from there: January
    assert [(r.key, r.expected) for r in found.by_month] == [("2026-01", 1250.0)]
    assert (found.total.deals, found.total.expected, found.missing_amounts) == (2, 1250.0, 0)
    assert found.total.low <= found.total.expected <= found.total.high


def test_declared_chances_come_from_the_rungs_probabilities() -> None:
    found = cl.forecast(
        small(), ladder=LADDER, method="declared", amounts=lambda p: 1000.0, as_of=T0 + 10 * D
    )
    assert [(d.prospect, d.probability, d.source, d.expected) for d in found.deals] == [
        ("d4", 0.1, "declared", 100.0),
        ("d5", None, "none", 0.0),  # before the first rung: no stage, no declared chance
    ]


def test_a_position_nobody_left_yet_falls_back_to_its_declared_probability() -> None:
    t = cl.Tracker(store=cl.MemoryStore(), ladders=[LADDER])
    t.enroll("x", ladder="known", now=T0)
    t.ask("x", "first", now=T0)
    t.commit("x", now=T0 + D)
    found = cl.forecast(t, ladder=LADDER, amounts={"x": 10.0}, as_of=T0 + 2 * D)
    (deal,) = found.deals
    assert (deal.probability, deal.source, deal.expected) == (0.1, "declared", 1.0)
    assert cl.forecast(t, ladder="known", as_of=T0 + 2 * D).deals[0].source == "none"


def test_the_forecast_as_of_a_date_sees_only_what_was_known_then() -> None:
    early = cl.forecast(small(), ladder=LADDER, as_of=T0 + timedelta(hours=2))
    assert [d.prospect for d in early.deals] == ["d1", "d2", "d3"]
    # nobody moved yet, and the start declares nothing: no chance to forecast with
    assert [(c.position, c.source, c.sample) for c in early.chances] == [(None, "none", 0)]
    assert {d.source for d in early.deals} == {"none"}


def test_the_learned_interval_covers_the_true_chance_in_at_least_90_percent_of_seeds() -> None:
    """Thirty seeded stores of 150 prospects, every deal closed; 90 intervals (95%)."""
    hits, tries = 0, 0
    for seed in range(30):
        tracker, _ = simulated(150, seed, T0)
        found = cl.forecast(tracker, ladder=LADDER, as_of=T0 + 365 * D)
        assert found.deals == ()
        for position, truth in TRUE_WIN.items():
            chance = found.chance(position)
            assert chance.low is not None
            assert chance.high is not None
            tries += 1
            hits += chance.low <= truth <= chance.high
    assert tries == 90
    assert hits / tries >= 0.9, f"covered {hits} of {tries}"


def test_a_backtest_on_a_simulated_store_is_close_to_what_closed() -> None:
    tracker, amounts = simulated(2000, 7, T0)
    as_of = T0 + 30 * D
    result = cl.backtest(tracker, ladder=LADDER, amounts=amounts, as_of=as_of)
    assert result.forecast.as_of == as_of
    assert result.deals == len(result.forecast.deals) > 100
    assert result.still_open == 0  # every simulated deal closed by the last event
    truth = sum(TRUE_WIN[d.position] for d in result.forecast.deals)  # type: ignore[index]
    assert result.expected_wins == pytest.approx(truth, rel=0.1)
    # what closed is one draw around the true expectation: within three deviations
    spread = sum(
        TRUE_WIN[d.position] * (1 - TRUE_WIN[d.position])  # type: ignore[index]
        for d in result.forecast.deals
    )
    assert abs(result.actual_wins - truth) < 3 * spread**0.5
    won = {
        log[0]["data"]["prospect"]
        for log in tracker.store.event_log()  # type: ignore[attr-defined]
        if log[-1]["type"] == "Ended" and log[-1]["data"]["result"] == "won"
    }
    assert result.actual_revenue == sum(
        amounts[d.prospect] for d in result.forecast.deals if d.prospect in won
    )
    # the same for the revenue: within three deviations of the true expected revenue
    true_revenue = sum(TRUE_WIN[d.position] * amounts[d.prospect] for d in result.forecast.deals)  # type: ignore[index]
    deviation = (
        sum(
            TRUE_WIN[d.position] * (1 - TRUE_WIN[d.position]) * amounts[d.prospect] ** 2  # type: ignore[index]
            for d in result.forecast.deals
        )
        ** 0.5
    )
    assert result.expected_revenue == pytest.approx(true_revenue, rel=0.1)
    assert abs(result.actual_revenue - true_revenue) < 3 * deviation
    assert result.revenue_error == pytest.approx(
        (result.expected_revenue - result.actual_revenue) / result.actual_revenue
    )
    assert result.brier is not None
    assert result.brier < 0.25  # better than a coin
    assert json.loads(result.to_json())["actual_wins"] == result.actual_wins


def test_each_deal_carries_its_state_and_the_sample_behind_its_chance() -> None:
    """A state fewer than min_sample deals left borrows its position's chance ("pooled")."""
    found = cl.forecast(small(), ladder=LADDER, as_of=T0 + 10 * D)
    assert [
        (d.prospect, d.position, d.asks, d.status, d.probability, d.sample, d.source)
        for d in found.deals
    ] == [
        ("d4", "first", 0, "ready", 0.5, 2, "pooled"),
        ("d5", None, 1, "pending", 0.375, 4, "pooled"),
    ]
    assert found.chance("first", asks=0, status="ready").source == "pooled"
    # with every state counted: d1 and d2 left (first, 0 asks, ready) for an ask of second
    refined = cl.forecast(small(), ladder=LADDER, as_of=T0 + 10 * D, min_sample=1)
    d4 = refined.chance("first", asks=0, status="ready")
    assert (d4.probability, d4.sample, d4.source) == (0.5, 2, "learned")
    assert refined.deals[0].sample == 2
    with pytest.raises(KeyError, match="3 asks, parked"):
        refined.chance("first", asks=3, status="parked")
    position = cl.forecast(small(), ladder=LADDER, as_of=T0 + 10 * D, method="position")
    assert position.states == ()
    assert [d.source for d in position.deals] == ["learned", "learned"]


def test_the_options_are_checked() -> None:
    with pytest.raises(ValueError, match="'learned', 'position' or 'declared'"):
        cl.forecast(small(), method="guessed")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="min_sample must be 1 or more"):
        cl.backtest(small(), as_of=T0 + D, min_sample=0)


def test_state_chances_learn_that_a_re_asked_or_parked_deal_converts_less() -> None:
    """On the re-ask ladder (a yes to the first ask 60%, to the second 35%, to the third
    15%), each learned P(won | state) is near its true chance and falls with the asks."""
    tracker, _ = reasked(1500, 1, T0)
    found = cl.forecast(tracker, ladder=REASK_LADDER, as_of=T0 + 60 * D)
    learned = [c for c in found.states if c.source == "learned"]
    assert len(learned) >= 8
    for c in learned:
        assert c.asks is not None
        assert c.status is not None
        assert c.probability == pytest.approx(
            true_state_win(c.position, c.asks, c.status), abs=0.06
        )
    first = [c.probability for c in learned if c.position == "first" and c.status == "pending"]
    assert first == sorted(first, reverse=True)
    assert first[0] - first[-1] > 0.4  # asked once against asked three times


def test_the_state_intervals_cover_the_true_chance_in_at_least_90_percent_of_seeds() -> None:
    """Twelve seeded re-ask stores of 400 prospects, forecast halfway: every learned state
    chance's 95% interval, against the truth."""
    hits, tries = 0, 0
    for seed in range(12):
        tracker, _ = reasked(400, seed, T0)
        found = cl.forecast(tracker, ladder=REASK_LADDER, as_of=T0 + 60 * D)
        for c in found.states:
            if c.source != "learned":
                continue
            assert c.asks is not None
            assert c.status is not None
            assert c.low is not None
            assert c.high is not None
            tries += 1
            hits += c.low <= true_state_win(c.position, c.asks, c.status) <= c.high
    assert tries >= 60
    assert hits / tries >= 0.9, f"covered {hits} of {tries}"


def test_the_state_forecast_beats_the_position_one_where_re_asked_deals_convert_less() -> None:
    """Backtested halfway through a re-ask store: the deals open then are mostly re-asked
    or parked ones, which the position-only chance rates like fresh ones."""
    tracker, amounts = reasked(2000, 5, T0)
    as_of = T0 + 60 * D
    state, position = (
        cl.backtest(tracker, ladder=REASK_LADDER, amounts=amounts, as_of=as_of, method=m)
        for m in ("learned", "position")
    )
    assert state.deals == position.deals > 150
    assert state.actual_wins == position.actual_wins
    assert state.count_error is not None
    assert position.count_error is not None
    assert state.revenue_error is not None
    assert position.revenue_error is not None
    assert state.brier is not None
    assert position.brier is not None
    assert position.count_error > 0.3  # the position-only forecast over-forecasts
    assert abs(state.count_error) < abs(position.count_error) / 2
    assert abs(state.revenue_error) < abs(position.revenue_error) / 2
    assert state.brier < position.brier - 0.05
    # against the truth of each deal's state, not only the one draw that closed
    truth = sum(true_state_win(d.position, d.asks, d.status) for d in state.forecast.deals)
    assert state.expected_wins == pytest.approx(truth, rel=0.1)
    assert position.expected_wins > 1.3 * truth


def test_a_backtest_needs_a_later_until() -> None:
    with pytest.raises(ValueError, match="must come after"):
        cl.backtest(small(), as_of=T0 + 10 * D, until=T0 + D)


def test_amounts_come_from_a_csv_with_located_errors(tmp_path: Path) -> None:
    path = tmp_path / "amounts.csv"
    path.write_text('prospect,amount,owner\nd4,"1,000",ann\nd5,2000.5,bob\n')
    assert cl.read_amounts(path) == {"d4": 1000.0, "d5": 2000.5}
    path.write_text("prospect,amount\nd4,lots\n")
    with pytest.raises(cl.LadderError, match=r"amounts.csv:2: amount 'lots' of 'd4'"):
        cl.read_amounts(path)
    path.write_text("who,value\n")
    with pytest.raises(cl.LadderError, match=r"amounts.csv:1: .* prospect and amount"):
        cl.read_amounts(path)


def test_csv_and_json_carry_every_open_deal() -> None:
    found = cl.forecast(small(), ladder=LADDER, amounts={"d4": 1000.0}, as_of=T0 + 10 * D)
    rows = list(csv.DictReader(io.StringIO(found.to_csv())))
    assert [(r["prospect"], r["expected"]) for r in rows] == [("d4", "500.0"), ("d5", "0.0")]
    data = json.loads(found.to_json())
    assert data["missing_amounts"] == 1
    assert data["total"]["expected"] == 500.0


@pytest.fixture(scope="module")
def sim_db(tmp_path_factory: pytest.TempPathFactory) -> tuple[str, Path, Path]:
    """A SQLite store of 300 simulated deals on the known ladder, its file and amounts."""
    import random

    from commitladder.sql import SqlStore

    folder = tmp_path_factory.mktemp("forecast")
    url = f"sqlite:///{folder / 'sim.db'}"
    store = SqlStore(url)
    store.create_schema()
    tracker = cl.Tracker(store=store, ladders=[LADDER])
    rng = random.Random(3)
    amounts = folder / "amounts.csv"
    with amounts.open("w") as f:
        f.write("prospect,amount\n")
        for i in range(300):
            who, at = f"d{i}", T0 + i * timedelta(hours=6)
            f.write(f"{who},{rng.randrange(1000, 9000, 500)}\n")
            tracker.enroll(who, ladder="known", now=at)
            for rung, chance in (("first", 0.7), ("second", 0.6), ("third", 0.5)):
                tracker.ask(who, rung, now=at)
                at += timedelta(hours=rng.randrange(24, 120))
                if rng.random() >= chance:
                    tracker.decline(who, now=at)
                    break
                tracker.commit(who, now=at)
    store.close()
    ladder_file = folder / "known.yaml"
    ladder_file.write_text(LADDER.to_yaml())
    return url, amounts, ladder_file


def test_the_command_prints_the_tables_and_the_backtest(sim_db: Any) -> None:
    url, amounts, ladder_file = sim_db
    base = ["forecast", "--db", url, "--amounts", str(amounts), "--ladder-file", str(ladder_file)]
    table = runner.invoke(app, [*base, "--as-of", "2026-02-01"])
    assert table.exit_code == 0, table.output
    assert "Forecast of known as of 2026-02-01 00:00 (learned)" in table.stdout
    assert "Discovery" in table.stdout
    assert "P(won | position), 95% intervals" in table.stdout
    expected = cl.forecast(
        url,
        ladder=LADDER,
        amounts=cl.read_amounts(amounts),
        as_of=datetime(2026, 2, 1, tzinfo=UTC),
    )
    assert f"expected {expected.total.expected:,.0f}" in table.stdout
    tested = runner.invoke(app, [*base, "--backtest", "2026-02-01"])
    assert tested.exit_code == 0, tested.output
    assert "Backtest: as of 2026-02-01" in tested.stdout
    data = json.loads(runner.invoke(app, [*base, "--backtest", "2026-02-01", "-f", "json"]).stdout)
    assert data["deals"] == len(expected.deals)
    rows = runner.invoke(app, [*base, "--as-of", "2026-02-01", "-f", "csv"]).stdout
    assert rows == expected.to_csv()
    # the states the open deals stand in, with the sample behind each chance
    assert "P(won | state) of the open deals" in table.stdout
    assert {d.source for d in expected.deals} >= {"learned"}
    assert "asks" in next(iter(csv.DictReader(io.StringIO(rows))))
    alone = runner.invoke(app, [*base, "--as-of", "2026-02-01", "--method", "position"])
    assert alone.exit_code == 0, alone.output
    assert "(position)" in alone.stdout
    assert "P(won | state)" not in alone.stdout
    pooled = runner.invoke(
        app, [*base, "--as-of", "2026-02-01", "--min-sample", "100000", "-f", "json"]
    )
    assert {d["source"] for d in json.loads(pooled.stdout)["deals"]} == {"pooled"}


def test_the_command_draws_a_png_and_notes_missing_amounts(sim_db: Any, tmp_path: Path) -> None:
    url, _, ladder_file = sim_db
    png = tmp_path / "forecast.png"
    result = runner.invoke(
        app,
        ["forecast", "--db", url, "--ladder-file", str(ladder_file), "-f", "png", "-o", str(png)],
    )
    assert result.exit_code == 0, result.output
    assert "no --amounts" in result.stderr
    width, height = image_size(png.read_bytes())
    assert (width, height) == (1100, 480)
    assert runner.invoke(app, ["forecast", "--db", url, "-f", "png"]).exit_code == 2
