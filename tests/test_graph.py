"""Diagrams: Mermaid and DOT text for every example, bottom-up by size, outcomes and "no"
redirects labelled, ends coloured by result; SVG/PNG through Graphviz; live counts; and a
clear message when Graphviz is missing."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

import commitladder as cl
from commitladder._graph import COLOURS, edges, render, to_dot, to_mermaid
from commitladder._stats import read_funnel
from commitladder.cli import app
from support import EXAMPLE_FILES, EXAMPLES_DIR, image_size, needs_dot

runner = CliRunner()
SEED = EXAMPLES_DIR / "solopreneur.yaml"


@pytest.mark.parametrize("path", EXAMPLE_FILES, ids=lambda p: p.name)
def test_mermaid_shows_every_rung_end_and_edge(path: Path) -> None:
    ladder = cl.load(path)
    text = to_mermaid(ladder)
    assert text.splitlines()[3] == "flowchart BT"
    for rung in ladder.rungs.values():
        assert f'rung_{rung.id.replace("-", "_")}["{rung.title or rung.id}<br/>' in text
    for end in ladder.ends.values():
        assert re.search(rf"class .*end_{end.id}\b.* {end.result}$", text, re.M)
    arrows = [line for line in text.splitlines() if re.search(r" (-->|-\.->)", line)]
    assert len(arrows) == len(list(edges(ladder)))


@needs_dot
@pytest.mark.parametrize("path", EXAMPLE_FILES, ids=lambda p: p.name)
def test_dot_puts_each_size_on_its_own_level_bottom_up_and_renders_as_svg(path: Path) -> None:
    ladder = cl.load(path)
    dot = to_dot(ladder)
    assert "rankdir=BT" in dot
    levels = re.findall(r"\{ rank=same; (.*) \}", dot)
    sizes = [{ladder.rungs[r].size for r in re.findall(r'"([^"]+)"', lv)} for lv in levels]
    assert all(len(s) == 1 for s in sizes)
    assert [s.pop() for s in sizes] == sorted({r.size for r in ladder.rungs.values()})
    for end in ladder.ends.values():
        assert f'"{end.id}" [label="' in dot
        assert COLOURS[end.result] in dot
    width, height = image_size(render(dot, "svg"))
    assert width > 150
    assert height > 300


def test_the_diagram_says_why_each_edge_is_there() -> None:
    ladder = cl.load(SEED)
    dot = to_dot(ladder)
    assert '"qualify" -> "explore_solutions" [label="current opportunity"]' in dot
    assert '"purchase" -> "stay_in_touch" [label="no", style=dashed' in dot
    assert "expires 5d" in dot
    assert "needs pain, timeline" in dot
    # a way back down does not pull the levels apart
    assert '"stay_in_touch" -> "qualify"' in dot
    assert re.search(r'"qualify" -> "stay_in_touch" \[.*constraint=false', dot)


def test_live_counts_on_each_edge_match_the_log(simulated_db: str) -> None:
    ladder = cl.load(SEED)
    funnel = read_funnel(simulated_db)
    dot = to_dot(ladder, funnel)
    edge = funnel.edges[("admit_problem", "intro_call")]
    rate = f"{edge.committed / edge.asked:.0%}"
    expected = (
        f'"admit_problem" -> "intro_call" [label="asked {edge.asked} · yes {edge.committed} '
        f'({rate}) · no {edge.declined} · expired {edge.expired}"]'
    )
    assert expected in dot
    assert f"won: {funnel.ends.get('won', 0)}" in dot
    assert f"live: {funnel.enrollments} enrollments" in dot


@needs_dot
def test_cli_graph_writes_each_format_and_guesses_it_from_the_suffix(
    tmp_path: Path, simulated_db: str
) -> None:
    mermaid = runner.invoke(app, ["graph", str(SEED)])
    assert mermaid.exit_code == 0
    assert "flowchart BT" in mermaid.stdout
    dot = runner.invoke(app, ["graph", str(SEED), "--format", "dot"])
    assert dot.stdout.startswith('digraph "solopreneur"')
    png, svg = tmp_path / "ladder.png", tmp_path / "ladder.svg"
    for out in (png, svg):
        result = runner.invoke(app, ["graph", str(SEED), "-o", str(out), "--db", simulated_db])
        assert result.exit_code == 0, result.output
        assert f"wrote {out} ({out.suffix[1:]}" in result.stderr
    width, height = image_size(png.read_bytes())
    assert 400 <= width <= 4000
    assert 400 <= height <= 4000
    assert image_size(svg.read_bytes())[1] > 400
    assert "asked " in svg.read_text()


def test_cli_graph_errors_speak_and_exit_consistently(tmp_path: Path) -> None:
    assert runner.invoke(app, ["graph", str(SEED), "-f", "png"]).exit_code == 2
    assert runner.invoke(app, ["graph", str(tmp_path / "nope.yaml")]).exit_code == 2
    result = runner.invoke(app, ["graph", str(SEED), "--db", str(tmp_path / "none.db")])
    assert result.exit_code == 1
    assert "no database file" in result.stderr


def test_without_the_graphviz_package_svg_says_which_extra_to_install(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setitem(sys.modules, "graphviz", None)  # import graphviz -> ImportError
    result = runner.invoke(app, ["graph", str(SEED), "-f", "svg"])
    assert result.exit_code == 2
    assert "pip install 'commitladder[graph]'" in result.stderr
    assert runner.invoke(app, ["graph", str(SEED), "-f", "dot"]).exit_code == 0


def test_without_the_dot_program_svg_says_how_to_install_graphviz(tmp_path: Path) -> None:
    env = {**os.environ, "PATH": str(tmp_path)}  # no `dot` anywhere
    cmd = [sys.executable, "-m", "commitladder", "graph", str(SEED), "-f", "svg"]
    result = subprocess.run(cmd, capture_output=True, text=True, env=env)
    assert result.returncode == 2
    assert "apt-get install graphviz" in result.stderr
    assert "Traceback" not in result.stderr
