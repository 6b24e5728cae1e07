"""The SQL adapter: PostgreSQL, MySQL/MariaDB and SQLite through SQLAlchemy.

Configuration, read-only sessions and timeouts are in ``adapters.sql_config``; the
statement is built and compiled once per plan shape by ``adapters.sql_compile`` (the
values of each query bound on their own, never cached). This module runs it on a DBAPI
connection checked out of SQLAlchemy's pool and streams the result:

- a result that fits one batch: one ``fetchall`` on a client-side cursor (on
  PostgreSQL in autocommit, sparing the ``BEGIN`` and ``ROLLBACK`` round trips; the
  session is read-only and time-bounded either way);
- a larger one on PostgreSQL: ``COPY … TO STDOUT`` parsed by Arrow when the column types
  allow it (``adapters.sql_copy``), else a server-side cursor;
- a larger one elsewhere: a server-side cursor (``SSCursor`` on MySQL) whose chunks of
  rows become Arrow batches, so memory stays bounded by one batch whatever the table size.

SQLite has no server-side timeout: a progress handler aborts a statement whose current
fetch has run longer than the statement timeout (as with PostgreSQL's server-side
cursor, the timeout applies to each fetch, not to a slow consumer; a PostgreSQL COPY is
one statement, bounded as a whole).

A failed connection is reported by class only (``connect_failure``: refused/timed
out/another protocol alike, authentication failed, database does not exist), never with
the driver's text, so error messages cannot be used to scan ports.

Other driver errors are translated here into ``SourceTimeout`` / ``SourceFailed`` /
``SchemaChanged`` (a column the catalog lists is gone) / ``BadRequest`` with scrubbed
messages: the driver's own text is kept for diagnosis, but
never ``str()`` of a SQLAlchemy error, which embeds the statement and its parameters.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Generator, Iterator, Sequence
from contextlib import ExitStack, contextmanager
from typing import Any, TypeVar

import pyarrow as pa
import sqlalchemy as sa
from sqlalchemy.exc import DBAPIError, NoSuchTableError, SQLAlchemyError
from sqlalchemy.pool import PoolProxiedConnection

from adapters import sql_config
from adapters.aggregate import AggregatePlan, check_aggregate_plan, rows_plan, too_many_groups
from adapters.arrow_types import batch_from_rows, empty_batch, sample_table, schema_for
from adapters.base import (
    ANY_TABLE,
    AdapterLimits,
    Column,
    ObjectInfo,
    QueryPlan,
    RowsRead,
    SourceAdapter,
    SourceConfig,
)
from adapters.plan import CheckedPlan, check_plan
from adapters.read_errors import driver_failure
from adapters.redaction import scrub
from adapters.registry import AdapterRegistry
from adapters.sql_compile import (
    Compiled,
    ShapeCache,
    bind_aggregate,
    bind_plan,
    build_aggregate_select,
    build_select,
    compile_select,
)
from adapters.sql_copy import copy_batches, copy_compatible
from adapters.sql_deadline import bounded
from adapters.sql_lineage import mysql_lineage, postgres_lineage, sqlite_lineage
from adapters.sql_stream import (
    FAST_DRIVERS,
    FIRST_CHUNK,
    driver_connection,
    fetch_all,
    sqlite_values,
    stream_result,
    stream_rows,
)
from catalog.errors import BadRequest, SchemaChanged, SluiceError, SourceFailed, SourceTimeout

SQLITE_PROGRESS_STEPS = 10_000
_T = TypeVar("_T")
_PG_TIMEOUT_STATES = {"57014"}
_PG_AUTH_STATES = {"28P01", "28000"}
_MYSQL_TIMEOUT_CODES = {1969, 3024}
_MYSQL_AUTH_CODES = {1045, 1044, 1698}
_PG_UNDEFINED_COLUMN = "42703"
_MYSQL_UNKNOWN_COLUMN = 1054  # ER_BAD_FIELD_ERROR
_PG_UNDEFINED_TABLE = "42P01"
_PG_NO_DATABASE = "3D000"  # invalid_catalog_name
_MYSQL_NO_DATABASE = 1049  # ER_BAD_DB_ERROR
_SERVER_NAMES = {
    "postgresql": "PostgreSQL",
    "mysql": "MySQL/MariaDB",
    "mariadb": "MySQL/MariaDB",
    "sqlite": "SQLite",
}
_MYSQL_NO_SUCH_TABLE = 1146  # ER_NO_SUCH_TABLE


def connect_failure(dialect: str, sqlstate: object, code: object, text: str) -> SourceFailed:
    """The class of a failed connection, never the driver's text: a steward must not
    learn what answered on which port (a closed port, another protocol and a silent
    server read the same), only that the server refused the login or lacks the database.
    libpq reports a server's refusal at connection time without a SQLSTATE, as a
    ``FATAL:`` line; only its class is kept."""
    if sqlstate is None and dialect == "postgresql" and "FATAL:" in text:
        missing_db = "database" in text and "does not exist" in text
        sqlstate = _PG_NO_DATABASE if missing_db else "28000"
    if sqlstate in _PG_AUTH_STATES or code in _MYSQL_AUTH_CODES:
        return SourceFailed("could not connect: authentication failed (credentials refused)")
    if sqlstate == _PG_NO_DATABASE or code == _MYSQL_NO_DATABASE:
        return SourceFailed("could not connect: database does not exist")
    server = _SERVER_NAMES.get(dialect, "database")
    return SourceFailed(
        f"could not connect: connection refused, timed out, or not a {server} server"
    )


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
    """One pooled engine per source; a connection per call, returned when done.
    ``copy_reads=False`` turns PostgreSQL's COPY read path off (tests compare both)."""

    def __init__(
        self, config: SourceConfig, limits: AdapterLimits, *, copy_reads: bool = True
    ) -> None:
        self.kind = config.kind
        self._limits = limits
        self._schema: str | None = config.settings.get("schema")
        self._secrets = [config.secret]
        self._engine = sql_config.create_engine(config, limits)
        self._dialect = self._engine.dialect.name
        dbapi = self._engine.dialect.dbapi
        self._driver_error: type[Exception] = getattr(dbapi, "Error", SQLAlchemyError)
        self._shapes = ShapeCache()
        driver = self._engine.dialect.driver
        self._autocommit_reads = driver == "psycopg"
        self._copy_reads = copy_reads and driver == "psycopg"

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
        if connecting:
            return connect_failure(self._dialect, sqlstate, code, text)
        if sqlstate in _PG_AUTH_STATES or code in _MYSQL_AUTH_CODES:
            return SourceFailed("could not connect: authentication failed")
        if (
            sqlstate in (_PG_UNDEFINED_COLUMN, _PG_UNDEFINED_TABLE)
            or code in (_MYSQL_UNKNOWN_COLUMN, _MYSQL_NO_SUCH_TABLE)
            or (self._dialect == "sqlite" and text.startswith(("no such column", "no such table")))
        ):
            # the plan names only catalog fields and objects: one the source lacks is drift
            first = text.strip().splitlines()[0] if text.strip() else "a column is missing"
            message = f"the source's schema changed ({first})"
            return SchemaChanged(f"{message}; a steward must refresh the catalog entry")
        if isinstance(exc, DBAPIError | NoSuchTableError | self._driver_error):
            message = scrub(driver_failure(orig), self._secrets)
            return SourceFailed(f"the source failed the query: {message}")
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

    @contextmanager
    def _raw(self) -> Iterator[PoolProxiedConnection]:
        """A DBAPI connection checked out of the engine's pool (its connect events —
        read-only session, timeout — applied), returned (and reset) when done."""
        try:
            fairy = self._engine.raw_connection()
        except (SQLAlchemyError, self._driver_error) as exc:
            raise self._translate(exc, connecting=True) from None
        try:
            yield fairy
        except self._driver_error as exc:
            dialect = self._engine.dialect
            if dialect.is_disconnect(exc, fairy.dbapi_connection, None):  # type: ignore[arg-type]
                fairy.invalidate()
            raise self._translate(exc) from None
        finally:
            fairy.close()

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

    def lineage(self, object_name: str) -> frozenset[str]:
        """The tables the object reads, as the source's planner opens them
        (``adapters.sql_lineage``); on MySQL/MariaDB a table of an engine that keeps its
        own rows is itself, and a view, or a table whose engine reads others (``MERGE``),
        may read any table. A source that cannot answer (a plan
        refused to a read-only account) may read any table: unknown is not nothing."""
        dialect = self._engine.dialect
        prep = dialect.identifier_preparer
        quoted = prep.quote(object_name)
        if self._schema:
            quoted = f"{prep.quote_schema(self._schema)}.{quoted}"
        try:
            if dialect.name in ("sqlite", "postgresql"):
                read = sqlite_lineage if dialect.name == "sqlite" else postgres_lineage
                with self._raw() as fairy:
                    found = read(driver_connection(fairy), quoted)
            else:
                home = self._schema or self._engine.url.database or ""
                with self._connection() as conn:
                    found = mysql_lineage(conn, self._schema, object_name, home)
        except (SluiceError, self._driver_error):
            found = None
        return found if found is not None else frozenset({ANY_TABLE})

    def sample(self, object_name: str, *, rows: int) -> pa.Table:
        return sample_table(self, self.describe(object_name), rows=rows, limits=self._limits)

    def execute(self, plan: QueryPlan) -> Iterator[pa.RecordBatch]:
        checked = check_plan(plan, self._limits)  # raises before the generator starts
        compiled, values = self._compiled(checked)
        return self._stream(compiled, values, plan, checked.limit)

    def small_rows(self, plan: QueryPlan) -> RowsRead | None:
        """A result of one batch at most, on a ``FAST_DRIVERS`` driver, as the driver's
        tuples: the same statement, connection, deadline and row cut as ``execute``;
        ``batch()`` is the batch ``execute`` would have yielded."""
        if self._engine.dialect.driver not in FAST_DRIVERS:
            return None
        checked = check_plan(plan, self._limits)
        if checked.limit > plan.batch_size:
            return None
        compiled, values = self._compiled(checked)
        schema = schema_for(plan.columns)
        with self._raw() as fairy:
            raw = driver_connection(fairy)
            deadline = self._arm_sqlite_deadline(raw)
            params = self._params(compiled, values)

            def read() -> Sequence[Sequence[Any]]:
                rows: Sequence[Sequence[Any]] = self._fetch_small(fairy, compiled.sql, params)
                return rows

            try:
                rows = read() if deadline is not None else self._within(fairy, read)
            finally:
                if deadline is not None:
                    raw.set_progress_handler(None, 0)
        rows = rows[: checked.limit]
        return RowsRead(rows, lambda: self._to_batch(schema, rows) if rows else empty_batch(schema))

    def _compiled(self, checked: CheckedPlan) -> tuple[Compiled, dict[str, Any]]:
        """The statement of the plan's shape (compiled once per shape) and its values."""
        shape, values = bind_plan(checked, self._dialect)
        compiled = self._shapes.get(shape)
        if compiled is None:
            dialect = self._engine.dialect
            stmt = build_select(checked, schema=self._schema, dialect=dialect)
            compiled = compile_select(stmt, dialect, frozenset(values))
            self._shapes.put(shape, compiled)
        compiled.params(values)  # a shape/value mismatch fails here, before any I/O
        return compiled, values

    def aggregate(self, plan: AggregatePlan) -> pa.Table:
        """Every group of ``plan`` from one ``GROUP BY`` (``adapters.aggregate``),
        compiled once per shape like any select; more than ``max_groups`` is refused."""
        check_aggregate_plan(plan)
        checked = check_plan(rows_plan(plan), self._limits)
        shape, values = bind_aggregate(checked, plan, self._dialect)
        compiled = self._shapes.get(shape)
        if compiled is None:
            with self._connection():  # the dialect learns the server's version (its casts)
                pass
            dialect = self._engine.dialect
            stmt = build_aggregate_select(checked, plan, schema=self._schema, dialect=dialect)
            compiled = compile_select(stmt, dialect, frozenset(values))
            self._shapes.put(shape, compiled)
        compiled.params(values)  # a shape/value mismatch fails here, before any I/O
        columns = plan.result_columns()
        result = QueryPlan(object_name=plan.rows.object_name, columns=columns,
                           known_columns=columns, batch_size=plan.rows.batch_size)  # fmt: skip
        batches = list(self._stream(compiled, values, result, plan.max_groups + 1))
        table = pa.Table.from_batches(batches, schema=plan.result_schema())
        if table.num_rows > plan.max_groups:
            raise too_many_groups(plan.max_groups)
        return table

    def _stream(
        self, compiled: Compiled, values: dict[str, Any], plan: QueryPlan, limit: int
    ) -> Iterator[pa.RecordBatch]:
        schema = schema_for(plan.columns)
        with ExitStack() as stack:
            fairy: PoolProxiedConnection | None = None
            if self._engine.dialect.driver in FAST_DRIVERS:
                fairy = stack.enter_context(self._raw())
                deadline = self._arm_sqlite_deadline(driver_connection(fairy))
                if deadline is not None:
                    stack.callback(driver_connection(fairy).set_progress_handler, None, 0)
                batches = self._batches(fairy, compiled, values, plan, limit)
            else:
                conn = stack.enter_context(self._connection())
                deadline = None
                batches = self._generic_batches(conn, compiled, values, plan, limit)
            stack.callback(batches.close)
            # a server's socket: the gateway's own deadline on each fetch (red team 22)
            watched = None if deadline is not None else fairy
            sent = 0
            while sent < limit:
                if deadline is not None:
                    deadline.reset()
                batch = self._next_within(batches, watched)
                if batch is None:
                    break
                if batch.num_rows > limit - sent:
                    batch = batch.slice(0, limit - sent)
                sent += batch.num_rows
                yield batch
            if sent == 0:
                yield empty_batch(schema)

    def _next_within(
        self, batches: Iterator[pa.RecordBatch], fairy: PoolProxiedConnection | None
    ) -> pa.RecordBatch | None:
        """The next batch, its fetch bounded on the server's socket by the gateway's own
        deadline (``adapters.sql_deadline``): a server that stops talking (or a relay
        that holds its answer) is cut off, its connection never pooled again."""
        if fairy is None:
            return next(batches, None)
        return self._within(fairy, lambda: next(batches, None))

    def _within(self, fairy: PoolProxiedConnection, call: Callable[[], _T]) -> _T:
        """``call()``, bounded on the server's socket by the gateway's own deadline."""
        try:
            with bounded(driver_connection(fairy), self._limits.statement_timeout_s):
                return call()
        except SourceTimeout:
            fairy.invalidate()
            raise

    def _batches(
        self,
        fairy: PoolProxiedConnection,
        compiled: Compiled,
        values: dict[str, Any],
        plan: QueryPlan,
        limit: int,
    ) -> Generator[pa.RecordBatch, None, None]:
        raw = driver_connection(fairy)
        schema = schema_for(plan.columns)
        params = self._params(compiled, values)
        if limit <= plan.batch_size:
            rows = self._fetch_small(fairy, compiled.sql, params)
            if rows:
                yield self._to_batch(schema, rows)
            return
        logical = [c.type for c in plan.columns]
        if self._copy_reads and copy_compatible(raw, compiled.sql, params, logical):
            yield from self._checked_batches(
                copy_batches(
                    raw,
                    compiled.sql,
                    params,
                    schema,
                    first=min(FIRST_CHUNK, plan.batch_size),
                    size=plan.batch_size,
                    timeout_s=self._limits.statement_timeout_s,
                )
            )
            return
        dialect = self._engine.dialect
        for rows in stream_rows(raw, dialect, compiled.sql, params, plan.batch_size):
            yield self._to_batch(schema, rows)

    def _params(self, compiled: Compiled, values: dict[str, Any]) -> Any:
        return compiled.params(sqlite_values(values) if self._dialect == "sqlite" else values)

    def _fetch_small(self, fairy: PoolProxiedConnection, sql: str, params: Any) -> Any:
        """One batch at most: on psycopg in autocommit (no BEGIN / ROLLBACK round trips;
        the session stays read-only and time-bounded)."""
        raw = driver_connection(fairy)
        if not self._autocommit_reads:
            return fetch_all(raw, sql, params)
        raw.autocommit = True
        try:
            return fetch_all(raw, sql, params)
        finally:
            try:
                raw.autocommit = False
            except self._driver_error:
                fairy.invalidate()  # never pool a connection in an unknown state

    def _generic_batches(
        self,
        conn: sa.Connection,
        compiled: Compiled,
        values: dict[str, Any],
        plan: QueryPlan,
        limit: int,
    ) -> Generator[pa.RecordBatch, None, None]:
        schema = schema_for(plan.columns)
        if limit <= plan.batch_size:
            small = conn.execute(compiled.select, values).fetchall()
            if small:
                yield self._to_batch(schema, small)
            return
        for rows in stream_result(conn, compiled.select, values, plan.batch_size):
            yield self._to_batch(schema, rows)

    def _checked_batches(
        self, batches: Generator[pa.RecordBatch, None, None]
    ) -> Generator[pa.RecordBatch, None, None]:
        try:
            yield from batches
        except pa.ArrowException:
            raise SourceFailed(
                "the source returned values that do not match the catalog's field types"
            ) from None
        finally:
            batches.close()

    def _to_batch(self, schema: pa.Schema, rows: Sequence[Sequence[Any]]) -> pa.RecordBatch:
        try:
            return batch_from_rows(schema, rows)
        except (pa.ArrowException, ValueError, TypeError):
            raise SourceFailed(
                "the source returned values that do not match the catalog's field types"
            ) from None

    def _arm_sqlite_deadline(self, raw: Any) -> _Deadline | None:
        if self._dialect != "sqlite":
            return None
        deadline = _Deadline(self._limits.statement_timeout_s)
        raw.set_progress_handler(deadline, SQLITE_PROGRESS_STEPS)
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
