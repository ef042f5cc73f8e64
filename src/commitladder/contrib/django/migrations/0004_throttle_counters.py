"""Schema version 3 of the ladder tables: throttle counters (issue 17).

``SqlStore.create_schema()`` adds ``commitladder_throttle`` (places taken per throttle
cap and period); nothing else changes, so this migration only calls it.
"""

from __future__ import annotations

from typing import Any

from django.db import migrations

from commitladder.contrib.django.runtime import configured_prefix
from commitladder.contrib.django.store import DjangoStore


def upgrade_tables(apps: Any, schema_editor: Any) -> None:
    DjangoStore(schema_editor.connection.alias, prefix=configured_prefix()).create_schema()


class Migration(migrations.Migration):
    dependencies = [("commitladder", "0003_read_only_models")]

    operations = [
        # no way back: version-2 code would not read the counters, and would not need to
        migrations.RunPython(upgrade_tables, migrations.RunPython.noop, elidable=False),
    ]
