"""``SqlStore``: the ``Store`` on SQLAlchemy Core, for SQLite, PostgreSQL and MySQL/MariaDB.

The store's one module on SQLAlchemy (install ``commitladder[sql]``, or the
``postgres`` / ``mysql`` extras for their drivers). The database keeps the promises:
a version column for optimistic concurrency, a unique key on the prospect's open
ask, a primary key on idempotency keys, and one transaction per command. Every
statement runs through SQLAlchemy's public ``Connection`` API, so engine events
(tracing, SQL comments, a test's kill switch) see and may rewrite each one; nothing
here touches SQLAlchemy's internals or drives the driver's transactions by hand.
Foreign errors are translated in one place, ``_translate``; nothing here ever
decides anything about a ladder.
"""

from __future__ import annotations

import json
import re
import weakref
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import AbstractContextManager, contextmanager, nullcontext
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import sqlalchemy as sa
from sqlalchemy import event as sa_event
from sqlalchemy import exc as sa_exc
from sqlalchemy.dialects import mysql, postgresql
from sqlalchemy.engine import Connection, Dialect, Engine

from ._errors import ConflictError, StoreError
from ._messaging import Message
from ._sql_hot import Parked, Prepared, bind_for, named_dialect, release
from ._sql_throttle import SqlThrottles, throttle_table
from ._text import clean_text
from ._throttle import queued_timers, slot
from .store import (
    SCHEMA_VERSION,
    Change,
    DueTimer,
    OpenAsk,
    OutboxEntry,
    OutboxStatus,
    PurgeReport,
    Receipt,
    StoredEnrollment,
    ask_pending,
    tenant_prefix,
)

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncEngine

__all__ = ["AsyncSqlStore", "SqlStore", "Tables", "read_only_engine", "tables"]

_T = TypeVar("_T")

# an execution option of the store's own read-only transactions: on SQLite they begin
# deferred, every other transaction on an engine the store made takes the write lock
_READ_ONLY = "commitladder_read_only"


def _naive_utc(value: datetime | None) -> datetime | None:
    """An instant as the store keeps it: naive UTC."""
    return None if value is None else value.astimezone(UTC).replace(tzinfo=None)


def _json_text(value: Any) -> str | None:
    """A JSON value as the store keeps it: compact text."""
    if value is None:
        return None
    return "[]" if value == [] else _dumps(value)  # [] is most rows' fired and timers


def _sqlite_text(value: datetime) -> str:
    """A naive time as SQLAlchemy's SQLite ``DATETIME`` writes it (microseconds always)."""
    return value.isoformat(" ", "microseconds")


def _sqlite_time(value: datetime | None) -> str | None:
    """An instant as the store keeps it on SQLite: naive UTC, as text."""
    if value is None:
        return None
    if value.tzinfo is UTC:
        return _sqlite_utc(value)
    return _sqlite_text(value.astimezone(UTC).replace(tzinfo=None))


@lru_cache(maxsize=64)
def _sqlite_utc(value: datetime) -> str:
    """``_sqlite_time`` of a UTC instant, remembered for the last ones written: a batch
    of timers writes its time into every enrollment, event and message (as ``iso``)."""
    return _sqlite_text(value.replace(tzinfo=None))


# times that tell whether a dialect spells a time as _sqlite_text does (direct_bind)
_SAMPLE_TIMES = (datetime(2026, 1, 2, 3, 4, 5, 6), datetime(987, 12, 31, 23, 59, 59))


def _then(first: Callable[[Any], Any], then: Callable[[Any], Any] | None) -> Callable[[Any], Any]:
    """``first``, then ``then`` (when there is one) on its result."""
    if then is None:
        return first
    return lambda value: then(first(value))


class _Time(sa.types.TypeDecorator[datetime]):
    """An instant: stored as naive UTC (microseconds kept on MySQL), read back aware."""

    impl = sa.DateTime
    cache_ok = True

    def load_dialect_impl(self, dialect: Dialect) -> sa.types.TypeEngine[Any]:
        if dialect.name in ("mysql", "mariadb"):
            return dialect.type_descriptor(mysql.DATETIME(fsp=6))
        return dialect.type_descriptor(sa.DateTime())

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        return _naive_utc(value)

    def direct_bind(self, dialect: Dialect) -> Callable[[Any], Any]:
        """``process_bind_param`` and the dialect's own processing in one function (what
        ``bind_processor`` gives, without its wrappers: see ``_sql_hot.bind_for``)."""
        spelled = self.load_dialect_impl(dialect).bind_processor(dialect)
        if spelled is not None and all(spelled(t) == _sqlite_text(t) for t in _SAMPLE_TIMES):
            # SQLite keeps a time as text: isoformat spells it as SQLAlchemy's format does
            return _sqlite_time
        return _then(_naive_utc, spelled)

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        return value.replace(tzinfo=UTC) if value is not None else None


_dumps = json.JSONEncoder(separators=(",", ":")).encode  # json.dumps(v, separators=...)


class _Json(sa.types.TypeDecorator[Any]):
    """JSON in a text column: the same bytes on every database."""

    impl = sa.Text
    cache_ok = True

    def load_dialect_impl(self, dialect: Dialect) -> sa.types.TypeEngine[Any]:
        if dialect.name in ("mysql", "mariadb"):
            return dialect.type_descriptor(mysql.LONGTEXT())
        return dialect.type_descriptor(sa.Text())

    def process_bind_param(self, value: Any, dialect: Dialect) -> str | None:
        return _json_text(value)

    def direct_bind(self, dialect: Dialect) -> Callable[[Any], Any]:
        """As ``_Time.direct_bind``."""
        return _then(_json_text, self.load_dialect_impl(dialect).bind_processor(dialect))

    def process_result_value(self, value: str | None, dialect: Dialect) -> Any:
        if value is None:
            return None
        return [] if value == "[]" else json.loads(value)  # [] as in _json_text


_SAFE_PREFIX = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,30}$")


@dataclass(frozen=True, slots=True)
class Tables:
    """The store's tables for one prefix, as SQLAlchemy Core ``Table`` objects.

    Read them for reports and dashboards (``commitladder funnel`` does); write only
    through a ``SqlStore``, which keeps a command's rows together. ``metadata`` holds
    them all.
    """

    metadata: sa.MetaData
    meta: sa.Table  # the schema version
    enrollments: sa.Table  # snapshot, version, and the timers not fired yet (``timers``)
    events: sa.Table  # the event log, ``(enrollment_id, seq)``
    open_asks: sa.Table  # one row per open ask; its primary key is the prospect's slot
    outbox: sa.Table  # messages to deliver
    idempotency: sa.Table  # the first result of each command run under a key
    throttle: sa.Table  # places taken per throttle cap and period (schema version 3)


@lru_cache(maxsize=64)
def tables(prefix: str = "commitladder_") -> Tables:
    """The tables of a store whose table names start with ``prefix`` (schema version 2).

    Built once per prefix and shared: treat them as read-only.
    """
    if not isinstance(prefix, str) or not _SAFE_PREFIX.match(prefix):
        raise ValueError(
            f"prefix {prefix!r} must be a short SQL identifier: a letter or underscore, "
            "then up to 30 letters, digits or underscores"
        )
    ident = sa.String(255)
    p = prefix
    metadata = sa.MetaData()
    return Tables(
        metadata=metadata,
        meta=sa.Table(
            f"{p}meta",
            metadata,
            sa.Column("name", sa.String(64), primary_key=True),
            sa.Column("value", sa.String(255), nullable=False),
        ),
        enrollments=sa.Table(
            f"{p}enrollments",
            metadata,
            sa.Column("id", ident, primary_key=True),
            sa.Column("prospect", ident, nullable=False, index=True),
            sa.Column("ladder", ident, nullable=False),
            sa.Column("status", sa.String(16), nullable=False),
            sa.Column("version", sa.Integer, nullable=False),
            sa.Column("snapshot", _Json, nullable=False),
            sa.Column("fired", _Json, nullable=False),
            sa.Column("updated_at", _Time, nullable=True),
            # the timers not fired yet, as [kind, due_at, rung] lists, written with the
            # snapshot by the same UPDATE; the soonest due time is indexed for run_due
            sa.Column("timers", _Json, nullable=True),
            sa.Column("next_due_at", _Time, nullable=True, index=True),
            sa.Column("timer_lease", _Time, nullable=True),
        ),
        events=sa.Table(
            f"{p}events",
            metadata,
            sa.Column("enrollment_id", ident, primary_key=True),
            sa.Column("seq", sa.Integer, primary_key=True, autoincrement=False),
            sa.Column("type", sa.String(32), nullable=False),
            sa.Column("at", _Time, nullable=False),
            sa.Column("body", _Json, nullable=False),
        ),
        open_asks=sa.Table(
            # one row per open ask; the primary key on `slot` (the prospect, for an
            # exclusive ladder) is what makes a second open ask impossible
            f"{p}open_asks",
            metadata,
            sa.Column("slot", sa.String(400), primary_key=True),
            sa.Column("enrollment_id", ident, nullable=False, unique=True),
            sa.Column("prospect", ident, nullable=False),
            sa.Column("rung", ident, nullable=False),
            sa.Column("channel", ident, nullable=False),
            sa.Column("seq", sa.Integer, nullable=False),
            sa.Column("asked_at", _Time, nullable=False),
            sa.Column("expires_at", _Time, nullable=True),
        ),
        outbox=sa.Table(
            f"{p}outbox",
            metadata,
            sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
            sa.Column("key", sa.String(400), nullable=False, unique=True),
            sa.Column("enrollment_id", ident, nullable=False),
            sa.Column("kind", sa.String(32), nullable=False),
            sa.Column("status", sa.String(8), nullable=False),
            sa.Column("attempts", sa.Integer, nullable=False),
            sa.Column("next_attempt_at", _Time, nullable=False),
            sa.Column("lease_until", _Time, nullable=True),
            sa.Column("sent_at", _Time, nullable=True),
            sa.Column("last_error", sa.Text, nullable=True),
            sa.Column("body", _Json, nullable=False),
            sa.Index(f"ix_{p}outbox_due", "status", "next_attempt_at"),
        ),
        idempotency=sa.Table(
            f"{p}idempotency",
            metadata,
            sa.Column("key", ident, primary_key=True),
            sa.Column("command", sa.String(32), nullable=False),
            sa.Column("enrollment_id", ident, nullable=False),
            sa.Column("result", _Json, nullable=False),
            sa.Column("created_at", _Time, nullable=True),
        ),
        throttle=throttle_table(metadata, p, _Time()),
    )


