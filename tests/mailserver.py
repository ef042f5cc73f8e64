"""A real SMTP server for tests: aiosmtpd on a free loopback port, keeping what it receives.

Use the ``smtp_server`` fixture (``pytest_plugins = ["mailserver"]``): the server
runs in its own thread for the test and stops after it; ``received`` holds each
email as parsed by the standard library, in arrival order.
"""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator
from email import message_from_bytes, policy
from email.message import EmailMessage
from typing import Any

import pytest

aiosmtpd_controller = pytest.importorskip("aiosmtpd.controller")


class Inbox:
    """An aiosmtpd handler that keeps every email it accepts."""

    def __init__(self) -> None:
        self.received: list[EmailMessage] = []
        self.envelopes: list[tuple[str, list[str]]] = []
        self._lock = threading.Lock()
        self.refuse = 0  # refuse the next N emails with a temporary failure

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802
        with self._lock:
            if self.refuse > 0:
                self.refuse -= 1
                return "451 4.3.0 try again later"
            email = message_from_bytes(envelope.content, policy=policy.default)
            assert isinstance(email, EmailMessage)
            self.received.append(email)
            self.envelopes.append((envelope.mail_from, list(envelope.rcpt_tos)))
        return "250 OK"

    def keys(self) -> list[str]:
        return [str(m["X-Commitladder-Key"]) for m in self.received]


class MailServer:
    def __init__(self, host: str, port: int, inbox: Inbox) -> None:
        self.host = host
        self.port = port
        self.inbox = inbox

    @property
    def received(self) -> list[EmailMessage]:
        return self.inbox.received


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


@pytest.fixture
def smtp_server() -> Iterator[MailServer]:
    inbox = Inbox()
    for attempt in range(5):
        port = _free_port()
        controller = aiosmtpd_controller.Controller(inbox, hostname="127.0.0.1", port=port)
        try:
            controller.start()
        except Exception:  # the port was taken between probing and binding
            if attempt == 4:
                raise
            continue
        break
    try:
        yield MailServer("127.0.0.1", port, inbox)
    finally:
        controller.stop()
