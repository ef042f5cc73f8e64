"""``DjangoStore``: ``SqlStore`` on Django's own database connection.

There is one store implementation, ``commitladder.sql.SqlStore``; this module lends it
the DB-API connection Django already holds for the thread, so a ladder command is a
savepoint inside the host's ``transaction.atomic()`` block (or a transaction of its
own outside one) and commits or rolls back with the host's writes. The borrowed
connection is Django's: commitladder never begins, commits, rolls back, configures
or closes it. Listeners run on Django's ``transaction.on_commit``.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager, nullcontext
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from django.core.exceptions import ImproperlyConfigured
from django.db import DEFAULT_DB_ALIAS, connections, transaction
from sqlalchemy.dialects import sqlite
from sqlalchemy.engine import Dialect
from sqlalchemy.pool import NullPool

from commitladder.sql import SqlStore, tables
from commitladder.store import (
    Change,
    DueTimer,
    OutboxEntry,
    OutboxStatus,
    Receipt,
    StoredEnrollment,
)

__all__ = ["PREFIX", "DjangoStore"]

PREFIX = "commitladder_"
"""The table prefix of the ladder tables that the app's migration creates."""

# one SqlStore per (database alias, prefix), whatever the number of DjangoStore objects:
# building one (an engine, its dialect) costs milliseconds; joining it to a connection, not
_stores: dict[tuple[str, str], SqlStore] = {}
_stores_lock = threading.Lock()


class _Lent:
    """Django's DB-API connection as SQLAlchemy sees it: every statement goes through,
    but transaction ends, configuration and closing stay Django's (savepoints are SQL
    statements, so they still work)."""

    __slots__ = ("_raw",)

    def __init__(self, raw: Any) -> None:
        self._raw = raw

    def __getattr__(self, name: str) -> Any:
        return getattr(self._raw, name)

    def commit(self) -> None:
        pass

    def rollback(self) -> None:
        pass

    def close(self) -> None:
        pass

    def create_function(self, *args: Any, **kwargs: Any) -> None:
        pass  # SQLite: SQLAlchemy's REGEXP would replace Django's

    def add_notice_handler(self, *args: Any) -> None:
        pass  # psycopg: one more handler on Django's connection at every checkout


class _ConvertedDateTime(sqlite.DATETIME):
    """SQLite as Django connects to it converts DATETIME columns itself (``detect_types``),
    so a value may arrive already parsed."""

    def result_processor(self, dialect: Dialect, coltype: object) -> Callable[[Any], Any] | None:
        parse = super().result_processor(dialect, coltype)
        if parse is None:
            return None

        def process(value: Any) -> Any:
            return value if value is None or isinstance(value, datetime) else parse(value)

        return process


def _dialect_url(vendor: str) -> str:
    if vendor == "postgresql":
        from django.db.backends.postgresql.psycopg_any import is_psycopg3

        return "postgresql+psycopg://" if is_psycopg3 else "postgresql+psycopg2://"
    if vendor == "sqlite":
        return "sqlite+pysqlite://"
    if vendor == "mysql":
        return "mysql+mysqldb://"
    raise ImproperlyConfigured(
        f"commitladder runs on PostgreSQL, SQLite and MySQL/MariaDB, not on {vendor!r}"
    )


