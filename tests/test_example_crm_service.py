"""End to end: the example CRM service (examples/crm_service) over real HTTP, a real SMTP
server and a real database (SQLite, and PostgreSQL when COMMITLADDER_TEST_POSTGRES_URL is
set). Each test counts what it did (requests, emails received, rollbacks seen by the
database connection) and the module prints the totals at the end."""

from __future__ import annotations

import json
import sys
import threading
import urllib.error
import urllib.request
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

import commitladder as cl
from support import report

pytest_plugins = ["dbfixtures", "mailserver"]

pytest.importorskip("flask")
sa = pytest.importorskip("sqlalchemy")
sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "examples" / "crm_service"))
from crm_service import Crm, Settings, create_app  # noqa: E402
from crm_service.service import Unit  # noqa: E402
from werkzeug.serving import make_server  # noqa: E402

if TYPE_CHECKING:
    from mailserver import MailServer

T0 = datetime(2026, 1, 5, 9, tzinfo=UTC)
FIGURES: Counter[str] = Counter()


@pytest.fixture(scope="module", autouse=True)
def _report(request: pytest.FixtureRequest) -> Iterator[None]:
    yield
    report(request, "crm_service end to end", FIGURES)


class Client:
    """A tiny JSON-over-HTTP client (urllib: one connection per request)."""

    def __init__(self, base: str) -> None:
        self.base = base

    def call(
        self,
        method: str,
        path: str,
        data: dict[str, Any] | None = None,
        headers: dict[str, str] | None = None,
    ) -> tuple[int, Any]:
        payload = json.dumps(data).encode() if data is not None else None
        req = urllib.request.Request(
            self.base + path,
            data=payload,
            method=method,
            headers={"Content-Type": "application/json", **(headers or {})},
        )
        FIGURES["http requests"] += 1
        try:
            with urllib.request.urlopen(req, timeout=30) as resp:
                status, raw = resp.status, resp.read()
        except urllib.error.HTTPError as exc:
            status, raw = exc.code, exc.read()
            exc.close()
        return status, json.loads(raw) if raw.startswith((b"{", b"[")) else raw.decode()

    def post(self, path: str, data: dict[str, Any], **headers: str) -> tuple[int, Any]:
        return self.call("POST", path, data, {k.replace("_", "-"): v for k, v in headers.items()})

    def get(self, path: str) -> tuple[int, Any]:
        return self.call("GET", path)


class Service:
    def __init__(self, app: Any, crm: Crm, client: Client, clock: cl.SteppableClock) -> None:
        self.app = app
        self.crm = crm
        self.http = client
        self.clock = clock
        self.rollbacks = 0
        sa.event.listen(crm.engine, "rollback", self._rolled_back)

    def _rolled_back(self, conn: Any) -> None:
        # every rollback the database sees, read-only connections closing included
        self.rollbacks += 1

    def contact(self, name: str, **extra: Any) -> str:
        status, body = self.http.post(
            "/contacts",
            {"name": name, "email": f"{name}@example.com", "owner_email": "owner@crm.example"}
            | extra,
        )
        assert status == 201, body
        contact_id: str = body["contact"]["id"]
        return contact_id

    def contacts(self) -> int:
        with self.crm.engine.connect() as conn:
            count = sa.select(sa.func.count()).select_from(self.crm.contacts)
            return int(conn.execute(count).scalar_one())

    def events(self, contact_id: str, kind: str) -> int:
        return sum(1 for e in self.crm.worker.history(contact_id) if e.type == kind)

    def cli(self, *args: str) -> str:
        result = self.app.test_cli_runner().invoke(args=list(args))
        assert result.exit_code == 0, result.output
        return str(result.output)


@pytest.fixture(params=["sqlite", "postgresql"])
def service(
    request: pytest.FixtureRequest, tmp_path: Path, smtp_server: MailServer
) -> Iterator[Service]:
    from dbfixtures import backend_url, fresh_prefix

    url = backend_url(request.param, tmp_path)
    clock = cl.SteppableClock(T0)
    settings = Settings(
        database_url=url,
        prefix=fresh_prefix(),
        smtp_host=smtp_server.host,
        smtp_port=smtp_server.port,
    )
    app = create_app(settings, clock=clock)
    crm: Crm = app.extensions["crm"]
    crm.create_schema()
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield Service(app, crm, Client(f"http://127.0.0.1:{server.server_port}"), clock)
    finally:
        server.shutdown()
        thread.join()
        crm.drop_schema()
        crm.close()


