"""A host row's ladders when the row changes identity or goes away.

``convert(lead, contact)`` moves a lead's enrollments to the contact it became
(``Tracker.rekey``). ``settings.COMMITLADDER["ON_DELETE"]`` says what deleting a
``LadderProspect`` row does to its enrollments:

- ``None`` (the default): nothing; they stay, under the deleted row's prospect id;
- ``"end"``: the live ones end (at the ladder's first ``neutral`` end, else ``lost``),
  so no timer fires and no message goes out for a row that is gone;
- ``"forget"``: ``Tracker.forget``: ended, then erased, keeping only anonymous counts.

Both run inside the delete's transaction: if the delete rolls back, so do they.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.db.models.signals import post_delete

import commitladder as cl

from .models import LadderProspect
from .runtime import tracker

__all__ = ["ON_DELETE_CHOICES", "connect", "convert", "on_delete"]

ON_DELETE_CHOICES = (None, "end", "forget")
"""The values ``COMMITLADDER["ON_DELETE"]`` may take."""


def convert(
    old: LadderProspect | str, new: LadderProspect | str, **options: Any
) -> list[cl.Enrollment]:
    """Move ``old``'s enrollments (open ask, timers, unsent messages) to ``new``: a lead
    converted into a contact. Rows or prospect ids; ``options`` go to ``Tracker.rekey``
    (``actor=``, ``reason=``, ``now=``). Raises ``RekeyConflict`` when they clash."""
    return tracker().rekey(_prospect(old), _prospect(new), **options)


def on_delete(sender: type[Any], instance: Any, **kwargs: Any) -> None:
    """``post_delete`` receiver: apply ``COMMITLADDER["ON_DELETE"]`` to a deleted row."""
    if not isinstance(instance, LadderProspect):
        return
    action = getattr(settings, "COMMITLADDER", {}).get("ON_DELETE")
    if action not in ON_DELETE_CHOICES:
        raise ImproperlyConfigured(
            f"COMMITLADDER['ON_DELETE'] is {action!r}: use None, 'end' or 'forget'"
        )
    if action is None:
        return
    prospect = instance.prospect_id
    t = tracker()
    if action == "forget":
        if t.enrollments(prospect):
            t.forget(prospect, reason=f"{sender.__name__} row deleted", actor="django")
        return
    for enrollment in t.enrollments(prospect):
        if enrollment.status != "ended":
            t.end(
                prospect,
                _quiet_end(enrollment.ladder),
                ladder=enrollment.ladder.name,
                actor="django",
                reason=f"{sender.__name__} row deleted",
            )


def connect() -> None:
    """Listen for deleted rows (the app's ``ready()`` calls this once)."""
    post_delete.connect(on_delete, dispatch_uid="commitladder-on-delete")


def _prospect(row: LadderProspect | str) -> str:
    return row if isinstance(row, str) else row.prospect_id


def _quiet_end(ladder: cl.Ladder) -> str:
    for result in ("neutral", "lost"):
        for end in ladder.ends.values():
            if end.result == result:
                return end.id
    return next(iter(ladder.ends))
