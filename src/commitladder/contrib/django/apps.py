"""The Django app of commitladder: add ``"commitladder.contrib.django"`` to INSTALLED_APPS."""

from __future__ import annotations

from django.apps import AppConfig


class CommitladderConfig(AppConfig):
    name = "commitladder.contrib.django"
    label = "commitladder"
    verbose_name = "Sales ladders"
    default_auto_field = "django.db.models.AutoField"

    def ready(self) -> None:
        from django.core.signals import setting_changed

        from .runtime import reset

        setting_changed.connect(reset, dispatch_uid="commitladder-settings")

        from . import lifecycle

        lifecycle.connect()
