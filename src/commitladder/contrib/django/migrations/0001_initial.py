"""The ladder tables, created by ``SqlStore`` itself: one schema, one definition.

The models are unmanaged views of those tables (for the admin); the tables are made
and dropped by ``RunPython`` with the store, on the migration's database, with the
prefix of ``COMMITLADDER["TABLE_PREFIX"]`` (set it before the first ``migrate``).
"""

from __future__ import annotations

from typing import Any

from django.db import migrations, models

import commitladder.contrib.django.models
from commitladder.contrib.django.runtime import configured_prefix
from commitladder.contrib.django.store import DjangoStore


def create_tables(apps: Any, schema_editor: Any) -> None:
    DjangoStore(schema_editor.connection.alias, prefix=configured_prefix()).create_schema()


def drop_tables(apps: Any, schema_editor: Any) -> None:
    DjangoStore(schema_editor.connection.alias, prefix=configured_prefix()).drop_schema()


class Migration(migrations.Migration):
    initial = True

    dependencies = []

    operations = [
        migrations.RunPython(create_tables, drop_tables),
        migrations.CreateModel(
            name="LadderEnrollment",
            fields=[
                ("id", models.CharField(max_length=255, primary_key=True, serialize=False)),
                ("prospect", models.CharField(db_index=True, max_length=255)),
                ("ladder", models.CharField(max_length=255)),
                ("status", models.CharField(max_length=16)),
                ("version", models.IntegerField()),
                ("snapshot", commitladder.contrib.django.models.JSONTextField()),
                ("updated_at", commitladder.contrib.django.models.UTCDateTimeField(null=True)),
            ],
            options={
                "verbose_name": "enrollment",
                "db_table": f"{configured_prefix()}enrollments",
                "ordering": ("-updated_at",),
                "managed": False,
            },
        ),
        migrations.CreateModel(
            name="OutboxMessage",
            fields=[
                ("id", models.AutoField(primary_key=True, serialize=False)),
                ("key", models.CharField(max_length=400, unique=True)),
                ("enrollment_id", models.CharField(max_length=255)),
                ("kind", models.CharField(max_length=32)),
                ("status", models.CharField(max_length=8)),
                ("attempts", models.IntegerField()),
                ("next_attempt_at", commitladder.contrib.django.models.UTCDateTimeField()),
                ("sent_at", commitladder.contrib.django.models.UTCDateTimeField(null=True)),
                ("last_error", models.TextField(null=True)),
                ("body", commitladder.contrib.django.models.JSONTextField()),
            ],
            options={
                "verbose_name": "outbox message",
                "db_table": f"{configured_prefix()}outbox",
                "ordering": ("-id",),
                "managed": False,
            },
        ),
    ]
