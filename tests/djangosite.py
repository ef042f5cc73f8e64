"""An in-process Django project for the tests of ``commitladder.contrib.django``.

Django's settings are process-wide: they are configured once per test process, with a
database alias per backend (SQLite always; PostgreSQL and MariaDB/MySQL where
COMMITLADDER_TEST_POSTGRES_URL / COMMITLADDER_TEST_MYSQL_URL are set). Each server
alias gets a database of its own, named for this run and dropped at exit. A router
sends the ORM to the alias under test, so one test body runs on every backend. Load
with ``pytest_plugins = ["djangosite"]`` and take the ``django_db`` fixture.
"""

from __future__ import annotations

import atexit
import os
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("django")
sa = pytest.importorskip("sqlalchemy")

import django  # noqa: E402 (after the skip)
from django.conf import settings  # noqa: E402

from dbfixtures import SERVERS, needs_mysqlclient, server_url  # noqa: E402

SEED = Path(__file__).resolve().parent.parent / "src" / "commitladder" / "seed"
EXAMPLES = Path(__file__).resolve().parent.parent / "examples" / "ladders"
BACKENDS = ["sqlite", "postgresql", "mysql"]
COMMITLADDER = {
    "LADDERS": [SEED / "solopreneur.yaml", EXAMPLES / "webinar.yaml"],
    "MESSENGER": "commitladder.contrib.django.messengers.EmailMessenger",
}

_current = {"alias": "default"}
_migrated: set[str] = set()


class ToCurrent:
    """Every model read and write goes to the alias of the test that runs."""

    def db_for_read(self, model: Any, **hints: Any) -> str:
        return _current["alias"]

    def db_for_write(self, model: Any, **hints: Any) -> str:
        return _current["alias"]

    def allow_relation(self, *args: Any, **hints: Any) -> bool:
        return True


def _server_database(backend: str, name: str) -> dict[str, Any] | None:
    """Create database ``name`` on the server of ``backend``; its Django settings."""
    url = os.environ.get(SERVERS[backend])
    if not url:
        return None
    parsed = sa.make_url(url)
    engine = sa.create_engine(url, isolation_level="AUTOCOMMIT")
    try:
        with engine.connect() as conn:
            conn.exec_driver_sql(f"CREATE DATABASE {name}")
    except Exception:
        return None  # the fixture skips (fails in CI), saying why
    finally:
        engine.dispose()

    def drop() -> None:
        engine = sa.create_engine(url, isolation_level="AUTOCOMMIT")
        try:
            with engine.connect() as conn:
                conn.exec_driver_sql(f"DROP DATABASE IF EXISTS {name}")
        finally:
            engine.dispose()

    atexit.register(drop)
    engines = {"postgresql": "postgresql", "mysql": "mysql"}
    return {
        "ENGINE": f"django.db.backends.{engines[backend]}",
        "NAME": name,
        "USER": parsed.username or "",
        "PASSWORD": parsed.password or "",
        "HOST": parsed.host or "",
        "PORT": str(parsed.port or ""),
        "TEST": {"NAME": name},
    }


def setup() -> None:
    """Configure Django for this process (once)."""
    if settings.configured:
        return
    folder = tempfile.mkdtemp(prefix="cl-django-")
    databases: dict[str, Any] = {
        "default": {
            "ENGINE": "django.db.backends.sqlite3",
            "NAME": f"{folder}/default.db",
            "OPTIONS": {"transaction_mode": "IMMEDIATE"},
        }
    }
    run = f"test_cl{os.getpid()}{uuid.uuid4().hex[:8]}"
    for backend in ("postgresql", "mysql"):
        found = _server_database(backend, run)
        if found is not None:
            databases[backend] = found
    settings.configure(
        INSTALLED_APPS=[
            "django.contrib.admin",
            "django.contrib.auth",
            "django.contrib.contenttypes",
            "django.contrib.sessions",
            "django.contrib.messages",
            "commitladder.contrib.django",
            "django_host",
        ],
        DATABASES=databases,
        DATABASE_ROUTERS=["djangosite.ToCurrent"],
        MIDDLEWARE=[
            "django.contrib.sessions.middleware.SessionMiddleware",
            "django.contrib.auth.middleware.AuthenticationMiddleware",
            "django.contrib.messages.middleware.MessageMiddleware",
        ],
        TEMPLATES=[
            {
                "BACKEND": "django.template.backends.django.DjangoTemplates",
                "APP_DIRS": True,
                "OPTIONS": {
                    "context_processors": [
                        "django.template.context_processors.request",
                        "django.contrib.auth.context_processors.auth",
                        "django.contrib.messages.context_processors.messages",
                    ]
                },
            }
        ],
        ROOT_URLCONF="django_host.urls",
        SECRET_KEY="tests-only",
        USE_TZ=True,
        DEFAULT_AUTO_FIELD="django.db.models.AutoField",
        EMAIL_BACKEND="django.core.mail.backends.locmem.EmailBackend",
        DEFAULT_FROM_EMAIL="sales@crm.example",
        PASSWORD_HASHERS=["django.contrib.auth.hashers.MD5PasswordHasher"],
        ALLOWED_HOSTS=["testserver"],
        COMMITLADDER=COMMITLADDER,
    )
    django.setup()


def _clear(alias: str) -> None:
    """Empty the host's tables and the ladder tables of ``alias``."""
    from django.contrib.auth.models import User

    from commitladder.contrib.django.testing import reset_ladder_tables
    from django_host.models import Contact

    reset_ladder_tables(alias)
    Contact.objects.using(alias).all().delete()
    User.objects.using(alias).all().delete()


@pytest.fixture(params=BACKENDS)
def django_db(request: pytest.FixtureRequest) -> Iterator[str]:
    """The database alias of one backend, migrated, empty, and the ORM's for this test."""
    setup()
    from django.core import mail
    from django.core.management import call_command
    from django.db import connections
    from django.test import override_settings

    backend = request.param
    alias = "default" if backend == "sqlite" else backend
    if backend != "sqlite":
        server_url(backend)  # skips (fails in CI) with the reason when there is no server
        if alias not in settings.DATABASES:
            pytest.fail(f"the {backend} server is reachable but its test database was not made")
        if backend == "mysql":
            needs_mysqlclient()
    if alias not in _migrated:
        call_command("migrate", database=alias, verbosity=0)
        _migrated.add(alias)
    _current["alias"] = alias
    _clear(alias)
    mail.outbox = []
    try:
        with override_settings(COMMITLADDER={**COMMITLADDER, "DATABASE": alias}):
            yield alias
    finally:
        _current["alias"] = "default"
        for conn in connections.all(initialized_only=True):
            conn.close()
