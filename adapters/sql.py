"""The SQL adapter: PostgreSQL, MySQL/MariaDB and SQLite through SQLAlchemy.

Configuration, read-only sessions and timeouts are in ``adapters.sql_config``; the
statement is built by ``adapters.sql_compile``. This module runs it and streams the
result: ``stream_results`` (a server-side cursor on PostgreSQL, ``SSCursor`` on
MySQL) with ``yield_per = plan.batch_size``, each chunk of rows transposed once with
``zip(*rows)`` into Arrow arrays, so memory stays bounded by one batch whatever the
table size. SQLite has no server-side timeout: a progress handler aborts a statement
whose current fetch has run longer than the statement timeout (as with PostgreSQL's
server-side cursor, the timeout applies to each fetch, not to a slow consumer).

Driver errors are translated here into ``SourceTimeout`` / ``SourceFailed`` /
``SchemaChanged`` (a column the catalog lists is gone) / ``BadRequest`` with scrubbed
messages: the driver's own text is kept for diagnosis, but
never ``str()`` of a SQLAlchemy error, which embeds the statement and its parameters.
"""

from __future__ import annotations

import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

import pyarrow as pa
import sqlalchemy as sa
from sqlalchemy.exc import DBAPIError, NoSuchTableError, SQLAlchemyError

from adapters import sql_config
from adapters.arrow_types import batch_from_rows, empty_batch, sample_table, schema_for
from adapters.base import (
    AdapterLimits,
    Column,
    ObjectInfo,
    QueryPlan,
    SourceAdapter,
    SourceConfig,
)
from adapters.plan import check_plan
from adapters.redaction import scrub
from adapters.registry import AdapterRegistry
from adapters.sql_compile import build_select
from adapters.sql_stream import driver_connection, stream_rows
from catalog.errors import BadRequest, SchemaChanged, SluiceError, SourceFailed, SourceTimeout

SQLITE_PROGRESS_STEPS = 10_000
_PG_TIMEOUT_STATES = {"57014"}
_PG_AUTH_STATES = {"28P01", "28000"}
_MYSQL_TIMEOUT_CODES = {1969, 3024}
_MYSQL_AUTH_CODES = {1045, 1044, 1698}
_PG_UNDEFINED_COLUMN = "42703"
_MYSQL_UNKNOWN_COLUMN = 1054  # ER_BAD_FIELD_ERROR
_PG_UNDEFINED_TABLE = "42P01"
_MYSQL_NO_SUCH_TABLE = 1146  # ER_NO_SUCH_TABLE


def logical_type(sa_type: sa.types.TypeEngine[Any]) -> str:
    """Map a reflected column type onto the catalog's logical types."""
    if isinstance(sa_type, sa.Boolean):
        return "bool"
    if isinstance(sa_type, sa.Integer):
        return "int64"
    if isinstance(sa_type, sa.Float):
        return "float64"
    if isinstance(sa_type, sa.Numeric):
        return "decimal"
    if isinstance(sa_type, sa.DateTime):
        return "timestamp"
    if isinstance(sa_type, sa.Date):
        return "date"
    return "string"


class _Deadline:
    """SQLite's statement timeout: the progress handler aborts once ``expires`` passes."""

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self.expires = time.monotonic() + seconds

    def reset(self) -> None:
        self.expires = time.monotonic() + self.seconds

    def __call__(self) -> int:
        return 1 if time.monotonic() > self.expires else 0


