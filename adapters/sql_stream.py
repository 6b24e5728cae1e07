"""Streaming a compiled statement's rows in chunks, as plain tuples.

This is the hot path benchmarked against a raw psycopg read, so for the drivers Sluice
ships with (psycopg, psycopg2, PyMySQL, mysqlclient, sqlite3) the statement built with
SQLAlchemy Core is compiled by the dialect — still fully parameterised, ``in`` lists
expanded into one bind each (``render_postcompile``) — and run on a server-side DBAPI
cursor of the connection SQLAlchemy checked out from its pool (so pool, events and
transaction handling still apply). ``fetchmany(batch_size)`` then hands back tuples with
no per-row wrapper objects. Any other driver goes through SQLAlchemy's own streaming
(``yield_per`` + ``partitions()``), which is correct but slower.

Values are bound as the plan checker coerced them (str, int, float, bool, date,
datetime); SQLite gets dates and timestamps as ISO text, the way SQLAlchemy stores them.
"""

from __future__ import annotations

import datetime as dt
import itertools
from collections.abc import Generator, Sequence
from typing import Any

import sqlalchemy as sa

FAST_DRIVERS = {"psycopg", "psycopg2", "pymysql", "mysqldb", "pysqlite"}
_cursor_ids = itertools.count(1)
FIRST_CHUNK = 2048


def _sqlite_value(value: Any) -> Any:
    if isinstance(value, dt.datetime):
        return value.isoformat(sep=" ")
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, bool):
        return int(value)
    return value


def compile_statement(stmt: sa.Select[Any], dialect: sa.Dialect) -> tuple[str, Any]:
    """SQL text with placeholders and its parameters, in the driver's paramstyle."""
    compiled = stmt.compile(dialect=dialect, compile_kwargs={"render_postcompile": True})
    params = compiled.params
    if dialect.name == "sqlite":
        params = {k: _sqlite_value(v) for k, v in params.items()}
    if compiled.positional:
        return compiled.string, tuple(params[k] for k in compiled.positiontup or ())
    return compiled.string, params


def driver_connection(conn: sa.Connection) -> Any:
    """The DBAPI connection under ``conn`` (always there while ``conn`` is open)."""
    raw = conn.connection.driver_connection
    if raw is None:
        raise RuntimeError("the connection has no DBAPI connection")
    return raw


def _server_cursor(conn: sa.Connection, batch_size: int, limit: int | None = None) -> Any:
    raw = driver_connection(conn)
    driver = conn.dialect.driver
    if driver in {"psycopg", "psycopg2"}:
        if limit is not None and limit <= batch_size:
            # at most one batch: a client-side cursor holds no more than a server-side
            # one would, and saves the DECLARE / FETCH / CLOSE round trips
            return raw.cursor()
        cursor = raw.cursor(name=f"sluice_{next(_cursor_ids)}")
        cursor.itersize = batch_size
        return cursor
    if driver in {"pymysql", "mysqldb"}:
        return raw.cursor(getattr(conn.dialect, "_sscursor"))  # noqa: B009
    return raw.cursor()


def stream_rows(
    conn: sa.Connection, stmt: sa.Select[Any], batch_size: int, *, limit: int | None = None
) -> Generator[Sequence[Sequence[Any]], None, None]:
    """Chunks of at most ``batch_size`` rows; the cursor is closed when the caller
    stops iterating (including early, through ``GeneratorExit``). ``limit``: the
    statement's own LIMIT, when known (a small one skips the server-side cursor)."""
    if limit is not None and limit <= batch_size:
        # At most one batch: SQLAlchemy's own execution, whose compiled-statement cache
        # spares the per-query compilation (the largest cost of a small query); its
        # rows are tuples already.
        small = conn.execute(stmt).fetchall()
        if small:
            yield small
        return
    if conn.dialect.driver not in FAST_DRIVERS:
        result = conn.execution_options(stream_results=True, yield_per=batch_size).execute(stmt)
        try:
            yield from result.partitions()
        finally:
            result.close()
        return
    sql, params = compile_statement(stmt, conn.dialect)
    cursor = _server_cursor(conn, batch_size, limit)
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
