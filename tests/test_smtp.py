"""The SMTP messenger against a real SMTP server (aiosmtpd), through the tracker's relay."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

import commitladder as cl
from commitladder.contrib.smtp import KEY_HEADER, SmtpMessenger, email_for, message_id

if TYPE_CHECKING:
    from mailserver import MailServer

pytest_plugins = ["mailserver"]

SEED = Path(cl.__file__).parent / "seed" / "solopreneur.yaml"
T0 = datetime(2026, 1, 5, 9, tzinfo=UTC)
ADDRESSES = {"lead-42": "ada@example.com", "lead-7": "bob@example.com"}


def email_only(message: cl.Message) -> str | None:
    """Asks and follow-ups over email go to the prospect; nothing else is emailed."""
    if message.kind in ("ask", "follow_up") and message.channel == "email":
        return ADDRESSES[message.prospect]
    return None


def tracker_on(server: MailServer, clock: cl.SteppableClock) -> cl.Tracker:
    messenger = SmtpMessenger(
        host=server.host,
        port=server.port,
        sender="sales@crm.example",
        recipient=email_only,
        timeout=5,
    )
    return cl.Tracker(
        store=cl.MemoryStore(), messenger=messenger, clock=clock, ladders=[cl.load(SEED)]
    )


def test_an_ask_arrives_as_one_email_carrying_its_idempotency_key(
    smtp_server: MailServer,
) -> None:
    tracker = tracker_on(smtp_server, cl.SteppableClock(T0))
    tracker.enroll("lead-42", ladder="solopreneur")
    tracker.ask("lead-42", "admit_problem", channel="email")

    assert tracker.relay() == cl.RelayReport(sent=1)

    [email] = smtp_server.received
    key = "solopreneur/lead-42#2:ask"
    assert email[KEY_HEADER] == key
    assert email["X-Commitladder-Kind"] == "ask"
    assert email["To"] == "ada@example.com"
    assert email["From"] == "sales@crm.example"
    script = tracker.ladders["solopreneur"].rungs["admit_problem"].ask
    assert script
    assert script.startswith(email["Subject"].removesuffix("..."))  # cut to one line
    assert email.get_content().strip() == script.strip()
    assert email["Message-ID"].endswith("@crm.example>")
    assert smtp_server.inbox.envelopes == [("sales@crm.example", ["ada@example.com"])]


def test_messages_without_a_recipient_are_done_without_an_email(smtp_server: MailServer) -> None:
    tracker = tracker_on(smtp_server, cl.SteppableClock(T0))
    tracker.enroll("lead-42", ladder="solopreneur")
    tracker.ask("lead-42", "admit_problem", channel="phone")
    tracker.commit("lead-42")  # a "committed" message: for the salesperson, not for email here

    assert tracker.relay() == cl.RelayReport(sent=2)
    assert smtp_server.received == []
    assert [e.status for e in tracker.store.outbox()] == ["sent", "sent"]


def test_a_temporary_smtp_failure_is_retried_with_the_same_message_id(
    smtp_server: MailServer,
) -> None:
    clock = cl.SteppableClock(T0)
    tracker = tracker_on(smtp_server, clock)
    tracker.enroll("lead-7", ladder="solopreneur")
    tracker.ask("lead-7", "admit_problem", channel="email")
    smtp_server.inbox.refuse = 1

    assert tracker.relay() == cl.RelayReport(retrying=1)
    [entry] = tracker.store.outbox()
    assert entry.last_error is not None
    assert "451" in entry.last_error
    clock.advance(minutes=1)
    assert tracker.relay() == cl.RelayReport(sent=1)
    assert smtp_server.inbox.keys() == ["solopreneur/lead-7#2:ask"]


def test_a_server_that_is_down_leaves_the_message_pending(smtp_server: MailServer) -> None:
    clock = cl.SteppableClock(T0)
    tracker = tracker_on(smtp_server, clock)
    tracker.enroll("lead-7", ladder="solopreneur")
    tracker.ask("lead-7", "admit_problem", channel="email")
    down = SmtpMessenger(
        host="127.0.0.1", port=1, sender="sales@crm.example", recipient=email_only, timeout=2
    )
    tracker.messenger = down
    assert tracker.relay() == cl.RelayReport(retrying=1)
    assert smtp_server.received == []


def test_a_message_delivered_twice_arrives_twice_with_one_message_id(
    smtp_server: MailServer,
) -> None:
    """At least once: a relay that died after sending sends again, and the copy carries
    the same Message-ID, so the mailbox can tell it is the same email."""
    messenger = SmtpMessenger(
        host=smtp_server.host, port=smtp_server.port, sender="s@crm.example", recipient=email_only
    )
    message = ask_message(text="Is slow onboarding costing you deals?")
    messenger.send(message)
    messenger.send(message)
    first, second = smtp_server.received
    assert first["Message-ID"] == second["Message-ID"] == message_id(message, "crm.example")
    other = replace(message, key="solopreneur/lead-42#4:ask")
    assert message_id(other, "crm.example") != first["Message-ID"]


def ask_message(**changes: Any) -> cl.Message:
    """An ask to lead-42 over email, as the tracker would put it in the outbox."""
    message = cl.Message(
        key="solopreneur/lead-42#2:ask",
        kind="ask",
        prospect="lead-42",
        enrollment_id="solopreneur/lead-42",
        ladder="solopreneur",
        at=T0,
        channel="email",
        rung="admit_problem",
    )
    return replace(message, **changes)


def test_alerts_read_as_a_sentence_and_long_scripts_are_cut_in_the_subject() -> None:
    alert = ask_message(
        key="k",
        kind="next_step_overdue",
        at=T0 + timedelta(days=2),
        channel=None,
        rung="intro_call",
        data={"due_at": "2026-01-07T09:00:00+00:00"},
    )
    email = email_for(alert, sender="s@crm.example", to="owner@crm.example")
    assert email["Subject"] == "[solopreneur] lead-42: no next step since intro_call"
    assert "due_at: 2026-01-07T09:00:00+00:00" in email.get_content()
    long = ask_message(text="word " * 40)
    subject = email_for(long, sender="s@crm.example", to="a@b.c")["Subject"]
    assert len(subject) <= 78
    assert subject.endswith("...")


def test_options_are_checked() -> None:
    with pytest.raises(ValueError, match="security"):
        SmtpMessenger(sender="s@x", recipient=email_only, security="tls")
    with pytest.raises(ValueError, match="username and password"):
        SmtpMessenger(sender="s@x", recipient=email_only, username="u")
