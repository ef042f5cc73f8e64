"""The FastAPI example (examples/fastapi_crm) over ASGI with ``httpx.AsyncClient``, on
SQLite, PostgreSQL and MariaDB: two concurrent asks give one 201 and one 409, a webhook
retried three times applies once, the worker relays each message once over HTTP."""

from __future__ import annotations

import asyncio
import sys
from collections import Counter
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

import commitladder as cl

pytest_plugins = ["dbfixtures", "trackers"]
pytestmark = pytest.mark.anyio

httpx = pytest.importorskip("httpx")
pytest.importorskip("fastapi")
sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "examples" / "fastapi_crm"))
from fastapi_crm import Settings, create_app  # noqa: E402

T0 = datetime(2026, 1, 5, 9, tzinfo=UTC)


class Inbox:
    """The messages' receiving end: records each POST, fails the first ``flaky`` ones."""

    def __init__(self, flaky: int = 0) -> None:
        self.keys: list[str] = []
        self.flaky = flaky

    def __call__(self, request: httpx.Request) -> httpx.Response:
        if self.flaky > 0:
            self.flaky -= 1
            return httpx.Response(502)
        self.keys.append(request.headers["Idempotency-Key"])
        return httpx.Response(202)


@pytest.fixture
def inbox() -> Inbox:
    return Inbox(flaky=1)


@pytest.fixture
def clock() -> cl.SteppableClock:
    return cl.SteppableClock(T0)


@pytest.fixture(params=["sqlite", "postgresql", "mysql"])
async def client(
    request: pytest.FixtureRequest,
    tmp_path_factory: pytest.TempPathFactory,
    inbox: Inbox,
    clock: cl.SteppableClock,
) -> AsyncIterator[Any]:
    from dbfixtures import backend_url, fresh_prefix
    from trackers import async_url

    url = async_url(backend_url(request.param, tmp_path_factory.mktemp(request.param)))
    settings = Settings(database_url=url, table_prefix=fresh_prefix(), clock=clock)
    app = create_app(settings, transport=httpx.MockTransport(inbox))
    async with app.router.lifespan_context(app):  # what a server does at start and stop
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://crm") as http:
            yield http
        await app.state.tracker.store.drop_schema()


async def enrolled(client: Any, prospect: str = "ada") -> None:
    created = await client.post("/prospects", json={"prospect": prospect})
    assert created.status_code == 201, created.text
    assert created.json()["status"] == "ready"


async def test_two_concurrent_asks_give_one_201_and_one_409(client: Any) -> None:
    await enrolled(client)
    first, second = await asyncio.gather(
        client.post("/prospects/ada/asks", json={"rung": "admit_problem", "channel": "email"}),
        client.post("/prospects/ada/asks", json={"rung": "admit_problem", "channel": "phone"}),
    )
    assert sorted([first.status_code, second.status_code]) == [201, 409]
    won, lost = (first, second) if first.status_code == 201 else (second, first)
    refusal = lost.json()
    assert refusal["code"] == "ask_pending"
    assert refusal["ask"]["channel"] == won.json()["channel"]
    assert "one commitment at a time" in refusal["message"]
    shown = (await client.get("/prospects/ada")).json()
    assert shown["open_ask"] == won.json()


async def test_a_webhook_retried_three_times_applies_once(client: Any) -> None:
    await enrolled(client)
    asked = await client.post("/prospects/ada/asks", json={"rung": "admit_problem"})
    assert asked.status_code == 201
    reply = {"prospect": "ada", "answer": "commit"}
    headers = {"X-Delivery-Id": "mail-77"}
    first = await client.post("/webhooks/replies", json=reply, headers=headers)
    retries = await asyncio.gather(
        *(client.post("/webhooks/replies", json=reply, headers=headers) for _ in range(2))
    )
    assert [r.status_code for r in (first, *retries)] == [200, 200, 200]
    assert first.json() == retries[0].json() == retries[1].json()
    assert [e["type"] for e in first.json()["events"]] == ["Committed"]
    shown = (await client.get("/prospects/ada")).json()
    assert (shown["position"], shown["open_ask"]) == ("admit_problem", None)
    again = await client.post("/prospects/ada/asks", json={"rung": "intro_call"})
    assert again.status_code == 201  # the one commit moved the climb one rung, not three


async def test_the_worker_relays_each_message_once_and_expires_asks(
    client: Any, inbox: Inbox, clock: cl.SteppableClock
) -> None:
    for prospect in ("ada", "bob"):
        await enrolled(client, prospect)
        made = await client.post(f"/prospects/{prospect}/asks", json={"rung": "admit_problem"})
        assert made.status_code == 201
    first = (await client.post("/workers/round")).json()
    assert (first["sent"], first["retrying"]) == (1, 1)  # the inbox fails its first POST
    clock.advance(days=8)  # past the asks' expiry, and the retry's backoff
    later = (await client.post("/workers/round")).json()
    assert later["fired"] >= 2
    assert Counter(inbox.keys) == Counter(dict.fromkeys(inbox.keys, 1))
    assert {"solopreneur/ada#2:ask", "solopreneur/bob#2:ask"} <= set(inbox.keys)
    assert (await client.get("/prospects/ada")).json()["open_ask"] is None


async def test_errors_say_what_went_wrong(client: Any) -> None:
    missing = await client.get("/prospects/nobody")
    assert (missing.status_code, missing.json()["error"]) == (404, "not_found")
    await enrolled(client)
    unknown = await client.post("/prospects/ada/asks", json={"rung": "nope"})
    assert (unknown.status_code, unknown.json()["code"]) == (409, "unknown_rung")
    assert "has no rung 'nope'" in unknown.json()["message"]
    no_ladder = await client.post("/prospects", json={"prospect": "bob", "ladder": "nope"})
    assert (no_ladder.status_code, no_ladder.json()["error"]) == (422, "unprocessable")
    assert "tracker.register" in no_ladder.json()["message"]
    no_key = await client.post("/webhooks/replies", json={"prospect": "ada", "answer": "commit"})
    assert no_key.status_code == 422  # FastAPI: the X-Delivery-Id header is required
    nothing = await client.post("/prospects/ada/answers", json={"answer": "commit"})
    assert (nothing.status_code, nothing.json()["code"]) == (409, "no_open_ask")


def test_the_server_factory_reads_its_settings_from_the_environment(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from fastapi_crm import create_app_from_env

    monkeypatch.setenv("CRM_DATABASE_URL", "sqlite+aiosqlite:///elsewhere.db")
    monkeypatch.setenv("CRM_WORKER_EVERY", "2.5")
    settings = Settings.from_env()
    assert (settings.database_url, settings.worker_every) == (
        "sqlite+aiosqlite:///elsewhere.db",
        2.5,
    )
    paths = {route.path for route in create_app_from_env().routes}  # type: ignore[attr-defined]
    assert {"/prospects", "/prospects/{prospect}/asks", "/webhooks/replies"} <= paths
