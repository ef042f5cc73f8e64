"""The command line as a whole (its help, --version, --debug, exit codes, how its modules
hang together), `commitladder validate` and `commitladder demo`."""

# the demo is the README's first command: it runs here as a real process, as a user runs it

from __future__ import annotations

import ast
import json
import shlex
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from itertools import pairwise
from pathlib import Path

import pytest
from typer.testing import CliRunner

import commitladder
import commitladder as cl
from commitladder._stats import read_funnel
from commitladder.cli import app
from commitladder.sql import SqlStore
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
    # the demo relays its outbox and purges what was delivered: nothing is left behind
    assert "messages relayed, then purged from the outbox" in result.stdout
    store = SqlStore(f"sqlite:///{out / 'demo.db'}")
    try:
        assert store.outbox() == []
    finally:
        store.close()


def test_purge_deletes_delivered_messages_past_the_horizon_and_says_how_many(
    tmp_path: Path,
) -> None:
    url = f"sqlite:///{tmp_path / 'p.db'}"
    store = SqlStore(url)
    store.create_schema()
    ladder = cl.load(Path(cl.__file__).parent / "seed" / "solopreneur.yaml")
    long_ago = datetime.now(UTC) - timedelta(days=120)
    tracker = cl.Tracker(store=store, messenger=cl.RecordingMessenger(), ladders=[ladder])
    for name in ("a", "b"):
        tracker.enroll(name, ladder=ladder.name, now=long_ago)
        tracker.ask(name, "admit_problem", channel="email", now=long_ago)
    tracker.relay(now=long_ago)
    tracker.enroll("c", ladder=ladder.name, now=long_ago)
    tracker.ask("c", "admit_problem", channel="email", now=long_ago)  # not delivered: kept
    store.close()
    result = runner.invoke(app, ["purge", "--db", url, "--older-than", "90d"])
    assert result.exit_code == 0, result.output
    assert "purged 2 delivered and 0 dead messages and 0 receipts" in result.output
    store = SqlStore(url)
    try:
        assert [e.message.enrollment_id for e in store.outbox()] == ["solopreneur/c"]
    finally:
        store.close()


def test_purge_with_a_bad_duration_is_a_usage_error(tmp_path: Path) -> None:
    result = runner.invoke(
        app, ["purge", "--db", str(tmp_path / "p.db"), "--older-than", "ninety days"]
    )
    assert result.exit_code == 2
    assert "--older-than" in result.output


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


def _next_commands(output: str) -> list[list[str]]:
    """The commands the demo suggests under "Next", as argument lists."""
    block = output.split("\nNext\n")[1].split("\n\n")[0]
    return [shlex.split(line)[1:] for line in block.splitlines()]


def _run_the_demos_suggestions(folder: Path) -> list[list[str]]:
    demo = runner.invoke(app, ["demo", "--out", str(folder), "-n", "20"])
    assert demo.exit_code == 0, demo.output
    suggested = _next_commands(demo.stdout)
    assert [args[0] for args in suggested] == ["funnel", "graph", "check"]
    for args in suggested:
        result = runner.invoke(app, args)
        assert result.exit_code == 0, f"commitladder {shlex.join(args)}:\n{result.output}"
    return suggested


