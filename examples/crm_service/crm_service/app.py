"""The CRM's HTTP API (Flask) and its two worker commands.

Every view runs in one ``Crm.transaction()``. A refusal by a ladder rule is HTTP 409
with the refusal's ``to_dict()`` as the body; an unknown contact or enrollment is 404;
a lost race that the tracker could not settle is 503 with ``Retry-After``.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import click
import sqlalchemy as sa
from flask import Blueprint, Flask, current_app, jsonify, request
from flask.typing import ResponseReturnValue

import commitladder as cl

from .service import Crm, NotFound, Settings, Unit

api = Blueprint("crm", __name__)


def crm() -> Crm:
    found: Crm = current_app.extensions["crm"]
    return found


def body() -> dict[str, Any]:
    data = request.get_json(silent=True)
    if not isinstance(data, dict):
        raise BadRequest("send a JSON object")
    return data


class BadRequest(ValueError):
    """The request is malformed (HTTP 400)."""


def next_step(unit: Unit, contact_id: str, ladder: str | None) -> dict[str, Any]:
    """What a salesperson sees: where the contact stands, the open ask, what may be asked
    now, and for every other rung the reason it may not."""
    e = unit.tracker.get(contact_id, ladder=ladder)
    lad = unit.tracker.ladders[e.ladder.name]
    now = crm().clock.now()
    askable = e.askable(now=now)
    blocked = {}
    for rung in lad.rungs:
        if rung not in askable:
            refusal = e.why_not(rung, now=now)
            blocked[rung] = refusal.to_dict() if refusal is not None else None
    return {
        "contact_id": contact_id,
        "ladder": e.ladder.name,
        "status": e.status,
        "position": e.position,
        "needs": e.needs,
        "ended": e.ended,
        "open_ask": e.pending.to_dict() if e.pending is not None else None,
        "askable": askable,
        "why_not": blocked,
    }


@api.post("/contacts")
def create_contact() -> ResponseReturnValue:
    """Create a contact and enroll them on a ladder, in one transaction."""
    data = body()
    ladder = data.get("ladder", "solopreneur")
    with crm().transaction() as unit:
        contact = unit.add_contact(data["name"], data["email"], data.get("owner_email"))
        unit.tracker.enroll(contact["id"], ladder=ladder, actor=data.get("actor"))
        unit.add_note(contact["id"], f"enrolled on the {ladder} ladder", author="crm")
        view = next_step(unit, contact["id"], ladder)
    return jsonify({"contact": contact, "next_step": view}), 201


@api.get("/contacts/<contact_id>")
def show_contact(contact_id: str) -> ResponseReturnValue:
    with crm().transaction() as unit:
        contact = unit.contact(contact_id)
        notes = unit.notes(contact_id)
    return jsonify({"contact": contact, "notes": notes})


@api.get("/contacts/<contact_id>/next-step")
def show_next_step(contact_id: str) -> ResponseReturnValue:
    with crm().transaction() as unit:
        unit.contact(contact_id)
        return jsonify(next_step(unit, contact_id, request.args.get("ladder")))


@api.post("/contacts/<contact_id>/asks")
def ask(contact_id: str) -> ResponseReturnValue:
    """Ask the contact for a rung; 409 while another ask of theirs is open."""
    data = body()
    with crm().transaction() as unit:
        unit.contact(contact_id)
        made = unit.tracker.ask(
            contact_id,
            data["rung"],
            ladder=data.get("ladder"),
            channel=data.get("channel"),
            actor=data.get("actor"),
            idempotency_key=request.headers.get("Idempotency-Key"),
        )
        unit.add_note(contact_id, f"asked for {made.rung} by {made.channel}", author="crm")
    return jsonify(made.to_dict()), 201


def answer(unit: Unit, contact_id: str, data: dict[str, Any], key: str | None) -> list[Any]:
    """Record the contact's answer to their open ask: ``commit`` or ``decline``."""
    common: dict[str, Any] = {
        "ladder": data.get("ladder"),
        "actor": data.get("actor"),
        "idempotency_key": key,
    }
    if data.get("answer") == "commit":
        events = unit.tracker.commit(
            contact_id, outcome=data.get("outcome"), facts=data.get("facts"), **common
        )
    elif data.get("answer") == "decline":
        resume_at = data.get("resume_at")
        events = unit.tracker.decline(
            contact_id,
            needs=data.get("needs"),
            resume_at=datetime.fromisoformat(resume_at) if resume_at else None,
            **common,
        )
    else:
        raise BadRequest("answer must be 'commit' or 'decline'")
    return [event.to_dict() for event in events]


