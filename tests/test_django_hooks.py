"""In the Django app, ``COMMITLADDER["HOOKS"]`` keep a host's stage field in step: the hook
writes through Django's own connection inside the command's savepoint, so the field and the
ladder commit together and roll back together with the host's ``atomic()`` block.

Django's settings are process-wide, so the project runs in a fresh process (SQLite)."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

pytest.importorskip("django")
pytest.importorskip("sqlalchemy")

HOOKS = textwrap.dedent(
    """
    from django.db import connection


    def keep_deal_stage(change):
        if change.moved:
            with connection.cursor() as cursor:
                cursor.execute(
                    "UPDATE deals SET stage = %s WHERE prospect = %s",
                    [change.stage_after, change.prospect],
                )
    """
)

SCRIPT = textwrap.dedent(
    """
    import json, sys
    from datetime import UTC, datetime

    import django
    from django.conf import settings

    folder, ladder = sys.argv[1], sys.argv[2]
    sys.path.insert(0, folder)
    settings.configure(
        INSTALLED_APPS=["django.contrib.contenttypes", "commitladder.contrib.django"],
        DATABASES={
            "default": {"ENGINE": "django.db.backends.sqlite3", "NAME": f"{folder}/crm.db"}
        },
        USE_TZ=True,
        COMMITLADDER={
            "LADDERS": [ladder], "MESSENGER": None, "HOOKS": ["crmhooks.keep_deal_stage"]
        },
    )
    django.setup()
    from django.core.management import call_command
    from django.db import connection, transaction

    from commitladder.contrib.django import tracker

    call_command("migrate", verbosity=0)
    with connection.cursor() as cursor:
        cursor.execute("CREATE TABLE deals (prospect TEXT PRIMARY KEY, stage TEXT)")
        cursor.execute("INSERT INTO deals VALUES ('acme', 'New')")

    def stage():
        with connection.cursor() as cursor:
            cursor.execute("SELECT stage FROM deals WHERE prospect = 'acme'")
            return cursor.fetchone()[0]

    t0 = datetime(2026, 1, 5, 9, tzinfo=UTC)
    t = tracker()
    t.enroll("acme", ladder="staged", now=t0)
    t.ask("acme", "discovery", now=t0)
    t.commit("acme", now=t0)
    committed = stage()
    t.ask("acme", "proposal", now=t0)
    try:
        with transaction.atomic():
            t.commit("acme", now=t0)
            inside = stage()
            raise RuntimeError("the view failed after the command")
    except RuntimeError:
        pass
    import commitladder as cl

    print(json.dumps({
        "funnel": cl.funnel(t).rung("discovery").committed,
        "committed": committed,
        "inside": inside,
        "after_rollback": stage(),
        "status": t.get("acme").status,
    }))
    """
)

LADDER = """\
ladder: staged
start: discovery
defaults: {channels: [email]}
rungs:
  discovery: {kind: meeting, size: 2, next: proposal, stage: Qualification}
  proposal: {kind: proposal, size: 3, next: won, stage: Proposal}
ends:
  won: {result: won, stage: Closed Won}
"""


def test_a_settings_hook_keeps_the_hosts_stage_in_the_commands_transaction(
    tmp_path: Path,
) -> None:
    (tmp_path / "crmhooks.py").write_text(HOOKS)
    (tmp_path / "staged.yaml").write_text(LADDER)
    run = subprocess.run(
        [sys.executable, "-W", "error", "-c", SCRIPT, str(tmp_path), str(tmp_path / "staged.yaml")],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert run.returncode == 0, run.stdout + run.stderr
    result = json.loads(run.stdout.strip().splitlines()[-1])
    assert result == {
        "funnel": 1,  # the funnel reads the Django store too
        "committed": "Qualification",  # written with the commitment, committed with it
        "inside": "Closed Won",  # seen inside the host's block
        "after_rollback": "Qualification",  # the block rolled back: the field...
        "status": "pending",  # ...and the ladder's commitment together
    }
