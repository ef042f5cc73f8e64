"""``SqlStore``: the ``Store`` on SQLAlchemy Core, for SQLite, PostgreSQL and MySQL/MariaDB.

The store's one module on SQLAlchemy (install ``commitladder[sql]``, or the
``postgres`` / ``mysql`` extras for their drivers); ``_stats`` (the tools' read-only
counts) and ``contrib.django`` reuse its tables and engines. The database keeps the promises:
a version column for optimistic concurrency, a unique key on the prospect's open
ask, a primary key on idempotency keys, and one transaction per command. Foreign
errors are translated in one place, ``_translate``; nothing here ever decides
anything about a ladder.
"""

from __future__ import annotations

import copy
import json
import re
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, NoReturn, cast

import sqlalchemy as sa
from sqlalchemy import event as sa_event
from sqlalchemy import exc as sa_exc
from sqlalchemy.dialects import mysql, sqlite
from sqlalchemy.engine import Connection, Dialect, Engine

from ._errors import ConflictError, LadderError, StoreError
from ._messaging import Message
from .store import (
    SCHEMA_VERSION,
    Change,
    DueTimer,
    KeyReplayed,
    OpenAsk,
    OutboxEntry,
    OutboxStatus,
    Receipt,
    StoredEnrollment,
    ask_pending,
)

__all__ = ["SqlStore"]

_WRITE = "commitladder_write"


class _Time(sa.types.TypeDecorator[datetime]):
    """An instant: stored as naive UTC (microseconds kept on MySQL), read back aware."""

    impl = sa.DateTime
    cache_ok = True

    def load_dialect_impl(self, dialect: Dialect) -> sa.types.TypeEngine[Any]:
        if dialect.name in ("mysql", "mariadb"):
            return dialect.type_descriptor(mysql.DATETIME(fsp=6))
        return dialect.type_descriptor(sa.DateTime())

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.astimezone(UTC).replace(tzinfo=None)

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        return value.replace(tzinfo=UTC) if value is not None else None

    def fast_bind(self, dialect: Dialect) -> Callable[[Any], Any]:
        """``bind_processor`` in one function, for the hot statements (``_Raw``)."""
        if dialect.name == "sqlite":
            # SQLAlchemy's SQLite DATETIME storage format, formatted without a dict: this
            # replaces the dialect's own processor, so it is returned as is
            text = "%04d-%02d-%02d %02d:%02d:%02d.%06d"

            def to_text(value: datetime | None) -> str | None:
                if value is None:
                    return None
                u = value if value.tzinfo is UTC else value.astimezone(UTC)
                return text % (u.year, u.month, u.day, u.hour, u.minute, u.second, u.microsecond)

            return to_text
        naive = self.process_bind_param
        return _fused(self, dialect, lambda value: naive(value, dialect))


def _fused(
    kind: sa.types.TypeDecorator[Any], dialect: Dialect, convert: Callable[[Any], Any]
) -> Callable[[Any], Any]:
    """``convert`` (our ``process_bind_param``) and the dialect's own processor of the
    column's type, as one function: the values SQLAlchemy's layers of calls give (a test
    compares them), for the hot statements (``_Raw``)."""
    inner = kind.load_dialect_impl(dialect).bind_processor(dialect)
    if inner is None:
        return convert
    return lambda value: inner(convert(value))


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
        return None if value is None else _dumps(value)

    def process_result_value(self, value: str | None, dialect: Dialect) -> Any:
        return None if value is None else json.loads(value)

    def fast_bind(self, dialect: Dialect) -> Callable[[Any], Any]:
        """``bind_processor`` in one function, for the hot statements (``_Raw``)."""
        return _fused(self, dialect, lambda value: None if value is None else _dumps(value))