@api.post("/contacts/<contact_id>/answers")
def record_answer(contact_id: str) -> ResponseReturnValue:
    data = body()
    with crm().transaction() as unit:
        unit.contact(contact_id)
        events = answer(unit, contact_id, data, request.headers.get("Idempotency-Key"))
        unit.add_note(contact_id, f"answered: {data['answer']}", author=data.get("actor", "crm"))
        view = next_step(unit, contact_id, data.get("ladder"))
    return jsonify({"events": events, "next_step": view})


@api.post("/webhooks/replies")
def inbound_reply() -> ResponseReturnValue:
    """A reply parsed by the mail provider; it retries until it gets a 2xx, so the same
    delivery may arrive many times: its delivery id is the idempotency key."""
    delivery = request.headers.get("X-Delivery-Id")
    if not delivery:
        raise BadRequest("the X-Delivery-Id header is required")
    data = body()
    contact_id = data["contact_id"]
    refusal: cl.Refused | None = None
    with crm().transaction() as unit:
        unit.contact(contact_id)
        replayed = unit.has_delivery(delivery)
        try:
            events = answer(unit, contact_id, data, f"reply:{delivery}")
        except cl.Refused as exc:
            # caught inside the transaction, so the refusal's receipt commits with it:
            # a redelivery gets this same refusal, whatever happened since
            refusal = exc
        else:
            if not replayed:
                text = data.get("text") or f"replied: {data['answer']}"
                unit.add_note(contact_id, text, author="inbound email", delivery_id=delivery)
    if refusal is not None:
        raise refusal
    return jsonify({"delivery": delivery, "replayed": replayed, "events": events})


@api.errorhandler(cl.Refused)
def refused(exc: cl.Refused) -> ResponseReturnValue:
    return jsonify(exc.to_dict()), 409


@api.errorhandler(NotFound)
@api.errorhandler(cl.NotEnrolled)
def not_found(exc: LookupError) -> ResponseReturnValue:
    return jsonify({"error": "not_found", "message": str(exc)}), 404


@api.errorhandler(cl.ConflictError)
def conflict(exc: cl.ConflictError) -> ResponseReturnValue:
    return jsonify({"error": "conflict", "message": str(exc)}), 503, {"Retry-After": "1"}


@api.errorhandler(BadRequest)
@api.errorhandler(KeyError)
def bad_request(exc: Exception) -> ResponseReturnValue:
    message = f"missing field {exc}" if isinstance(exc, KeyError) else str(exc)
    return jsonify({"error": "bad_request", "message": message}), 400


@api.errorhandler(cl.LadderError)
def unprocessable(exc: cl.LadderError) -> ResponseReturnValue:
    """Not a refusal: the request names something the ladders do not have."""
    return jsonify({"error": "unprocessable", "message": str(exc)}), 422


@api.errorhandler(sa.exc.IntegrityError)
def duplicate(exc: sa.exc.IntegrityError) -> ResponseReturnValue:
    return jsonify({"error": "duplicate", "message": "a contact with this email exists"}), 409


def create_app(
    settings: Settings | None = None,
    *,
    clock: cl.Clock | None = None,
    messenger: cl.Messenger | None = None,
) -> Flask:
    """The Flask app; ``settings`` default to the ``CRM_*`` environment variables."""
    app = Flask(__name__)
    service = Crm(settings or Settings.from_env(), clock=clock, messenger=messenger)
    app.extensions["crm"] = service
    app.register_blueprint(api)

    @app.cli.command("init-db")
    def init_db() -> None:
        """Create the CRM's and the ladder's tables (idempotent)."""
        service.create_schema()
        click.echo("tables ready")

    now_option = click.option(
        "--now", callback=_instant, help="act as of this ISO 8601 time with a timezone"
    )

    @app.cli.command("run-due")
    @now_option
    def run_due(now: datetime | None) -> None:
        """Worker: run the timers that are due (expire asks, follow-up and overdue alerts)."""
        click.echo(f"fired {service.run_due(now)} timers")

    @app.cli.command("relay")
    @now_option
    def relay(now: datetime | None) -> None:
        """Worker: send the outbox's due messages over SMTP."""
        report = service.relay(now)
        click.echo(f"sent {report.sent}, retrying {report.retrying}, dead {report.dead}")

    return app


def _instant(ctx: click.Context, param: click.Parameter, value: str | None) -> datetime | None:
    if value is None:
        return None
    try:
        at = datetime.fromisoformat(value)
    except ValueError as exc:
        raise click.BadParameter(str(exc)) from None
    if at.tzinfo is None:
        raise click.BadParameter("give a timezone, e.g. 2026-01-10T09:00:00+00:00")
    return at
