"""Running a compiled statement on a pooled DBAPI connection, rows as plain tuples.

For the drivers Sluice ships with (psycopg, psycopg2, PyMySQL, mysqlclient, sqlite3)
the statement compiled once per plan shape (``adapters.sql_compile``) runs on the DBAPI
connection SQLAlchemy's pool checked out — still fully parameterised, with the values
``bind_plan`` made for this query — and ``fetchmany(batch_size)`` hands back tuples
with no per-row wrapper objects. A result that fits one batch is read with one
``fetchall`` on a client-side cursor; a larger one on a server-side cursor
(PostgreSQL named cursor, MySQL ``SSCursor``) so memory stays bounded by one batch.
Any other driver goes through SQLAlchemy's own streaming (``yield_per`` +
``partitions()``), which is correct but slower.

On PostgreSQL a large result whose column types allow it is not read as tuples at all
but as ``COPY … TO STDOUT`` parsed by Arrow: see ``adapters.sql_copy``.
"""

from __future__ import annotations

import datetime as dt
import itertools
from collections.abc import Generator, Sequence
from typing import Any

import sqlalchemy as sa
from sqlalchemy.pool import PoolProxiedConnection

FAST_DRIVERS = {"psycopg", "psycopg2", "pymysql", "mysqldb", "pysqlite"}
_cursor_ids = itertools.count(1)
FIRST_CHUNK = 2048


def sqlite_values(values: dict[str, Any]) -> dict[str, Any]:
    """SQLite gets dates and timestamps as ISO text (the way SQLAlchemy stores them) and
    booleans as integers, as SQLAlchemy's own bind processing would give it."""
    return {name: _sqlite_value(value) for name, value in values.items()}


def _sqlite_value(value: Any) -> Any:
    if isinstance(value, dt.datetime):
        return value.isoformat(sep=" ")
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, bool):
        return int(value)
    return value


def driver_connection(fairy: PoolProxiedConnection) -> Any:
    """The DBAPI connection under a pooled connection (there while it is checked out)."""
    raw = fairy.driver_connection
    if raw is None:
        raise RuntimeError("the pooled connection has no DBAPI connection")
    return raw


def fetch_all(raw: Any, sql: str, params: Any) -> Sequence[Sequence[Any]]:
    """Every row of a result known to fit one batch, on a client-side cursor."""
    cursor = raw.cursor()
    try:
        cursor.execute(sql, params)
        rows: Sequence[Sequence[Any]] = cursor.fetchall()
        return rows
    finally:
        cursor.close()


def _server_cursor(raw: Any, dialect: sa.Dialect, batch_size: int) -> Any:
    if dialect.driver in {"psycopg", "psycopg2"}:
        cursor = raw.cursor(name=f"sluice_{next(_cursor_ids)}")
        cursor.itersize = batch_size
        return cursor
    if dialect.driver in {"pymysql", "mysqldb"}:
        return raw.cursor(getattr(dialect, "_sscursor"))  # noqa: B009
    return raw.cursor()


def stream_rows(
    raw: Any, dialect: sa.Dialect, sql: str, params: Any, batch_size: int
) -> Generator[Sequence[Sequence[Any]], None, None]:
    """Chunks of at most ``batch_size`` rows from a server-side cursor on ``raw`` (a
    DBAPI connection of a ``FAST_DRIVERS`` driver); the cursor is closed when the caller
    stops iterating (including early, through ``GeneratorExit``)."""
    cursor = _server_cursor(raw, dialect, batch_size)
    try:
        cursor.execute(sql, params)
        # a small first chunk so the first bytes leave soon after the database's first
        # row; full-size chunks after that for throughput
        size = min(batch_size, FIRST_CHUNK)
        while True:
            rows = cursor.fetchmany(size)
            if not rows:
                return
            yield rows
            size = batch_size
    finally:
        cursor.close()


def stream_result(
    conn: sa.Connection, stmt: sa.Select[Any], values: dict[str, Any], batch_size: int
) -> Generator[Sequence[Sequence[Any]], None, None]:
    """Any other driver: SQLAlchemy's own streaming of ``stmt`` with ``values``."""
    result = conn.execution_options(stream_results=True, yield_per=batch_size).execute(stmt, values)
    try:
        yield from result.partitions()
    finally:
        result.close()