def _v1_timers(metadata: sa.MetaData, prefix: str) -> sa.Table:
    """The timers table of schema version 1 (one row per timer), read once to upgrade."""
    return sa.Table(
        f"{prefix}timers",
        metadata,
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("enrollment_id", sa.String(255), nullable=False, index=True),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("due_at", _Time, nullable=False, index=True),
        sa.Column("rung", sa.String(255), nullable=True),
        sa.Column("lease_until", _Time, nullable=True),
    )


# ---- engines ---------------------------------------------------------------------------------


def _sqlite_engine(url: sa.URL) -> Engine:
    """SQLite that many threads and processes can write at once (see ``_sqlite_events``)."""
    return _sqlite_events(sa.create_engine(url, **_engine_args(url)), url)


def _sqlite_events(engine: Engine, url: sa.URL) -> Engine:
    """SQLite that many threads and processes can write at once: WAL (readers never wait
    for the writer), a 30 s busy timeout, and every transaction but the store's own
    reads takes the write lock at ``BEGIN IMMEDIATE``, so two writers queue instead of
    failing on a lock upgrade. This holds for the host's transactions on
    ``store.engine`` too. SQLAlchemy (not the driver) begins, so savepoints work. The
    same events serve aiosqlite (on an ``AsyncEngine``'s ``sync_engine``)."""
    memory = url.database in (None, "", ":memory:")

    @sa_event.listens_for(engine, "connect")
    def _connect(dbapi_conn: Any, record: Any) -> None:
        dbapi_conn.isolation_level = None  # let the begin event below issue BEGIN
        cursor = dbapi_conn.cursor()
        if not memory:
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute("PRAGMA busy_timeout=30000")
        cursor.close()

    @sa_event.listens_for(engine, "begin")
    def _begin(conn: Connection) -> None:
        read_only = conn.get_execution_options().get(_READ_ONLY, False)
        conn.exec_driver_sql("BEGIN" if read_only else "BEGIN IMMEDIATE")

    return engine


def _engine_args(url: sa.URL) -> dict[str, Any]:
    """The engine options the store wants on ``url``'s database (sync or asyncio)."""
    backend = url.get_backend_name()
    if backend == "sqlite":
        return {"connect_args": {"timeout": 30}}
    if backend in ("mysql", "mariadb"):
        # READ COMMITTED: InnoDB's default REPEATABLE READ takes gap locks that make
        # racing inserts deadlock far more often, and we rely on versions anyway
        return {"isolation_level": "READ COMMITTED"}
    return {}


def _make_engine(url: str | sa.URL) -> Engine:
    parsed = sa.make_url(url)
    if parsed.get_backend_name() == "sqlite":
        return _sqlite_engine(parsed)
    return sa.create_engine(parsed, **_engine_args(parsed))


def read_only_engine(url: str | sa.URL) -> Engine:
    """An engine on the database at ``url`` whose connections cannot write.

    For reports beside a running tracker (``commitladder funnel``): SQLite opens the
    file read-only (a missing file is a ``StoreError``, never a new empty database);
    PostgreSQL and MySQL/MariaDB sessions are made read-only when they connect.
    Call ``dispose()`` on it when done.
    """
    parsed = sa.make_url(url)
    backend = parsed.get_backend_name()
    if backend == "sqlite":
        name = parsed.database
        if name in (None, "", ":memory:"):
            raise StoreError("an in-memory SQLite database has nothing to read: give a file")
        path = Path(str(name))
        if not path.is_file():
            raise StoreError(f"no database file at {path}")
        uri = f"{path.resolve().as_uri()}?mode=ro"
        dbapi = sa.create_engine(parsed).dialect.loaded_dbapi
        return sa.create_engine(
            parsed, creator=lambda: dbapi.connect(uri, uri=True, check_same_thread=False)
        )
    engine = sa.create_engine(parsed)
    statement = (
        "SET SESSION TRANSACTION READ ONLY"
        if backend in ("mysql", "mariadb")
        else "SET SESSION CHARACTERISTICS AS TRANSACTION READ ONLY"
    )

    @sa_event.listens_for(engine, "connect")
    def _read_only(dbapi_conn: Any, record: Any) -> None:
        cursor = dbapi_conn.cursor()
        cursor.execute(statement)
        cursor.close()
        dbapi_conn.commit()

    return engine


# ---- the statements every command runs --------------------------------------------------------

_DUPLICATE_KEY_MYSQL = 1062
# the most ids one statement of load_many or of the lease takes (SQLite allows 32,766)
_LOAD_MANY = 500


