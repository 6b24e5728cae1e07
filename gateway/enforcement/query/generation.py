"""The catalog generation read on every request, on driver connections of its own.

Why: every governed request reads the generation first (``entries.catalog_generation``:
one single-row SELECT), and through the engine that read cost three times its own
work — a pool checkout and checkin (events, the reset on return) and, on a server
database, the autocommit switch ``reads_engine`` sets on each checkout and takes back on
each checkin (``python -m bench.steps``: the identity step). Here a few driver
connections, in autocommit from the start, serve only this one statement (on psycopg 3
sent straight through libpq: ``libpq_select``).

The read itself is unchanged: one SELECT per call, on the database, never a cached
value, so a change is still seen by the very next request in every process. A
connection that fails is closed, never handed out again, and the read is a 503, as
through the engine, and the idle ones are closed with it (a restart kills them all);
connections are renewed after ``recycle_s`` (the engine's
``pool_recycle``). An engine whose new connections would not see the same database (an
in-memory SQLite's static pool) is read through the engine, as before.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any

from sqlalchemy import Connection, Engine
from sqlalchemy.pool import Pool, QueuePool

from catalog.db import reads_engine
from catalog.errors import Unavailable

GENERATION_SQL = "SELECT value FROM catalog_generation WHERE id = 1"


def generation_value(row: Any) -> int:
    """The generation in ``row`` (the SELECT's one row), or ``Unavailable``."""
    value = row[0] if row else None
    if value is None:  # the row is guarded by a trigger; without it nothing is cacheable
        raise Unavailable("the catalog generation row is missing; run `sluice migrate`")
    if isinstance(value, bool) or not isinstance(value, int):
        # SQLite stores whatever it is given (a text value passes the "only grows"
        # trigger, text sorting above numbers): nothing is cacheable, fail closed
        raise Unavailable("the catalog generation is not an integer; nothing is served")
    return value


UNAVAILABLE = "catalog database unavailable, retry later"


class _DeadConnection(Exception):
    """A reader connection failed its SELECT (dropped already): ``read`` tries once more."""


def cursor_select(conn: Any) -> Any:
    """The generation's row through the driver's cursor (DB-API)."""
    cursor = conn.cursor()
    try:
        cursor.execute(GENERATION_SQL)
        return cursor.fetchone()
    finally:
        cursor.close()


def catalog_generation(conn: Connection) -> int:
    """The current catalog generation on ``conn``; read before anything it vouches for."""
    # straight on the driver's cursor: SQLAlchemy's execution context costs more than
    # the round trip itself. Without SQLAlchemy in the way, a failed connection is ours
    # to invalidate (else the pool hands it out again).
    try:
        row = cursor_select(conn.connection)
    except conn.dialect.loaded_dbapi.Error as exc:
        conn.invalidate(exc)
        raise Unavailable(UNAVAILABLE) from exc
    return generation_value(row)


class GenerationReader:
    """``read()``: the current catalog generation, one round trip, no engine in the way.
    Thread-safe; opens at most ``size`` connections of its own (a read that finds them
    all busy goes through the engine, whose pool bounds it as before)."""

    def __init__(self, engine: Engine, *, size: int = 8, recycle_s: float = 1800.0) -> None:
        self._engine = engine
        self._reads = reads_engine(engine)
        self._own = isinstance(engine.pool, QueuePool)
        # new connections come from a pool of their own with the engine's creator and
        # hooks, never out of the engine's pool: after a server restart that pool is full
        # of dead connections, and each one the reader took failed one more request
        # (red team 21)
        self._fresh: Pool | None = engine.pool.recreate() if self._own else None
        self._errors: type[BaseException] = engine.dialect.loaded_dbapi.Error
        self._size = size
        self._recycle_s = recycle_s
        self._lock = threading.Lock()
        self._idle: list[tuple[float, Any]] = []  # (born, driver connection)
        self._open = 0  # idle and in use
        self._closed = False
        psycopg3 = engine.dialect.driver == "psycopg"
        self._select: Callable[[Any], Any] = libpq_select if psycopg3 else cursor_select

    def read(self) -> int:
        """One SELECT; a connection that fails is dropped with every idle one and the
        read tried once more on a new connection (it changes nothing: after a server
        restart the caller is served, not refused; a server that is down fails both)."""
        try:
            return self._read_once()
        except _DeadConnection:
            pass
        try:
            return self._read_once()
        except _DeadConnection as dead:
            raise Unavailable(UNAVAILABLE) from dead.__cause__

    def _read_once(self) -> int:
        try:
            taken = self._take() if self._own else None
        except self._errors as exc:  # a new connection refused: the server is down
            raise Unavailable(UNAVAILABLE) from exc
        if taken is None:
            with self._reads.connect() as engine_conn:
                return catalog_generation(engine_conn)
        born, conn = taken
        try:
            row = self._select(conn)
        except self._errors as exc:
            self._drop(conn)
            raise _DeadConnection from exc
        except BaseException:
            self._drop(conn)
            raise
        self._give(born, conn)
        return generation_value(row)

    def close(self) -> None:
        """Close the idle connections; later reads go through the engine."""
        with self._lock:
            idle, self._idle, self._closed = self._idle, [], True
            self._open -= len(idle)
        for _born, conn in idle:
            _close(conn)
        if self._fresh is not None:
            self._fresh.dispose()

    def _take(self) -> tuple[float, Any] | None:
        """An idle connection young enough, else a new one while fewer than ``size`` are
        open, else None (closed, or all busy)."""
        now = time.monotonic()
        stale: list[Any] = []
        found: tuple[float, Any] | None = None
        with self._lock:
            while self._idle and found is None:
                born, conn = self._idle.pop()
                if now - born < self._recycle_s:
                    found = (born, conn)
                else:
                    stale.append(conn)
                    self._open -= 1
            opening = found is None and not self._closed and self._open < self._size
            if opening:
                self._open += 1  # reserved before connecting: the bound holds meanwhile
        for conn in stale:
            _close(conn)
        if found is not None or not opening:
            return found
        try:
            return now, self._connect()
        except BaseException:
            with self._lock:
                self._open -= 1
            raise

    def _give(self, born: float, conn: Any) -> None:
        with self._lock:
            if not self._closed:
                self._idle.append((born, conn))
                return
            self._open -= 1
        _close(conn)

    def _drop(self, conn: Any) -> None:
        """A connection that failed: closed, its place free for a new one — and the idle
        ones with it, as the engine's pool invalidates all its connections at a failure:
        after a server restart each of them was dead too and failed one more request
        (red team 21: eight 503s per process before the reader had none left)."""
        with self._lock:
            idle, self._idle = self._idle, []
            self._open -= 1 + len(idle)
        _close(conn)
        for _born, other in idle:
            _close(other)

    def _connect(self) -> Any:
        """A new driver connection set up as the engine sets up its own (the dialect's
        and our ``connect`` hooks: pragmas, search path), taken out of its pool."""
        if self._fresh is None:  # never: only an engine with a QueuePool is read here
            raise Unavailable(UNAVAILABLE)
        proxied = self._fresh.connect()  # its errors: as the engine's connect
        proxied.detach()
        conn = proxied.dbapi_connection
        if conn is None:  # never: a checked-out connection holds its driver's
            raise Unavailable(UNAVAILABLE)
        if self._engine.dialect.name != "sqlite":  # autocommit, as ``reads_engine``
            try:
                self._engine.dialect.set_isolation_level(conn, "AUTOCOMMIT")
            except BaseException:
                _close(conn)
                raise
        return conn


_INTEGER_OIDS = frozenset({20, 21, 23})  # int8, int2, int4
_GENERATION_BYTES = GENERATION_SQL.encode()


def libpq_select(conn: Any) -> Any:
    """``cursor_select`` on psycopg 3, straight on libpq (``PQexec``, which releases the
    GIL): psycopg's cursor machinery cost twice the round trip's own CPU, and this
    statement needs none of it (no parameter, one integer). Gives what the cursor would
    have: an integer column as an ``int``, any other type as text (refused by
    ``generation_value``); a failed statement raises the driver's ``OperationalError``."""
    import psycopg  # the dialect's own driver: loaded already

    result = conn.pgconn.exec_(_GENERATION_BYTES)
    try:
        if result.status != psycopg.pq.ExecStatus.TUPLES_OK:
            message = (result.error_message or b"").decode("utf-8", "replace")
            raise psycopg.OperationalError(f"catalog generation read failed: {message}")
        if result.ntuples == 0:
            return None
        value = result.get_value(0, 0)
        if value is None or result.ftype(0) not in _INTEGER_OIDS:
            return (None if value is None else value.decode("utf-8", "replace"),)
        return (int(value),)
    finally:
        result.clear()


def _close(conn: Any) -> None:
    try:
        conn.close()
    except Exception:  # already broken: nothing left to release
        return
