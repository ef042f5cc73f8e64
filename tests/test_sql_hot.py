"""The store's hot path writes and reads what SQLAlchemy's ``Connection.execute`` does.

``commitladder._sql_hot.Prepared`` compiles a statement once and runs it with
``exec_driver_sql``, converting values with the column types' own processors. Drawn
instants (in several time zones) and JSON documents are written once through it and
once through ``Connection.execute``: the stored bytes and the values read back are
equal, on every database.
"""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta, timezone
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

pytest_plugins = ["dbfixtures"]

sa = pytest.importorskip("sqlalchemy")

from commitladder._sql_hot import Prepared, named_dialect  # noqa: E402
from commitladder.sql import SqlStore, tables  # noqa: E402

instants = st.none() | st.datetimes(
    min_value=datetime(1900, 1, 1),
    max_value=datetime(2200, 1, 1),
    timezones=st.sampled_from([UTC, timezone(timedelta(hours=-5)), ZoneInfo("Europe/Paris")]),
    allow_imaginary=False,
)
documents = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**53), 2**53) | st.text(max_size=20),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3)
    ),
    max_leaves=8,
)
_ids = itertools.count()


@pytest.fixture
def scratch(db: str) -> Any:
    """A table with the store's own column types (an instant, a JSON document)."""
    from dbfixtures import fresh_prefix

    store = SqlStore(db, prefix=fresh_prefix())
    store_types = tables(store.prefix).enrollments.c
    table = sa.Table(
        f"{store.prefix}scratch",
        sa.MetaData(),
        sa.Column("id", sa.String(40), primary_key=True),
        sa.Column("at", store_types.updated_at.type, nullable=True),
        sa.Column("body", store_types.snapshot.type, nullable=True),
    )
    with store.engine.begin() as conn:
        table.create(conn)
    yield store, table
    with store.engine.begin() as conn:
        table.drop(conn)
    store.close()


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(at=instants, body=documents)
def test_prepared_statements_write_and_read_what_execute_does(
    scratch: Any, at: Any, body: Any
) -> None:
    store, table = scratch
    dialect = store.engine.dialect
    columns = list(table.columns)
    insert = Prepared.build(
        table.insert(), dialect, named_dialect(dialect), columns, ["id", "at", "body"]
    )
    select = sa.select(table.c.at, table.c.body).where(table.c.id == sa.bindparam("b_id"))
    read = Prepared.build(select, dialect, named_dialect(dialect), columns)
    ours, theirs = f"p{next(_ids)}", f"e{next(_ids)}"
    with store.engine.begin() as conn:
        insert.run(conn, {"id": ours, "at": at, "body": body})
        conn.execute(table.insert(), {"id": theirs, "at": at, "body": body})
        stored = {
            row[0]: tuple(row[1:])
            for row in conn.exec_driver_sql(
                f"SELECT id, at, body FROM {table.name} WHERE id IN ('{ours}', '{theirs}')"
            )
        }
        assert stored[ours] == stored[theirs]  # the same bytes in the database
        expected = dict(conn.execute(select, {"b_id": theirs}).one()._mapping)
        assert read.rows(conn, {"b_id": ours}) == [expected]  # read back alike
    if at is not None:  # and that is the instant written (compared in UTC: PEP 495 makes an
        # ambiguous local time unequal to every time of another zone)
        assert expected["at"] == at.astimezone(UTC)