@dataclass(frozen=True, slots=True)
class _Statements:
    """The statements every command runs, compiled once per store's tables and dialect."""

    load: Prepared
    find: Prepared
    recall: Prepared
    receipt: Prepared
    insert_enrollment: Prepared
    update_enrollment: Prepared
    update_enrollment_timers: Prepared
    events: Prepared
    delete_ask: Prepared
    insert_ask: Prepared
    holder: Prepared
    outbox: Prepared
    dialect: str
    tables: Tables
    # statements built on first use, by what they are (see ``_once``)
    built: dict[tuple[Any, ...], Prepared]
    # compiles a statement whose parameters are named as these columns (and keys)
    make: Callable[..., Prepared]
    quote: Callable[[str], str]  # an identifier, quoted for the dialect where it needs it

    def _once(self, key: tuple[Any, ...], build: Callable[[], Prepared]) -> Prepared:
        found = self.built.get(key)
        if found is None:  # two threads may both build it: the first one kept wins
            found = self.built.setdefault(key, build())
        return found

    def load_in(self, count: int) -> Prepared:
        """The read of ``count`` enrollments by id (parameters ``i0`` ... ``i{count-1}``),
        compiled once per count: a claimed batch has one of a few sizes."""
        e = self.tables.enrollments
        return self._once(
            ("load_in", count),
            lambda: self.make(
                sa.select(*_stored_columns(e)).where(e.c.id.in_(_ids(count))), list(e.columns)
            ),
        )

    def lease_in(self, count: int) -> Prepared:
        """Lease ``count`` enrollments by id (``i0`` ...) until ``timer_lease``."""
        e = self.tables.enrollments
        return self._once(
            ("lease_in", count),
            lambda: self.make(
                e.update().where(e.c.id.in_(_ids(count))), list(e.columns), ["timer_lease"]
            ),
        )

    def claim_due(self, lock: bool, read: bool) -> Prepared:
        """The ids and timers of up to ``b_limit`` enrollments whose soonest timer is due
        at ``b_now`` and not leased, soonest first (with ``lock``, skipping the rows other
        workers hold; with ``read``, every column ``load`` reads as well). Written out:
        SQLAlchemy compiles SQLite's LIMIT with an OFFSET parameter of its own, which a
        prepared statement would not pass."""

        def build() -> Prepared:
            e, q = self.tables.enrollments, self.quote
            columns = _claimed_columns(e, read=read)
            due, lease = q("next_due_at"), q("timer_lease")
            sql = (
                f"SELECT {', '.join(q(c.name) for c in columns)} FROM {q(e.name)} "
                f"WHERE {due} <= :b_now AND ({lease} IS NULL OR {lease} <= :b_now) "
                f"ORDER BY {due} LIMIT :b_limit" + (" FOR UPDATE SKIP LOCKED" if lock else "")
            )
            now = sa.bindparam("b_now", type_=e.c.next_due_at.type)
            limit = sa.bindparam("b_limit", type_=sa.Integer())
            query = sa.text(sql).bindparams(now, limit).columns(*columns)
            return self.make(query, [now, limit])

        return self._once(("claim_due", lock, read), build)

    @classmethod
    @lru_cache(maxsize=64)
    def build(cls, t: Tables, dialect: Dialect) -> _Statements:
        name = "mysql" if dialect.name == "mariadb" else dialect.name
        named = named_dialect(dialect)

        def make(
            statement: sa.ClauseElement,
            columns: Sequence[sa.ColumnElement[Any]],
            keys: Sequence[str] = (),
            **extra: Any,
        ) -> Prepared:
            return Prepared.build(statement, dialect, named, columns, keys, **extra)

        def prepared(
            statement: sa.ClauseElement, table: sa.Table, keys: Sequence[str] = (), **extra: Any
        ) -> Prepared:
            return make(statement, list(table.columns), keys, **extra)

        e, a, o = t.enrollments, t.open_asks, t.outbox
        stored = _stored_columns(e)
        by_id: sa.BindParameter[str] = sa.bindparam("b_id")
        # the optimistic check: the row moves only from the version the command read
        update = e.update().where(e.c.id == by_id, e.c.version == sa.bindparam("b_version"))
        written = ["status", "version", "snapshot", "fired", "updated_at"]
        timers = ["timers", "next_due_at", "timer_lease"]
        return cls(
            load=prepared(sa.select(*stored).where(e.c.id == by_id), e),
            find=prepared(
                sa.select(*stored)
                .where(e.c.prospect == sa.bindparam("b_prospect"))
                .order_by(e.c.id),
                e,
            ),
            recall=prepared(
                sa.select(t.idempotency).where(t.idempotency.c.key == sa.bindparam("b_key")),
                t.idempotency,
            ),
            receipt=prepared(_insert_new(name, t.idempotency), t.idempotency, rowcount=True),
            insert_enrollment=prepared(_insert_new(name, e), e, rowcount=True),
            update_enrollment=prepared(update, e, written, rowcount=True),
            update_enrollment_timers=prepared(update, e, written + timers, rowcount=True),
            events=prepared(t.events.insert(), t.events, [c.key for c in t.events.columns]),
            delete_ask=prepared(a.delete().where(a.c.enrollment_id == by_id), a),
            insert_ask=prepared(_insert_new(name, a), a, rowcount=True),
            holder=prepared(sa.select(a).where(a.c.slot == sa.bindparam("b_slot")), a),
            outbox=prepared(o.insert(), o, [c.key for c in o.columns if c.key != "id"]),
            dialect=name,
            tables=t,
            built={},
            make=make,
            quote=dialect.identifier_preparer.quote,
        )

    def insert_new(self, conn: Connection, statement: Prepared, row: dict[str, Any]) -> bool:
        """Insert ``row`` unless its key is taken; whether it was inserted."""
        if self.dialect in ("postgresql", "sqlite"):
            return bool(statement.run(conn, row).rowcount)
        try:
            statement.run(conn, row)
        except sa_exc.IntegrityError as exc:
            if exc.orig is not None and exc.orig.args[:1] == (_DUPLICATE_KEY_MYSQL,):
                return False
            raise
        return True


def _stored_columns(e: sa.Table) -> tuple[sa.Column[Any], ...]:
    """The columns of an enrollment a command reads (``StoredEnrollment``)."""
    return (e.c.id, e.c.prospect, e.c.ladder, e.c.status, e.c.version, e.c.snapshot, e.c.fired)


def _claimed_columns(e: sa.Table, *, read: bool) -> list[sa.Column[Any]]:
    """What a claim of due timers selects: each enrollment's id and timers, and with
    ``read`` every column ``load`` reads as well."""
    return [*_stored_columns(e), e.c.timers] if read else [e.c.id, e.c.timers]


def _ids(count: int) -> list[sa.BindParameter[Any]]:
    """``count`` parameters of ids, ``i0`` ... ``i{count-1}``."""
    return [sa.bindparam(f"i{i}") for i in range(count)]


def _id_pages(ids: Sequence[str]) -> Iterator[tuple[int, dict[str, str]]]:
    """``ids`` in pages of at most ``_LOAD_MANY``: each page's size and its ids by
    parameter name (as ``_ids`` names them)."""
    for start in range(0, len(ids), _LOAD_MANY):
        page = ids[start : start + _LOAD_MANY]
        yield len(page), {f"i{i}": eid for i, eid in enumerate(page)}


def _insert_new(dialect: str, table: sa.Table) -> sa.ClauseElement:
    """An insert of every column of ``table`` that writes nothing (rowcount 0) when the
    row's key is taken, where the database can say so without an error that aborts the
    transaction: ``INSERT ... ON CONFLICT DO NOTHING`` on PostgreSQL and SQLite."""
    if dialect not in ("postgresql", "sqlite"):
        # MySQL/MariaDB: a duplicate key fails the statement, not the transaction (see
        # _Statements.insert_new); INSERT IGNORE would also turn truncations into warnings
        return table.insert()

    def quote(name: str) -> str:  # our names are plain identifiers: quoting keeps their case
        return f'"{name}"'

    columns = list(table.columns)
    sql = (
        f"INSERT INTO {quote(table.name)} ({', '.join(quote(c.name) for c in columns)}) "
        f"VALUES ({', '.join(f':{c.key}' for c in columns)}) ON CONFLICT DO NOTHING"
    )
    return sa.text(sql).bindparams(*(sa.bindparam(c.key, type_=c.type) for c in columns))


def _encode_timers(timers: Sequence[DueTimer]) -> tuple[list[list[Any]], datetime | None]:
    """The timers column and the soonest due time (the indexed ``next_due_at``)."""
    if not timers:
        return [], None
    rows = [[t.kind, t.due_at.astimezone(UTC).isoformat(), t.rung] for t in timers]
    return rows, min(t.due_at for t in timers)


def _of_tenant(column: sa.ColumnElement[str], tenant: str | None) -> list[sa.ColumnElement[bool]]:
    """The condition keeping a tenant's rows by their enrollment id: a range on the key's
    prefix (the index serves it, no LIKE escaping); nothing without a tenant."""
    if tenant is None:
        return []
    prefix = tenant_prefix(tenant)
    return [column >= prefix, column < prefix[:-1] + chr(ord("/") + 1)]


def _plain(change: Change) -> bool:
    """Whether ``apply_all`` can write ``change`` with the others: an enrollment stored
    already, no receipt, no ask to open, no message a throttle must place."""
    return (
        change.expected_version > 0
        and change.receipt is None
        and not (change.ask_changed and change.open_ask is not None)
        and not any(m.throttle is not None and m.throttle.caps for m in change.messages)
    )


def _event_row(enrollment_id: str, event: Mapping[str, Any]) -> dict[str, Any]:
    return {
        "enrollment_id": enrollment_id,
        "seq": event["seq"],
        "type": event["type"],
        "at": datetime.fromisoformat(event["at"]),
        "body": dict(event),
    }


def _message_row(enrollment_id: str, message: Message, due: datetime) -> dict[str, Any]:
    return {
        "key": message.key,
        "enrollment_id": enrollment_id,
        "kind": message.kind,
        "status": "pending",
        "attempts": 0,
        "next_attempt_at": due,
        "lease_until": None,
        "sent_at": None,
        "last_error": None,
        "body": message.to_dict(),
    }


def _decode_timers(enrollment_id: str, value: Any) -> list[DueTimer]:
    return [
        DueTimer(enrollment_id, kind, datetime.fromisoformat(due), rung)
        for kind, due, rung in value or ()
    ]


def _due_timers(rows: Sequence[Mapping[str, Any]], now: datetime) -> list[DueTimer]:
    """The timers due at ``now`` in claimed ``rows`` (their timers columns), soonest first."""
    due = [t for r in rows for t in _decode_timers(r["id"], r["timers"]) if t.due_at <= now]
    return sorted(due, key=lambda t: t.due_at)


def _stored(row: Mapping[str, Any]) -> StoredEnrollment:
    return StoredEnrollment(
        id=row["id"],
        prospect=row["prospect"],
        ladder=row["ladder"],
        status=row["status"],
        version=row["version"],
        snapshot=row["snapshot"],
        fired=tuple(row["fired"]),
    )


