"""Helpers for the SQL adapter tests: one small ``people`` table, the same on
PostgreSQL, MariaDB and SQLite, with values chosen to trip quoting and LIKE escaping."""

from __future__ import annotations

import datetime as dt
import socket
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from decimal import Decimal
from pathlib import Path

import sqlalchemy as sa

from adapters.base import AdapterLimits, Column, QueryPlan, SourceConfig
from tests.conftest import (
    MYSQL_HOST,
    PG_ADMIN,
    create_mysql_database,
    create_pg_database,
    drop_mysql_database,
    drop_pg_database,
)

# the test servers are on loopback: allow-listed explicitly, as an admin would
TEST_SERVER_HOSTS = tuple(dict.fromkeys([str(sa.engine.make_url(PG_ADMIN).host), MYSQL_HOST]))

PEOPLE_COLUMNS = (
    Column("id", "int64"),
    Column("name", "string"),
    Column("region", "string"),
    Column("amount", "decimal"),
    Column("born", "date"),
    Column("active", "bool"),
    Column("created", "timestamp"),
)

PEOPLE = [
    (1, "Alice", "110101", Decimal("10.50"), dt.date(1980, 1, 2), True),
    (2, "O'Brien", "110102", Decimal("20.00"), dt.date(1990, 5, 6), False),
    (3, "a%b", "110201", Decimal("30.25"), dt.date(2000, 12, 31), True),
    (4, "a_b", "120101", None, None, None),
    (5, "x'; DROP TABLE people; --", "120102", Decimal("5.00"), dt.date(1970, 7, 7), False),
    (6, "张三", "abc101", Decimal("99.99"), dt.date(1985, 3, 3), True),
    (7, "ab", "ABC102", Decimal("1.00"), dt.date(1999, 9, 9), True),
]


def create_people(url: str) -> None:
    """Create and fill ``people`` through a separate (writable) engine."""
    engine = sa.create_engine(url)
    meta = sa.MetaData()
    table = sa.Table(
        "people",
        meta,
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=False),
        sa.Column("name", sa.String(100)),
        sa.Column("region", sa.String(20)),
        sa.Column("amount", sa.Numeric(12, 2)),
        sa.Column("born", sa.Date),
        sa.Column("active", sa.Boolean),
        sa.Column("created", sa.DateTime),
    )
    try:
        meta.create_all(engine)
        with engine.begin() as conn:
            conn.execute(
                table.insert(),
                [
                    dict(
                        zip(
                            ["id", "name", "region", "amount", "born", "active"],
                            row,
                            strict=True,
                        ),
                        created=dt.datetime(2024, 1, row[0], 8, 30),
                    )
                    for row in PEOPLE
                ],
            )
    finally:
        engine.dispose()


@contextmanager
def people_database(kind: str, tmp_path: Path) -> Iterator[str]:
    """A fresh database of ``kind`` (postgresql, mysql, sqlite) holding the people
    table; its URL, dropped afterwards."""
    if kind == "postgresql":
        name, url = create_pg_database()
        drop: Callable[[str], None] | None = drop_pg_database
    elif kind == "mysql":
        name, url = create_mysql_database()
        drop = drop_mysql_database
    else:
        name, url, drop = "", sqlite_url(tmp_path), None
    try:
        create_people(url)
        yield url
    finally:
        if drop is not None:
            drop(name)


def people_count(url: str) -> int:
    engine = sa.create_engine(url)
    try:
        with engine.connect() as conn:
            return int(conn.execute(sa.text("SELECT COUNT(*) FROM people")).scalar_one())
    finally:
        engine.dispose()


def execute_sql(url: str, *statements: str) -> None:
    engine = sa.create_engine(url)
    try:
        with engine.begin() as conn:
            for statement in statements:
                conn.exec_driver_sql(statement)
    finally:
        engine.dispose()


def config_for(kind: str, url: str) -> SourceConfig:
    """A config whose settings URL has no password (none is needed on test machines)."""
    return SourceConfig(kind=kind, settings={"url": url})


def sqlite_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'people.db'}"


def limits_for(tmp_path: Path, **overrides: object) -> AdapterLimits:
    values: dict[str, object] = {
        "file_roots": (str(tmp_path),),
        "statement_timeout_s": 10.0,
        "http_allow_hosts": TEST_SERVER_HOSTS,
    }
    values.update(overrides)
    return AdapterLimits(**values)  # type: ignore[arg-type]


def plan(*columns: str, **kwargs: object) -> QueryPlan:
    by_name = {c.name: c for c in PEOPLE_COLUMNS}
    chosen = tuple(by_name[c] for c in columns) if columns else PEOPLE_COLUMNS
    return QueryPlan(
        object_name=str(kwargs.pop("object_name", "people")),
        columns=chosen,
        known_columns=PEOPLE_COLUMNS,
        **kwargs,  # type: ignore[arg-type]
    )


def free_port() -> int:
    """A local port with nothing listening on it (bound then released)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])
