"""The Django app on every backend (SQLite; PostgreSQL and MariaDB where configured), in
process, on whichever Django the environment has: 5.2 in the dev venv, 6.0 in
``make test-django6`` (issue 15).

Migrations run once and are recorded (MariaDB commits DDL implicitly), no system check
warns, ``EmailMessenger`` composes mail Django accepts, the settings wire listeners, a
clock and a table prefix, and the test helpers empty the ladder tables.
"""

from __future__ import annotations

import json
import subprocess
import sys
import unittest
from datetime import UTC, datetime, timedelta
from email import message_from_bytes
from pathlib import Path
from typing import Any

import pytest

pytest_plugins = ["dbfixtures", "djangosite", "commitladder.contrib.django.testing"]
pytest.importorskip("django")
pytest.importorskip("sqlalchemy")

import django  # noqa: E402 (after the skip)
from django.core import mail  # noqa: E402
from django.core.exceptions import ImproperlyConfigured  # noqa: E402
from django.core.management import call_command  # noqa: E402
from django.db import connections, transaction  # noqa: E402
from django.db.migrations.recorder import MigrationRecorder  # noqa: E402
from django.test import TransactionTestCase, override_settings  # noqa: E402

import commitladder as cl  # noqa: E402
from support import queued_asks_week  # noqa: E402


def config(**changes: Any) -> dict[str, Any]:
    """The test's COMMITLADDER setting (its database alias included), changed."""
    from django.conf import settings

    return {**settings.COMMITLADDER, **changes}


T0 = datetime(2026, 1, 5, 9, tzinfo=UTC)
SEED = Path(__file__).resolve().parent.parent / "src" / "commitladder" / "seed" / "solopreneur.yaml"
HEARD: list[str] = []


def heard(event: cl.Event) -> None:
    """A listener named in the settings by its dotted path."""
    HEARD.append(event.type)


class FixedClock:
    """A clock named in the settings: always T0 plus a day."""

    def now(self) -> datetime:
        return T0 + timedelta(days=1)


def contact(alias: str, name: str = "Ada") -> Any:
    from django_host.models import Contact

    return Contact.objects.create(name=name, email=f"{name.lower()}@example.com")


def tracker() -> cl.Tracker:
    from commitladder.contrib.django import tracker

    return tracker()


# ---- Django 5.2 and 6.0: the email messenger -------------------------------------------------


def test_email_messenger_sends_an_ask_django_accepts(django_db: str) -> None:
    """Regression: Django 6.0 refused the composed MIME headers passed as extra headers
    ("There may be at most 1 Content-Type headers"), so no ask was ever emailed."""
    ada = contact(django_db)
    ada.enroll("solopreneur", now=T0)
    ask = tracker().ask(ada.prospect_id, "admit_problem", channel="email", now=T0)
    report = tracker().relay(now=T0)
    assert (report.sent, report.retrying, report.dead) == (1, 0, 0), django.get_version()
    [sent] = mail.outbox
    assert sent.to == ["ada@example.com"]
    parsed = message_from_bytes(sent.message().as_bytes())
    assert len(parsed.get_all("Content-Type") or []) == 1
    assert parsed.get_content_type() == "text/plain"
    assert len(parsed.get_all("MIME-Version") or []) == 1
    [entry] = tracker().store.outbox()
    assert parsed["X-Commitladder-Key"] == entry.message.idempotency_key
    assert (entry.message.kind, entry.message.rung) == ("ask", ask.rung)
    assert parsed["Message-ID"].endswith("@crm.example>")
    assert entry.message.text
    assert entry.message.text in parsed.get_payload(decode=True).decode()


# ---- migrations on every backend -------------------------------------------------------------


def _applied(alias: str) -> set[str]:
    recorder = MigrationRecorder(connections[alias])
    return {name for app, name in recorder.applied_migrations() if app == "commitladder"}


