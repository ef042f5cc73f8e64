"""The example CRM end to end on Django: run with ``python manage.py test leads``.

These are TransactionTestCases: every ``atomic()`` block really commits or rolls back,
as in production, and ``on_commit`` callbacks (the ladder's listeners) really run.
Figures (requests made, emails sent, rollbacks observed) are printed at the end.
"""

from __future__ import annotations

import json
import sys
from collections import Counter
from datetime import UTC, datetime, timedelta
from io import StringIO
from typing import Any

from django.contrib.auth.models import User
from django.core import mail
from django.core.management import call_command
from django.db import transaction
from django.test import TransactionTestCase

import commitladder as cl
from commitladder.contrib.django import remove_listener, tracker
from commitladder.contrib.django.models import LadderEnrollment, OutboxMessage, prospect_of
from commitladder.contrib.django.testing import LadderTablesMixin

from .models import Lead

FIGURES: Counter[str] = Counter()


def tearDownModule() -> None:
    line = ", ".join(f"{key}: {value}" for key, value in sorted(FIGURES.items()))
    print(f"django_crm figures: {line}", file=sys.stderr)


class HostError(Exception):
    """An error of the host's own, raised after the ladder wrote."""


class LadderTestCase(LadderTablesMixin, TransactionTestCase):
    # the mixin empties the ladder tables before each test: flush does not (they are the
    # store's, not Django's), and a lead reusing a primary key would inherit an open ask
    def setUp(self) -> None:
        super().setUp()
        self.heard: list[str] = []
        self.listener = lambda event: self.heard.append(event.type)
        tracker().add_listener(self.listener)

    def tearDown(self) -> None:
        remove_listener(self.listener)

    def post(self, path: str, data: dict[str, Any]) -> Any:
        FIGURES["requests"] += 1
        return self.client.post(path, json.dumps(data), content_type="application/json")

    def get(self, path: str) -> Any:
        FIGURES["requests"] += 1
        return self.client.get(path)


class TransactionTests(LadderTestCase):
    def test_a_lead_and_its_enrollment_commit_together(self) -> None:
        with transaction.atomic():
            lead = Lead.objects.create(name="Ada", email="ada@example.com")
            lead.enroll("solopreneur")
            tracker().ask(lead.prospect_id, "admit_problem", channel="email")
            self.assertEqual(self.heard, [])  # listeners wait for the commit
        self.assertEqual(self.heard, ["Enrolled", "AskIssued"])
        self.assertEqual(lead.enrollments.get().status, "pending")
        self.assertEqual(lead.enrollment().pending.rung, "admit_problem")
        self.assertEqual(prospect_of(lead.prospect_id), lead)

    def test_an_error_after_the_ladder_write_rolls_back_both(self) -> None:
        with self.assertRaises(HostError), transaction.atomic():
            lead = Lead.objects.create(name="Bob", email="bob@example.com")
            lead.enroll("solopreneur")
            tracker().ask(lead.prospect_id, "admit_problem", channel="email")
            self.assertEqual(LadderEnrollment.objects.count(), 1)  # written, not committed
            raise HostError("the CRM failed after the ladder wrote")
        FIGURES["rollbacks observed"] += 1
        self.assertEqual(Lead.objects.count(), 0)
        self.assertEqual(LadderEnrollment.objects.count(), 0)
        self.assertEqual(OutboxMessage.objects.count(), 0)
        self.assertEqual(self.heard, [])

    def test_a_refusal_inside_the_block_leaves_it_usable(self) -> None:
        with transaction.atomic():
            lead = Lead.objects.create(name="Cy", email="cy@example.com")
            lead.enroll("solopreneur")
            lead.enroll("webinar_led")
            tracker().ask(lead.prospect_id, "admit_problem", ladder="solopreneur")
            with self.assertRaises(cl.AskPending):  # one open ask per prospect, all ladders
                tracker().ask(lead.prospect_id, "register_webinar", ladder="webinar_led")
            Lead.objects.filter(pk=lead.pk).update(name="Cy Young")
        self.assertEqual(Lead.objects.get().name, "Cy Young")
        self.assertEqual(sorted(e.status for e in lead.enrollments.all()), ["pending", "ready"])


