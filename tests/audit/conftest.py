"""Audit fixtures: the same tests run on SQLite and on the machine's PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import drop_pg_database_later
from tests.migrated import create_migrated_pg_database


@pytest.fixture
def pg_url() -> Iterator[str]:
    """A fresh PostgreSQL database for one test, already at the newest schema.

    Every audit test starts on its database with ``open_log`` or ``migrate`` (both run
    ``catalog.db.migrate``), so the database it then works on is the same; the
    migrations ran once per process on a template (tests/migrated.py), as they do for
    the SQLite trails ``open_log`` copies, instead of once per test (about a second on
    PostgreSQL). The migrations themselves are tested in tests/catalog and tests/ops."""
    name, url = create_migrated_pg_database()
    try:
        yield url
    finally:
        drop_pg_database_later(name)


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'audit.db'}"
    url: str = request.getfixturevalue("pg_url")
    return url