class SqlStore:
    """A ``Store`` in a SQL database, through SQLAlchemy Core.

    ``bind`` is a URL (``"sqlite:///ladders.db"``, ``"postgresql+psycopg://..."``,
    ``"mysql+pymysql://..."``), an ``Engine``, or a host's open ``Connection``: then
    every write goes into a savepoint of the host's transaction and commits or rolls
    back with the host's own writes (listeners wait for the host's commit).
    Table names start with ``prefix``. Call ``create_schema()`` once (idempotent; it
    also upgrades tables of an older schema version in place).

    From a SQLite URL the store makes an engine that is safe for concurrent threads and
    processes by itself: WAL, a busy timeout, and transactions that take the write lock
    when they begin, the host's transactions on ``store.engine`` included.
    """

    def __init__(
        self,
        bind: str | sa.URL | Engine | Connection,
        *,
        prefix: str = "commitladder_",
        skip_locked: bool | None = None,
    ) -> None:
        if hasattr(bind, "sync_engine"):  # an AsyncEngine or AsyncConnection
            raise TypeError(
                f"SqlStore runs on a synchronous engine, and {type(bind).__name__} is "
                "SQLAlchemy's asyncio one: use commitladder.sql.AsyncSqlStore(engine) "
                "with commitladder.AsyncTracker"
            )
        self.tables: Tables = tables(prefix)
        self.prefix = prefix
        self._owns_engine = isinstance(bind, (str, sa.URL))
        self._conn: Connection | None = None
        # set by ``on_connection``: transactions begin and commit on this connection
        self._own: Connection | None = None
        if isinstance(bind, Connection):
            self._conn = bind
            self.engine: Engine = bind.engine
        elif isinstance(bind, Engine):
            self.engine = bind
        else:
            self.engine = _make_engine(bind)
        # the same pool; on SQLite its transactions begin deferred (the store's reads)
        self._reader: Engine = self.engine.execution_options(**{_READ_ONLY: True})
        self.dialect: str = self.engine.dialect.name
        if skip_locked is None:
            skip_locked = self.dialect in ("postgresql", "mysql", "mariadb")
        self._skip_locked = skip_locked
        self._q = _Statements.build(self.tables, self.engine.dialect)
        # connections kept between transactions: only in a pool the store made itself (a
        # host's engine may have a pool of one, or lend a connection it owns, as Django's)
        self._parked: dict[bool, Parked] = {}
        if self._owns_engine:
            self._parked = {
                True: Parked(self.engine, self.engine),
                False: Parked(self._reader, self.engine),
            }
            # a store dropped without close() gives its connections back
            weakref.finalize(self, release, self._parked)
        self._pending: list[Callable[[], None]] = []
        # set on the view ``session()`` yields: every call runs in that one transaction
        self._bound: Connection | None = None
        if self._conn is not None:
            sa_event.listen(self._conn, "commit", self._host_committed)
            sa_event.listen(self._conn, "rollback", self._host_rolled_back)

    def _view(self, **changes: Any) -> SqlStore:
        """A shallow copy sharing everything but ``changes`` (attribute names to values;
        ``copy.copy`` costs more than a statement)."""
        view = object.__new__(SqlStore)
        view.__dict__.update(self.__dict__, **changes)
        return view

    @property
    def connection(self) -> Connection:
        """The connection of the transaction this store is in: the session's (what a
        ``Tracker`` hook writes the host's rows with) or the host's joined connection.
        Outside both there is none (``StoreError``): open one with ``session()``."""
        conn = self._bound if self._bound is not None else self._conn
        if conn is None:
            raise StoreError(
                "this SqlStore is in no transaction: use store.connection inside "
                "`with store.session() as s:` (a Tracker hook gets such a store), or join "
                "your own with SqlStore.joined(connection, store)"
            )
        return conn

    @property
    def metadata(self) -> sa.MetaData:
        """The ``MetaData`` holding the store's tables (``tables.metadata``)."""
        return self.tables.metadata

    @classmethod
    def joined(cls, connection: Connection, like: SqlStore) -> SqlStore:
        """A store on the host's ``connection`` with ``like``'s settings (one per request).

        Cheap: it shares ``like``'s tables and statements."""
        joined = cls._view(
            like,
            _owns_engine=False,
            _conn=connection,
            engine=connection.engine,
            _reader=connection.engine,
            _parked={},
            _pending=[],
            _bound=None,
        )
        if connection.engine.dialect is not like.engine.dialect:
            cls._join_dialect(joined, connection.engine.dialect)
        cls._listen_to_host(joined, connection)
        return joined

    @classmethod
    def on_connection(cls, connection: Connection, like: SqlStore) -> SqlStore:
        """A store with ``like``'s settings whose transactions begin and commit, one after
        another, on ``connection`` (which must not be in a transaction): one worker's
        calls on one connection. ``AsyncSqlStore`` runs each call so, on the connection
        SQLAlchemy's asyncio extension lends to ``run_sync``. Cheap: it shares ``like``'s
        tables and statements."""
        return cls._view(
            like, _owns_engine=False, _own=connection, _parked={}, _pending=[], _bound=None
        )

    def _join_dialect(self, dialect: Dialect) -> None:
        """Statements compiled for ``dialect``: a host connection of another database."""
        self._q = _Statements.build(self.tables, dialect)
        self.dialect = dialect.name

    def _listen_to_host(self, connection: Connection) -> None:
        """Run listeners when the host commits; forget them when it rolls back."""
        sa_event.listen(connection, "commit", self._host_committed)
        sa_event.listen(connection, "rollback", self._host_rolled_back)

    def close(self) -> None:
        """Give back the connections kept for the next command, and release the
        connection pool if this store created it."""
        release(self._parked)
        if self._owns_engine:
            self.engine.dispose()

    def __repr__(self) -> str:
        return f"<SqlStore {self.dialect} prefix={self.prefix!r}>"

    # ---- transactions and errors (the one boundary for foreign errors) --------------------

    def _transaction(self, *, write: bool = True) -> AbstractContextManager[Connection]:
        """One transaction (or, inside ``session()``, the session's, which commits or
        rolls back when the session ends; with a host's connection, a savepoint of the
        host's transaction)."""
        if self._bound is not None:
            return nullcontext(self._bound)
        return self._new_transaction(write=write)

    @contextmanager
    def _new_transaction(self, *, write: bool) -> Iterator[Connection]:
        try:
            if self._conn is not None:
                with self._conn.begin_nested():
                    yield self._conn
            elif self._own is not None:
                with self._own.begin():
                    yield self._own
            elif self._parked:
                with self._parked[write].connection() as conn, conn.begin():
                    yield conn
            else:
                with (self.engine if write else self._reader).begin() as conn:
                    yield conn
        except sa_exc.DBAPIError as exc:
            raise _translate(exc) from exc

    @contextmanager
    def session(self) -> Iterator[SqlStore]:
        """One transaction for one command: the store this yields reads and writes in it.

        The command's reads (receipt, snapshot) and its ``apply`` share a connection and a
        transaction (a savepoint inside a host's transaction), committed when the block
        ends and rolled back when it raises. On SQLite the write lock is taken at the
        start, so nobody moves the snapshot between the read and the write; elsewhere
        the version check in ``apply`` catches a writer that got in between.
        """
        if self._bound is not None:
            yield self
            return
        with self._transaction() as conn:
            yield self._view(_bound=conn)

    @contextmanager
    def savepoint(self) -> Iterator[None]:
        """A savepoint inside this session's transaction (see ``SavepointStore``): what
        the block wrote is rolled back alone when it raises. Only in a session."""
        conn = self.connection
        try:
            with conn.begin_nested():
                yield
        except sa_exc.DBAPIError as exc:
            raise _translate(exc) from exc

    def _host_committed(self, conn: Connection) -> None:
        callbacks, self._pending = self._pending, []
        for callback in callbacks:
            callback()

    def _host_rolled_back(self, conn: Connection) -> None:
        self._pending.clear()

    def after_commit(self, callback: Callable[[], None]) -> None:
        if self._conn is None:
            callback()  # our own transaction has committed already
        else:
            self._pending.append(callback)

    def _queued(
        self, conn: Connection, messages: Sequence[Message], at: datetime | None
    ) -> Iterator[tuple[Message, datetime]]:
        """Each message with its first delivery time; a throttled ask takes its place
        under its caps here, in the command's transaction (issue 17)."""
        for m in messages:
            due = m.due(at or m.at)
            throttle = m.throttle
            if throttle is not None and throttle.caps:
                counters = SqlThrottles(conn, self.tables.throttle)
                due = slot(throttle.caps, due, throttle.opens, counters.reserve, counters.release)
                if due != (at or m.at):
                    m = replace(m, not_before=due)
            yield m, due

    # ---- schema ---------------------------------------------------------------------------

    def create_schema(self) -> None:
        """Create the tables if missing, upgrade tables of an older schema version in
        place, and record the schema version (idempotent)."""
        t = self.tables
        with self._transaction() as conn:
            found = self._version_in(conn)
            if found is not None and found > SCHEMA_VERSION:
                raise StoreError(
                    f"the tables with prefix {self.prefix!r} are at schema version {found}, "
                    f"newer than this commitladder ({SCHEMA_VERSION}); upgrade commitladder"
                )
            if found is not None and found < SCHEMA_VERSION:
                self._upgrade(conn, found)
            t.metadata.create_all(conn, checkfirst=True)
            if found is None:
                conn.execute(
                    t.meta.insert().values(name="schema_version", value=str(SCHEMA_VERSION))
                )
            elif found < SCHEMA_VERSION:
                conn.execute(
                    t.meta.update()
                    .where(t.meta.c.name == "schema_version")
                    .values(value=str(SCHEMA_VERSION))
                )

    def _version_in(self, conn: Connection) -> int | None:
        meta = self.tables.meta
        if not sa.inspect(conn).has_table(meta.name):
            return None
        found = conn.execute(
            sa.select(meta.c.value).where(meta.c.name == "schema_version")
        ).scalar()
        return int(found) if found is not None else None

    def _upgrade(self, conn: Connection, found: int) -> None:
        """Bring tables of schema version ``found`` to this one. Each step checks what
        is there first, so an upgrade cut short (MySQL commits every DDL statement)
        completes when ``create_schema()`` runs again."""
        if found < 2:
            self._upgrade_timers_into_enrollments(conn)
        # version 3 (issue 17, throttles) only adds <prefix>throttle, which create_all
        # makes: nothing to move

    def _upgrade_timers_into_enrollments(self, conn: Connection) -> None:
        """Version 1 kept one row per timer in ``<prefix>timers``; version 2 keeps an
        enrollment's timers in its own row, with the soonest due time indexed."""
        e = self.tables.enrollments
        inspector = sa.inspect(conn)
        present = {c["name"] for c in inspector.get_columns(e.name)}
        for column in (e.c.timers, e.c.next_due_at, e.c.timer_lease):
            if column.name not in present:
                kind = column.type.compile(dialect=conn.dialect)
                conn.exec_driver_sql(f"ALTER TABLE {e.name} ADD COLUMN {column.name} {kind}")
        for index in e.indexes:
            index.create(conn, checkfirst=True)
        if not inspector.has_table(f"{self.prefix}timers"):
            return
        old = _v1_timers(sa.MetaData(), self.prefix)
        by_enrollment: dict[str, list[DueTimer]] = {}
        for row in conn.execute(sa.select(old).order_by(old.c.due_at, old.c.id)):
            by_enrollment.setdefault(row.enrollment_id, []).append(
                DueTimer(row.enrollment_id, row.kind, row.due_at, row.rung)
            )
        for eid, timers in by_enrollment.items():
            encoded, next_due = _encode_timers(timers)
            conn.execute(
                e.update().where(e.c.id == eid).values(timers=encoded, next_due_at=next_due)
            )
        old.drop(conn)

    def schema_version(self) -> int | None:
        """The schema version recorded in the database, or ``None`` before ``create_schema()``."""
        with self._transaction(write=False) as conn:
            return self._version_in(conn)

    def drop_schema(self) -> None:
        """Drop every table of this prefix (tests, teardown)."""
        with self._transaction() as conn:
            self.tables.metadata.drop_all(conn, checkfirst=True)

    # ---- enrollments ----------------------------------------------------------------------

    def load(self, enrollment_id: str) -> StoredEnrollment | None:
        with self._transaction(write=False) as conn:
            rows = self._q.load.rows(conn, {"b_id": enrollment_id})
        return _stored(rows[0]) if rows else None

    def load_many(self, enrollment_ids: Sequence[str]) -> dict[str, StoredEnrollment]:
        """The stored enrollments among ``enrollment_ids``, by id, in one read (see
        ``BatchStore``)."""
        ids = list(dict.fromkeys(enrollment_ids))
        found: dict[str, StoredEnrollment] = {}
        with self._transaction(write=False) as conn:
            for count, by_name in _id_pages(ids):
                rows = self._q.load_in(count).rows(conn, by_name)
                found.update((row["id"], _stored(row)) for row in rows)
        return found

    def find(self, prospect: str) -> list[StoredEnrollment]:
        with self._transaction(write=False) as conn:
            rows = self._q.find.rows(conn, {"b_prospect": prospect})
        return [_stored(row) for row in rows]

    def events(self, enrollment_id: str) -> list[dict[str, Any]]:
        t = self.tables.events
        with self._transaction(write=False) as conn:
            rows = conn.execute(
                sa.select(t.c.body).where(t.c.enrollment_id == enrollment_id).order_by(t.c.seq)
            )
            return [row.body for row in rows]

    def event_log(self, *, ladder: str | None = None) -> Iterator[list[dict[str, Any]]]:
        """Every enrollment's events (of ``ladder``, or of all), one list per enrollment,
        oldest first: what the funnel and the forecast read. Read in one transaction."""
        t, e = self.tables.events, self.tables.enrollments
        query = sa.select(t.c.enrollment_id, t.c.body).order_by(t.c.enrollment_id, t.c.seq)
        if ladder is not None:
            query = query.join(e, e.c.id == t.c.enrollment_id).where(e.c.ladder == ladder)
        with self._transaction(write=False) as conn:
            current: str | None = None
            batch: list[dict[str, Any]] = []
            for eid, body in conn.execute(query):
                if eid != current and batch:
                    yield batch
                    batch = []
                current = eid
                batch.append(body)
            if batch:
                yield batch

    def count(self) -> int:
        """How many enrollments are stored."""
        t = self.tables.enrollments
        with self._transaction(write=False) as conn:
            return int(conn.execute(sa.select(sa.func.count()).select_from(t)).scalar_one())

    def apply(self, change: Change) -> Receipt | None:
        """Write ``change`` in one transaction; ``None`` when written, or the first
        ``Receipt`` when the change's idempotency key was used already (nothing written)."""
        q = self._q
        eid = change.enrollment_id
        new = change.expected_version == 0
        with self._transaction() as conn:
            try:
                if change.receipt is not None:
                    first = self._remember_in(conn, change.receipt, change.now)
                    if first is not None:
                        return first
                queued = list(self._queued(conn, change.messages, change.now))
                timers = list(change.timers)
                for m, due in queued:  # a queued ask's follow-up counts from its queued time
                    if m.throttle is not None:
                        timers = queued_timers(timers, m.throttle, due)
                if timers != list(change.timers):
                    change = replace(change, timers=timers)
                self._write_enrollment(conn, change, new)
                if change.events:
                    q.events.run_many(conn, [_event_row(eid, ev) for ev in change.events])
                if change.ask_changed:
                    if change.had_ask and not new:
                        q.delete_ask.run(conn, {"b_id": eid})
                    if change.open_ask is not None:
                        self._open_ask(conn, change)
                if queued:
                    q.outbox.run_many(conn, [_message_row(eid, m, due) for m, due in queued])
            except sa_exc.IntegrityError as exc:
                raise ConflictError(
                    f"enrollment {eid!r} was written by another worker at the same time; "
                    "reload and try again"
                ) from exc
        return None

    def apply_all(self, changes: Sequence[Change]) -> None:
        """Write ``changes`` of stored enrollments in this session's transaction (see
        ``BatchStore``): one ``executemany`` per statement for the plain ones (a
        versioned update, events, a withdrawn ask, unthrottled messages), ``apply`` for
        any other. ``ConflictError`` when another writer moved one of them."""
        plain = [c for c in changes if _plain(c)]
        for change in changes:
            if not _plain(change) and self.apply(change) is not None:
                raise ConflictError(f"{change.enrollment_id!r}: its receipt was used already")
        if not plain:
            return
        q = self._q
        with self._transaction() as conn:
            try:
                updates: dict[bool, list[dict[str, Any]]] = {False: [], True: []}
                for c in plain:
                    row = self._enrollment_row(c, new=False)
                    row.update(b_id=c.enrollment_id, b_version=c.expected_version)
                    updates["timers" in row].append(row)
                for with_timers, rows in updates.items():
                    update = q.update_enrollment_timers if with_timers else q.update_enrollment
                    if rows and update.run_many(conn, rows) != len(rows):
                        raise ConflictError(
                            "an enrollment of this batch moved past the version read; "
                            "another writer changed it first"
                        )
                events = [_event_row(c.enrollment_id, ev) for c in plain for ev in c.events]
                if events:
                    q.events.run_many(conn, events)
                gone = [{"b_id": c.enrollment_id} for c in plain if c.ask_changed and c.had_ask]
                if gone:
                    q.delete_ask.run_many(conn, gone)
                messages = [
                    _message_row(c.enrollment_id, m, m.due(c.now or m.at))
                    for c in plain
                    for m in c.messages
                ]
                if messages:
                    q.outbox.run_many(conn, messages)
            except sa_exc.IntegrityError as exc:
                raise ConflictError(
                    f"a message or event of this batch was written by another worker: {exc.orig}"
                ) from exc

    @staticmethod
    def _enrollment_row(change: Change, *, new: bool) -> dict[str, Any]:
        """The enrollment's columns ``change`` writes (its timers only when they changed)."""
        row: dict[str, Any] = {
            "status": change.status,
            "version": change.expected_version + 1,
            "snapshot": change.snapshot,
            "fired": list(change.fired),
            "updated_at": change.now,
        }
        if new or change.timers_changed:
            row["timers"], row["next_due_at"] = _encode_timers(change.timers)
            row["timer_lease"] = None
        return row

    def _write_enrollment(self, conn: Connection, change: Change, new: bool) -> None:
        q = self._q
        eid = change.enrollment_id
        row = self._enrollment_row(change, new=new)
        if new:
            row.update(id=eid, prospect=change.prospect, ladder=change.ladder)
            if not q.insert_new(conn, q.insert_enrollment, row):
                raise ConflictError(
                    f"enrollment {eid!r} was enrolled by another worker at the same time"
                )
            return
        row.update(b_id=eid, b_version=change.expected_version)
        update = q.update_enrollment_timers if "timers" in row else q.update_enrollment
        if update.run(conn, row).rowcount != 1:
            raise ConflictError(
                f"enrollment {eid!r} moved past version {change.expected_version}; "
                "another writer changed it first"
            )

    def _open_ask(self, conn: Connection, change: Change) -> None:
        """Take the prospect's open-ask slot, or raise the ``AskPending`` of its holder."""
        ask = change.open_ask
        assert ask is not None
        row = {
            "slot": ask.slot,
            "enrollment_id": change.enrollment_id,
            "prospect": ask.prospect,
            "rung": ask.rung,
            "channel": ask.channel,
            "seq": ask.seq,
            "asked_at": ask.asked_at,
            "expires_at": ask.expires_at,
        }
        if self._q.insert_new(conn, self._q.insert_ask, row):
            return
        found = self._q.holder.rows(conn, {"b_slot": ask.slot})
        if not found:
            raise ConflictError(
                f"the open ask of {ask.prospect!r} was answered while {change.enrollment_id!r} "
                "asked; reload and try again"
            )
        raise ask_pending(OpenAsk(**found[0]), change.enrollment_id, ask.rung)

    def _remember_in(
        self, conn: Connection, receipt: Receipt, now: datetime | None
    ) -> Receipt | None:
        row = {
            "key": receipt.key,
            "command": receipt.command,
            "enrollment_id": receipt.enrollment_id,
            "result": dict(receipt.result),
            "created_at": now,
        }
        if self._q.insert_new(conn, self._q.receipt, row):
            return None
        first = self._recall_in(conn, receipt.key)
        if first is None:
            raise ConflictError(
                f"idempotency key {receipt.key!r} was taken and released meanwhile; try again"
            )
        return first

    def remember(self, receipt: Receipt, now: datetime) -> Receipt | None:
        """Store the receipt of a refused command; ``None`` when stored, or the first
        ``Receipt`` when its key was used already (nothing written)."""
        with self._transaction() as conn:
            return self._remember_in(conn, receipt, now)

    def _recall_in(self, conn: Connection, key: str) -> Receipt | None:
        rows = self._q.recall.rows(conn, {"b_key": key})
        if not rows:
            return None
        row = rows[0]
        return Receipt(row["key"], row["command"], row["enrollment_id"], row["result"])

    def recall(self, key: str) -> Receipt | None:
        with self._transaction(write=False) as conn:
            return self._recall_in(conn, key)

    def open_asks(self) -> list[OpenAsk]:
        """Every open ask held now (for tests and inspection)."""
        a = self.tables.open_asks
        with self._transaction(write=False) as conn:
            rows = conn.execute(sa.select(a).order_by(a.c.slot)).all()
        return [OpenAsk(**r._mapping) for r in rows]  # noqa: SLF001 (Row's public mapping view)

    # ---- timers ---------------------------------------------------------------------------

    def claim_timers(
        self, now: datetime, limit: int, lease_until: datetime, *, tenant: str | None = None
    ) -> list[DueTimer]:
        """The due timers of up to ``limit`` enrollments whose soonest timer is due and
        not leased by another worker; their enrollments are leased until ``lease_until``."""
        rows = self._claim_due(now, limit, lease_until, tenant, read=False)
        return _due_timers(rows, now)

    def claim_due(
        self, now: datetime, limit: int, lease_until: datetime, *, tenant: str | None = None
    ) -> tuple[list[DueTimer], dict[str, StoredEnrollment]]:
        """``claim_timers``, and the claimed enrollments by id, read by the claim's own
        statement (see ``ClaimReadStore``): ``run_due`` then needs no second read."""
        rows = self._claim_due(now, limit, lease_until, tenant, read=True)
        return _due_timers(rows, now), {row["id"]: _stored(row) for row in rows}

    def _claim_due(
        self, now: datetime, limit: int, lease_until: datetime, tenant: str | None, *, read: bool
    ) -> list[dict[str, Any]]:
        """Lease up to ``limit`` enrollments with a due timer (of ``tenant``, or of every
        tenant): their ids and timers, and with ``read`` what ``load`` reads. Every
        worker's claim (no tenant) runs statements compiled once."""
        e = self.tables.enrollments
        if tenant is not None:
            query = (
                sa.select(*_claimed_columns(e, read=read))
                .where(
                    e.c.next_due_at <= now,
                    sa.or_(e.c.timer_lease.is_(None), e.c.timer_lease <= now),
                    *_of_tenant(e.c.id, tenant),
                )
                .order_by(e.c.next_due_at)
                .limit(limit)
            )
            found = self._claim(e, e.c.timer_lease, query, lease_until)
            return [dict(r._mapping) for r in found]  # noqa: SLF001 (Row's public mapping view)
        q = self._q
        with self._transaction() as conn:
            claim = q.claim_due(self._skip_locked, read)
            rows = claim.rows(conn, {"b_now": now, "b_limit": limit})
            for count, by_name in _id_pages([row["id"] for row in rows]):
                q.lease_in(count).run(conn, {**by_name, "timer_lease": lease_until})
        return rows

    def _claim(
        self, table: sa.Table, lease: sa.Column[Any], query: sa.Select[Any], lease_until: datetime
    ) -> list[Any]:
        """Lease the rows ``query`` finds (skipping rows other workers hold, where the
        database can) so that no two workers take the same one."""
        if self._skip_locked:
            query = query.with_for_update(skip_locked=True)
        key = table.primary_key.columns.values()[0]
        with self._transaction() as conn:
            rows = list(conn.execute(query).all())
            if rows:
                conn.execute(
                    table.update()
                    .where(key.in_([getattr(r, key.key) for r in rows]))
                    .values({lease: lease_until})
                )
        return rows

    def timers(self) -> list[DueTimer]:
        """Every stored timer, soonest first (for tests and inspection)."""
        e = self.tables.enrollments
        with self._transaction(write=False) as conn:
            rows = conn.execute(
                sa.select(e.c.id, e.c.timers).where(e.c.next_due_at.is_not(None))
            ).all()
        found = [t for row in rows for t in _decode_timers(row.id, row.timers)]
        return sorted(found, key=lambda t: (t.due_at, t.enrollment_id))

    # ---- outbox ---------------------------------------------------------------------------

    @staticmethod
    def _entry(row: Any) -> OutboxEntry:
        return OutboxEntry(
            message=Message.from_dict(row.body),
            status=row.status,
            attempts=row.attempts,
            next_attempt_at=row.next_attempt_at,
            last_error=row.last_error,
            sent_at=row.sent_at,
        )

    def claim_messages(
        self, now: datetime, limit: int, lease_until: datetime, *, tenant: str | None = None
    ) -> list[OutboxEntry]:
        o = self.tables.outbox
        query = (
            sa.select(o)
            .where(
                o.c.status == "pending",
                o.c.next_attempt_at <= now,
                sa.or_(o.c.lease_until.is_(None), o.c.lease_until <= now),
                *_of_tenant(o.c.enrollment_id, tenant),
            )
            .order_by(o.c.id)
            .limit(limit)
        )
        return [self._entry(r) for r in self._claim(o, o.c.lease_until, query, lease_until)]

    def message_sent(self, key: str, now: datetime) -> None:
        o = self.tables.outbox
        with self._transaction() as conn:
            conn.execute(
                o.update()
                .where(o.c.key == key)
                .values(
                    status="sent",
                    attempts=o.c.attempts + 1,
                    sent_at=now,
                    lease_until=None,
                    last_error=None,
                )
            )

    def message_failed(self, key: str, error: str, retry_at: datetime | None) -> None:
        """Record a failed attempt; ``error`` may be any text (lone surrogates and NUL
        bytes, which databases refuse, are escaped)."""
        o = self.tables.outbox
        values: dict[str, Any] = {
            "attempts": o.c.attempts + 1,
            "last_error": clean_text(error),
            "lease_until": None,
            "status": "pending" if retry_at is not None else "dead",
        }
        if retry_at is not None:
            values["next_attempt_at"] = retry_at
        with self._transaction() as conn:
            conn.execute(o.update().where(o.c.key == key).values(**values))

    def outbox(self, status: OutboxStatus | None = None) -> list[OutboxEntry]:
        """The outbox, oldest first; ``status`` keeps only ``pending``, ``sent`` or ``dead``."""
        o = self.tables.outbox
        query = sa.select(o).order_by(o.c.id)
        if status is not None:
            query = query.where(o.c.status == status)
        with self._transaction(write=False) as conn:
            return [self._entry(r) for r in conn.execute(query)]

    def redrive(self, keys: Sequence[str] | None, now: datetime) -> int:
        o = self.tables.outbox
        query = o.update().where(o.c.status == "dead")
        if keys is not None:
            query = query.where(o.c.key.in_(list(keys)))
        with self._transaction() as conn:
            done = conn.execute(
                query.values(status="pending", attempts=0, next_attempt_at=now, lease_until=None)
            )
            return int(done.rowcount)

    def readdress(self, enrollment_id: str, prospect: str) -> int:
        """Give the enrollment, and its messages not yet delivered, to ``prospect``."""
        o, e = self.tables.outbox, self.tables.enrollments
        with self._transaction() as conn:
            conn.execute(e.update().where(e.c.id == enrollment_id).values(prospect=prospect))
            rows = conn.execute(
                sa.select(o.c.id, o.c.body).where(
                    o.c.enrollment_id == enrollment_id, o.c.status != "sent"
                )
            ).all()
            for row in rows:
                body = {**row.body, "prospect": prospect}
                conn.execute(o.update().where(o.c.id == row.id).values(body=body))
        return len(rows)

    def find_many(self, prospects: Sequence[str]) -> list[StoredEnrollment]:
        """Every enrollment of any of ``prospects``, read in pages of 500 prospects."""
        unique = list(dict.fromkeys(prospects))
        found: list[StoredEnrollment] = []
        query = self._find_many_query()
        with self._transaction(write=False) as conn:
            jit = self._jit_off(conn)
            for start in range(0, len(unique), 500):
                rows = conn.execute(query, {"prospects": unique[start : start + 500]})
                found.extend(_stored(dict(row)) for row in rows.mappings())
            if jit is not None:  # as it was: this transaction may be the host's
                conn.execute(sa.select(sa.func.set_config("jit", jit, True)))
        return found

    def _jit_off(self, conn: Connection) -> str | None:
        """Turn PostgreSQL's JIT compiler off for the rest of this transaction; the
        setting it had (to put back), or None where there is nothing to turn off.

        On a table filled by a bulk load and not analyzed yet, the planner guesses
        hundreds of rows per prospect, so the lookup's estimated cost passes
        ``jit_above_cost`` and every page was compiled to machine code before it ran:
        about 100 ms of LLVM for half a millisecond of index probes (30% of the raw
        insert rate at 300,000 stored, 79% without it)."""
        if self.dialect != "postgresql" or (conn.dialect.server_version_info or (0,)) < (11,):
            return None
        row = conn.execute(
            sa.select(sa.func.current_setting("jit"), sa.func.set_config("jit", "off", True))
        ).one()
        return str(row[0])

    def _find_many_query(self) -> sa.Select[Any]:
        """The enrollments of a list of prospects (the bind ``prospects``).

        PostgreSQL plans ``prospect IN (...)`` from the table's statistics, and a table
        filled within one bulk load has none until it is analyzed: it then scans the
        whole table for every page (4% of the raw insert rate at 100,000). A ``LATERAL``
        probe per prospect (``OFFSET 0`` keeps the planner from flattening it into a
        join) is planned as one index lookup each, whatever the statistics say.
        SQLite and MySQL/MariaDB use the index for ``IN`` anyway."""
        e = self.tables.enrollments
        if self.dialect != "postgresql":
            return sa.select(e).where(e.c.prospect.in_(sa.bindparam("prospects", expanding=True)))
        wanted = (
            sa.func.unnest(sa.cast(sa.bindparam("prospects"), postgresql.ARRAY(e.c.prospect.type)))
            .table_valued("prospect")
            .render_derived(name="wanted")
        )
        probe = sa.select(e).where(e.c.prospect == wanted.c.prospect).offset(0).lateral("probe")
        return sa.select(probe).select_from(wanted).join(probe, sa.true())

    def enroll_all(self, changes: Sequence[Change]) -> None:
        """Insert new enrollments and their events, a statement per table (``COPY`` on
        PostgreSQL through psycopg 3: see ``_insert_all``)."""
        if not changes:
            return
        t = self.tables
        # no timer yet (``[]``, as ``apply`` spells none), so no due time and no lease
        fresh: tuple[Any, ...] = ([], None, None)
        enrollments: list[tuple[Any, ...]] = [
            (c.enrollment_id, c.prospect, c.ladder, c.status, 1, c.snapshot, [], c.now, *fresh)
            for c in changes
        ]
        events: list[tuple[Any, ...]] = [
            (c.enrollment_id, ev["seq"], ev["type"], datetime.fromisoformat(ev["at"]), ev)
            for c in changes
            for ev in c.events
        ]
        with self._transaction() as conn:
            try:
                _insert_all(conn, t.enrollments, _ENROLLED, enrollments)
                _insert_all(conn, t.events, _EVENT, events)
            except sa_exc.IntegrityError as exc:
                raise ConflictError(
                    "some of these enrollments exist already (enrolled meanwhile); "
                    "nothing of this batch was written"
                ) from exc

    def scan(self, ladder: str, *, after: str | None, limit: int) -> list[StoredEnrollment]:
        """A page of live enrollments on ``ladder``, by id (see ``LifecycleStore.scan``)."""
        e = self.tables.enrollments
        query = sa.select(e).where(e.c.ladder == ladder, e.c.status != "ended")
        if after is not None:
            query = query.where(e.c.id > after)
        with self._transaction(write=False) as conn:
            rows = conn.execute(query.order_by(e.c.id).limit(limit)).mappings().all()
        return [_stored(dict(row)) for row in rows]

    def erase(
        self,
        enrollment_id: str,
        *,
        new_id: str,
        prospect: str,
        snapshot: Mapping[str, Any],
        events: Sequence[Mapping[str, Any]],
    ) -> tuple[int, int]:
        """Replace an ended enrollment by the anonymous one the tracker made, and delete its
        messages, open-ask row and receipts (see ``LifecycleStore.erase``)."""
        t = self.tables
        e, ev, o, a, i = t.enrollments, t.events, t.outbox, t.open_asks, t.idempotency
        with self._transaction() as conn:
            row = conn.execute(sa.select(e).where(e.c.id == enrollment_id)).one()
            conn.execute(ev.delete().where(ev.c.enrollment_id == enrollment_id))
            conn.execute(a.delete().where(a.c.enrollment_id == enrollment_id))
            messages = conn.execute(o.delete().where(o.c.enrollment_id == enrollment_id))
            receipts = conn.execute(i.delete().where(i.c.enrollment_id == enrollment_id))
            conn.execute(e.delete().where(e.c.id == enrollment_id))
            conn.execute(
                e.insert().values(
                    id=new_id,
                    prospect=prospect,
                    ladder=row.ladder,
                    status=row.status,
                    version=row.version + 1,
                    snapshot=dict(snapshot),
                    fired=[],
                    updated_at=row.updated_at,
                    timers=None,
                    next_due_at=None,
                    timer_lease=None,
                )
            )
            if events:
                conn.execute(
                    ev.insert(),
                    [
                        {
                            "enrollment_id": new_id,
                            "seq": event["seq"],
                            "type": event["type"],
                            "at": datetime.fromisoformat(event["at"]),
                            "body": dict(event),
                        }
                        for event in events
                    ],
                )
        return int(messages.rowcount), int(receipts.rowcount)

    def purge(
        self,
        *,
        sent_before: datetime | None,
        dead_before: datetime | None,
        receipts_before: datetime | None,
        limit: int,
    ) -> PurgeReport:
        """Delete up to ``limit`` delivered and dead outbox rows and receipts older than
        their horizons (found by key, then deleted by key: portable, and each batch short)."""
        o, i = self.tables.outbox, self.tables.idempotency
        kinds: list[tuple[sa.Table, sa.Column[Any], Sequence[sa.ColumnElement[bool]]] | None] = [
            (o, o.c.id, (o.c.status == "sent", o.c.sent_at < sent_before)) if sent_before else None,
            (o, o.c.id, (o.c.status == "dead", o.c.next_attempt_at < dead_before))
            if dead_before
            else None,
            (i, i.c.key, (i.c.created_at < receipts_before,)) if receipts_before else None,
        ]
        counts = []
        with self._transaction() as conn:
            for kind in kinds:
                if kind is None:
                    counts.append(0)
                    continue
                table, key, where = kind
                keys = list(conn.execute(sa.select(key).where(*where).limit(limit)).scalars())
                if keys:
                    conn.execute(table.delete().where(key.in_(keys)))
                counts.append(len(keys))
        return PurgeReport(sent=counts[0], dead=counts[1], receipts=counts[2])


