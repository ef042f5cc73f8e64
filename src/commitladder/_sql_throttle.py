"""Throttle counters in SQL: one row per cap and period, raised only while under the cap.

The reservation is one conditional ``UPDATE ... SET used = used + 1 WHERE used < most``:
the database's row lock makes racing writers take places one at a time, so no period
ever counts more than its cap, whatever the number of workers. A missing row is
inserted (``ON CONFLICT DO NOTHING RETURNING`` on PostgreSQL and SQLite; on MySQL a duplicate key
fails only the statement), and a writer that lost that race updates the winner's row.
Every statement runs inside the command's own transaction: a command rolled back gives
its places back.
"""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlalchemy import exc as sa_exc
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection

__all__ = ["SqlThrottles", "throttle_table"]

_DUPLICATE_KEY_MYSQL = 1062


def throttle_table(
    metadata: sa.MetaData, prefix: str, time: sa.types.TypeEngine[datetime]
) -> sa.Table:
    """The counters: ``(key, period)`` -> places ``used`` (schema version 3)."""
    return sa.Table(
        f"{prefix}throttle",
        metadata,
        sa.Column("key", sa.String(400), primary_key=True),
        sa.Column("period", time, primary_key=True),
        sa.Column("used", sa.Integer, nullable=False),
    )


class SqlThrottles:
    """``reserve`` and ``release`` on one connection, for ``_throttle.slot``."""

    __slots__ = ("_conn", "_table")

    def __init__(self, conn: Connection, table: sa.Table) -> None:
        self._conn, self._table = conn, table

    def _take(self, key: str, period: datetime, most: int) -> bool:
        t = self._table
        taken = self._conn.execute(
            t.update()
            .where(t.c.key == key, t.c.period == period, t.c.used < most)
            .values(used=t.c.used + 1)
        )
        return taken.rowcount == 1

    def reserve(self, key: str, period: datetime, most: int) -> bool:
        """Take one place for ``key`` in ``period`` if fewer than ``most`` are taken."""
        if self._take(key, period, most):
            return True
        if self._insert(key, period):
            return True
        return self._take(key, period, most)  # another writer made the row meanwhile

    def release(self, key: str, period: datetime) -> None:
        """Give back a place taken in this transaction."""
        t = self._table
        self._conn.execute(
            t.update().where(t.c.key == key, t.c.period == period).values(used=t.c.used - 1)
        )

    def _insert(self, key: str, period: datetime) -> bool:
        t, conn = self._table, self._conn
        row = {"key": key, "period": period, "used": 1}
        name = conn.dialect.name
        if name in ("postgresql", "sqlite"):
            make = postgresql.insert if name == "postgresql" else sqlite.insert
            # RETURNING says whether the row went in: rowcount may be -1 here (psycopg 3)
            insert = make(t).on_conflict_do_nothing().returning(t.c.used)
            return conn.execute(insert, row).first() is not None
        try:
            conn.execute(t.insert(), row)
        except sa_exc.IntegrityError as exc:
            if exc.orig is not None and exc.orig.args[:1] == (_DUPLICATE_KEY_MYSQL,):
                return False
            raise
        return True
