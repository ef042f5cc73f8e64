"""``EmailMessenger``: ladder messages as email through Django's mail backend.

The email is composed as the SMTP messenger composes it (``Message-ID`` from the
idempotency key, ``X-Commitladder-Key``) and sent with ``django.core.mail``, so the
project's ``EMAIL_BACKEND`` decides how it travels (SMTP in production, ``locmem`` in
tests). The address comes from the prospect's host row (``LadderProspect``).
"""

from __future__ import annotations

from django.conf import settings
from django.core.mail import EmailMessage

import commitladder as cl
from commitladder.contrib.smtp import Recipient, email_for

__all__ = ["EmailMessenger"]


def host_row_address(message: cl.Message) -> str | None:
    from .models import prospect_of

    row = prospect_of(message.prospect)
    return row.ladder_address(message) if row is not None else None


def _extra_header(name: str) -> bool:
    """Whether a header of the composed email goes to Django as an extra header: not the
    addresses and subject (Django's own arguments) and not the MIME structure, which
    Django composes itself (Django 6.0 refuses a second ``Content-Type``)."""
    lowered = name.lower()
    return lowered not in ("from", "to", "subject", "mime-version") and not lowered.startswith(
        "content-"
    )


class EmailMessenger:
    """A ``Messenger`` that sends with Django's ``EMAIL_BACKEND``.

    ``recipient`` defaults to asking the prospect's host row (``ladder_address``);
    ``sender`` to ``DEFAULT_FROM_EMAIL``. A message with no address counts as sent.
    """

    def __init__(self, *, sender: str | None = None, recipient: Recipient | None = None) -> None:
        self.sender = sender
        self.recipient = recipient or host_row_address

    def send(self, message: cl.Message) -> None:
        to = self.recipient(message)
        if to is None:
            return
        sender = self.sender or settings.DEFAULT_FROM_EMAIL
        composed = email_for(message, sender=sender, to=to)
        headers = {name: str(value) for name, value in composed.items() if _extra_header(name)}
        email = EmailMessage(
            subject=str(composed["Subject"]),
            body=composed.get_content(),
            from_email=sender,
            to=[to],
            headers=headers,
        )
        email.send(fail_silently=False)
