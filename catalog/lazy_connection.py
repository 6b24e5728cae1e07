"""A catalog connection taken from the pool only if something needs it.

Why: a governed query's catalog reads (its entry, the grants) are cached under the
catalog generation its identity lookup already read, so most requests need no
connection at all; checking one out and back in cost more than the cache lookups.
"""

from __future__ import annotations

from types import TracebackType

from sqlalchemy import Connection, Engine


class LazyConnection:
    """``with LazyConnection(engine) as conn: conn()`` — the first call connects; the
    block's end gives the connection back if one was taken."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine
        self._conn: Connection | None = None

    def __call__(self) -> Connection:
        if self._conn is None:
            self._conn = self._engine.connect()
        return self._conn

    def __enter__(self) -> LazyConnection:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._conn is not None:
            self._conn.__exit__(kind, exc, tb)
            self._conn = None
