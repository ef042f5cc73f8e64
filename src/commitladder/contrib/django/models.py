"""Read-only Django models over the ladder tables, and the mixin that links a host model.

The tables belong to ``SqlStore`` (the migration creates them with it), so the models
are unmanaged and never written through: every write goes through the tracker, which
keeps the events, snapshot, open ask, timers and outbox of a command together.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any, ClassVar

from django.apps import apps
from django.db import models

import commitladder as cl

from .runtime import configured_prefix, tracker

__all__ = ["LadderEnrollment", "LadderProspect", "OutboxMessage", "display_name", "prospect_of"]


class UTCDateTimeField(models.DateTimeField):  # type: ignore[type-arg]
    """An instant stored as naive UTC (``SqlStore``'s format), read back aware."""

    def from_db_value(self, value: Any, expression: Any, connection: Any) -> datetime | None:
        if isinstance(value, str):  # SQLite hands back text where no converter ran
            value = datetime.fromisoformat(value)
        if not isinstance(value, datetime):
            return None
        return value if value.tzinfo is not None else value.replace(tzinfo=UTC)


class JSONTextField(models.TextField):  # type: ignore[type-arg]
    """JSON kept in a text column (the same bytes on every database)."""

    def from_db_value(self, value: Any, expression: Any, connection: Any) -> Any:
        return json.loads(value) if isinstance(value, str) else value


class LadderEnrollment(models.Model):
    """One prospect's climb on one ladder, as the store keeps it."""

    id: models.CharField[str, str] = models.CharField(max_length=255, primary_key=True)
    prospect: models.CharField[str, str] = models.CharField(max_length=255, db_index=True)
    ladder: models.CharField[str, str] = models.CharField(max_length=255)
    status: models.CharField[str, str] = models.CharField(max_length=16)
    version: models.IntegerField[int, int] = models.IntegerField()
    snapshot = JSONTextField()
    updated_at = UTCDateTimeField(null=True)

    objects: ClassVar[models.Manager[LadderEnrollment]] = models.Manager()

    class Meta:
        managed = False
        db_table = f"{configured_prefix()}enrollments"
        ordering = ("-updated_at",)
        verbose_name = "enrollment"
        # read-only: grant "commitladder.view_ladderenrollment" to let staff see them
        default_permissions = ("view",)

    def __str__(self) -> str:
        return self.id

    @property
    def position(self) -> str | None:
        """The last rung the prospect committed to."""
        position: str | None = self.snapshot.get("position")
        return position

    @property
    def open_ask(self) -> dict[str, Any] | None:
        """The open ask (rung, channel, asked_at, expires_at...), if any."""
        pending: dict[str, Any] | None = self.snapshot.get("pending")
        return pending

    def history(self) -> tuple[cl.Event, ...]:
        """Every event of this enrollment, oldest first (read through the store)."""
        store = tracker().store
        return tuple(cl.event_from_dict(data) for data in store.events(self.id))


class OutboxMessage(models.Model):
    """A message the relay sends (or sent, or gave up on: ``dead``)."""

    id: models.AutoField[int, int] = models.AutoField(primary_key=True)
    # unique in the table (SqlStore's constraint); not declared here, where Django would
    # warn that MySQL cannot index 400 characters (mysql.W003): this model never writes
    key: models.CharField[str, str] = models.CharField(max_length=400)
    enrollment_id: models.CharField[str, str] = models.CharField(max_length=255)
    kind: models.CharField[str, str] = models.CharField(max_length=32)
    status: models.CharField[str, str] = models.CharField(max_length=8)
    attempts: models.IntegerField[int, int] = models.IntegerField()
    next_attempt_at = UTCDateTimeField()
    sent_at = UTCDateTimeField(null=True)
    last_error: models.TextField[str | None, str | None] = models.TextField(null=True)
    body = JSONTextField()

    objects: ClassVar[models.Manager[OutboxMessage]] = models.Manager()

    class Meta:
        managed = False
        db_table = f"{configured_prefix()}outbox"
        ordering = ("-id",)
        verbose_name = "outbox message"
        default_permissions = ("view",)  # "commitladder.view_outboxmessage"

    def __str__(self) -> str:
        return self.key


class LadderProspect(models.Model):
    """Mix into a host model (a ``Lead``, a ``Contact``) to put its rows on ladders.

    The prospect id is ``"<app_label>.<model>:<pk>"``, so a messenger can find the row
    again (``prospect_of``). Override ``ladder_address`` to say where email goes.
    """

    class Meta:
        abstract = True

    @property
    def prospect_id(self) -> str:
        return f"{self._meta.label_lower}:{self.pk}"

    @property
    def enrollments(self) -> models.QuerySet[LadderEnrollment]:
        """This row's enrollments, on every ladder."""
        return LadderEnrollment.objects.filter(prospect=self.prospect_id)

    def enroll(self, ladder: str, **options: Any) -> cl.Enrollment:
        """Enroll this row on ``ladder`` (inside the caller's ``atomic()`` block, if any)."""
        return tracker().enroll(self.prospect_id, ladder=ladder, **options)

    def enrollment(self, ladder: str | None = None) -> cl.Enrollment:
        """This row's enrollment (on ``ladder``), with ``askable()``, ``why_not()``..."""
        return tracker().get(self.prospect_id, ladder=ladder)

    def ladder_address(self, message: cl.Message) -> str | None:
        """The email address ``message`` goes to, or ``None``: by default the row's
        ``email`` field for asks and follow-ups made over email."""
        if message.kind in ("ask", "follow_up") and message.channel == "email":
            address = getattr(self, "email", None)
            return str(address) if address else None
        return None


def prospect_of(prospect_id: str) -> LadderProspect | None:
    """The host row behind a prospect id made by ``LadderProspect``, or ``None``."""
    label, sep, pk = prospect_id.partition(":")
    if not sep or "." not in label:
        return None
    try:
        model = apps.get_model(label)
    except LookupError:
        return None
    found = model._default_manager.filter(pk=pk).first()  # noqa: SLF001 (Django's public API)
    return found if isinstance(found, LadderProspect) else None


def display_name(prospect_id: str) -> str | None:
    """The host row's ``str()`` for refusal sentences (``COMMITLADDER["DISPLAY_NAME"]``):
    ``"Ada Lovelace"`` where the id says ``leads.lead:9``; ``None`` for other ids."""
    row = prospect_of(prospect_id)
    return str(row) if row is not None else None
