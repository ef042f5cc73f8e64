"""The CRM's data and its one rule of work: a request is one transaction.

``Crm`` owns the engine, the CRM tables (contacts, notes), the ladder store and the
worker's tracker. ``Crm.transaction()`` opens one database transaction and hands out
a ``Unit``: the CRM's own reads and writes and a ``Tracker`` joined to that same
transaction, so a contact, its notes and its ladder state commit or roll back as one.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

import commitladder as cl
from commitladder.contrib.smtp import SmtpMessenger
from commitladder.sql import SqlStore

LADDERS = Path(__file__).resolve().parents[2] / "ladders"

# messages a timer sends to the contact's owner (the salesperson), not to the contact
ALERTS = frozenset({"follow_up_due", "next_step_overdue", "ask_expired", "resume_due"})


@dataclass(frozen=True)
class Settings:
    """Where the CRM keeps its data and sends its mail; ``from_env`` reads ``CRM_*``."""

    database_url: str = "sqlite:///crm.db"
    prefix: str = "crm_"  # the CRM's tables: crm_contacts, crm_notes, crm_ladder_*
    smtp_host: str = "localhost"
    smtp_port: int = 25
    sender: str = "sales@crm.example"
    ladders: tuple[Path, ...] = field(
        default_factory=lambda: (LADDERS / "solopreneur.yaml", LADDERS / "webinar.yaml")
    )

    @classmethod
    def from_env(cls) -> Settings:
        env = os.environ
        default = cls()
        return cls(
            database_url=env.get("CRM_DATABASE_URL", default.database_url),
            prefix=env.get("CRM_PREFIX", default.prefix),
            smtp_host=env.get("CRM_SMTP_HOST", default.smtp_host),
            smtp_port=int(env.get("CRM_SMTP_PORT", default.smtp_port)),
            sender=env.get("CRM_SENDER", default.sender),
        )


def make_engine(url: str) -> Engine:
    """An engine for the whole CRM. On SQLite every transaction takes the write lock at
    BEGIN (IMMEDIATE), so two requests queue instead of failing on a lock upgrade, and
    the driver leaves BEGIN to SQLAlchemy, which the ladder's savepoints need."""
    parsed = sa.make_url(url)
    backend = parsed.get_backend_name()
    if backend in ("mysql", "mariadb"):
        return sa.create_engine(parsed, isolation_level="READ COMMITTED", pool_pre_ping=True)
    if backend != "sqlite":
        return sa.create_engine(parsed, pool_pre_ping=True)
    engine = sa.create_engine(parsed, connect_args={"timeout": 30})

    @sa.event.listens_for(engine, "connect")
    def _connect(dbapi_conn: Any, record: Any) -> None:
        dbapi_conn.isolation_level = None
        dbapi_conn.execute("PRAGMA journal_mode=WAL")
        dbapi_conn.execute("PRAGMA busy_timeout=30000")

    @sa.event.listens_for(engine, "begin")
    def _begin(conn: Connection) -> None:
        conn.exec_driver_sql("BEGIN IMMEDIATE")

    return engine