class SqlAdapter(SourceAdapter):
    """One pooled engine per source; a connection per call, returned when done."""

    def __init__(self, config: SourceConfig, limits: AdapterLimits) -> None:
        self.kind = config.kind
        self._limits = limits
        self._schema: str | None = config.settings.get("schema")
        self._secrets = [config.secret]
        self._engine = sql_config.create_engine(config, limits)
        self._dialect = self._engine.dialect.name
        dbapi = self._engine.dialect.dbapi
        self._driver_error: type[Exception] = getattr(dbapi, "Error", SQLAlchemyError)

    # -- errors ---------------------------------------------------------------------

    def _translate(self, exc: BaseException, *, connecting: bool = False) -> SluiceError:
        orig = getattr(exc, "orig", None) or exc
        text = scrub(str(orig), self._secrets)
        sqlstate = getattr(orig, "sqlstate", None)
        code = orig.args[0] if getattr(orig, "args", None) else None
        if (
            sqlstate in _PG_TIMEOUT_STATES
            or code in _MYSQL_TIMEOUT_CODES
            or (self._dialect == "sqlite" and "interrupted" in text)
        ):
            return SourceTimeout(
                f"the source did not answer within {self._limits.statement_timeout_s:g} s"
                " (statement timeout)"
            )
        if sqlstate in _PG_AUTH_STATES or code in _MYSQL_AUTH_CODES:
            return SourceFailed(f"the source refused the credentials: {text}")
        if connecting:
            return SourceFailed(f"cannot connect to the source: {text}")
        if (
            sqlstate in (_PG_UNDEFINED_COLUMN, _PG_UNDEFINED_TABLE)
            or code in (_MYSQL_UNKNOWN_COLUMN, _MYSQL_NO_SUCH_TABLE)
            or (self._dialect == "sqlite" and text.startswith(("no such column", "no such table")))
        ):
            # the plan names only catalog fields and objects: one the source lacks is drift
            first = text.strip().splitlines()[0] if text.strip() else "a column is missing"
            message = f"the source's schema changed ({first})"
            return SchemaChanged(f"{message}; a steward must refresh the catalog entry")
        if isinstance(exc, DBAPIError | NoSuchTableError):
            return SourceFailed(f"the source failed the query: {text}")
        return SourceFailed(f"the source failed: {type(exc).__name__}")

    @contextmanager
    def _connection(self) -> Iterator[sa.Connection]:
        try:
            conn = self._engine.connect()
        except SQLAlchemyError as exc:
            raise self._translate(exc, connecting=True) from None
        try:
            yield conn
        except (SQLAlchemyError, self._driver_error) as exc:
            raise self._translate(exc) from None
        finally:
            conn.close()

    # -- interface ------------------------------------------------------------------

    def test_connection(self) -> None:
        with self._connection() as conn:
            conn.execute(sa.select(sa.literal(1))).scalar_one()

    def list_objects(self) -> list[ObjectInfo]:
        with self._connection() as conn:
            inspector = sa.inspect(conn)
            names = [(n, "table") for n in inspector.get_table_names(schema=self._schema)]
            names += [(n, "view") for n in inspector.get_view_names(schema=self._schema)]
            return [self._describe(inspector, name, kind) for name, kind in sorted(names)]

    def _describe(self, inspector: Any, name: str, kind: str) -> ObjectInfo:
        columns = tuple(
            Column(str(c["name"]), logical_type(c["type"]))
            for c in inspector.get_columns(name, schema=self._schema)
        )
        return ObjectInfo(name=name, columns=columns, kind=kind)

    def describe(self, object_name: str) -> ObjectInfo:
        """Columns of one table or view (``BadRequest`` if the source has no such one)."""
        with self._connection() as conn:
            inspector = sa.inspect(conn)
            try:
                info = self._describe(inspector, object_name, "table")
            except NoSuchTableError:
                raise BadRequest(f"the source has no table {object_name!r}") from None
        if not info.columns:
            raise BadRequest(f"the source has no table {object_name!r}")
        return info

    def sample(self, object_name: str, *, rows: int) -> pa.Table:
        return sample_table(self, self.describe(object_name), rows=rows, limits=self._limits)

    def execute(self, plan: QueryPlan) -> Iterator[pa.RecordBatch]:
        checked = check_plan(plan, self._limits)  # raises before the generator starts
        stmt = build_select(checked, schema=self._schema, dialect=self._engine.dialect)
        return self._stream(stmt, schema_for(plan.columns), plan.batch_size, checked.limit)

    def _stream(
        self, stmt: sa.Select[Any], schema: pa.Schema, batch_size: int, limit: int
    ) -> Iterator[pa.RecordBatch]:
        with self._connection() as conn:
            deadline = self._arm_sqlite_deadline(conn)
            chunks = stream_rows(conn, stmt, batch_size, limit=limit)
            try:
                sent = 0
                while sent < limit:
                    if deadline is not None:
                        deadline.reset()
                    rows = next(chunks, None)
                    if not rows:
                        break
                    if len(rows) > limit - sent:
                        rows = rows[: limit - sent]
                    sent += len(rows)
                    yield self._to_batch(schema, rows)
                if sent == 0:
                    yield empty_batch(schema)
            finally:
                chunks.close()
                if deadline is not None:
                    driver_connection(conn).set_progress_handler(None, 0)

    def _to_batch(self, schema: pa.Schema, rows: Sequence[Sequence[Any]]) -> pa.RecordBatch:
        try:
            return batch_from_rows(schema, rows)
        except (pa.ArrowException, ValueError, TypeError):
            raise SourceFailed(
                "the source returned values that do not match the catalog's field types"
            ) from None

    def _arm_sqlite_deadline(self, conn: sa.Connection) -> _Deadline | None:
        if self._dialect != "sqlite":
            return None
        deadline = _Deadline(self._limits.statement_timeout_s)
        driver = driver_connection(conn)
        driver.set_progress_handler(deadline, SQLITE_PROGRESS_STEPS)
        return deadline

    def close(self) -> None:
        self._engine.dispose()


class SqlFactory:
    """Factory for the three SQL kinds (see ``adapters.registry.AdapterFactory``)."""

    def validate(self, config: SourceConfig, limits: AdapterLimits) -> None:
        sql_config.validate(config, limits)

    def open(self, config: SourceConfig, limits: AdapterLimits) -> SqlAdapter:
        return SqlAdapter(config, limits)

    def redact(self, config: SourceConfig) -> str:
        return sql_config.redact(config)


def register(registry: AdapterRegistry) -> None:
    factory = SqlFactory()
    for kind in sql_config.BACKENDS:
        registry.register(kind, factory)
