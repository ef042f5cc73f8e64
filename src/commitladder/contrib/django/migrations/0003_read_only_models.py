"""The models are read-only views: only a view permission each, and no unique flag on
the outbox key (the table's own constraint stays; the flag made MySQL warn, W003).

Both are model state only: the models are unmanaged, so no SQL runs.
"""

from __future__ import annotations

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [("commitladder", "0002_timers_in_enrollments")]

    operations = [
        migrations.AlterModelOptions(
            name="ladderenrollment",
            options={
                "default_permissions": ("view",),
                "managed": False,
                "ordering": ("-updated_at",),
                "verbose_name": "enrollment",
            },
        ),
        migrations.AlterModelOptions(
            name="outboxmessage",
            options={
                "default_permissions": ("view",),
                "managed": False,
                "ordering": ("-id",),
                "verbose_name": "outbox message",
            },
        ),
        migrations.AlterField(
            model_name="outboxmessage",
            name="key",
            field=models.CharField(max_length=400),
        ),
    ]
