"""The package itself: light to import, typed, runnable as a module."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import commitladder

HEAVY = (
    "hypothesis",
    "sqlalchemy",
    "typer",
    "rich",
    "click",
    "psycopg",
    "pymysql",
    "graphviz",
    "django",
    "flask",
    "werkzeug",
    "aiosmtpd",
    "smtplib",
    "matplotlib",
    "numpy",
)


def test_import_commitladder_loads_no_heavy_or_optional_dependency() -> None:
    """`import commitladder` must not pull in drivers, the CLI stack or hypothesis."""
    code = "import json, sys, commitladder; print(json.dumps(sorted(sys.modules)))"
    loaded = json.loads(subprocess.check_output([sys.executable, "-c", code], text=True))
    heavy = [m for m in loaded if m.split(".")[0] in HEAVY]
    assert heavy == []
    # the engine loads when the first ladder compiles, not before
    assert "transitions" not in loaded


def test_the_smtp_messenger_needs_only_the_standard_library() -> None:
    code = "import json, sys, commitladder.contrib.smtp; print(json.dumps(sorted(sys.modules)))"
    loaded = json.loads(subprocess.check_output([sys.executable, "-c", code], text=True))
    heavy = [m for m in loaded if m.split(".")[0] in HEAVY and m != "smtplib"]
    assert heavy == []
    assert "commitladder.contrib.django" not in loaded


def test_transitions_loads_only_when_the_machine_is_used() -> None:
    code = (
        "import sys, commitladder; from commitladder.cli import seed_ladder; "
        "ladder = seed_ladder(); "
        "e = ladder.enroll('p'); e.ask('admit_problem'); e.commit(); "
        "print('transitions' in sys.modules, end=' '); ladder.machine; "
        "print('transitions' in sys.modules)"
    )
    out = subprocess.check_output([sys.executable, "-c", code], text=True).strip()
    assert out == "False True", "enrollments run the rules without the machine; it is built on use"


def test_all_is_sorted_and_every_name_exists() -> None:
    assert list(commitladder.__all__) == sorted(commitladder.__all__)
    missing = [name for name in commitladder.__all__ if not hasattr(commitladder, name)]
    assert missing == []


def test_py_typed_is_shipped() -> None:
    assert (Path(commitladder.__file__).parent / "py.typed").is_file()


def test_only_the_machine_module_imports_transitions() -> None:
    """`transitions` sits behind one adapter module."""
    src = Path(commitladder.__file__).parent
    importers = sorted(
        p.name
        for p in src.rglob("*.py")
        if any(
            line.startswith(("import transitions", "from transitions"))
            for line in p.read_text().splitlines()
        )
    )
    assert importers == ["_machine.py"]


def test_python_dash_m_runs_the_command_line() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "commitladder", "--help"], capture_output=True, text=True
    )
    assert result.returncode == 0
    assert "validate" in result.stdout


def test_the_command_line_starts_without_databases_graphviz_or_plotting() -> None:
    """`commitladder check` or `graph` to Mermaid must not pay for SQLAlchemy or matplotlib."""
    code = (
        "import json, sys, commitladder.cli, commitladder._lint, commitladder._graph, "
        "commitladder._schema, commitladder._simulate, commitladder._charts; "
        "print(json.dumps(sorted(sys.modules)))"
    )
    loaded = json.loads(subprocess.check_output([sys.executable, "-c", code], text=True))
    late = ("sqlalchemy", "graphviz", "matplotlib", "numpy", "hypothesis")
    assert [m for m in loaded if m.split(".")[0] in late] == []
