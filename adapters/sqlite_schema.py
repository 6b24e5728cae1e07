"""A pooled SQLite connection plans against its file's schema as stored.

Why: SQLite reloads a connection's copy of the schema only when the file's schema cookie
changes. Whoever owns a source's file (its department's administrator) can rewrite a
view's text in ``sqlite_master`` with ``PRAGMA writable_schema`` and put the cookie back
(``PRAGMA integrity_check`` still says ``ok``): every pooled connection that had loaded
the schema then keeps the old view, while one opened since reads the new one. The pool
hands its connections out in turn, so a freeze's question of what a view reads
(``adapters.sql_lineage``, asked on one checkout) and the read (another checkout) saw
two views of one name: a harmless table for the question, the frozen roll for the read
(red team 52). So at each checkout the stored schema is read (its rows' digest, a few
microseconds) and, when it is not what this connection last saw, the connection's copy
is dropped (``PRAGMA writable_schema = RESET``, which also expires the driver's cached
statements): it plans against the schema as stored, as a new connection does.
"""

from __future__ import annotations

import hashlib
from typing import Any

from sqlalchemy import Engine, event

_STORED = "SELECT type, name, tbl_name, rootpage, sql FROM main.sqlite_master"
_SEEN = "sluice.sqlite_schema"


def plan_against_stored_schema(engine: Engine) -> None:
    """Check each checkout of ``engine``'s pool against the stored schema."""
    event.listen(engine, "checkout", _as_stored)


def _as_stored(dbapi_connection: Any, record: Any, _proxy: Any) -> None:
    stored = dbapi_connection.execute(_STORED).fetchall()
    digest = hashlib.sha256(repr(stored).encode()).digest()
    if record.info.get(_SEEN) != digest:  # a new connection, or a schema changed since
        dbapi_connection.execute("PRAGMA writable_schema = RESET")
        record.info[_SEEN] = digest
