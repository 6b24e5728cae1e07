"""``audit.scan.copy_out``: the rows of a ``COPY … TO STDOUT`` read straight from libpq
are psycopg's own, byte for byte; stopped early it drains the rest (the connection
serves the next range); a statement that fails, before or during its rows, raises
the driver's error, which verification reports as the store being unavailable."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest

from audit.log import AuditLog
from audit.scan import _SELECT, copy_out
from audit.verify import verify_database
from catalog.errors import Unavailable
from tests.audit.helpers import fill, open_log

ROWS = f"COPY (SELECT {_SELECT} FROM audit_events ORDER BY seq) TO STDOUT"


@pytest.fixture
def events(pg_url: str, sluice_home: Path) -> Iterator[tuple[AuditLog, Any]]:
    """A trail of 30 events, and a reading connection to its store."""
    log = open_log(pg_url, sluice_home)
    fill(log, 30)
    log.close()
    conn = log.store.connect(reader=True)
    try:
        yield log, conn
    finally:
        conn.close()


def test_rows_are_psycopgs_own_and_the_connection_serves_on(events: tuple[AuditLog, Any]) -> None:
    _log, conn = events
    with conn.cursor() as cur, cur.copy(ROWS) as copy:
        want = [bytes(row) for row in copy]
    assert len(want) == 30 and all(row.endswith(b"\n") for row in want)
    assert [bytes(row) for row in copy_out(conn, ROWS)] == want
    with contextlib.closing(copy_out(conn, ROWS)) as rows:  # stopped after two rows
        assert [bytes(next(rows)), bytes(next(rows))] == want[:2]
    assert conn.execute("SELECT count(*) FROM audit_events").fetchone() == (30,)
    assert list(copy_out(conn, "COPY (SELECT 1 WHERE false) TO STDOUT")) == []


@pytest.mark.parametrize("sql", [
    "COPY (SELECT * FROM no_such_table) TO STDOUT",  # fails before any row
    "COPY (SELECT 1 / (3 - seq) FROM audit_events ORDER BY seq) TO STDOUT",  # after two
])  # fmt: skip
def test_a_failed_statement_raises_a_driver_error(sql: str, events: tuple[AuditLog, Any]) -> None:
    _log, conn = events
    with pytest.raises(psycopg.DatabaseError):
        list(copy_out(conn, sql))
    conn.rollback()
    assert conn.execute("SELECT 1").fetchone() == (1,)


def test_verification_reports_a_failing_read_as_unavailable(
    events: tuple[AuditLog, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    log, _conn = events
    monkeypatch.setattr("audit.scan._SELECT", "seq, 1 / 0")
    with pytest.raises(Unavailable):
        verify_database(store=log.store, witness_file=log.witness_file, workers=1)