def test_a_contact_and_its_enrollment_commit_together(service: Service) -> None:
    contact = service.contact("ada")

    status, body = service.http.get(f"/contacts/{contact}")
    assert status == 200
    assert [n["text"] for n in body["notes"]] == ["enrolled on the solopreneur ladder"]
    assert service.crm.worker.get(contact).status == "ready"
    assert service.contacts() == 1


def test_an_error_after_the_ladder_write_rolls_back_the_contact_too(
    service: Service, monkeypatch: pytest.MonkeyPatch
) -> None:
    enrolled: list[str] = []

    def broken_note(self: Unit, contact_id: str, text: str, **kw: Any) -> None:
        enrolled.extend(s.id for s in self.tracker.store.find(contact_id))  # written, not committed
        raise RuntimeError("the CRM failed after the ladder wrote")

    before = service.rollbacks
    monkeypatch.setattr(Unit, "add_note", broken_note)
    status, _ = service.http.post("/contacts", {"name": "bob", "email": "bob@example.com"})

    assert status == 500
    assert service.rollbacks == before + 1  # the request's one transaction
    assert len(enrolled) == 1  # the enrollment was written inside the request ...
    assert service.crm.store.count() == 0  # ... and rolled back with it
    assert service.contacts() == 0
    assert service.crm.store.outbox() == []
    FIGURES["requests rolled back after the ladder wrote"] += 1

    monkeypatch.undo()
    service.contact("bob")  # the same email works once nothing half-done is left behind
    status, body = service.http.post("/contacts", {"name": "bob", "email": "bob@example.com"})
    assert (status, body["error"]) == (409, "duplicate")
    assert service.crm.store.count() == 1


def test_next_step_shows_the_open_ask_and_why_every_other_rung_waits(service: Service) -> None:
    contact = service.contact("cy")
    status, view = service.http.get(f"/contacts/{contact}/next-step")
    assert status == 200
    assert view["askable"] == ["admit_problem"]
    assert view["why_not"]["proposal"]["code"] == "not_next_step"
    assert "admit_problem" not in view["why_not"]

    status, ask = service.http.post(
        f"/contacts/{contact}/asks", {"rung": "admit_problem", "channel": "email"}
    )
    assert status == 201
    assert ask["rung"] == "admit_problem"

    status, view = service.http.get(f"/contacts/{contact}/next-step")
    assert view["open_ask"]["id"] == ask["id"]
    assert view["askable"] == []
    assert {r["code"] for r in view["why_not"].values()} == {"ask_pending"}

    status, refusal = service.http.post(f"/contacts/{contact}/asks", {"rung": "intro_call"})
    assert status == 409
    assert refusal["code"] == "ask_pending"
    assert refusal["enrollment_id"] == f"solopreneur/{contact}"
    assert refusal["retry_after"] == ask["expires_at"]
    assert "one commitment at a time" in refusal["message"]

    status, answered = service.http.post(f"/contacts/{contact}/answers", {"answer": "commit"})
    assert status == 200
    assert [e["type"] for e in answered["events"]] == ["Committed"]
    assert answered["next_step"]["position"] == "admit_problem"
    assert answered["next_step"]["askable"] == ["intro_call"]

    status, refusal = service.http.post(f"/contacts/{contact}/answers", {"answer": "commit"})
    assert (status, refusal["code"]) == (409, "no_open_ask")
    assert service.http.get("/contacts/nobody/next-step")[0] == 404


