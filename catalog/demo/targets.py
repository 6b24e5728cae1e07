"""Where generated rows go: SQLite files per department, PostgreSQL, MariaDB.

Each target uses its fastest bulk path: one SQLite transaction with
``synchronous=OFF`` (demo files are disposable), PostgreSQL ``COPY``, and PyMySQL's
``executemany`` (which it rewrites into multi-row INSERTs). Tables are dropped and
recreated, so re-running the generator replaces the data; indexes are built after
the load, which is faster than maintaining them row by row.
"""

from __future__ import annotations

import sqlite3
from abc import ABC, abstractmethod
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import psycopg
import pymysql
from sqlalchemy.engine import make_url

from catalog.demo.tables import DEPARTMENT_FILES, Column, TableSpec
from catalog.errors import BadRequest

Row = tuple[Any, ...]


class Target(ABC):
    """A database the generator writes the demo tables into."""

    label: str

    @abstractmethod
    def begin_table(self, spec: TableSpec) -> None:
        """Drop and create the table, ready for rows."""

    @abstractmethod
    def write_batch(self, spec: TableSpec, rows: Sequence[Row]) -> None:
        """Append rows (in column order of ``spec``)."""

    @abstractmethod
    def end_table(self, spec: TableSpec) -> None:
        """Create the indexes and commit."""

    @abstractmethod
    def close(self) -> None:
        """Release connections."""


def _ddl_type(column: Column, dialect: str) -> str:
    if column.type == "string":
        return "TEXT" if dialect == "sqlite" else f"VARCHAR({column.length})"
    if column.type == "int64":
        return "INTEGER" if dialect == "sqlite" else "BIGINT"
    if column.type == "float64":
        return {"sqlite": "REAL", "postgresql": "DOUBLE PRECISION"}.get(dialect, "DOUBLE")
    if column.type == "date":
        return "DATE"
    raise ValueError(f"unknown column type {column.type!r}")


def create_table_sql(spec: TableSpec, dialect: str, quote: str = '"') -> str:
    cols = ", ".join(f"{quote}{c.name}{quote} {_ddl_type(c, dialect)}" for c in spec.columns)
    suffix = " ENGINE=InnoDB DEFAULT CHARSET=utf8mb4" if dialect == "mysql" else ""
    return f"CREATE TABLE {quote}{spec.name}{quote} ({cols}){suffix}"


def index_sql(spec: TableSpec, quote: str = '"') -> list[str]:
    return [
        f"CREATE INDEX {quote}ix_{spec.name}_{col}{quote} ON {quote}{spec.name}{quote} "
        f"({quote}{col}{quote})"
        for col in spec.indexes
    ]


class SqliteTarget(Target):
    """One SQLite file per department, ``<directory>/<department>.db``."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.label = f"sqlite {directory}"
        directory.mkdir(parents=True, exist_ok=True)
        self._conns: dict[str, sqlite3.Connection] = {}

    def _conn(self, spec: TableSpec) -> sqlite3.Connection:
        conn = self._conns.get(spec.department)
        if conn is None:
            path = self.directory / DEPARTMENT_FILES[spec.department]
            conn = sqlite3.connect(path, isolation_level=None)
            conn.execute("PRAGMA synchronous=OFF")
            conn.execute("PRAGMA journal_mode=WAL")
            self._conns[spec.department] = conn
        return conn

    def begin_table(self, spec: TableSpec) -> None:
        conn = self._conn(spec)
        conn.execute("BEGIN")
        conn.execute(f'DROP TABLE IF EXISTS "{spec.name}"')
        conn.execute(create_table_sql(spec, "sqlite"))

    def write_batch(self, spec: TableSpec, rows: Sequence[Row]) -> None:
        marks = ", ".join("?" * len(spec.columns))
        self._conn(spec).executemany(f'INSERT INTO "{spec.name}" VALUES ({marks})', rows)

    def end_table(self, spec: TableSpec) -> None:
        conn = self._conn(spec)
        for sql in index_sql(spec):
            conn.execute(sql)
        conn.execute("COMMIT")
        conn.execute(f'ANALYZE "{spec.name}"')

    def close(self) -> None:
        for conn in self._conns.values():
            conn.close()
        self._conns.clear()


class PostgresTarget(Target):
    """All five tables in one PostgreSQL database, loaded with ``COPY``."""

    def __init__(self, url: str) -> None:
        parsed = make_url(url)
        self.label = f"postgresql {parsed.host}/{parsed.database}"
        self._conn = psycopg.connect(
            host=parsed.host or "127.0.0.1",
            port=parsed.port or 5432,
            user=parsed.username or "postgres",
            password=parsed.password or None,
            dbname=parsed.database or "postgres",
        )

    def begin_table(self, spec: TableSpec) -> None:
        self._conn.execute(f'DROP TABLE IF EXISTS "{spec.name}"')
        self._conn.execute(create_table_sql(spec, "postgresql"))

    def write_batch(self, spec: TableSpec, rows: Sequence[Row]) -> None:
        cols = ", ".join(f'"{c}"' for c in spec.column_names)
        with (
            self._conn.cursor() as cur,
            cur.copy(f'COPY "{spec.name}" ({cols}) FROM STDIN') as copy,
        ):
            for row in rows:
                copy.write_row(row)

    def end_table(self, spec: TableSpec) -> None:
        for sql in index_sql(spec):
            self._conn.execute(sql)
        self._conn.commit()
        self._conn.execute(f'ANALYZE "{spec.name}"')
        self._conn.commit()

    def close(self) -> None:
        self._conn.close()


class MysqlTarget(Target):
    """All five tables in one MariaDB/MySQL database, multi-row INSERTs."""

    def __init__(self, url: str) -> None:
        parsed = make_url(url)
        self.label = f"mysql {parsed.host}/{parsed.database}"
        if not parsed.database:
            raise BadRequest("the MySQL URL must name a database", url=str(parsed))
        self._conn = pymysql.connect(
            host=parsed.host or "127.0.0.1",
            port=parsed.port or 3306,
            user=parsed.username or "root",
            password=parsed.password or "",
            database=parsed.database,
            charset="utf8mb4",
            autocommit=False,
        )

    def begin_table(self, spec: TableSpec) -> None:
        with self._conn.cursor() as cur:
            cur.execute(f"DROP TABLE IF EXISTS `{spec.name}`")
            cur.execute(create_table_sql(spec, "mysql", quote="`"))

    def write_batch(self, spec: TableSpec, rows: Sequence[Row]) -> None:
        cols = ", ".join(f"`{c}`" for c in spec.column_names)
        marks = ", ".join(["%s"] * len(spec.columns))
        with self._conn.cursor() as cur:
            cur.executemany(f"INSERT INTO `{spec.name}` ({cols}) VALUES ({marks})", rows)

    def end_table(self, spec: TableSpec) -> None:
        with self._conn.cursor() as cur:
            for sql in index_sql(spec, quote="`"):
                cur.execute(sql)
        self._conn.commit()

    def close(self) -> None:
        self._conn.close()


def open_target(url: str) -> Target:
    """A target for a SQLAlchemy-style URL (``postgresql[+driver]://``, ``mysql[+driver]://``)."""
    scheme = url.split(":", 1)[0].split("+", 1)[0]
    if scheme in ("postgresql", "postgres"):
        return PostgresTarget(url.replace("postgres://", "postgresql://", 1))
    if scheme in ("mysql", "mariadb"):
        return MysqlTarget(url)
    raise BadRequest(f"unsupported demo-data target {scheme!r}: use postgresql:// or mysql://")