def crm_tables(prefix: str) -> tuple[sa.MetaData, sa.Table, sa.Table]:
    metadata = sa.MetaData()
    contacts = sa.Table(
        f"{prefix}contacts",
        metadata,
        sa.Column("id", sa.String(32), primary_key=True),  # also the prospect id on ladders
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("email", sa.String(254), nullable=False, unique=True),
        sa.Column("owner_email", sa.String(254), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    )
    notes = sa.Table(
        f"{prefix}notes",
        metadata,
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("contact_id", sa.String(32), sa.ForeignKey(contacts.c.id), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("author", sa.String(200), nullable=False),
        sa.Column("text", sa.Text, nullable=False),
        # the webhook's delivery id: a redelivered reply finds its note and adds none
        sa.Column("delivery_id", sa.String(200), nullable=True, unique=True),
    )
    return metadata, contacts, notes


class NotFound(LookupError):
    """No such contact."""


@dataclass
class Unit:
    """One request's transaction: the CRM's tables and a tracker, on one connection."""

    conn: Connection
    tracker: cl.Tracker
    crm: Crm

    def add_contact(self, name: str, email: str, owner_email: str | None) -> dict[str, Any]:
        contact = {
            "id": uuid.uuid4().hex,
            "name": name,
            "email": email,
            "owner_email": owner_email,
            "created_at": self.crm.clock.now(),
        }
        self.conn.execute(self.crm.contacts.insert().values(**contact))
        return contact

    def contact(self, contact_id: str) -> dict[str, Any]:
        c = self.crm.contacts
        row = self.conn.execute(sa.select(c).where(c.c.id == contact_id)).mappings().first()
        if row is None:
            raise NotFound(f"no contact {contact_id!r}")
        return dict(row)

    def add_note(
        self, contact_id: str, text: str, *, author: str, delivery_id: str | None = None
    ) -> None:
        self.conn.execute(
            self.crm.notes.insert().values(
                contact_id=contact_id,
                at=self.crm.clock.now(),
                author=author,
                text=text,
                delivery_id=delivery_id,
            )
        )

    def has_delivery(self, delivery_id: str) -> bool:
        n = self.crm.notes
        found = self.conn.execute(sa.select(n.c.id).where(n.c.delivery_id == delivery_id))
        return found.first() is not None

    def notes(self, contact_id: str) -> list[dict[str, Any]]:
        n = self.crm.notes
        rows = self.conn.execute(
            sa.select(n.c.at, n.c.author, n.c.text).where(n.c.contact_id == contact_id)
        )
        return [dict(row) for row in rows.mappings()]


class Crm:
    """The CRM's engine, tables, ladders, clock and messenger."""

    def __init__(
        self,
        settings: Settings,
        *,
        clock: cl.Clock | None = None,
        messenger: cl.Messenger | None = None,
    ) -> None:
        self.settings = settings
        self.engine = make_engine(settings.database_url)
        self.metadata, self.contacts, self.notes = crm_tables(settings.prefix)
        self.store = SqlStore(self.engine, prefix=f"{settings.prefix}ladder_")
        self.ladders = [cl.load(path) for path in settings.ladders]
        self.clock: cl.Clock = clock or cl.SystemClock()
        self.messenger = messenger or SmtpMessenger(
            host=settings.smtp_host,
            port=settings.smtp_port,
            sender=settings.sender,
            recipient=self.recipient,
        )
        # the workers' tracker: timers and the outbox run in transactions of their own
        self.worker = cl.Tracker(
            store=self.store, messenger=self.messenger, clock=self.clock, ladders=self.ladders
        )

    def create_schema(self) -> None:
        self.metadata.create_all(self.engine)
        self.store.create_schema()

    def drop_schema(self) -> None:
        self.store.drop_schema()
        self.metadata.drop_all(self.engine)

    def close(self) -> None:
        self.engine.dispose()

    @contextmanager
    def transaction(self) -> Iterator[Unit]:
        """One request's work: commits when the block ends, rolls back if it raises."""
        with self.engine.begin() as conn:
            tracker = cl.Tracker(
                store=SqlStore.joined(conn, self.store), clock=self.clock, ladders=self.ladders
            )
            yield Unit(conn, tracker, self)

    def recipient(self, message: cl.Message) -> str | None:
        """Who gets ``message`` by email: the contact for asks and follow-ups made over
        email, the contact's owner for alerts; nobody for the rest."""
        if message.kind in ("ask", "follow_up") and message.channel == "email":
            column = self.contacts.c.email
        elif message.kind in ALERTS:
            column = self.contacts.c.owner_email
        else:
            return None
        with self.engine.connect() as conn:
            found = conn.execute(sa.select(column).where(self.contacts.c.id == message.prospect))
            address: str | None = found.scalar()
        return address

    def run_due(self, now: datetime | None = None) -> int:
        return self.worker.run_due(now)

    def relay(self, now: datetime | None = None) -> cl.RelayReport:
        return self.worker.relay(now=now)