def test_a_reply_webhook_delivered_three_times_applies_once(service: Service) -> None:
    contact = service.contact("dee")
    service.http.post(f"/contacts/{contact}/asks", {"rung": "admit_problem", "channel": "email"})
    reply = {"contact_id": contact, "answer": "commit", "text": "Yes, onboarding hurts."}

    answers = [
        service.http.post("/webhooks/replies", reply, X_Delivery_Id="mx-7781") for _ in range(3)
    ]

    assert [status for status, _ in answers] == [200, 200, 200]
    assert [body["replayed"] for _, body in answers] == [False, True, True]
    assert answers[0][1]["events"] == answers[1][1]["events"] == answers[2][1]["events"]
    assert service.events(contact, "Committed") == 1
    assert service.crm.worker.get(contact).position == "admit_problem"
    _, shown = service.http.get(f"/contacts/{contact}")
    assert [n["text"] for n in shown["notes"]].count("Yes, onboarding hurts.") == 1
    FIGURES["webhook deliveries"] += 3
    FIGURES["webhook deliveries applied"] += service.events(contact, "Committed")

    # another delivery is another answer: there is no open ask left to answer
    status, refusal = service.http.post("/webhooks/replies", reply, X_Delivery_Id="mx-7782")
    assert (status, refusal["code"]) == (409, "no_open_ask")
    # its redelivery gets the same answer, even once an ask is open again
    assert (
        service.http.post(f"/contacts/{contact}/asks", {"rung": "intro_call", "channel": "phone"})[
            0
        ]
        == 201
    )
    assert service.http.post("/webhooks/replies", reply, X_Delivery_Id="mx-7782") == (409, refusal)
    assert service.crm.worker.get(contact).pending is not None
    FIGURES["webhook deliveries"] += 2
    assert service.http.post("/webhooks/replies", reply)[0] == 400


def test_two_concurrent_asks_for_one_contact_make_one_ask_and_one_clear_refusal(
    service: Service,
) -> None:
    contacts = [service.contact(f"race{i}") for i in range(6)]
    results: dict[str, list[tuple[int, Any]]] = {c: [] for c in contacts}

    def ask(contact: str, barrier: threading.Barrier) -> None:
        barrier.wait()
        results[contact].append(
            service.http.post(
                f"/contacts/{contact}/asks", {"rung": "admit_problem", "channel": "email"}
            )
        )

    for contact in contacts:
        barrier = threading.Barrier(2)
        threads = [threading.Thread(target=ask, args=(contact, barrier)) for _ in range(2)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()

    for contact, answers in results.items():
        (won,) = [body for status, body in answers if status == 201]
        (lost,) = [body for status, body in answers if status == 409]
        assert lost["code"] == "ask_pending"
        assert lost["ask"]["id"] == won["id"]
        assert lost["enrollment_id"] == f"solopreneur/{contact}"
        assert lost["retry_after"] == won["expires_at"]
        assert service.events(contact, "AskIssued") == 1
    assert len(service.crm.store.open_asks()) == len(contacts)
    FIGURES["concurrent asks"] += 2 * len(contacts)
    FIGURES["concurrent asks refused with 409"] += len(contacts)


def test_the_workers_send_each_ask_once_and_run_the_timers(
    service: Service, smtp_server: MailServer
) -> None:
    emailed = [service.contact(f"mail{i}") for i in range(4)]
    phoned = service.contact("phone")
    for contact, channel in [*((c, "email") for c in emailed), (phoned, "phone")]:
        asked = {"rung": "admit_problem", "channel": channel}
        assert service.http.post(f"/contacts/{contact}/asks", asked)[0] == 201

    # two relay workers at once, then a third pass: nothing is sent twice
    workers = [threading.Thread(target=service.crm.relay) for _ in range(2)]
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    assert "sent 0, retrying 0, dead 0" in service.cli("relay")

    keys = smtp_server.inbox.keys()
    assert sorted(keys) == sorted(f"solopreneur/{c}#2:ask" for c in emailed)
    assert len(set(keys)) == len(keys)
    to = sorted(str(m["To"]) for m in smtp_server.received)
    assert to == sorted(f"mail{i}@example.com" for i in range(4))
    assert {e.status for e in service.crm.store.outbox()} == {"sent"}

    # eight days on every ask has expired; the owner hears of each one
    later = (T0 + timedelta(days=8)).isoformat()
    assert "fired 5 timers" in service.cli("run-due", "--now", later)
    assert "sent 5, retrying 0, dead 0" in service.cli("relay", "--now", later)
    alerts = [m for m in smtp_server.received if m["X-Commitladder-Kind"] == "ask_expired"]
    assert len(alerts) == 5
    assert {str(m["To"]) for m in alerts} == {"owner@crm.example"}
    assert service.crm.worker.get(phoned).pending is None
    FIGURES["emails received"] += len(smtp_server.received)
    FIGURES["asks emailed"] += len(keys)
