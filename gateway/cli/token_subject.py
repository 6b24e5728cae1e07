"""The user ``sluice token`` mints for, read from the migrated catalog.

On the embedded catalog (a plain ``sqlite:///`` file, the default) the one row is read
with sqlite3: SQLAlchemy and the catalog's ORM models were a third of the command's
start-up (issue 17), and minting a token needs five columns of one table. Any other
database is read through the ORM, as every other command reads it. Both readers
return the same ``StoredSubject`` (``tests/gateway/cli/test_token_subject.py`` holds
them to each other); the migrations run first either way (``catalog.db.migrate``, which
on a catalog at its heads reads only ``alembic_version``).
"""

from __future__ import annotations

import json
import sqlite3
from dataclasses import dataclass
from typing import Any

from catalog.db import migrate
from catalog.db_url import sqlite_file
from catalog.private_files import private_dir
from gateway.core.settings import Settings

_COLUMNS = "subject, department, clearance, roles, jurisdiction"


@dataclass(frozen=True)
class StoredSubject:
    """A ``users`` row as a token carries it (a ``gateway.auth.issuer.TokenSubject``)."""

    subject: str
    department: str | None
    clearance: str
    roles: list[str]
    jurisdiction: list[str]


@dataclass(frozen=True)
class Lookup:
    """The user asked for (None: unknown), and then every known subject, sorted."""

    found: StoredSubject | None
    known: list[str]


def lookup_subject(settings: Settings, subject: str) -> Lookup:
    """``subject``'s row in the migrated catalog; the known subjects when it is missing."""
    private_dir(settings.home)
    url = settings.resolved_database_url
    migrate(url)
    path = sqlite_file(url)
    if path is not None:
        return _from_sqlite(path, subject)
    return lookup_with_orm(url, subject)


def _json_list(value: object) -> list[str]:
    """A JSON column's text as SQLAlchemy's ``JSON`` type decodes it (NULL: empty)."""
    decoded: Any = json.loads(value) if isinstance(value, str | bytes) else value
    return list(decoded or ())  # as the ORM reader's list(row.roles or ())


def _from_sqlite(path: str, subject: str) -> Lookup:
    # the engine's busy timeout (catalog.db); a SELECT opens no transaction
    conn = sqlite3.connect(path, timeout=5.0)
    try:
        row = conn.execute(f"SELECT {_COLUMNS} FROM users WHERE subject = ?",
                           (subject,)).fetchone()  # fmt: skip
        if row is not None:
            return Lookup(_subject(row), [])
        known = conn.execute("SELECT subject FROM users ORDER BY subject").fetchall()
        return Lookup(None, [str(name) for (name,) in known])
    finally:
        conn.close()


def _subject(row: tuple[object, ...]) -> StoredSubject:
    subject, department, clearance, roles, jurisdiction = row
    return StoredSubject(
        subject=str(subject),
        department=None if department is None else str(department),
        clearance=str(clearance),
        roles=_json_list(roles),
        jurisdiction=_json_list(jurisdiction),
    )


def lookup_with_orm(url: str, subject: str) -> Lookup:
    """The same lookup through SQLAlchemy (a server database; the tests' reference)."""
    from sqlalchemy import select

    from catalog.db import make_engine, make_session_factory
    from catalog.models import User

    engine = make_engine(url)
    try:
        with make_session_factory(engine)() as session:
            row = session.scalars(select(User).where(User.subject == subject)).one_or_none()
            if row is not None:
                found = StoredSubject(
                    subject=row.subject, department=row.department, clearance=row.clearance,
                    roles=list(row.roles or ()), jurisdiction=list(row.jurisdiction or ()),
                )  # fmt: skip
                return Lookup(found, [])
            return Lookup(None, list(session.scalars(select(User.subject).order_by(User.subject))))
    finally:
        engine.dispose()