class AsyncSqlStore:
    """The store of an ``AsyncTracker``: ``SqlStore`` on SQLAlchemy's asyncio extension.

    ``bind`` is a URL with an asyncio driver (``"sqlite+aiosqlite:///ladders.db"``,
    ``"postgresql+asyncpg://..."``, ``"mysql+asyncmy://..."``; install
    ``commitladder[async]``) or an ``AsyncEngine``. The tables, statements and promises
    are ``SqlStore``'s, so sync and async workers can share one database. Each call runs
    ``SqlStore``'s own code (``sync``) on a connection lent by SQLAlchemy's
    ``AsyncConnection.run_sync``, which runs it in a greenlet where every statement
    awaits the driver: the event loop never waits on the database, and nothing here
    writes a statement twice. Call ``await create_schema()`` once and ``await close()``
    at the end; anything else a ``SqlStore`` does is ``await store.run(lambda s: ...)``.
    """

    def __init__(
        self,
        bind: str | sa.URL | AsyncEngine,
        *,
        prefix: str = "commitladder_",
        skip_locked: bool | None = None,
    ) -> None:
        from sqlalchemy.ext.asyncio import AsyncEngine

        if isinstance(bind, AsyncEngine):
            self.engine: AsyncEngine = bind
        elif isinstance(bind, (str, sa.URL)):
            self.engine = _async_engine(bind)
        else:
            raise TypeError(
                f"AsyncSqlStore takes a database URL or an AsyncEngine, not "
                f"{type(bind).__name__}; a synchronous Engine goes to SqlStore"
            )
        self._owns_engine = not isinstance(bind, AsyncEngine)
        self.sync: SqlStore = SqlStore(
            self.engine.sync_engine, prefix=prefix, skip_locked=skip_locked
        )
        self.tables: Tables = self.sync.tables
        self.prefix = prefix
        self.dialect: str = self.sync.dialect

    @property
    def metadata(self) -> sa.MetaData:
        """The ``MetaData`` holding the store's tables (``tables.metadata``)."""
        return self.tables.metadata

    async def run(self, call: Callable[[SqlStore], _T]) -> _T:
        """Run ``call`` with a ``SqlStore`` whose transactions begin and commit on one
        connection of the pool, its every statement awaited; return what it returns.

        ``call`` is plain synchronous code (an ``AsyncTracker`` passes its ``Tracker``'s
        commands): it must not block on anything but the store."""
        try:
            async with self.engine.connect() as conn:
                return await conn.run_sync(
                    lambda sync: call(SqlStore.on_connection(sync, self.sync))
                )
        except sa_exc.DBAPIError as exc:  # connecting: the store translates the rest
            raise _translate(exc) from exc

    async def create_schema(self) -> None:
        """Create the tables if missing and upgrade older ones (``SqlStore.create_schema``)."""
        await self.run(lambda store: store.create_schema())

    async def drop_schema(self) -> None:
        """Drop every table of this prefix (tests, teardown)."""
        await self.run(lambda store: store.drop_schema())

    async def close(self) -> None:
        """Release the connection pool if this store created it."""
        if self._owns_engine:
            await self.engine.dispose()

    def __repr__(self) -> str:
        return f"<AsyncSqlStore {self.dialect} prefix={self.prefix!r}>"


