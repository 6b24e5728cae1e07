"""The catalog generation moved by the gateway's own writes, not by triggers alone.

Every process caches identities, role lines, entries and grants under the catalog
generation (``gateway.enforcement.query.generation``): one counter that triggers on the
watched tables bump in the change's transaction (migrations 0006 and 0008), so an edit
made anywhere — by hand in SQL too — is seen by the very next request. A database
insider with the owner's rights can drop or disable those triggers without changing a
row, breaking a seal or writing an event; after that an officer's suspension or freeze,
an admin's role change, a steward's reclassification were all answered 200 and on the
trail while every process went on serving from its cache (red team 46: alice suspended
and still served, a frozen entry still read). So each engine the gateway writes through
bumps the counter itself whenever a statement writes one of the watched tables, on the
same connection (one transaction with the change), whatever the triggers do: two bumps
where the triggers are in place (the counter only has to grow). An insider's own SQL
edit is still seen only through the triggers — and such an edit of a sealed row
serves nothing anyway.

Order: the bump runs right after the statement, as the triggers' does, on a cursor of
its own (the statement's cursor keeps its result: a ``RETURNING`` row, a
compare-and-set's row count). Before the statement, the generation row's lock was
taken before the written row's: a publication holding its source's row
(``SELECT … FOR UPDATE``) then writing its entry, and a source edit that had taken the
generation and waited for that row, deadlocked on PostgreSQL (red team 47: one of
them a 503 a second later, its record on the trail). After it, a write waits for the
row holding nothing more than it did with the triggers alone.
"""

from __future__ import annotations

import re
from typing import Any

from sqlalchemy import Engine, event

WATCHED = frozenset(
    {"sources", "datasets", "fields", "access_requests", "users", "casbin_rule"}
)  # migrations 0006 and 0008
BUMP_SQL = "UPDATE catalog_generation SET value = value + 1 WHERE id = 1"
_DML = re.compile(r'^\s*(?:INSERT\s+(?:OR\s+\w+\s+)?INTO|UPDATE|DELETE\s+FROM)\s+"?(\w+)"?',
                  re.IGNORECASE)  # fmt: skip


def written_table(statement: str) -> str | None:
    """The table a DML statement writes (lower case), else None."""
    found = _DML.match(statement)
    return found.group(1).lower() if found else None


def _bump_after_write(conn: Any, cursor: Any, statement: str, *_args: Any) -> None:
    if written_table(statement) not in WATCHED:
        return
    own = cursor.connection.cursor()
    try:
        own.execute(BUMP_SQL)
    finally:
        own.close()


def bump_on_writes(engine: Engine) -> None:
    """Make every write of a watched table through ``engine`` bump the generation."""
    event.listen(engine, "after_cursor_execute", _bump_after_write)
