"""`commitladder.funnel` reads any store's event log into typed figures: counts and conversion
per rung, time from ask to yes and time in rung (median and p90), by cohort, filtered by
version and enrollment date. Every figure here is computed by hand from a small store."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import commitladder as cl
from support import T0

pytest_plugins = ["dbfixtures"]

D = timedelta(days=1)
H = timedelta(hours=1)
HAND = """\
ladder: hand
version: {version}
start: a
defaults: {{channels: [email]}}
rungs:
  a: {{kind: call, size: 1, next: b}}
  b: {{kind: purchase, size: 2, next: won, on_decline: lost}}
ends:
  won: {{result: won}}
  lost: {{result: lost}}
"""


def ladder(version: int = 1) -> cl.Ladder:
    return cl.Ladder.from_yaml(HAND.format(version=version))


def fill(store: Any, version: int = 1, tag: str = "") -> None:
    """Four prospects, two enrolled in the week of T0 (Monday 2026-01-05), two a week later.

    p1: a asked T0, yes T0+1d; b asked T0+2d, yes T0+5d -> won
    p2: a asked T0+1h, yes T0+3d1h; b asked T0+4d, no T0+6d -> lost
    p3: a asked T0+7d, yes T0+8d; b asked T0+9d, still open
    p4: a asked T0+7d, no T0+8d -> parked on a
    """
    t = cl.Tracker(store=store, ladders=[ladder(version)])

    def run(who: str, at: timedelta, *steps: tuple[str, timedelta, str | None]) -> None:
        t.enroll(who + tag, ladder="hand", now=T0 + at)
        for step, when, rung in steps:
            if step == "ask":
                assert rung is not None
                t.ask(who + tag, rung, now=T0 + when)
            elif step == "yes":
                t.commit(who + tag, now=T0 + when)
            else:
                t.decline(who + tag, now=T0 + when)

    run(
        "p1",
        0 * D,
        ("ask", 0 * D, "a"),
        ("yes", D, None),
        ("ask", 2 * D, "b"),
        ("yes", 5 * D, None),
    )
    run(
        "p2", H, ("ask", H, "a"), ("yes", 3 * D + H, None), ("ask", 4 * D, "b"), ("no", 6 * D, None)
    )
    run("p3", 7 * D, ("ask", 7 * D, "a"), ("yes", 8 * D, None), ("ask", 9 * D, "b"))
    run("p4", 7 * D, ("ask", 7 * D, "a"), ("no", 8 * D, None))


def test_counts_conversion_and_ends_are_the_hand_computed_ones() -> None:
    store = cl.MemoryStore()
    fill(store)
    report = cl.funnel(store)
    assert (report.ladder, report.enrollments, report.active) == ("hand", 4, 2)
    assert report.ends == {"won": 1, "lost": 1}
    assert [r.rung for r in report.rungs] == ["a", "b"]
    a, b = report.rungs
    assert (a.asked, a.committed, a.declined, a.expired, a.open, a.parked, a.standing) == (
        4, 3, 1, 0, 0, 1, 1,
    )  # fmt: skip
    assert a.conversion == 0.75
    assert (b.asked, b.committed, b.declined, b.open, b.parked, b.standing) == (3, 1, 1, 1, 0, 0)
    assert b.conversion == pytest.approx(1 / 3)


def test_time_to_commit_is_the_median_and_p90_of_ask_to_yes() -> None:
    store = cl.MemoryStore()
    fill(store)
    a, b = cl.funnel(store).rungs
    # a: 1d (p1), 3d (p2), 1d (p3); p90 at 0.9 * 2 = 1.8 between 1d and 3d -> 2.6d
    assert a.time_to_commit == cl.Spread(3, D, 2.6 * D)
    assert b.time_to_commit == cl.Spread(1, 3 * D, 3 * D)


def test_time_in_rung_runs_from_the_commitment_to_the_next_one_or_the_end() -> None:
    store = cl.MemoryStore()
    fill(store)
    a, b = cl.funnel(store).rungs
    # p1 sat on a from T0+1d to its yes to b at T0+5d: 4d; p2 from T0+3d1h to its end
    # (lost, at the no to b) at T0+6d: 2d23h; p3 still stands on a: not counted
    assert a.time_in_rung.count == 2
    assert a.time_in_rung.median == (4 * D + 2 * D + 23 * H) / 2
    assert a.time_in_rung.p90 == 2 * D + 23 * H + 0.9 * (H + D)
    # a commitment that reaches an end at once (p1's purchase) is no stay on the rung
    assert b.time_in_rung == cl.Spread(0, None, None)


def test_cohorts_split_by_the_week_or_month_of_enrollment() -> None:
    store = cl.MemoryStore()
    fill(store)
    weekly = cl.funnel(store, cohort="week")
    assert [(c.label, c.starts, c.figures.enrollments) for c in weekly.cohorts] == [
        ("2026-W02", T0.replace(hour=0), 2),
        ("2026-W03", T0.replace(hour=0) + 7 * D, 2),
    ]
    first, second = weekly.cohorts
    assert first.figures.ends == {"won": 1, "lost": 1}
    assert first.figures.rung("a").conversion == 1.0
    assert second.figures.rung("a").conversion == 0.5
    assert second.figures.rung("b").open == 1
    monthly = cl.funnel(store, cohort="month")
    assert [(c.label, c.figures.enrollments) for c in monthly.cohorts] == [("2026-01", 4)]
    assert cl.funnel(store).cohorts == ()


def test_a_date_range_keeps_the_enrollments_that_started_in_it() -> None:
    store = cl.MemoryStore()
    fill(store)
    later = cl.funnel(store, since=T0 + 7 * D)
    assert later.enrollments == 2
    assert later.rung("a").asked == 2
    earlier = cl.funnel(store, until=T0 + 7 * D)
    assert earlier.enrollments == 2
    assert earlier.ends == {"won": 1, "lost": 1}
    with pytest.raises(ValueError, match="aware datetime"):
        cl.funnel(store, since=T0.replace(tzinfo=None))


def test_a_version_filter_keeps_the_enrollments_on_those_versions() -> None:
    store = cl.MemoryStore()
    fill(store, version=1)
    fill(store, version=2, tag="-v2")
    both = cl.funnel(store)
    assert (both.enrollments, both.versions) == (8, (1, 2))
    two = cl.funnel(store, versions=[2])
    assert (two.enrollments, two.versions) == (4, (2,))
    assert two.rung("a").time_to_commit == cl.Spread(3, D, 2.6 * D)


def test_the_sql_store_and_its_url_give_the_same_figures_as_memory(store: Any) -> None:
    memory = cl.MemoryStore()
    fill(memory)
    fill(store)
    expected = cl.funnel(memory).to_dict()
    assert cl.funnel(store).to_dict() == expected
    assert cl.funnel(cl.Tracker(store=store)).to_dict() == expected
    if hasattr(store, "engine"):
        url = store.engine.url.render_as_string(hide_password=False)
        assert cl.funnel(url, prefix=store.prefix).to_dict() == expected


def test_csv_and_json_carry_the_figures() -> None:
    store = cl.MemoryStore()
    fill(store)
    report = cl.funnel(store, cohort="week")
    data = json.loads(report.to_json())
    assert data["rungs"][0]["time_in_rung"] == {
        "count": 2,
        "median_hours": 83.5,
        "p90_hours": 93.5,
    }
    assert [c["cohort"] for c in data["cohorts"]] == ["2026-W02", "2026-W03"]
    lines = report.to_csv().splitlines()
    assert lines[0].startswith("cohort,rung,asked,committed")
    assert lines[1].startswith("2026-W02,a,2,2,0,0,0,1.0,")
    assert len(lines) == 5


def test_an_empty_store_or_several_ladders_say_what_to_do() -> None:
    with pytest.raises(cl.LadderError, match="no enrollments"):
        cl.funnel(cl.MemoryStore())
    store = cl.MemoryStore()
    fill(store)
    other = cl.Ladder.from_yaml(HAND.format(version=1).replace("ladder: hand", "ladder: other"))
    cl.Tracker(store=store, ladders=[other]).enroll("x", ladder="other", now=T0)
    with pytest.raises(cl.LadderError, match=r"several ladders \(hand, other\)"):
        cl.funnel(store)
    assert cl.funnel(store, ladder="hand").enrollments == 4
    with pytest.raises(TypeError, match="event_log"):
        cl.funnel(object())  # type: ignore[arg-type]


def test_a_missing_database_file_is_named() -> None:
    with pytest.raises(cl.LadderError, match="no database file"):
        cl.funnel("sqlite:////nonexistent/dir/x.db")


@settings(max_examples=50)
@given(st.lists(st.floats(min_value=0, max_value=1e6), min_size=1, max_size=30))
def test_a_spread_lies_within_its_samples_and_the_median_below_the_p90(hours: list[float]) -> None:
    spread = cl.Spread.of([timedelta(hours=h) for h in hours])
    assert spread.count == len(hours)
    assert spread.median is not None
    assert spread.p90 is not None
    low, high = timedelta(hours=min(hours)), timedelta(hours=max(hours))
    tick = timedelta(microseconds=1)
    assert low - tick <= spread.median <= spread.p90 + tick
    assert spread.p90 <= high + tick


def test_the_command_takes_cohorts_dates_and_versions(tmp_path: Any) -> None:
    from typer.testing import CliRunner

    from commitladder.cli import app
    from commitladder.sql import SqlStore

    url = f"sqlite:///{tmp_path / 'hand.db'}"
    store = SqlStore(url)
    store.create_schema()
    fill(store)
    store.close()
    runner = CliRunner()
    table = runner.invoke(app, ["funnel", "--db", url, "--cohort", "week"])
    assert table.exit_code == 0, table.output
    assert "Cohort 2026-W02: 2 enrollments" in table.stdout
    assert "Cohort 2026-W03: 2 enrollments" in table.stdout
    assert "stay" in table.stdout
    later = runner.invoke(app, ["funnel", "--db", url, "--since", "2026-01-12", "-f", "json"])
    assert json.loads(later.stdout) == cl.funnel(url, since=T0.replace(hour=0) + 7 * D).to_dict()
    none = runner.invoke(app, ["funnel", "--db", url, "--version", "2", "-f", "json"])
    assert json.loads(none.stdout)["enrollments"] == 0