def _tables(metadata: sa.MetaData, prefix: str) -> dict[str, sa.Table]:
    ident = sa.String(255)
    p = prefix
    return {
        "meta": sa.Table(
            f"{p}meta",
            metadata,
            sa.Column("name", sa.String(64), primary_key=True),
            sa.Column("value", sa.String(255), nullable=False),
        ),
        "enrollments": sa.Table(
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
        ),
        "events": sa.Table(
            f"{p}events",
            metadata,
            sa.Column("enrollment_id", ident, primary_key=True),
            sa.Column("seq", sa.Integer, primary_key=True, autoincrement=False),
            sa.Column("type", sa.String(32), nullable=False),
            sa.Column("at", _Time, nullable=False),
            sa.Column("body", _Json, nullable=False),
        ),
        "open_asks": sa.Table(
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
        "timers": sa.Table(
            f"{p}timers",
            metadata,
            sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
            sa.Column("enrollment_id", ident, nullable=False, index=True),
            sa.Column("kind", sa.String(32), nullable=False),
            sa.Column("due_at", _Time, nullable=False, index=True),
            sa.Column("rung", ident, nullable=True),
            sa.Column("lease_until", _Time, nullable=True),
        ),
        "outbox": sa.Table(
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
        "idempotency": sa.Table(
            f"{p}idempotency",
            metadata,
            sa.Column("key", ident, primary_key=True),
            sa.Column("command", sa.String(32), nullable=False),
            sa.Column("enrollment_id", ident, nullable=False),
            sa.Column("result", _Json, nullable=False),
            sa.Column("created_at", _Time, nullable=True),
        ),
    }


def _sqlite_engine(url: sa.URL) -> Engine:
    """SQLite with WAL and real transactions: writers take the lock at BEGIN IMMEDIATE,
    so two writers queue instead of deadlocking on a lock upgrade."""
    engine = sa.create_engine(url, connect_args={"timeout": 30})
    memory = url.database in (None, "", ":memory:")

    @sa_event.listens_for(engine, "connect")
    def _connect(dbapi_conn: Any, record: Any) -> None:
        dbapi_conn.isolation_level = None  # let SQLAlchemy's begin event issue BEGIN
        cursor = dbapi_conn.cursor()
        if not memory:
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute("PRAGMA busy_timeout=30000")
        cursor.close()

    @sa_event.listens_for(engine, "begin")
    def _begin(conn: Connection) -> None:
        if conn.connection.dbapi_connection.in_transaction:  # type: ignore[union-attr]
            return  # a Connection on a lean transaction's driver connection: begun already
        # on the driver's cursor: through SQLAlchemy this cost as much as a command's writes
        with _Tx.around(conn) as tx:
            _sqlite_begin(tx, write=conn.get_execution_options().get(_WRITE, False))

    return engine


def _make_engine(url: str | sa.URL) -> Engine:
    parsed = sa.make_url(url)
    backend = parsed.get_backend_name()
    if backend == "sqlite":
        return _sqlite_engine(parsed)
    if backend in ("mysql", "mariadb"):
        # READ COMMITTED: InnoDB's default REPEATABLE READ takes gap locks that make
        # racing inserts deadlock far more often, and we rely on versions anyway
        return sa.create_engine(parsed, isolation_level="READ COMMITTED")
    return sa.create_engine(parsed)


class _Raw:
    """One hot statement compiled once for the store's dialect and run on the DB-API cursor.

    SQLAlchemy's execution path costs about 40 µs per statement against a few for the
    driver, and a command runs five to eight of them. So the statements every command
    runs are compiled here once, with their bind and result processors taken from the
    column types (the same conversions SQLAlchemy applies), and executed on the cursor of
    the transaction's driver connection (``_Tx``); pooling and every other statement stay
    SQLAlchemy's. Driver errors become SQLAlchemy's ``DBAPIError`` subclasses, so
    ``_translate`` maps them as before, and ``before_cursor_execute`` /
    ``after_cursor_execute`` listeners still hear each statement (with ``context=None``).
    """

    __slots__ = ("_binds", "_names", "_plan", "_positional", "_results", "sql")

    def __init__(self, statement: sa.ClauseElement, dialect: Dialect, keys: Sequence[str] = ()):
        compiled: Any = statement.compile(dialect=dialect, column_keys=list(keys) or None)
        self.sql: str = compiled.string
        self._positional: bool = bool(compiled.positional)
        self._names: tuple[str, ...] = (
            tuple(compiled.positiontup) if self._positional else tuple(compiled.binds)
        )
        self._binds: dict[str, Callable[[Any], Any]] = {}
        for name in self._names:
            kind = compiled.binds[name].type
            fast = getattr(kind, "fast_bind", None)
            proc = fast(dialect) if fast else kind.dialect_impl(dialect).bind_processor(dialect)
            if proc is not None:
                self._binds[name] = proc
        self._plan = tuple((n, self._binds.get(n)) for n in self._names)
        self._results: list[tuple[str, Callable[[Any], Any] | None]] = []
        if isinstance(statement, sa.Select):
            for col in statement.selected_columns:
                proc = col.type.dialect_impl(dialect).result_processor(dialect, None)
                self._results.append((str(col.key), proc))

    def _params(self, row: dict[str, Any]) -> Any:
        if self._positional:
            return [row[n] if p is None else p(row[n]) for n, p in self._plan]
        return {n: row[n] if p is None else p(row[n]) for n, p in self._plan}

    def execute(self, tx: _Tx, rows: dict[str, Any] | list[dict[str, Any]]) -> int:
        """Execute with one row (or many, as executemany); return the rows changed."""
        return int(self._run(tx, rows).rowcount)

    def _run(self, tx: _Tx, rows: dict[str, Any] | list[dict[str, Any]]) -> Any:
        many = isinstance(rows, list)
        params = [self._params(r) for r in rows] if many else self._params(rows)  # type: ignore[arg-type]
        cursor = tx.cursor()
        if tx.before:
            tx.dispatch.before_cursor_execute(tx.sa, cursor, self.sql, params, None, many)
        try:
            if many:
                cursor.executemany(self.sql, params)
            else:
                cursor.execute(self.sql, params)
        except tx.dialect.loaded_dbapi.Error as err:
            raise tx.failed(err, self.sql, params) from err
        if tx.after:
            tx.dispatch.after_cursor_execute(tx.sa, cursor, self.sql, params, None, many)
        return cursor

    def first(self, tx: _Tx, row: dict[str, Any]) -> dict[str, Any] | None:
        """The first row of a select, processed like SQLAlchemy's, as a dict; or None."""
        found = self._run(tx, row).fetchone()
        if found is None:
            return None
        return {
            key: proc(value) if proc is not None else value
            for (key, proc), value in zip(self._results, found, strict=True)
        }


class _Tx:
    """One transaction, as the hot statements (``_Raw``) and the rest (``sa``) see it.

    Either around a SQLAlchemy ``Connection`` (a host's, or one with statement listeners
    to call: SQLAlchemy begins, commits and rolls back), or *lean*: a pooled driver
    connection of an engine the store made, begun, committed and rolled back here, with
    a ``Connection`` built on it only if a statement outside the hot path needs one.
    SQLAlchemy's connect, begin and commit cost about as much as a command's
    statements; the pool (checkout, reset, invalidation) stays SQLAlchemy's.
    """

    __slots__ = ("_cursor", "_sa", "after", "before", "dialect", "dispatch", "engine", "fairy")

    def __init__(self, engine: Engine, fairy: Any, conn: Connection | None) -> None:
        self.engine = engine
        self.dialect: Dialect = engine.dialect
        self.fairy = fairy  # the pool's proxy of the driver's connection
        self._sa = conn
        self._cursor: Any = None
        self.dispatch: Any = conn.dispatch if conn is not None else engine.dispatch
        # asked once per transaction (a few µs a statement); never when lean, which runs
        # only where nobody listens (``heard``)
        self.before = conn is not None and bool(self.dispatch.before_cursor_execute)
        self.after = conn is not None and bool(self.dispatch.after_cursor_execute)

    @classmethod
    @contextmanager
    def around(cls, conn: Connection) -> Iterator[_Tx]:
        """A transaction SQLAlchemy runs on ``conn``: it begins, commits, rolls back."""
        tx = cls(conn.engine, conn.connection, conn)
        try:
            yield tx
        finally:
            tx.close_cursor()

    @staticmethod
    def heard(engine: Engine) -> bool:
        """Whether statement listeners on ``engine`` expect a ``Connection`` to be called with."""
        dispatch: Any = engine.dispatch
        return bool(dispatch.before_cursor_execute or dispatch.after_cursor_execute)

    @property
    def sa(self) -> Connection:
        """A SQLAlchemy ``Connection`` in this transaction (built on first use when lean)."""
        if self._sa is None:
            # its autobegin finds the driver in our transaction (see _sqlite_engine's hook)
            self._sa = Connection(self.engine, self.fairy)
        return self._sa

    def cursor(self) -> Any:
        if self._cursor is None:
            self._cursor = self.fairy.cursor()
        return self._cursor

    def failed(self, err: Any, sql: str, params: Any) -> sa_exc.DBAPIError:
        """The driver's ``err`` as SQLAlchemy's error, as its own execution would raise it;
        a lost connection is invalidated, so the pool never hands it out again."""
        gone = bool(self.dialect.is_disconnect(err, self.fairy.dbapi_connection, self._cursor))
        if gone and self._sa is None:
            self.fairy.invalidate(err)
        wrapped = sa_exc.DBAPIError.instance(
            sql,
            params,
            err,
            self.dialect.loaded_dbapi.Error,
            dialect=self.dialect,
            connection_invalidated=gone,
        )
        return cast(sa_exc.DBAPIError, wrapped)  # a driver error always becomes a DBAPIError

    def close_cursor(self) -> None:
        if self._cursor is not None:
            self._cursor.close()
            self._cursor = None

    # ---- a lean transaction's life --------------------------------------------------------

    @classmethod
    @contextmanager
    def lean(cls, engine: Engine, *, write: bool) -> Iterator[_Tx]:
        """A transaction on a pooled driver connection of ``engine``; only where nobody
        listens to statements (``heard``), and nobody else holds events on ``engine``."""
        dbapi_error = engine.dialect.loaded_dbapi.Error
        try:
            fairy = engine.raw_connection()
        except dbapi_error as err:  # no connection: as SQLAlchemy's connect() reports it
            raise sa_exc.DBAPIError.instance(
                None, None, err, dbapi_error, dialect=engine.dialect
            ) from err
        tx = cls(engine, fairy, None)
        try:
            if tx.dialect.name == "sqlite":  # the driver leaves beginning to us
                _sqlite_begin(tx, write=write)
            yield tx
            tx._end(commit=True)
        except BaseException:
            try:
                tx._end(commit=False)
            except sa_exc.DBAPIError:
                fairy.invalidate()  # in doubt: the pool must not hand it out again
            raise
        finally:
            tx.close_cursor()
            fairy.close()  # back to the pool, which resets it

    def _end(self, *, commit: bool) -> None:
        conn = self._sa
        if conn is not None and conn.in_transaction():  # it began: it ends the transaction
            if commit:
                conn.commit()
            else:
                conn.rollback()
            return
        try:
            if commit:
                self.fairy.commit()
            else:
                self.fairy.rollback()
        except self.dialect.loaded_dbapi.Error as err:
            raise self.failed(err, "COMMIT" if commit else "ROLLBACK", ()) from err


_BEGIN_IMMEDIATE = _Raw(sa.text("BEGIN IMMEDIATE"), sqlite.dialect())
_BEGIN = _Raw(sa.text("BEGIN"), sqlite.dialect())


def _sqlite_begin(tx: _Tx, *, write: bool) -> None:
    """Writers take SQLite's write lock at the start (see ``_sqlite_engine``)."""
    (_BEGIN_IMMEDIATE if write else _BEGIN).execute(tx, {})


@dataclass(frozen=True, slots=True)
class _Compiled:
    """The statements every command runs, built and compiled once per store (see ``_Raw``)."""

    load: _Raw
    recall: _Raw
    insert_enrollment: _Raw
    update_enrollment: _Raw
    insert_receipt: _Raw
    insert_events: _Raw
    delete_ask: _Raw
    insert_ask: _Raw
    delete_timers: _Raw
    insert_timers: _Raw
    insert_outbox: _Raw

    @classmethod
    def build(cls, t: dict[str, sa.Table], dialect: Dialect) -> _Compiled:
        e, a, tm = t["enrollments"], t["open_asks"], t["timers"]

        def insert(table: sa.Table) -> _Raw:
            # every column but a database-generated id, so one compiled form fits every row
            keys = [c.key for c in table.columns if c.autoincrement is not True]
            return _Raw(table.insert(), dialect, keys)

        by_id: sa.BindParameter[str] = sa.bindparam("b_id")
        return cls(
            load=_Raw(sa.select(e).where(e.c.id == by_id), dialect),
            recall=_Raw(
                sa.select(t["idempotency"]).where(t["idempotency"].c.key == sa.bindparam("b_key")),
                dialect,
            ),
            insert_enrollment=insert(e),
            # the optimistic check: the row moves only from the version the command read
            update_enrollment=_Raw(
                e.update().where(e.c.id == by_id, e.c.version == sa.bindparam("b_version")),
                dialect,
                ("status", "version", "snapshot", "fired", "updated_at"),
            ),
            insert_receipt=insert(t["idempotency"]),
            insert_events=insert(t["events"]),
            delete_ask=_Raw(a.delete().where(a.c.enrollment_id == by_id), dialect),
            insert_ask=insert(a),
            delete_timers=_Raw(tm.delete().where(tm.c.enrollment_id == by_id), dialect),
            insert_timers=insert(tm),
            insert_outbox=insert(t["outbox"]),
        )


_SAFE_PREFIX = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,30}$")


class SqlStore:
    """A ``Store`` in a SQL database, through SQLAlchemy Core.

    ``bind`` is a URL (``"sqlite:///ladders.db"``, ``"postgresql+psycopg://..."``,
    ``"mysql+pymysql://..."``), an ``Engine``, or a host's open ``Connection``: then
    every write goes into a savepoint of the host's transaction and commits or rolls
    back with the host's own writes (listeners wait for the host's commit).
    Table names start with ``prefix``. Call ``create_schema()`` once (idempotent).
    """

    def __init__(
        self,
        bind: str | sa.URL | Engine | Connection,
        *,
        prefix: str = "commitladder_",
        skip_locked: bool | None = None,
    ) -> None:
        if not _SAFE_PREFIX.match(prefix):
            raise ValueError(f"prefix {prefix!r} must be a short SQL identifier")
        self.prefix = prefix
        self._owns_engine = isinstance(bind, (str, sa.URL))
        self._conn: Connection | None = None
        if isinstance(bind, Connection):
            self._conn = bind
            self.engine: Engine = bind.engine
        elif isinstance(bind, Engine):
            self.engine = bind
        else:
            self.engine = _make_engine(bind)
        # the same pool; its connections say "write" to the SQLite begin hook (set once here,
        # not on every connection: that costs as much as a statement)
        self._writer = self.engine.execution_options(**{_WRITE: True})
        dialect = self.engine.dialect
        self.dialect = dialect.name
        if skip_locked is None:
            skip_locked = self.dialect in ("postgresql", "mysql", "mariadb")
        self._skip_locked = skip_locked
        self.metadata = sa.MetaData()
        self._t = _tables(self.metadata, prefix)
        self._r = _Compiled.build(self._t, dialect)
        self._pending: list[Callable[[], None]] = []
        # set on the view ``session()`` yields: every call runs in that one transaction
        self._bound: _Tx | None = None
        if self._conn is not None:
            sa_event.listen(self._conn, "commit", self._host_committed)
            sa_event.listen(self._conn, "rollback", self._host_rolled_back)

    @classmethod
    def joined(cls, connection: Connection, like: SqlStore) -> SqlStore:
        """A store on the host's ``connection`` with ``like``'s settings (one per request)."""
        return cls(connection, prefix=like.prefix, skip_locked=like._skip_locked)

    def close(self) -> None:
        """Release the connection pool if this store created it."""
        if self._owns_engine:
            self.engine.dispose()

    def __repr__(self) -> str:
        return f"<SqlStore {self.dialect} prefix={self.prefix!r}>"

    # ---- transactions and errors (the one boundary for foreign errors) --------------------

    @contextmanager
    def _tx(self, *, write: bool = True) -> Iterator[_Tx]:
        """One transaction (or, inside ``session()``, the session's)."""
        try:
            if self._bound is not None:
                yield self._bound  # inside session(): its transaction commits or rolls back
            elif self._conn is not None:
                with self._conn.begin_nested(), _Tx.around(self._conn) as tx:
                    yield tx
            elif self._owns_engine and not _Tx.heard(self.engine):
                with _Tx.lean(self.engine, write=write) as tx:
                    yield tx
            else:
                bind = self._writer if write else self.engine
                with bind.connect() as conn, conn.begin(), _Tx.around(conn) as tx:
                    yield tx
        except sa_exc.DBAPIError as exc:
            raise _translate(exc) from exc

    @contextmanager
    def _sa(self, *, write: bool = True) -> Iterator[Connection]:
        """The transaction's SQLAlchemy ``Connection``, for statements off the hot path."""
        with self._tx(write=write) as tx:
            yield tx.sa

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
        try:
            with self._tx() as tx:
                bound = copy.copy(self)
                bound._bound = tx
                yield bound
        except _Integrity as exc:
            if exc.name is None:
                raise
            # named only now: the failed statement aborted the transaction it ran in
            raise exc.name(self) from exc.__cause__

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

    # ---- schema ---------------------------------------------------------------------------

    def create_schema(self) -> None:
        """Create the tables if missing and record the schema version (idempotent)."""
        meta = self._t["meta"]
        with self._sa() as conn:
            self.metadata.create_all(conn, checkfirst=True)
            found = conn.execute(
                sa.select(meta.c.value).where(meta.c.name == "schema_version")
            ).scalar()
            if found is None:
                conn.execute(meta.insert().values(name="schema_version", value=str(SCHEMA_VERSION)))
            elif int(found) > SCHEMA_VERSION:
                raise StoreError(
                    f"the tables with prefix {self.prefix!r} are at schema version {found}, "
                    f"newer than this commitladder ({SCHEMA_VERSION}); upgrade commitladder"
                )

    def schema_version(self) -> int | None:
        """The schema version ``create_schema`` recorded, or ``None`` before it ran."""
        meta = self._t["meta"]
        with self._sa(write=False) as conn:
            try:
                found = conn.execute(
                    sa.select(meta.c.value).where(meta.c.name == "schema_version")
                ).scalar()
            except StoreError:
                return None
        return int(found) if found is not None else None

    def drop_schema(self) -> None:
        """Drop every table of this prefix (tests, teardown)."""
        with self._sa() as conn:
            self.metadata.drop_all(conn, checkfirst=True)

    # ---- enrollments ----------------------------------------------------------------------

    def _stored(self, row: Mapping[Any, Any]) -> StoredEnrollment:
        return StoredEnrollment(
            id=row["id"],
            prospect=row["prospect"],
            ladder=row["ladder"],
            status=row["status"],
            version=row["version"],
            snapshot=row["snapshot"],
            fired=tuple(row["fired"]),
        )

    def load(self, enrollment_id: str) -> StoredEnrollment | None:
        with self._tx(write=False) as tx:
            row = self._r.load.first(tx, {"b_id": enrollment_id})
        return self._stored(row) if row is not None else None

    def find(self, prospect: str) -> list[StoredEnrollment]:
        t = self._t["enrollments"]
        with self._sa(write=False) as conn:
            rows = conn.execute(sa.select(t).where(t.c.prospect == prospect).order_by(t.c.id))
            return [self._stored(row._mapping) for row in rows]

    def events(self, enrollment_id: str) -> list[dict[str, Any]]:
        t = self._t["events"]
        with self._sa(write=False) as conn:
            rows = conn.execute(
                sa.select(t.c.body).where(t.c.enrollment_id == enrollment_id).order_by(t.c.seq)
            )
            return [row.body for row in rows]

    def count(self) -> int:
        """How many enrollments are stored."""
        t = self._t["enrollments"]
        with self._sa(write=False) as conn:
            return int(conn.execute(sa.select(sa.func.count()).select_from(t)).scalar_one())

    def apply(self, change: Change) -> None:
        q = self._r
        eid = change.enrollment_id
        now = change.now
        new = change.expected_version == 0
        stage = "enrollment"
        try:
            with self._tx() as tx:
                row = {
                    "status": change.status,
                    "version": change.expected_version + 1,
                    "snapshot": change.snapshot,
                    "fired": list(change.fired),
                    "updated_at": now,
                }
                if new:
                    q.insert_enrollment.execute(
                        tx,
                        rows={
                            "id": eid,
                            "prospect": change.prospect,
                            "ladder": change.ladder,
                            **row,
                        },
                    )
                else:
                    row.update(b_id=eid, b_version=change.expected_version)
                    if q.update_enrollment.execute(tx, row) != 1:
                        raise ConflictError(
                            f"enrollment {eid!r} moved past version {change.expected_version}; "
                            "another writer changed it first"
                        )
                if change.receipt is not None:
                    stage = "receipt"
                    self._insert_receipt(tx, change.receipt, now)
                stage = "events"
                if change.events:
                    q.insert_events.execute(
                        tx,
                        rows=_one_or_many(
                            [
                                {
                                    "enrollment_id": eid,
                                    "seq": ev["seq"],
                                    "type": ev["type"],
                                    "at": datetime.fromisoformat(ev["at"]),
                                    "body": dict(ev),
                                }
                                for ev in change.events
                            ]
                        ),
                    )
                if change.ask_changed:
                    stage = "open_ask"
                    if change.had_ask and not new:
                        q.delete_ask.execute(tx, {"b_id": eid})
                    ask = change.open_ask
                    if ask is not None:
                        q.insert_ask.execute(
                            tx,
                            rows={
                                "slot": ask.slot,
                                "enrollment_id": eid,
                                "prospect": ask.prospect,
                                "rung": ask.rung,
                                "channel": ask.channel,
                                "seq": ask.seq,
                                "asked_at": ask.asked_at,
                                "expires_at": ask.expires_at,
                            },
                        )
                if change.timers_changed:
                    stage = "timers"
                    if change.had_timers and not new:
                        q.delete_timers.execute(tx, {"b_id": eid})
                    if change.timers:
                        q.insert_timers.execute(
                            tx,
                            rows=_one_or_many(
                                [
                                    {
                                        "enrollment_id": eid,
                                        "kind": timer.kind,
                                        "due_at": timer.due_at,
                                        "rung": timer.rung,
                                        "lease_until": None,
                                    }
                                    for timer in change.timers
                                ]
                            ),
                        )
                stage = "outbox"
                if change.messages:
                    q.insert_outbox.execute(
                        tx,
                        rows=_one_or_many(
                            [
                                {
                                    "key": m.key,
                                    "enrollment_id": eid,
                                    "kind": m.kind,
                                    "status": "pending",
                                    "attempts": 0,
                                    "next_attempt_at": now or m.at,
                                    "lease_until": None,
                                    "sent_at": None,
                                    "last_error": None,
                                    "body": m.to_dict(),
                                }
                                for m in change.messages
                            ]
                        ),
                    )
        except _Integrity as exc:
            self._name_rule(exc, lambda store: store._integrity(stage, change))

    def _integrity(self, stage: str, change: Change) -> LadderError:
        """A unique key said no: name the rule it guards."""
        if stage == "open_ask" and change.open_ask is not None:
            a = self._t["open_asks"]
            with self._sa(write=False) as conn:
                row = conn.execute(sa.select(a).where(a.c.slot == change.open_ask.slot)).first()
            if row is not None:
                holder = OpenAsk(**row._mapping)
                return ask_pending(holder, change.enrollment_id, change.open_ask.rung)
        if stage == "receipt" and change.receipt is not None:
            return self._key_taken(change.receipt)
        return ConflictError(
            f"enrollment {change.enrollment_id!r} was written by another worker at the same "
            f"time ({stage}); reload and try again"
        )

    def _insert_receipt(self, tx: _Tx, r: Receipt, now: datetime | None) -> None:
        row = {
            "key": r.key,
            "command": r.command,
            "enrollment_id": r.enrollment_id,
            "result": dict(r.result),
            "created_at": now,
        }
        self._r.insert_receipt.execute(tx, row)

    def remember(self, receipt: Receipt, now: datetime) -> None:
        try:
            with self._tx() as tx:
                self._insert_receipt(tx, receipt, now)
        except _Integrity as exc:
            self._name_rule(exc, lambda store: store._key_taken(receipt))

    def _name_rule(self, exc: _Integrity, name: Callable[[SqlStore], LadderError]) -> NoReturn:
        """Raise the error a unique key's refusal means, once it can be looked up: now, or
        (inside ``session()``) after the session rolled back the aborted transaction."""
        if self._bound is not None:
            raise _Integrity(str(exc), name=name) from exc.__cause__
        raise name(self) from exc.__cause__

    def _key_taken(self, receipt: Receipt) -> LadderError:
        """The key of ``receipt`` was taken: the first receipt, or a conflict if it is gone."""
        first = self.recall(receipt.key)
        if first is not None:
            return KeyReplayed(first)
        return ConflictError(f"idempotency key {receipt.key!r} was taken and released meanwhile")

    def recall(self, key: str) -> Receipt | None:
        with self._tx(write=False) as tx:
            row = self._r.recall.first(tx, {"b_key": key})
        if row is None:
            return None
        return Receipt(row["key"], row["command"], row["enrollment_id"], row["result"])

    def open_asks(self) -> list[OpenAsk]:
        """Every open ask held now (for tests and inspection)."""
        a = self._t["open_asks"]
        with self._sa(write=False) as conn:
            rows = conn.execute(sa.select(a).order_by(a.c.slot)).all()
        return [OpenAsk(**r._mapping) for r in rows]

    # ---- timers ---------------------------------------------------------------------------

    def claim_timers(self, now: datetime, limit: int, lease_until: datetime) -> list[DueTimer]:
        tm = self._t["timers"]
        query = (
            sa.select(tm.c.id, tm.c.enrollment_id, tm.c.kind, tm.c.due_at, tm.c.rung)
            .where(tm.c.due_at <= now, sa.or_(tm.c.lease_until.is_(None), tm.c.lease_until <= now))
            .order_by(tm.c.due_at)
            .limit(limit)
        )
        rows = self._claim(tm, query, lease_until)
        return [DueTimer(r.enrollment_id, r.kind, r.due_at, r.rung) for r in rows]

    def _claim(self, table: sa.Table, query: sa.Select[Any], lease_until: datetime) -> list[Any]:
        """Lease the rows ``query`` finds (skipping rows other workers hold, where the
        database can) so that no two workers take the same one."""
        if self._skip_locked:
            query = query.with_for_update(skip_locked=True)
        with self._sa() as conn:
            rows = list(conn.execute(query).all())
            if rows:
                conn.execute(
                    table.update()
                    .where(table.c.id.in_([r.id for r in rows]))
                    .values(lease_until=lease_until)
                )
        return rows

    def timers(self) -> list[DueTimer]:
        """Every stored timer, soonest first (for tests and inspection)."""
        tm = self._t["timers"]
        with self._sa(write=False) as conn:
            rows = conn.execute(sa.select(tm).order_by(tm.c.due_at, tm.c.id)).all()
        return [DueTimer(r.enrollment_id, r.kind, r.due_at, r.rung) for r in rows]

    # ---- outbox ---------------------------------------------------------------------------

    def _entry(self, row: Any) -> OutboxEntry:
        return OutboxEntry(
            message=Message.from_dict(row.body),
            status=row.status,
            attempts=row.attempts,
            next_attempt_at=row.next_attempt_at,
            last_error=row.last_error,
            sent_at=row.sent_at,
        )

    def claim_messages(self, now: datetime, limit: int, lease_until: datetime) -> list[OutboxEntry]:
        o = self._t["outbox"]
        query = (
            sa.select(o)
            .where(
                o.c.status == "pending",
                o.c.next_attempt_at <= now,
                sa.or_(o.c.lease_until.is_(None), o.c.lease_until <= now),
            )
            .order_by(o.c.id)
            .limit(limit)
        )
        return [self._entry(r) for r in self._claim(o, query, lease_until)]

    def message_sent(self, key: str, now: datetime) -> None:
        o = self._t["outbox"]
        with self._sa() as conn:
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
        o = self._t["outbox"]
        values: dict[str, Any] = {
            "attempts": o.c.attempts + 1,
            "last_error": error[:2000],
            "lease_until": None,
            "status": "pending" if retry_at is not None else "dead",
        }
        if retry_at is not None:
            values["next_attempt_at"] = retry_at
        with self._sa() as conn:
            conn.execute(o.update().where(o.c.key == key).values(**values))

    def outbox(self, status: OutboxStatus | None = None) -> list[OutboxEntry]:
        """The outbox, oldest first; ``status`` keeps only ``pending``, ``sent`` or ``dead``."""
        o = self._t["outbox"]
        query = sa.select(o).order_by(o.c.id)
        if status is not None:
            query = query.where(o.c.status == status)
        with self._sa(write=False) as conn:
            return [self._entry(r) for r in conn.execute(query)]

    def redrive(self, keys: Sequence[str] | None, now: datetime) -> int:
        o = self._t["outbox"]
        query = o.update().where(o.c.status == "dead")
        if keys is not None:
            query = query.where(o.c.key.in_(list(keys)))
        with self._sa() as conn:
            done = conn.execute(
                query.values(status="pending", attempts=0, next_attempt_at=now, lease_until=None)
            )
            return int(done.rowcount)


class _Integrity(StoreError):
    """Internal: a unique key refused a write; ``SqlStore.apply`` names the rule."""

    def __init__(self, text: str, *, name: Callable[[SqlStore], LadderError] | None = None) -> None:
        super().__init__(text)
        self.name = name  # looks the rule up (on a store outside the session) to name it


def _one_or_many(rows: list[dict[str, Any]]) -> dict[str, Any] | list[dict[str, Any]]:
    """One row as a plain execute, several as one executemany (batched by the dialect)."""
    return rows[0] if len(rows) == 1 else rows


# SQLSTATE / driver codes that mean "another transaction got in the way: try again"
_RETRYABLE_PG = {"40001", "40P01", "55P03"}
_RETRYABLE_MYSQL = {1205, 1213}


def _translate(exc: sa_exc.DBAPIError) -> StoreError:
    """Map a driver error to ours: the one place foreign errors are understood."""
    orig = exc.orig
    if isinstance(exc, sa_exc.IntegrityError):
        return _Integrity(str(orig))
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