def test_migrate_runs_once_and_is_recorded(django_db: str) -> None:
    """From no tables to all of them in one ``migrate`` (MariaDB: DDL outside a savepoint),
    recorded, and back again."""
    call_command("migrate", "commitladder", "zero", database=django_db, verbosity=0)
    assert _applied(django_db) == set()
    tables = set(connections[django_db].introspection.table_names())
    assert not {name for name in tables if name.startswith("commitladder_")}

    call_command("migrate", database=django_db, verbosity=0)  # one run, no retry
    assert _applied(django_db) >= {"0001_initial", "0002_timers_in_enrollments"}
    tables = set(connections[django_db].introspection.table_names())
    assert {"commitladder_enrollments", "commitladder_outbox", "commitladder_events"} <= tables
    ada = contact(django_db)
    ada.enroll("solopreneur", now=T0)
    assert ada.enrollments.get().status == "ready"


def test_no_system_check_warns_on_any_backend(django_db: str) -> None:
    """Not even mysql.W003 on the outbox's 400-character key."""
    from django.core.checks import run_checks

    messages = run_checks(databases=[django_db], include_deployment_checks=False)
    ours = [m for m in messages if "commitladder" in str(getattr(m, "obj", ""))]
    assert ours == []
    call_command("check", databases=[django_db], fail_level="WARNING", verbosity=0)


# ---- settings ----------------------------------------------------------------------------------


def test_settings_wire_listeners_and_a_clock(django_db: str) -> None:
    HEARD.clear()
    changed = config(LISTENERS=[f"{__name__}.heard"], CLOCK=f"{__name__}.FixedClock")
    with override_settings(COMMITLADDER=changed):
        ada = contact(django_db)
        e = ada.enroll("solopreneur")
        assert e.history[-1].at == T0 + timedelta(days=1)  # the settings' clock
        assert HEARD == ["Enrolled"]


def test_listeners_added_at_run_time_survive_a_settings_change(django_db: str) -> None:
    from commitladder.contrib.django import remove_listener

    got: list[str] = []
    listener = got.append
    tracker().add_listener(lambda event: listener(event.type))
    added = got.append
    tracker().add_listener(added)
    before = tracker()
    with override_settings(COMMITLADDER=config(MESSENGER=None)):
        assert tracker() is not before  # rebuilt
        ada = contact(django_db)
        ada.enroll("solopreneur", now=T0)
    assert got[0] == "Enrolled"
    remove_listener(added)
    got.clear()
    contact(django_db, "Bo").enroll("solopreneur", now=T0)
    assert got == ["Enrolled"]  # the lambda is still there; `added` is gone


def test_the_table_prefix_setting_names_the_store_tables(django_db: str) -> None:
    with override_settings(COMMITLADDER=config(TABLE_PREFIX="crm_ladder_")):
        store = tracker().store
        assert store.prefix == "crm_ladder_"  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    ("bad", "words"),
    [
        ({"LADDER": []}, "unknown COMMITLADDER settings: LADDER"),
        ({"TABLE_PREFIX": "drop table;"}, "TABLE_PREFIX"),
        ({"LISTENERS": [42]}, "not callable"),
        ({"CLOCK": "builtins.object"}, "now\\(\\) method"),
        ({"CLOCK": "datetime.datetime"}, "cannot be called without arguments"),
        ({"MESSENGER": "no.such.Messenger"}, "cannot import 'no.such.Messenger'"),
    ],
    ids=["unknown-key", "bad-prefix", "listener", "clock", "clock-factory", "messenger"],
)
def test_bad_settings_say_which_key(django_db: str, bad: dict[str, Any], words: str) -> None:
    with (
        override_settings(COMMITLADDER=config(**bad)),
        pytest.raises(ImproperlyConfigured, match=words),
    ):
        tracker()


# ---- test helpers ------------------------------------------------------------------------------


