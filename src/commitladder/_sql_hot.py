"""The hot path of ``SqlStore``: statements compiled once, connections kept between commands.

SQLAlchemy's ``Connection.execute`` and its pool cost more per command than the
database's own work on a command's few small statements, so the store runs them
through two public doors instead: ``Prepared`` compiles a statement once
(``compile()``) and runs it with ``Connection.exec_driver_sql``, converting values
with the column types' own processors; ``Parked`` keeps a store's last connection for
its next transaction. Both stay on SQLAlchemy's public API: engine events still hear
(and may rewrite) every statement, errors come wrapped as usual, and the pool still
owns every connection. ``tests/test_sql_hot.py`` checks they write what
``Connection.execute`` writes; ``benchmarks/bench_store.py`` measures them.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import Any, Literal, cast

import sqlalchemy as sa
from sqlalchemy import event as sa_event
from sqlalchemy.engine import Connection, Dialect, Engine
from sqlalchemy.engine.default import DefaultDialect
from sqlalchemy.sql.compiler import SQLCompiler

__all__ = ["Parked", "Prepared", "bind_for", "named_dialect", "release"]

# the paramstyle to compile with, so that parameters go by name (a dict), never by position
_NAMED: dict[str, Literal["named", "pyformat"]] = {
    "qmark": "named",
    "numeric": "named",
    "format": "pyformat",
}


def named_dialect(dialect: Dialect) -> Dialect:
    """A dialect like ``dialect`` whose compiled statements take parameters by name (a
    driver that only takes them by position, asyncpg, keeps its style: ``Prepared``
    then passes them in the order the compiled statement names)."""
    style = _NAMED.get(dialect.paramstyle)
    if style is not None and isinstance(dialect, DefaultDialect):
        return type(dialect)(paramstyle=style)
    return dialect


def bind_for(kind: sa.types.TypeEngine[Any], dialect: Dialect) -> Callable[[Any], Any] | None:
    """How a value of ``kind`` is handed to ``dialect``'s driver: the type's
    ``bind_processor`` (SQLAlchemy's public type API), or, for a type that offers it, its
    ``direct_bind(dialect)``: the same conversion in one function, without the layers of
    wrappers a ``TypeDecorator``'s processor calls through on every value."""
    direct = getattr(kind, "direct_bind", None)
    if direct is not None:
        return cast("Callable[[Any], Any]", direct(dialect))
    return kind.dialect_impl(dialect).bind_processor(dialect)


class Prepared:
    """One statement of the hot path, compiled once and run with ``exec_driver_sql``.

    SQLAlchemy's ``Connection.execute`` looks each statement up in its compiled cache
    (generating a cache key by walking the statement) and processes every parameter
    on every call; that costs more than the database's own work here. So the SQL is
    compiled once with the public ``compile()`` (by-name parameters), and the values
    are converted with the column types' own processors (``bind_processor`` and
    ``result_processor``, SQLAlchemy's public type API), giving the driver what
    ``execute`` would. ``exec_driver_sql`` is still SQLAlchemy's execution: engine
    events hear (and may rewrite) every statement, and errors come wrapped as usual.
    """

    __slots__ = ("_binds", "_converted", "_options", "_order", "_results", "sql")

    def __init__(
        self,
        sql: str,
        binds: Mapping[str, Callable[[Any], Any] | None],
        results: Sequence[tuple[str, Callable[[Any], Any] | None]] = (),
        *,
        rowcount: bool = False,
        order: Sequence[str] | None = None,
    ) -> None:
        self.sql = sql
        self._binds = binds
        self._converted = tuple((k, p) for k, p in binds.items() if p is not None)
        self._results = tuple(results)
        # a driver with only positional parameters (asyncpg's $1): the names in their order
        self._order = tuple(order) if order is not None else None
        # psycopg forgets an INSERT's rowcount once SQLAlchemy closed the cursor
        self._options: dict[str, Any] = {"preserve_rowcount": True} if rowcount else {}

    @classmethod
    def build(
        cls,
        statement: sa.ClauseElement,
        engine_dialect: Dialect,
        named: Dialect,
        columns: Sequence[sa.ColumnElement[Any]],
        keys: Sequence[str] = (),
        *,
        rowcount: bool = False,
    ) -> Prepared:
        """``statement`` compiled for ``named`` (the engine's dialect, parameters by name);
        ``columns`` give the parameters' types, ``keys`` the columns an INSERT or UPDATE
        writes."""
        compiled = statement.compile(dialect=named, column_keys=list(keys) or None)
        sql = str(compiled)
        order = None
        if isinstance(compiled, SQLCompiler) and compiled.positional:
            order = list(compiled.positiontup or ())
        binds = {str(c.key): bind_for(c.type, engine_dialect) for c in columns}
        results = []
        if isinstance(statement, (sa.Select, sa.TextualSelect)):
            for c in statement.selected_columns:
                proc = c.type.dialect_impl(engine_dialect).result_processor(engine_dialect, None)
                results.append((str(c.key), proc))
        return cls(sql, binds, results, rowcount=rowcount, order=order)

    def params(self, row: dict[str, Any]) -> dict[str, Any] | tuple[Any, ...]:
        binds = self._binds
        if self._order is not None:
            return tuple(row[k] if (p := binds.get(k)) is None else p(row[k]) for k in self._order)
        params = dict(row)
        for k, p in self._converted:  # only the values a type converts
            if k in params:
                params[k] = p(params[k])
        return params

    def run(self, conn: Connection, row: dict[str, Any]) -> Any:
        return conn.exec_driver_sql(self.sql, self.params(row), execution_options=self._options)

    def run_many(self, conn: Connection, rows: Sequence[dict[str, Any]]) -> int:
        """Run the statement once per row (one ``executemany``): the rows it touched in
        all, where the driver counts them over an ``executemany`` (else row by row)."""
        if len(rows) == 1:
            return int(self.run(conn, rows[0]).rowcount)
        if not conn.dialect.supports_sane_multi_rowcount:
            return sum(int(self.run(conn, row).rowcount) for row in rows)
        params = [self.params(r) for r in rows]
        return int(conn.exec_driver_sql(self.sql, params, self._options).rowcount)

    def rows(self, conn: Connection, row: dict[str, Any]) -> list[dict[str, Any]]:
        """The selected rows, each a dict of processed values by column key."""
        results = self._results
        return [
            {
                key: value if proc is None else proc(value)
                for (key, proc), value in zip(results, found, strict=True)
            }
            for found in self.run(conn, row).fetchall()
        ]


class Parked:
    """The connection a thread's last transaction used, kept for its next one.

    Checking a connection out of SQLAlchemy's pool and back in (and building its
    ``Connection``) costs about as much as two statements of a command, so a store
    made from a URL keeps one connection out of its own pool between transactions (one
    for writes, one for reads; ``close()`` gives them back). Only the thread that
    parked it takes it again, so a connection never crosses threads (an in-memory
    SQLite database is one per thread); any other thread uses the pool as usual. A
    connection that failed is closed, never parked; a process that forked leaves its
    parent's connection alone.
    """

    __slots__ = ("_engine", "_lock", "_pid", "_slot")

    def __init__(self, engine: Engine, pool_of: Engine) -> None:
        self._engine = engine  # connects (with the execution options of its transactions)
        self._lock = threading.Lock()
        self._pid = os.getpid()
        self._slot: tuple[int, Connection] | None = None
        # pool_of.dispose() drops the pool: a parked connection would go back to a pool
        # nobody closes, so it is closed here instead
        sa_event.listen(pool_of, "engine_disposed", self._disposed)

    @contextmanager
    def connection(self) -> Iterator[Connection]:
        conn = self._take()
        try:
            yield conn
        except BaseException:
            conn.close()
            raise
        if not self._park(conn):
            conn.close()

    def _take(self) -> Connection:
        thread = threading.get_ident()
        with self._lock:
            slot = self._slot
            if slot is not None and slot[0] == thread and self._pid == os.getpid():
                self._slot = None
                return slot[1]
        return self._engine.connect()

    def _park(self, conn: Connection) -> bool:
        if conn.invalidated or conn.in_transaction():
            return False
        with self._lock:
            if self._pid != os.getpid():  # forked: the parent's connection is not ours
                self._pid, self._slot = os.getpid(), None
            if self._slot is not None:
                return False
            self._slot = (threading.get_ident(), conn)
            return True

    def release(self) -> None:
        """Give the parked connection back to the pool."""
        with self._lock:
            slot, self._slot = self._slot, None
        if slot is not None and self._pid == os.getpid():
            slot[1].close()

    def _disposed(self, engine: Engine) -> None:
        with self._lock:
            slot, self._slot = self._slot, None
        if slot is not None and self._pid == os.getpid():
            slot[1].invalidate()  # closes the driver's connection
            slot[1].close()


def release(parked: Mapping[bool, Parked]) -> None:
    """Give back the connections ``parked`` keeps."""
    for one in parked.values():
        one.release()