def _async_engine(url: str | sa.URL) -> AsyncEngine:
    """An ``AsyncEngine`` with the options ``SqlStore`` gives its own engines."""
    from sqlalchemy.ext.asyncio import create_async_engine

    parsed = sa.make_url(url)
    backend = parsed.get_backend_name()
    if backend == "sqlite" and parsed.database in (None, "", ":memory:"):
        raise StoreError(
            "an in-memory SQLite database lives in one connection, and concurrent async "
            "calls need one each: give AsyncSqlStore a file (sqlite+aiosqlite:///ladders.db)"
        )
    try:
        engine = create_async_engine(parsed, **_engine_args(parsed))
    except (sa_exc.InvalidRequestError, ImportError) as exc:
        raise StoreError(
            f"{parsed.drivername!r} is not an asyncio driver that is installed ({exc}); "
            "use sqlite+aiosqlite, postgresql+asyncpg or mysql+asyncmy "
            "(pip install 'commitladder[async]')"
        ) from exc
    if backend == "sqlite":
        _sqlite_events(engine.sync_engine, parsed)
    return engine


# SQLSTATE / driver codes that mean "another transaction got in the way: try again"
_RETRYABLE_PG = {"40001", "40P01", "55P03"}
_RETRYABLE_MYSQL = {1205, 1213}