def test_reset_ladder_tables_empties_them_and_keeps_the_schema(django_db: str) -> None:
    from commitladder.contrib.django.models import LadderEnrollment
    from commitladder.contrib.django.testing import reset_ladder_tables

    ada = contact(django_db)
    ada.enroll("solopreneur", now=T0)
    tracker().ask(ada.prospect_id, "admit_problem", channel="email", now=T0)
    reset_ladder_tables(django_db)
    assert LadderEnrollment.objects.count() == 0
    ada.enroll("solopreneur", now=T0)  # no open ask inherited, schema intact
    tracker().ask(ada.prospect_id, "admit_problem", channel="email", now=T0)


def test_the_mixin_gives_each_transaction_test_case_empty_ladder_tables(django_db: str) -> None:
    """Two tests whose contacts share a primary key: the second must not inherit the
    first one's open ask (TransactionTestCase flushes only Django's tables)."""
    from commitladder.contrib.django.testing import LadderTablesMixin

    class Climbs(LadderTablesMixin, TransactionTestCase):
        databases = {django_db}  # noqa: RUF012 (Django's own attribute)
        reset_sequences = True  # each test's first contact is pk 1 on every backend

        def _climb(self) -> None:
            with transaction.atomic(django_db):
                ada = contact(django_db)
                ada.enroll("solopreneur", now=T0)
                tracker().ask(ada.prospect_id, "admit_problem", channel="email", now=T0)

        def test_one(self) -> None:
            self._climb()

        def test_two(self) -> None:
            self._climb()

    suite = unittest.TestSuite([Climbs("test_one"), Climbs("test_two")])
    result = unittest.TestResult()
    suite.run(result)
    assert result.errors == [], result.errors
    assert result.failures == [], result.failures
    assert result.testsRun == 2


def test_a_plain_test_case_rolls_the_ladder_back_with_the_host(django_db: str) -> None:
    """No helper needed there: the ladder's rows are in the test's transaction."""
    from django.test import TestCase

    from commitladder.contrib.django.models import LadderEnrollment

    class Climbs(TestCase):
        databases = {django_db}  # noqa: RUF012 (Django's own attribute)

        def test_one(self) -> None:
            ada = contact(django_db)
            ada.enroll("solopreneur", now=T0)
            tracker().ask(ada.prospect_id, "admit_problem", channel="email", now=T0)
            assert LadderEnrollment.objects.count() == 1

    result = unittest.TestResult()
    unittest.TestSuite([Climbs("test_one")]).run(result)
    assert result.errors == [], result.errors
    assert result.failures == [], result.failures
    assert result.testsRun == 1
    assert LadderEnrollment.objects.count() == 0


def test_the_pytest_fixture_empties_the_ladder_tables(
    django_db: str, request: pytest.FixtureRequest
) -> None:
    from commitladder.contrib.django.models import LadderEnrollment

    contact(django_db).enroll("solopreneur", now=T0)
    request.getfixturevalue("ladder_tables")
    assert LadderEnrollment.objects.count() == 0


PREFIXED = """
import json, sys
from datetime import UTC, datetime

import django
from django.conf import settings

settings.configure(
    INSTALLED_APPS=["django.contrib.contenttypes", "commitladder.contrib.django"],
    DATABASES={"default": {"ENGINE": "django.db.backends.sqlite3", "NAME": sys.argv[1]}},
    USE_TZ=True,
    COMMITLADDER={"LADDERS": [sys.argv[2]], "MESSENGER": None, "TABLE_PREFIX": "crm_ladder_"},
)
django.setup()
from django.core.management import call_command
from django.db import connection

from commitladder.contrib.django import tracker
from commitladder.contrib.django.models import LadderEnrollment

call_command("migrate", verbosity=0)
tracker().enroll("p1", ladder="solopreneur", now=datetime(2026, 1, 5, tzinfo=UTC))
print(json.dumps({
    "tables": sorted(connection.introspection.table_names()),
    "enrollments": LadderEnrollment.objects.count(),
    "model_table": LadderEnrollment._meta.db_table,
}))
"""