class DjangoStore:
    """A ``Store`` in the Django database ``using``, on Django's connection.

    Every call joins the thread's current ``transaction.atomic()`` block as a savepoint
    (a refusal rolls back only its own savepoint and leaves the block usable), or runs
    in an atomic block of its own. The tables are those of the ``commitladder`` app's
    migration (prefix ``commitladder_``), the same as ``SqlStore``'s.

    On SQLite, give the database ``"OPTIONS": {"transaction_mode": "IMMEDIATE"}`` so
    that concurrent writers queue at BEGIN instead of failing on a lock upgrade.
    """

    def __init__(self, using: str = DEFAULT_DB_ALIAS, *, prefix: str = PREFIX) -> None:
        self.using = using
        self.prefix = prefix

    def __repr__(self) -> str:
        return f"<DjangoStore using={self.using!r} prefix={self.prefix!r}>"

    def _store_for(self, vendor: str) -> SqlStore:
        """The one ``SqlStore`` of this alias and prefix (its engine lends Django's
        connection), built on first use; each call joins it to the connection cheaply."""
        with _stores_lock:
            found = _stores.get((self.using, self.prefix))
            if found is None or found.engine.url.get_backend_name() != vendor:
                found = _stores[self.using, self.prefix] = self._build(vendor)
            return found

    def _build(self, vendor: str) -> SqlStore:
        using = self.using
        options: dict[str, Any] = {}
        if vendor == "postgresql":
            options["use_native_hstore"] = False  # never register types on Django's conn
        engine = sa.create_engine(
            _dialect_url(vendor),
            creator=lambda: _Lent(connections[using].connection),
            poolclass=NullPool,
            **options,
        )
        if vendor == "sqlite":
            engine.dialect.colspecs = {**engine.dialect.colspecs, sa.DateTime: _ConvertedDateTime}
        return SqlStore(engine, prefix=self.prefix)

    @contextmanager
    def _sql(self) -> Iterator[SqlStore]:
        """The alias's ``SqlStore`` joined to Django's connection, inside an atomic block:
        the host's (the store's savepoints suffice there) or, outside one, its own."""
        django_conn = connections[self.using]
        with nullcontext() if django_conn.in_atomic_block else transaction.atomic(self.using):
            django_conn.ensure_connection()
            store = self._store_for(django_conn.vendor)
            with store.engine.connect() as conn:
                conn.begin()  # SQLAlchemy's bookkeeping only: Django began the transaction
                yield SqlStore.joined(conn, store)

    # ---- the Store protocol, delegated --------------------------------------------------

    @contextmanager
    def session(self) -> Iterator[SqlStore]:
        with self._sql() as store, store.session() as bound:
            yield bound

    def after_commit(self, callback: Callable[[], None]) -> None:
        transaction.on_commit(callback, using=self.using)

    @contextmanager
    def _ddl(self) -> Iterator[SqlStore]:
        """The store for schema changes. Where DDL is transactional, as every call: in
        an atomic block. MySQL/MariaDB commit each DDL statement implicitly, which ends
        the transaction and its savepoints (releasing one then fails, and ``migrate``
        would not record the migration), so there the schema is made statement by
        statement, as Django's own migrations do; ``create_schema`` is idempotent and
        completes a run cut short."""
        django_conn = connections[self.using]
        if django_conn.features.can_rollback_ddl:
            with self._sql() as store:
                yield store
            return
        django_conn.ensure_connection()
        yield self._store_for(django_conn.vendor)

    def create_schema(self) -> None:
        with self._ddl() as store:
            store.create_schema()

    def drop_schema(self) -> None:
        with self._ddl() as store:
            store.drop_schema()

    def clear(self) -> None:
        """Delete every row of the ladder tables, keeping the schema (between tests)."""
        t = tables(self.prefix)
        with transaction.atomic(self.using), connections[self.using].cursor() as cursor:
            for table in reversed(t.metadata.sorted_tables):
                if table is not t.meta:
                    cursor.execute(f"DELETE FROM {table.name}")  # our own table names

    def load(self, enrollment_id: str) -> StoredEnrollment | None:
        with self._sql() as store:
            return store.load(enrollment_id)

    def find(self, prospect: str) -> list[StoredEnrollment]:
        with self._sql() as store:
            return store.find(prospect)

    def events(self, enrollment_id: str) -> list[dict[str, Any]]:
        with self._sql() as store:
            return store.events(enrollment_id)

    def apply(self, change: Change) -> Receipt | None:
        with self._sql() as store:
            return store.apply(change)

    def event_log(self, *, ladder: str | None = None) -> Iterator[list[dict[str, Any]]]:
        """Every enrollment's events, one list per enrollment (``commitladder.funnel`` and
        ``commitladder.forecast`` read them)."""
        with self._sql() as store:
            yield from store.event_log(ladder=ladder)

    def recall(self, key: str) -> Receipt | None:
        with self._sql() as store:
            return store.recall(key)

    def remember(self, receipt: Receipt, now: datetime) -> Receipt | None:
        with self._sql() as store:
            return store.remember(receipt, now)

    def claim_timers(
        self, now: datetime, limit: int, lease_until: datetime, *, tenant: str | None = None
    ) -> list[DueTimer]:
        with self._sql() as store:
            return store.claim_timers(now, limit, lease_until, tenant=tenant)

    def claim_due(
        self, now: datetime, limit: int, lease_until: datetime, *, tenant: str | None = None
    ) -> tuple[list[DueTimer], dict[str, StoredEnrollment]]:
        """``claim_timers``, and the claimed enrollments (see ``ClaimReadStore``)."""
        with self._sql() as store:
            return store.claim_due(now, limit, lease_until, tenant=tenant)

    def claim_messages(
        self, now: datetime, limit: int, lease_until: datetime, *, tenant: str | None = None
    ) -> list[OutboxEntry]:
        with self._sql() as store:
            return store.claim_messages(now, limit, lease_until, tenant=tenant)

    def message_sent(self, key: str, now: datetime) -> None:
        with self._sql() as store:
            store.message_sent(key, now)

    def message_failed(self, key: str, error: str, retry_at: datetime | None) -> None:
        with self._sql() as store:
            store.message_failed(key, error, retry_at)

    def outbox(self, status: OutboxStatus | None = None) -> list[OutboxEntry]:
        with self._sql() as store:
            return store.outbox(status)

    def redrive(self, keys: Sequence[str] | None, now: datetime) -> int:
        with self._sql() as store:
            return store.redrive(keys, now)
