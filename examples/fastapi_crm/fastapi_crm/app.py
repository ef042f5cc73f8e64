"""The service: FastAPI routes over one ``AsyncTracker``, and the worker that runs timers
and relays the outbox.

A refusal by a ladder rule is HTTP 409 with the refusal's ``to_dict()``; an unknown
prospect 404; a ladder or rung the ladders lack 422; a race the tracker could not
settle 503 with ``Retry-After``. A webhook's delivery id is its idempotency key.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any, Literal

import httpx
from fastapi import FastAPI, Header, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel

import commitladder as cl
from commitladder.sql import AsyncSqlStore

LADDERS = Path(__file__).resolve().parents[2] / "ladders"


@dataclass(frozen=True)
class Settings:
    database_url: str
    table_prefix: str = "commitladder_"
    ladders: tuple[str, ...] = ("solopreneur.yaml",)
    deliver_to: str = "http://127.0.0.1:9000/messages"  # where messages are POSTed
    worker_every: float | None = None  # seconds between worker rounds; None: no worker
    clock: cl.Clock | None = field(default=None, compare=False)

    @classmethod
    def from_env(cls) -> Settings:
        every = os.environ.get("CRM_WORKER_EVERY")
        return cls(
            database_url=os.environ.get("CRM_DATABASE_URL", "sqlite+aiosqlite:///crm.db"),
            deliver_to=os.environ.get("CRM_DELIVER_TO", cls.deliver_to),
            worker_every=float(every) if every else None,
        )


class HttpMessenger:
    """An ``AsyncMessenger``: POSTs each message as JSON, its key as ``Idempotency-Key``."""

    def __init__(self, client: httpx.AsyncClient, url: str) -> None:
        self.client = client
        self.url = url

    async def send(self, message: cl.Message) -> None:
        headers = {"Idempotency-Key": message.idempotency_key}
        sent = await self.client.post(self.url, json=message.to_dict(), headers=headers)
        sent.raise_for_status()  # an error status retries later, with backoff


class Enroll(BaseModel):
    prospect: str
    ladder: str = "solopreneur"


class AskFor(BaseModel):
    rung: str
    ladder: str | None = None
    channel: str | None = None


class Answer(BaseModel):
    answer: Literal["commit", "decline"]
    ladder: str | None = None
    outcome: str | None = None
    facts: dict[str, Any] | None = None
    needs: str | None = None


class Reply(Answer):
    prospect: str


def tracker(request: Request) -> cl.AsyncTracker:
    found: cl.AsyncTracker = request.app.state.tracker
    return found


def view(e: cl.Enrollment) -> dict[str, Any]:
    return {
        "prospect": e.prospect,
        "ladder": e.ladder.name,
        "status": e.status,
        "position": e.position,
        "open_ask": e.pending.to_dict() if e.pending is not None else None,
        "askable": e.askable(),
        "needs": e.needs,
        "ended": e.ended,
    }


async def answer(t: cl.AsyncTracker, prospect: str, a: Answer, key: str | None) -> list[Any]:
    if a.answer == "commit":
        events = await t.commit(
            prospect, ladder=a.ladder, outcome=a.outcome, facts=a.facts, idempotency_key=key
        )
    else:
        events = await t.decline(prospect, ladder=a.ladder, needs=a.needs, idempotency_key=key)
    return [event.to_dict() for event in events]


async def work(t: cl.AsyncTracker) -> dict[str, int]:
    """One worker round: fire due timers, then hand the outbox to the messenger."""
    fired = await t.run_due()
    relayed = await t.relay()
    return {"fired": int(fired), "sent": relayed.sent, "retrying": relayed.retrying}


def create_app(settings: Settings, *, transport: httpx.AsyncBaseTransport | None = None) -> FastAPI:
    """The app; ``transport`` lets tests stand in for the messages' receiving end."""

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        store = AsyncSqlStore(settings.database_url, prefix=settings.table_prefix)
        await store.create_schema()
        async with httpx.AsyncClient(transport=transport, timeout=10) as client:
            app.state.tracker = t = cl.AsyncTracker(
                store=store,
                messenger=HttpMessenger(client, settings.deliver_to),
                clock=settings.clock,
                ladders=[cl.load(LADDERS / name) for name in settings.ladders],
            )
            worker = asyncio.create_task(loop(t)) if settings.worker_every else None
            yield
            if worker is not None:
                worker.cancel()
        await store.close()

    async def loop(t: cl.AsyncTracker) -> None:
        while True:
            await work(t)
            await asyncio.sleep(settings.worker_every or 60)

    app = FastAPI(title="fastapi_crm", lifespan=lifespan)

    @app.post("/prospects", status_code=201)
    async def enroll(body: Enroll, request: Request) -> dict[str, Any]:
        return view(await tracker(request).enroll(body.prospect, ladder=body.ladder))

    @app.get("/prospects/{prospect}")
    async def show(prospect: str, request: Request, ladder: str | None = None) -> dict[str, Any]:
        return view(await tracker(request).get(prospect, ladder=ladder))

    @app.post("/prospects/{prospect}/asks", status_code=201)
    async def ask(
        prospect: str,
        body: AskFor,
        request: Request,
        idempotency_key: Annotated[str | None, Header()] = None,
    ) -> dict[str, Any]:
        made = await tracker(request).ask(
            prospect,
            body.rung,
            ladder=body.ladder,
            channel=body.channel,
            idempotency_key=idempotency_key,
        )
        return made.to_dict()

    @app.post("/prospects/{prospect}/answers")
    async def record(
        prospect: str,
        body: Answer,
        request: Request,
        idempotency_key: Annotated[str | None, Header()] = None,
    ) -> dict[str, Any]:
        return {"events": await answer(tracker(request), prospect, body, idempotency_key)}

    @app.post("/webhooks/replies")
    async def reply(
        body: Reply, request: Request, x_delivery_id: Annotated[str, Header()]
    ) -> dict[str, Any]:
        """The mail provider retries until it gets a 2xx: the delivery id is the key."""
        key = f"reply:{x_delivery_id}"
        return {"events": await answer(tracker(request), body.prospect, body, key)}

    @app.post("/workers/round")
    async def round_(request: Request) -> dict[str, int]:
        return await work(tracker(request))

    errors: list[tuple[type[Exception], int, str]] = [
        (cl.Refused, 409, "refused"),  # the body is the refusal's own to_dict()
        (cl.NotEnrolled, 404, "not_found"),
        (cl.ConflictError, 503, "conflict"),
        (cl.LadderError, 422, "unprocessable"),
    ]
    for kind, status, code in errors:
        app.add_exception_handler(kind, _replying(status, code))
    return app


def create_app_from_env() -> FastAPI:
    """The app as a server runs it (``uvicorn --factory``): settings from ``CRM_*``."""
    return create_app(Settings.from_env())


def _replying(status: int, code: str) -> Any:
    """An exception handler answering ``status`` (a refusal: its own ``to_dict()``)."""

    async def handler(request: Request, exc: Exception) -> JSONResponse:
        body = {"error": code, "message": str(exc)}
        if isinstance(exc, cl.Refused):
            body = exc.to_dict()
        headers = {"Retry-After": "1"} if status == 503 else None
        return JSONResponse(body, status_code=status, headers=headers)

    return handler
