"""The Django app's lifecycle hooks (issue 14): ``convert`` re-keys a lead's enrollments to
a contact, and ``COMMITLADDER["ON_DELETE"]`` ends or erases a deleted row's enrollments
inside the delete's transaction. Each setting runs in a fresh process (Django's settings
are process-wide) on the example CRM's ``Lead`` model, on SQLite.
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

PROJECT = Path(__file__).resolve().parent.parent / "examples" / "django_crm"
SEED = Path(__file__).resolve().parent.parent / "src" / "commitladder" / "seed" / "solopreneur.yaml"

SCRIPT = textwrap.dedent(
    """
    import json, sys
    from datetime import UTC, datetime

    import django
    from django.conf import settings

    folder, seed, on_delete = sys.argv[1], sys.argv[2], json.loads(sys.argv[3])
    settings.configure(
        INSTALLED_APPS=["django.contrib.contenttypes", "commitladder.contrib.django", "leads"],
        DATABASES={
            "default": {"ENGINE": "django.db.backends.sqlite3", "NAME": f"{folder}/crm.db"}
        },
        USE_TZ=True,
        COMMITLADDER={"LADDERS": [seed], "MESSENGER": None, "ON_DELETE": on_delete},
    )
    django.setup()
    from django.core.management import call_command
    from django.db import transaction

    from commitladder.contrib.django import tracker
    from commitladder.contrib.django.lifecycle import convert
    from leads.models import Lead

    call_command("migrate", verbosity=0)
    t0 = datetime(2026, 1, 5, 9, tzinfo=UTC)
    lead = Lead.objects.create(name="Jane", email="jane@example.com")
    contact = Lead.objects.create(name="Jane (contact)", email="jane.contact@example.com")
    lead.enroll("solopreneur", now=t0)
    tracker().ask(lead.prospect_id, "admit_problem", channel="email", now=t0)
    moved = convert(lead, contact, now=t0, actor="crm")
    out = {
        "moved": [e.prospect for e in moved],
        "contact_pending": contact.enrollment().pending.rung,
        "lead_enrollments": lead.enrollments.count(),
    }
    pk, prospect = contact.pk, contact.prospect_id
    try:  # a delete that rolls back takes the hook's work with it
        with transaction.atomic():
            contact.delete()
            raise RuntimeError("roll back")
    except RuntimeError:
        pass
    out["after_rollback"] = [e.status for e in tracker().enrollments(prospect)]
    Lead.objects.get(pk=pk).delete()
    out["after_delete"] = [e.status for e in tracker().enrollments(prospect)]
    out["stored"] = [
        (row.prospect.startswith("forgotten-"), row.status)
        for row in __import__(
            "commitladder.contrib.django.models", fromlist=["LadderEnrollment"]
        ).LadderEnrollment.objects.all()
    ]
    print(json.dumps(out))
    """
)


def run(tmp_path: Path, on_delete: str | None) -> dict[str, object]:
    done = subprocess.run(
        [sys.executable, "-c", SCRIPT, str(tmp_path), str(SEED), json.dumps(on_delete)],
        cwd=PROJECT,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    result: dict[str, object] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def test_convert_moves_a_leads_climb_to_the_contact(tmp_path: Path) -> None:
    out = run(tmp_path, None)
    assert out["moved"] == ["leads.lead:2"]
    assert out["contact_pending"] == "admit_problem"
    assert out["lead_enrollments"] == 0


def test_on_delete_none_leaves_the_enrollments(tmp_path: Path) -> None:
    out = run(tmp_path, None)
    assert out["after_delete"] == ["pending"]


def test_on_delete_end_ends_the_live_enrollments_with_the_delete(tmp_path: Path) -> None:
    out = run(tmp_path, "end")
    assert out["after_rollback"] == ["pending"]
    assert out["after_delete"] == ["ended"]


def test_on_delete_forget_erases_them_with_the_delete(tmp_path: Path) -> None:
    out = run(tmp_path, "forget")
    assert out["after_rollback"] == ["pending"]
    assert out["after_delete"] == []
    assert out["stored"] == [[True, "ended"]]