def test_table_prefix_names_the_tables_the_migration_makes(tmp_path: Path) -> None:
    """Django's settings are process-wide and the models read the prefix at import: a
    fresh process migrates with ``TABLE_PREFIX`` and the admin's models follow it."""
    run = subprocess.run(
        [sys.executable, "-W", "error", "-c", PREFIXED, str(tmp_path / "crm.db"), str(SEED)],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert run.returncode == 0, run.stdout + run.stderr
    found = json.loads(run.stdout.strip().splitlines()[-1])
    ours = [name for name in found["tables"] if "ladder" in name or "commitladder" in name]
    assert ours, found
    assert all(name.startswith("crm_ladder_") for name in ours), ours
    assert found["model_table"] == "crm_ladder_enrollments"
    assert found["enrollments"] == 1


# ---- admin -------------------------------------------------------------------------------------


def _climbing(alias: str) -> tuple[Any, str]:
    ada = contact(alias)
    ada.enroll("solopreneur", now=T0)
    tracker().ask(ada.prospect_id, "admit_problem", channel="email", now=T0)
    tracker().commit(ada.prospect_id, now=T0)
    tracker().ask(ada.prospect_id, "intro_call", channel="phone", now=T0)
    return ada, f"solopreneur/{ada.prospect_id}"


def test_the_ladder_pages_are_on_the_hosts_own_admin_site(django_db: str) -> None:
    from django.contrib.admin.utils import quote
    from django.contrib.auth.models import User
    from django.test import Client

    User.objects.create_superuser("boss", "boss@crm.example", "pw")
    client = Client()
    client.force_login(User.objects.get(username="boss"))
    ada, eid = _climbing(django_db)
    enrollment_page = f"/crm/commitladder/ladderenrollment/{quote(eid)}/change/"
    contact_page = f"/crm/django_host/contact/{ada.pk}/change/"

    listing = client.get("/crm/commitladder/ladderenrollment/")
    assert listing.status_code == 200
    html = listing.content.decode()
    assert f'<a href="{contact_page}">Ada</a>' in html  # the enrollment links its host row
    assert "intro_call by phone" in html

    page = client.get(enrollment_page)
    assert page.status_code == 200
    assert "<td>Committed</td>" in page.content.decode()
    assert 'name="_save"' not in page.content.decode()
    assert client.get("/crm/commitladder/outboxmessage/").status_code == 200

    contacts = client.get("/crm/django_host/contact/").content.decode()  # the ladder column
    assert f'<a href="{enrollment_page}">solopreneur: pending (admit_problem)</a>' in contacts

    # Django's own site has the ladder pages but not the contacts: the name, unlinked
    default = client.get("/admin/commitladder/ladderenrollment/").content.decode()
    assert "Ada" in default
    assert contact_page not in default


def test_read_only_models_have_only_a_view_permission(django_db: str) -> None:
    from django.contrib.auth.models import Permission

    codenames = set(
        Permission.objects.filter(content_type__app_label="commitladder").values_list(
            "codename", flat=True
        )
    )
    assert codenames == {"view_ladderenrollment", "view_outboxmessage"}


def test_staff_need_the_documented_view_permissions(django_db: str) -> None:
    from django.contrib.auth.models import Permission, User
    from django.test import Client

    clerk = User.objects.create_user("clerk", "clerk@crm.example", "pw", is_staff=True)
    client = Client()
    client.force_login(clerk)
    _, eid = _climbing(django_db)
    pages = ["/crm/commitladder/ladderenrollment/", "/crm/commitladder/outboxmessage/"]
    assert [client.get(page).status_code for page in pages] == [403, 403]

    clerk.user_permissions.add(
        *Permission.objects.filter(
            codename__in=["view_ladderenrollment", "view_outboxmessage"],
            content_type__app_label="commitladder",
        )
    )
    client.force_login(User.objects.get(pk=clerk.pk))  # a fresh permission cache
    assert [client.get(page).status_code for page in pages] == [200, 200]
    assert eid in client.get(pages[0]).content.decode()
    assert client.get("/crm/commitladder/ladderenrollment/add/").status_code == 403


def test_the_models_match_the_migrations(django_db: str) -> None:
    """``makemigrations`` finds nothing to do for the app (no state drift)."""
    call_command("makemigrations", "commitladder", check=True, dry_run=True, verbosity=0)


# ---- display names -----------------------------------------------------------------------------


def test_refusals_name_the_host_row_with_the_display_name_setting(django_db: str) -> None:
    ada = contact(django_db, "Ada")
    with override_settings(
        COMMITLADDER=config(DISPLAY_NAME="commitladder.contrib.django.models.display_name")
    ):
        ada.enroll("solopreneur", now=T0)
        tracker().ask(ada.prospect_id, "admit_problem", channel="email", now=T0)
        with pytest.raises(cl.AskPending) as info:
            tracker().ask(ada.prospect_id, "intro_call", now=T0)
        assert str(info.value).startswith("Ada already has an open ask for Admit a problem")
        assert info.value.to_dict()["enrollment_id"] == f"solopreneur/{ada.prospect_id}"
        why = ada.enrollment().why_not("intro_call")
        assert why is not None
        assert why.message.startswith("Ada already has")


def test_the_display_name_setting_must_be_callable(django_db: str) -> None:
    with (
        override_settings(COMMITLADDER=config(DISPLAY_NAME="django.conf.settings")),
        pytest.raises(ImproperlyConfigured, match="DISPLAY_NAME"),
    ):
        tracker()


def test_tenant_views_wall_off_accounts_on_the_django_store(django_db: str) -> None:
    """Tenants work on the Django store as on the others: no migration needed."""
    shared = tracker()
    acme, globex = shared.tenant("acme"), shared.tenant("globex")
    for view in (acme, globex):
        view.enroll("lead-42", ladder="solopreneur", now=T0)
    acme.ask("lead-42", "admit_problem", channel="email", now=T0)
    globex.ask("lead-42", "admit_problem", channel="email", now=T0)  # its own prospect
    with pytest.raises(cl.NotEnrolled):
        shared.get("lead-42")
    assert globex.run_due(T0 + timedelta(days=30)).skipped == ()
    assert globex.get("lead-42").status == "parked"
    assert acme.get("lead-42").status == "pending"  # globex's worker left acme's timer
    assert cl.funnel(acme, ladder="solopreneur").enrollments == 1


def test_run_due_fires_a_batch_from_what_the_claim_read_on_the_django_store(
    django_db: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The Django store's claim reads the enrollments it leases (``ClaimReadStore``), so
    a batch of due asks is fired from that read, without a second one, each once."""
    from commitladder.sql import SqlStore
    from commitladder.store import ClaimReadStore

    calls: list[str] = []
    for name in ("claim_due", "load_many", "load"):
        method = getattr(SqlStore, name)

        def counted(self: SqlStore, *args: Any, _m: Any = method, _n: str = name, **kw: Any) -> Any:
            calls.append(_n)
            return _m(self, *args, **kw)

        monkeypatch.setattr(SqlStore, name, counted)
    shared = tracker()
    assert isinstance(shared.store, ClaimReadStore)
    people = [contact(django_db, name) for name in ("Ada", "Grace", "Edsger")]
    for person in people:
        person.enroll("solopreneur", now=T0)
        shared.ask(person.prospect_id, "admit_problem", channel="email", now=T0)
    calls.clear()
    report = shared.run_due(T0 + timedelta(days=30))
    assert report >= 3
    assert report.skipped == ()
    # one claim, and no read after it: neither the batch's nor one enrollment's
    assert calls == ["claim_due"]
    for person in people:
        history = shared.history(person.prospect_id)
        assert [e.type for e in history].count("AskExpired") == 1
        assert shared.get(person.prospect_id).status == "parked"


def test_a_queued_asks_follow_ups_go_out_after_it_on_the_django_store(django_db: str) -> None:
    """Regression: the Django store moves a throttle-queued ask's follow-up too."""
    from commitladder.contrib.django import DjangoStore

    queued_asks_week(DjangoStore(django_db))
