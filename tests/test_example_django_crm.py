"""End to end: the example Django project (examples/django_crm) runs its own test suite
with Django's test runner, on SQLite, PostgreSQL (COMMITLADDER_TEST_POSTGRES_URL) and
MariaDB (COMMITLADDER_TEST_MYSQL_URL: ``manage.py test`` creates and migrates its
database in one run, issue 15),
in a fresh process (Django's settings are process-wide) with warnings as errors.

The test database gets a name unique to this run and is dropped afterwards, even when
the run fails halfway.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import uuid
from pathlib import Path

import pytest

from support import report

pytest_plugins = ["dbfixtures"]

pytest.importorskip("django")
sa = pytest.importorskip("sqlalchemy")

PROJECT = Path(__file__).resolve().parent.parent / "examples" / "django_crm"


def _drop(url: str, name: str) -> None:
    engine = sa.create_engine(url, isolation_level="AUTOCOMMIT")
    try:
        with engine.connect() as conn:
            conn.exec_driver_sql(f"DROP DATABASE IF EXISTS {name}")  # a plain name
    finally:
        engine.dispose()


@pytest.mark.parametrize("backend", ["sqlite", "postgresql", "mysql"])
def test_the_django_crm_passes_its_own_tests(
    backend: str, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    from dbfixtures import backend_url, needs_mysqlclient

    url = backend_url(backend, tmp_path)
    if backend == "mysql":
        needs_mysqlclient()
    test_db = f"test_cl{os.getpid()}{uuid.uuid4().hex[:8]}"
    env = {
        **os.environ,
        "DJANGO_CRM_DATABASE_URL": url,
        "DJANGO_CRM_TEST_DATABASE": test_db if backend != "sqlite" else "",
        "PYTHONWARNINGS": "error",
    }
    if backend == "sqlite":
        del env["DJANGO_CRM_TEST_DATABASE"]  # an in-memory test database
    try:
        run = subprocess.run(
            [sys.executable, "-W", "error", "manage.py", "test", "leads", "-v", "2"],
            cwd=PROJECT,
            env=env,
            capture_output=True,
            text=True,
            timeout=300,
        )
    finally:
        if backend != "sqlite":
            _drop(url, test_db)
    output = run.stdout + run.stderr
    assert run.returncode == 0, output
    ran = re.search(r"^Ran (\d+) tests? in", output, re.MULTILINE)
    assert ran is not None, output
    assert int(ran.group(1)) >= 7
    assert re.search(r"^OK$", output, re.MULTILINE), output
    figures = re.search(r"^django_crm figures: (.*)$", output, re.MULTILINE)
    assert figures is not None, output
    counted = {
        key: int(value)
        for key, value in (item.split(": ") for item in figures.group(1).split(", "))
    }
    assert counted["rollbacks observed"] >= 1
    assert counted["emails sent"] == 3
    report(request, f"django_crm end to end on {backend} ({ran.group(1)} tests)", counted)
