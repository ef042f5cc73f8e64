"""Settings of the example Django CRM.

The database comes from ``DJANGO_CRM_DATABASE_URL`` (a SQLAlchemy-style URL:
``sqlite:///crm.sqlite3``, ``postgresql+psycopg://user@host:5432/name``,
``mysql://root@host:3306/name``); the test
database's name from ``DJANGO_CRM_TEST_DATABASE`` (the test suite makes it unique).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import sqlalchemy as sa

BASE_DIR = Path(__file__).resolve().parent.parent
LADDERS = BASE_DIR.parent / "ladders"


def database(url: str) -> dict[str, Any]:
    parsed = sa.make_url(url)
    backend = parsed.get_backend_name()
    test = (
        {"NAME": os.environ["DJANGO_CRM_TEST_DATABASE"]}
        if "DJANGO_CRM_TEST_DATABASE" in os.environ
        else {}
    )
    if backend == "sqlite":
        return {
            "ENGINE": "django.db.backends.sqlite3",
            "NAME": parsed.database or BASE_DIR / "crm.sqlite3",
            # writers queue at BEGIN instead of failing on a lock upgrade
            "OPTIONS": {"transaction_mode": "IMMEDIATE"},
            "TEST": test,
        }
    if backend == "postgresql":
        return {
            "ENGINE": "django.db.backends.postgresql",
            "NAME": parsed.database,
            "USER": parsed.username or "",
            "PASSWORD": parsed.password or "",
            "HOST": parsed.host or "",
            "PORT": str(parsed.port or ""),
            "TEST": test,
        }
    if backend == "mysql":  # MariaDB or MySQL, through mysqlclient
        return {
            "ENGINE": "django.db.backends.mysql",
            "NAME": parsed.database,
            "USER": parsed.username or "",
            "PASSWORD": parsed.password or "",
            "HOST": parsed.host or "",
            "PORT": str(parsed.port or ""),
            "TEST": test,
        }
    raise ValueError(f"this example runs on SQLite, PostgreSQL or MariaDB/MySQL, not {backend}")


SECRET_KEY = os.environ.get("DJANGO_SECRET_KEY", "example-only-not-secret")
DEBUG = os.environ.get("DJANGO_DEBUG") == "1"
ALLOWED_HOSTS = ["localhost", "127.0.0.1", "testserver"]

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "commitladder.contrib.django",
    "leads",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
]

ROOT_URLCONF = "django_crm.urls"

TEMPLATES = [
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
]

DATABASES = {
    "default": database(os.environ.get("DJANGO_CRM_DATABASE_URL", "sqlite:///crm.sqlite3"))
}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
USE_TZ = True
TIME_ZONE = "UTC"
STATIC_URL = "static/"

DEFAULT_FROM_EMAIL = "sales@crm.example"
EMAIL_HOST = os.environ.get("DJANGO_CRM_SMTP_HOST", "localhost")
EMAIL_PORT = int(os.environ.get("DJANGO_CRM_SMTP_PORT", "25"))

COMMITLADDER = {
    "LADDERS": [LADDERS / "solopreneur.yaml", LADDERS / "webinar.yaml"],
    "MESSENGER": "commitladder.contrib.django.messengers.EmailMessenger",
    # refusals name the lead ("Dee <dee@example.com> already has an open ask for ...")
    "DISPLAY_NAME": "commitladder.contrib.django.models.display_name",
}
