"""Schema version 2 of the ladder tables: an enrollment's timers live in its own row.

``SqlStore.create_schema()`` upgrades the tables in place (it moves the rows of
``commitladder_timers`` into ``commitladder_enrollments`` and drops that table), so
this migration only calls it. A database migrated by 0001 on this release is at
version 2 already, and this does nothing.
"""

from __future__ import annotations

from typing import Any

from django.db import migrations

from commitladder.contrib.django.runtime import configured_prefix
from commitladder.contrib.django.store import DjangoStore


def upgrade_tables(apps: Any, schema_editor: Any) -> None:
    DjangoStore(schema_editor.connection.alias, prefix=configured_prefix()).create_schema()


class Migration(migrations.Migration):
    dependencies = [("commitladder", "0001_initial")]

    operations = [
        # no way back: a version-1 commitladder cannot read timers kept in the enrollment
        migrations.RunPython(upgrade_tables, migrations.RunPython.noop, elidable=False),
    ]
