"""Deliver ladder messages as email over SMTP, with the standard library's ``smtplib``.

Each ``Message`` becomes one email whose ``Message-ID`` is derived from the message's
idempotency key and which carries the key itself in ``X-Commitladder-Key``: the relay
delivers at least once, so a message sent twice arrives twice with the same id, and
the receiving side (a mailbox, a ticketing system) can drop the copy. Who receives a
message is the host's call (``recipient``); a message with no recipient is done, not
failed. This module never reads the outbox and never retries: the relay does that.
"""

from __future__ import annotations

import hashlib
import smtplib
import ssl
from collections.abc import Callable
from email.message import EmailMessage
from email.utils import format_datetime

from commitladder._messaging import Message

__all__ = ["KEY_HEADER", "Recipient", "Render", "SmtpMessenger", "email_for", "message_id"]

KEY_HEADER = "X-Commitladder-Key"
"""The header that carries the message's idempotency key, for the receiving side."""

Recipient = Callable[[Message], "str | None"]
"""The address a message goes to, or ``None`` when it is not for email."""

Render = Callable[[Message], "tuple[str, str]"]
"""The subject and the plain-text body of a message."""

# what a person reads in the subject of the messages a timer or a commitment sends
_ALERTS = {
    "committed": "committed to {rung}",
    "ask_expired": "the ask for {rung} expired",
    "follow_up_due": "a follow-up on {rung} is due",
    "next_step_overdue": "no next step since {rung}",
    "resume_due": "time to resume",
}


def render(message: Message) -> tuple[str, str]:
    """The default subject and body: the rung's ``ask`` script for asks and follow-ups,
    a one-line alert for everything else (meant for the salesperson)."""
    if message.kind in ("ask", "follow_up"):
        text = message.text or f"Could we take the next step: {message.rung}?"
        subject = text if len(text) <= 78 else text[:75].rstrip() + "..."
        if message.kind == "follow_up":
            subject = f"Re: {subject}"
        return subject, text + "\n"
    alert = _ALERTS.get(message.kind, message.kind.replace("_", " ")).format(rung=message.rung)
    subject = f"[{message.ladder}] {message.prospect}: {alert}"
    lines = [subject, "", f"enrollment: {message.enrollment_id}", f"at: {message.at.isoformat()}"]
    lines += [f"{key}: {value}" for key, value in sorted(message.data.items())]
    return subject, "\n".join(lines) + "\n"


def message_id(message: Message, domain: str) -> str:
    """The ``Message-ID`` of a message: the same for every delivery of the same key."""
    digest = hashlib.sha256(message.idempotency_key.encode()).hexdigest()[:32]
    return f"<{digest}@{domain}>"  # short: a folded header would gain a space


def email_for(
    message: Message,
    *,
    sender: str,
    to: str,
    domain: str | None = None,
    render: Render = render,
) -> EmailMessage:
    """The email for ``message``: headers carry its key, kind, ladder and prospect.

    ``domain`` goes into the ``Message-ID`` (default: the sender's domain).
    """
    subject, body = render(message)
    email = EmailMessage()
    email["From"] = sender
    email["To"] = to
    email["Subject"] = subject
    email["Date"] = format_datetime(message.at)
    email["Message-ID"] = message_id(message, domain or sender.rpartition("@")[2] or "localhost")
    email[KEY_HEADER] = message.idempotency_key
    email["X-Commitladder-Kind"] = message.kind
    email["X-Commitladder-Enrollment"] = message.enrollment_id
    email.set_content(body)
    return email


class SmtpMessenger:
    """A ``Messenger`` that sends each message as one email over SMTP.

    ``recipient(message)`` names the address (look the prospect up in your CRM), or
    returns ``None`` for a message that is not for email: it then counts as delivered.
    One SMTP connection per message: the relay calls ``send`` from a worker, and a
    failure (refused connection, 4xx/5xx reply) raises, so the relay retries it with
    backoff and the same key. ``security`` is ``None`` (plain, e.g. a local relay),
    ``"starttls"`` or ``"ssl"``; ``username``/``password`` log in when given.
    """

    def __init__(
        self,
        *,
        host: str = "localhost",
        port: int = 25,
        sender: str,
        recipient: Recipient,
        render: Render = render,
        domain: str | None = None,
        security: str | None = None,
        username: str | None = None,
        password: str | None = None,
        ssl_context: ssl.SSLContext | None = None,
        timeout: float = 30.0,
    ) -> None:
        if security not in (None, "starttls", "ssl"):
            raise ValueError(f"security must be None, 'starttls' or 'ssl', not {security!r}")
        if (username is None) != (password is None):
            raise ValueError("give both username and password, or neither")
        self.host = host
        self.port = port
        self.sender = sender
        self.recipient = recipient
        self.render = render
        self.domain = domain
        self.security = security
        self.timeout = timeout
        self._login: tuple[str, str] | None = None
        if username is not None and password is not None:
            self._login = (username, password)
        self._context = ssl_context

    def send(self, message: Message) -> None:
        """Send ``message`` (returns once the server accepted it; raises otherwise)."""
        to = self.recipient(message)
        if to is None:
            return
        email = email_for(
            message, sender=self.sender, to=to, domain=self.domain, render=self.render
        )
        with self._connect() as smtp:
            smtp.send_message(email)

    def _connect(self) -> smtplib.SMTP:
        context = self._context
        if self.security is not None and context is None:
            context = ssl.create_default_context()
        smtp: smtplib.SMTP
        if self.security == "ssl":
            smtp = smtplib.SMTP_SSL(self.host, self.port, timeout=self.timeout, context=context)
        else:
            smtp = smtplib.SMTP(self.host, self.port, timeout=self.timeout)
        try:
            if self.security == "starttls":
                smtp.starttls(context=context)
            if self._login is not None:
                smtp.login(*self._login)
        except BaseException:
            smtp.close()
            raise
        return smtp

    def __repr__(self) -> str:
        return f"<SmtpMessenger {self.host}:{self.port} from {self.sender}>"