class ViewTests(LadderTestCase):
    def test_create_next_step_and_a_refused_second_ask(self) -> None:
        response = self.post("/leads/", {"name": "Dee", "email": "dee@example.com"})
        self.assertEqual(response.status_code, 201)
        pk = response.json()["id"]
        step = self.get(f"/leads/{pk}/next-step").json()
        self.assertEqual(step["askable"], ["admit_problem"])
        self.assertEqual(step["why_not"]["proposal"]["code"], "not_next_step")

        first = self.post(f"/leads/{pk}/asks", {"rung": "admit_problem", "channel": "email"})
        second = self.post(f"/leads/{pk}/asks", {"rung": "admit_problem", "channel": "email"})
        self.assertEqual((first.status_code, second.status_code), (201, 409))
        refusal = second.json()
        self.assertEqual(refusal["code"], "ask_pending")
        # the sentence names the lead and the rung's title; the data keeps the ids
        self.assertTrue(
            refusal["message"].startswith(
                "Dee <dee@example.com> already has an open ask for Admit a problem"
            ),
            refusal["message"],
        )
        self.assertEqual(refusal["ask"]["rung"], "admit_problem")
        self.assertEqual(refusal["ask"]["id"], first.json()["id"])
        self.assertEqual(refusal["retry_after"], first.json()["expires_at"])
        FIGURES["asks refused with 409"] += 1

    def test_a_duplicate_lead_rolls_back_its_enrollment(self) -> None:
        self.post("/leads/", {"name": "Eve", "email": "eve@example.com"})
        with self.assertRaises(Exception):  # noqa: B017 (the database's IntegrityError)
            self.post("/leads/", {"name": "Eve again", "email": "eve@example.com"})
        self.assertEqual(LadderEnrollment.objects.count(), 1)
        FIGURES["rollbacks observed"] += 1


class AdminTests(LadderTestCase):
    def test_the_admin_lists_enrollments_with_position_open_ask_and_history(self) -> None:
        User.objects.create_superuser("admin", "admin@crm.example", "pw")
        self.client.login(username="admin", password="pw")
        lead = Lead.objects.create(name="Fay", email="fay@example.com")
        lead.enroll("solopreneur")
        t = tracker()
        t.ask(lead.prospect_id, "admit_problem", channel="email")
        t.commit(lead.prospect_id)
        t.ask(lead.prospect_id, "intro_call", channel="phone")
        eid = f"solopreneur/{lead.prospect_id}"

        listing = self.get("/admin/commitladder/ladderenrollment/")
        self.assertEqual(listing.status_code, 200)
        html = listing.content.decode()
        self.assertIn(eid, html)
        self.assertIn("admit_problem", html)  # the position
        self.assertIn("intro_call by phone", html)  # the open ask

        page = self.get(f"/admin/commitladder/ladderenrollment/{eid}/change/")
        self.assertEqual(page.status_code, 200)
        html = page.content.decode()
        for event in ("Enrolled", "AskIssued", "Committed"):
            self.assertIn(f"<td>{event}</td>", html)
        self.assertNotIn('name="_save"', html)  # read-only

        self.assertEqual(self.get("/admin/commitladder/outboxmessage/").status_code, 200)
        lead_page = self.get(f"/admin/leads/lead/{lead.pk}/change/")
        self.assertEqual(lead_page.status_code, 200)
        self.assertIn("solopreneur: pending", lead_page.content.decode())
        FIGURES["admin pages rendered"] += 4


class WorkerTests(LadderTestCase):
    def test_the_worker_relays_asks_by_email_and_runs_timers(self) -> None:
        leads = [Lead.objects.create(name=f"L{i}", email=f"l{i}@example.com") for i in range(3)]
        t = tracker()
        for lead in leads:
            lead.enroll("solopreneur")
            t.ask(lead.prospect_id, "admit_problem", channel="email")
        now = datetime.now(UTC)

        out = StringIO()
        call_command("commitladder_worker", "--now", now.isoformat(), stdout=out)
        self.assertIn("timers: 0 fired", out.getvalue())
        self.assertIn("relay: 3 sent, 0 retrying, 0 dead", out.getvalue())
        self.assertEqual(sorted(m.to[0] for m in mail.outbox), [lead.email for lead in leads])
        keys = [m.extra_headers["X-Commitladder-Key"] for m in mail.outbox]
        self.assertEqual(len(set(keys)), 3)
        FIGURES["emails sent"] += len(mail.outbox)

        out = StringIO()
        later = (now + timedelta(days=8)).isoformat()
        call_command("commitladder_worker", "--now", later, stdout=out)
        self.assertIn("timers: 3 fired", out.getvalue())
        for lead in leads:
            self.assertIsNone(lead.enrollment().pending)  # expired
        self.assertEqual(len(mail.outbox), 3)  # the expiry alerts have no email address
        self.assertEqual(OutboxMessage.objects.filter(kind="ask_expired", status="sent").count(), 3)
        FIGURES["timers fired by the command"] += 3