# the columns ``enroll_all`` writes, in the order of its rows
_ENROLLED = (
    *("id", "prospect", "ladder", "status", "version", "snapshot", "fired", "updated_at"),
    *("timers", "next_due_at", "timer_lease"),
)
_EVENT = ("enrollment_id", "seq", "type", "at", "body")


def _insert_all(
    conn: Connection, table: sa.Table, columns: Sequence[str], rows: Sequence[Sequence[Any]]
) -> None:
    """Insert ``rows`` (values of ``columns``, as ``table.insert()`` takes them) into
    ``table`` on ``conn``'s transaction, the fastest way its driver offers.

    SQLAlchemy's ``executemany`` builds and processes a dict of parameters per row, which
    costs more than the database's work on a bulk load. So with a blocking driver that
    allows it, the rows go to the driver itself: ``COPY ... FROM STDIN`` through
    psycopg 3 (1.7 times the rows per second of its pipelined ``executemany``), sqlite3's
    ``executemany`` of one prepared ``INSERT``. Each value goes through its column
    type's bind processing first, so the bytes are an ``INSERT``'s (a test compares
    them), and a driver's error is wrapped as SQLAlchemy wraps it."""
    if not rows:
        return
    dialect = conn.dialect
    fast = not dialect.is_async and (
        (dialect.name == "postgresql" and dialect.driver == "psycopg")
        or (dialect.name == "sqlite" and dialect.driver == "pysqlite")
    )
    if not fast:
        conn.execute(table.insert(), [dict(zip(columns, row, strict=True)) for row in rows])
        return
    quote = dialect.identifier_preparer
    names = f"{quote.format_table(table)} ({', '.join(map(quote.quote, columns))})"
    encoded = []  # the values to encode, and how
    for i, name in enumerate(columns):
        process = bind_for(table.c[name].type, dialect)
        if process is not None:
            encoded.append((i, process))
    dbapi = dialect.loaded_dbapi
    cursor = conn.connection.dbapi_connection.cursor()  # type: ignore[union-attr]
    statement = f"COPY {names} FROM STDIN"
    try:
        if dialect.name == "postgresql":
            with cursor.copy(statement) as copy:
                for row in rows:
                    copy.write_row(_encoded(row, encoded))
        else:
            statement = f"INSERT INTO {names} VALUES ({', '.join('?' * len(columns))})"
            cursor.executemany(statement, [_encoded(row, encoded) for row in rows])
    except dbapi.Error as exc:  # as SQLAlchemy wraps a driver's error (IntegrityError, ...)
        raise sa_exc.DBAPIError.instance(statement, None, exc, dbapi.Error) from exc
    finally:
        cursor.close()


def _encoded(row: Sequence[Any], encoded: Sequence[tuple[int, Callable[[Any], Any]]]) -> list[Any]:
    values = list(row)
    for i, encode in encoded:
        values[i] = encode(values[i])
    return values


def _translate(exc: sa_exc.DBAPIError) -> StoreError:
    """Map a driver error to ours: the one place foreign errors are understood."""
    orig = exc.orig
    if isinstance(exc, sa_exc.IntegrityError):
        return ConflictError(f"another writer got there first: {orig}")
    sqlstate = getattr(orig, "sqlstate", None)
    code = orig.args[0] if orig is not None and orig.args else None
    text = str(orig).lower()
    if (
        sqlstate in _RETRYABLE_PG
        or code in _RETRYABLE_MYSQL
        or "database is locked" in text
        or "deadlock" in text
    ):
        return ConflictError(f"the database asked us to retry: {orig}")
    if isinstance(exc, sa_exc.OperationalError):
        return StoreError(f"the database is unavailable or refused the operation: {orig}")
    return StoreError(f"the database refused the operation: {orig}")
