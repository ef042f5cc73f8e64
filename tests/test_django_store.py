"""``DjangoStore`` builds its ``SqlStore`` once per database alias (issue 11), not per call.

Django's settings are process-wide, so the check runs in a fresh process with a
minimal project on two SQLite databases (aliases ``default`` and ``other``): it
migrates both, runs commands through several ``DjangoStore`` objects and counts the
``SqlStore`` objects built from an engine (a joined view per call is cheap and shares
the built store's tables).
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

pytest.importorskip("django")
pytest.importorskip("sqlalchemy")

SCRIPT = textwrap.dedent(
    """
    import json, statistics, sys, time
    from datetime import UTC, datetime

    import django
    from django.conf import settings

    folder = sys.argv[1]
    settings.configure(
        INSTALLED_APPS=["django.contrib.contenttypes", "commitladder.contrib.django"],
        DATABASES={
            alias: {"ENGINE": "django.db.backends.sqlite3", "NAME": f"{folder}/{alias}.db"}
            for alias in ("default", "other")
        },
        USE_TZ=True,
    )
    django.setup()
    from django.core.management import call_command

    import commitladder as cl
    from commitladder import sql
    from commitladder.contrib.django import DjangoStore

    built = []
    real_init = sql.SqlStore.__init__

    def counting_init(self, bind, **options):
        built.append(str(bind.url) if hasattr(bind, "url") else repr(bind))
        real_init(self, bind, **options)

    sql.SqlStore.__init__ = counting_init
    for alias in ("default", "other"):
        call_command("migrate", database=alias, verbosity=0)
    ladder = cl.load(sys.argv[2])
    t0 = datetime(2026, 1, 5, 9, tzinfo=UTC)
    seen_tables = set()
    for alias in ("default", "other"):
        for i in range(3):  # a new DjangoStore each time, as a view might make one
            store = DjangoStore(alias)
            tracker = cl.Tracker(store=store, ladders=[ladder])
            tracker.enroll(f"p{i}", ladder="solopreneur", now=t0)
            tracker.ask(f"p{i}", "admit_problem", channel="email", now=t0)
            with store.session() as session:
                seen_tables.add(id(session.tables))
    store = DjangoStore("default")
    times = []
    for _ in range(200):
        started = time.perf_counter()
        store.load("solopreneur/p0")
        times.append(time.perf_counter() - started)
    versions = [DjangoStore(a).load("solopreneur/p2").version for a in ("default", "other")]
    print(json.dumps({
        "built": built,
        "tables": len(seen_tables),
        "load_ms": statistics.median(times) * 1000,
        "versions": versions,
    }))
    """
)


def test_django_store_builds_one_sql_store_per_alias(tmp_path: Path) -> None:
    seed = Path(__file__).resolve().parent.parent / "src" / "commitladder" / "seed"
    run = subprocess.run(
        [
            sys.executable,
            "-W",
            "error",
            "-c",
            SCRIPT,
            str(tmp_path),
            str(seed / "solopreneur.yaml"),
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert run.returncode == 0, run.stdout + run.stderr
    result = json.loads(run.stdout.strip().splitlines()[-1])
    # one SqlStore per alias for the migrations, the commands and the loads together
    assert len(result["built"]) == 2, result["built"]
    assert result["tables"] == 1  # every call's view shares the one set of tables
    assert result["versions"] == [2, 2]  # enrolled, asked: on both databases
    print(f"\n[figure] DjangoStore.load median {result['load_ms']:.2f} ms a call")