def test_the_demos_next_commands_run_where_graphviz_is_missing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Regression: "Next" suggested `graph -o ladder.png`, which exits 2 without Graphviz."""
    monkeypatch.setitem(sys.modules, "graphviz", None)
    monkeypatch.chdir(tmp_path)
    suggested = _run_the_demos_suggestions(tmp_path / "demo")
    assert suggested[1][-2:] == ["-o", "ladder.mmd"]
    assert (tmp_path / "ladder.mmd").read_text().splitlines()[3] == "flowchart BT"


@needs_dot
def test_the_demos_next_commands_run_where_graphviz_is_installed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    suggested = _run_the_demos_suggestions(tmp_path / "demo")
    assert suggested[1][-2:] == ["-o", "ladder.png"]
    assert image_size((tmp_path / "ladder.png").read_bytes())[0] > 400


def test_demo_walk_shows_each_guard_on_one_prospect() -> None:
    result = runner.invoke(app, ["demo", "--walk"])
    assert result.exit_code == 0, result.output
    assert "refused ask intro_call while that ask is open" in result.stdout
    assert "ended at won (won)" in result.stdout
    assert "replayed state equal: yes" in result.stdout


# ---- the command line as a whole -------------------------------------------------------------

COMMANDS = [
    "validate",
    "check",
    "graph",
    "paths",
    "explain-time",
    "test",
    "simulate",
    "funnel",
    "forecast",
    "schema",
    "import",
    "demo",
    "purge",
    "migrate",
    "enroll",
]
CLI_SOURCE = Path(commitladder.__file__).parent / "cli"


def test_version_prints_the_package_version() -> None:
    result = runner.invoke(app, ["--version"])
    assert result.exit_code == 0, result.output
    assert result.stdout == f"commitladder {commitladder.__version__}\n"


def _modules_loaded_by(*args: str) -> list[str]:
    """The modules a real `commitladder ARGS` process had imported when it exited."""
    code = (
        "import atexit, json, sys\n"
        "atexit.register(lambda: sys.stderr.write(json.dumps(sorted(sys.modules))))\n"
        f"sys.argv = ['commitladder', *{list(args)!r}]\n"
        "from commitladder._entry import main\n"
        "main()\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    loaded: list[str] = json.loads(result.stderr)
    return loaded


@pytest.mark.parametrize("args", [["--version"], ["--help"]], ids=" ".join)
def test_version_and_help_start_without_pydantic_sqlalchemy_or_hypothesis(args: list[str]) -> None:
    loaded = _modules_loaded_by(*args)
    heavy = ("pydantic", "sqlalchemy", "hypothesis", "transitions", "yaml")
    assert [m for m in loaded if m.split(".")[0] in heavy] == []
    assert "commitladder._api" not in loaded  # the library itself was never loaded


@pytest.mark.parametrize("command", ["check", "test", "simulate"])
def test_a_command_help_loads_none_of_the_library_it_describes(command: str) -> None:
    """(Typer itself may load pydantic to parse options; commitladder's own stack stays out.)"""
    loaded = _modules_loaded_by(command, "--help")
    assert [m for m in loaded if m.split(".")[0] in ("sqlalchemy", "hypothesis")] == []
    assert [m for m in loaded if m in ("commitladder._api", "commitladder._ladder")] == []


def _help(*args: str, width: int = 80) -> str:
    result = runner.invoke(app, [*args, "--help"], terminal_width=width)
    assert result.exit_code == 0, result.output
    return result.stdout


def _prose(text: str) -> list[list[str]]:
    """The help's description paragraphs (indented by two, between Usage and the tables)."""
    body = text.split("\n\n", 1)[1].split("\nArguments:")[0].split("\nOptions:")[0]
    paragraphs = [p.splitlines() for p in body.split("\n\n")]
    # a paragraph with deeper-indented lines is kept as written (an example, a YAML line)
    return [p for p in paragraphs if p and not any(line.startswith("   ") for line in p)]


@pytest.mark.parametrize("command", ["", *COMMANDS], ids=lambda c: c or "commitladder")
def test_help_wraps_paragraphs_to_the_width_and_shows_no_type_for_flags(command: str) -> None:
    text = _help(*filter(None, [command]))
    assert "<bool>" not in text
    assert "--help  " in text.replace("--help\n", "--help  ")  # the flag, then its help
    lines = text.splitlines()
    assert max(map(len, lines)) <= 80, text
    for paragraph in _prose(text):
        for line, after in pairwise(paragraph):
            # a line is broken only where the next word would not have fitted
            assert len(line) + 1 + len(after.split()[0]) > 80, f"ragged:\n{line}\n{after}"


def test_the_command_list_shows_each_summary_whole() -> None:
    text = _help()
    listed = text.split("Commands:\n")[1].splitlines()
    assert [line.split()[0] for line in listed] == COMMANDS
    assert not any(line.endswith("...") for line in listed)


def test_every_command_help_ends_with_an_example() -> None:
    for command in COMMANDS:
        description = _help(command).split("\nArguments:")[0].split("\nOptions:")[0]
        example = description.rstrip().splitlines()[-1].strip()
        assert example.startswith(f"commitladder {command}"), command


def test_an_error_is_one_sentence_and_debug_shows_the_traceback(tmp_path: Path) -> None:
    args = ["graph", str(EXAMPLES[0]), "--db", str(tmp_path / "missing.db")]
    quiet = runner.invoke(app, args)
    assert quiet.exit_code == 1
    assert quiet.stderr == f"error: no database file at {tmp_path / 'missing.db'}\n"
    loud = runner.invoke(app, ["--debug", *args])
    assert loud.exit_code == 1
    assert isinstance(loud.exception, commitladder.LadderError)


def _imports(path: Path) -> list[tuple[str, list[str]]]:
    """``(module, names)`` for every import in ``path``, resolved to absolute module names."""
    found = []
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.level == 1 and node.module is None:
            found.extend((f"commitladder.cli.{alias.name}", []) for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level == 1:
                base = f"commitladder.cli.{base}"
            found.append((base, [alias.name for alias in node.names]))
        elif isinstance(node, ast.Import):
            found.extend((alias.name, []) for alias in node.names)
    return found


def test_only_the_app_module_registers_commands_and_no_command_module_imports_it() -> None:
    for path in sorted(CLI_SOURCE.glob("*.py")):
        source = path.read_text()
        imported = {module for module, _ in _imports(path)}
        importers_of_app = {"__init__.py"}
        if path.name not in importers_of_app:
            assert "commitladder.cli._app" not in imported, path.name
            assert "commitladder.cli" not in imported, path.name  # nor the package, which does
        if path.name != "_app.py":
            assert "app.command" not in source, path.name


def test_no_cli_module_reads_another_modules_private_names() -> None:
    for path in sorted(CLI_SOURCE.glob("*.py")):
        for module, names in _imports(path):
            if module.startswith("commitladder"):
                private = [n for n in names if n.startswith("_") and n != "__version__"]
                assert private == [], f"{path.name} imports {private} from {module}"


@pytest.mark.parametrize("command", ["validate", "check", "graph", "paths", "test", "simulate"])
def test_every_command_exits_1_on_an_invalid_ladder_and_2_on_a_missing_file(
    command: str, tmp_path: Path
) -> None:
    """1: the input has problems; 2: a usage error. `test` and `paths` used to exit 2 on both."""
    bad = tmp_path / "broken.yaml"
    bad.write_text(BROKEN)
    extra = ["--db", str(tmp_path / "sim.db")] if command == "simulate" else []
    invalid = runner.invoke(app, [command, str(bad), *extra])
    assert invalid.exit_code == 1, invalid.output
    assert "did you mean 'admit_problem'?" in invalid.stdout
    missing = runner.invoke(app, [command, str(tmp_path / "missing.yaml"), *extra])
    assert missing.exit_code == 2, missing.output


def test_migrate_is_a_dry_run_by_default_and_apply_moves_them(tmp_path: Path) -> None:
    from migration_ladders import V2, v1

    url = f"sqlite:///{tmp_path / 'm.db'}"
    store = SqlStore(url)
    store.create_schema()
    tracker = cl.Tracker(store=store, ladders=[v1()])
    at = datetime(2026, 1, 5, 9, tzinfo=UTC)
    for n in range(3):
        tracker.enroll(f"p{n}", ladder="deal", now=at)
    tracker.ask("p1", "intro", channel="email", now=at)
    tracker.ask("p2", "intro", channel="phone", now=at)  # hello is email-only in v2
    store.close()
    (tmp_path / "v2.yaml").write_text(V2)
    args = ["migrate", "--db", url, str(tmp_path / "v2.yaml")]
    dry = runner.invoke(app, args)
    assert dry.exit_code == 1, dry.output  # one cannot move
    assert "v1 (start):asking:intro" in dry.output
    assert "v2 (start):asking:hello" in dry.output
    assert "1 cannot move" in dry.output
    assert "made by phone, which hello does not allow in v2" in dry.output
    assert "dry run: 2 would move, 1 cannot, 0 on v2 already; nothing was written" in dry.output
    done = runner.invoke(app, [*args, "--apply", "--actor", "ops"])
    assert "moved 2; 1 cannot move; 0 were on v2 already" in done.output
    again = runner.invoke(app, [*args, "--apply"])
    assert "moved 0; 1 cannot move; 2 were on v2 already" in again.output


def test_check_compares_a_version_with_the_older_one_it_migrates_from(tmp_path: Path) -> None:
    from migration_ladders import V1, V2

    (tmp_path / "v1.yaml").write_text(V1)
    (tmp_path / "v2.yaml").write_text(V2)
    ok = runner.invoke(app, ["check", str(tmp_path / "v1.yaml"), str(tmp_path / "v2.yaml")])
    assert ok.exit_code == 0, ok.output
    (tmp_path / "v2.yaml").write_text(V2.replace(", pilot: lost", ""))
    bad = runner.invoke(app, ["check", str(tmp_path / "v1.yaml"), str(tmp_path / "v2.yaml")])
    assert bad.exit_code == 1
    assert f"{tmp_path / 'v2.yaml'}:6:" in bad.output
    assert "error [unmapped_rung] rung 'pilot' of v1 is gone from v2" in bad.output
    assert "removed: {pilot: <rung or end>}" in bad.output
    alone = runner.invoke(app, ["check", str(tmp_path / "v2.yaml")])
    assert alone.exit_code == 0  # without the older version there is nothing to compare


def test_enroll_from_csv_enrolls_a_list_and_counts_what_it_skipped(tmp_path: Path) -> None:
    from migration_ladders import V1

    (tmp_path / "deal.yaml").write_text(V1)
    (tmp_path / "leads.csv").write_text("email,name\na@x.io,A\nb@x.io,B\n\na@x.io,A again\n")
    url = f"sqlite:///{tmp_path / 'e.db'}"
    args = ["enroll", str(tmp_path / "deal.yaml"), "--db", url]
    args += ["--from-csv", str(tmp_path / "leads.csv"), "--column", "email"]
    first = runner.invoke(app, args)
    assert first.exit_code == 0, first.output
    assert "enrolled 2 on deal v1; skipped 0" in first.output
    again = runner.invoke(app, args)
    assert "enrolled 0 on deal v1; skipped 2" in again.output
    assert "2 x already enrolled" in again.output
    wrong = runner.invoke(app, [*args[:-1], "mail"])
    assert wrong.exit_code == 2
    assert "no column 'mail' (columns: email, name)" in wrong.output
