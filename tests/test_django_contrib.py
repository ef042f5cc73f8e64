"""The Django app on every backend (SQLite; PostgreSQL and MariaDB where configured), in
process, on whichever Django the environment has: 5.2 in the dev venv, 6.0 in
``make test-django6`` (issue 15).

Migrations run once and are recorded (MariaDB commits DDL implicitly), no system check
warns, ``EmailMessenger`` composes mail Django accepts, the settings wire listeners, a
clock and a table prefix, and the test helpers empty the ladder tables.
"""

from __future__ import annotations

import unittest
from datetime import UTC, datetime, timedelta
from email import message_from_bytes
from typing import Any

import pytest

pytest_plugins = ["dbfixtures", "djangosite"]
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


def config(**changes: Any) -> dict[str, Any]:
    """The test's COMMITLADDER setting (its database alias included), changed."""
    from django.conf import settings

    return {**settings.COMMITLADDER, **changes}


T0 = datetime(2026, 1, 5, 9, tzinfo=UTC)
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
