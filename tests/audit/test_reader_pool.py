"""Read connections kept between reads of a PostgreSQL trail (``audit.reader_pool``):
handed out again only whole, replaced when the server ended them, never kept after a
failed read, and none on SQLite (a file put in the store's place is the one read)."""

from __future__ import annotations

import os
import sqlite3
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest

from audit.search import EventFilter, list_events
from audit.store import AuditStore
from catalog.errors import Unavailable
from tests.audit.helpers import event, open_log
from tests.conftest import PG_ADMIN


@pytest.fixture
def store(pg_url: str) -> Iterator[AuditStore]:
    kept = AuditStore(pg_url, timeout_s=2.0)
    try:
        yield kept
    finally:
        kept.close_readers()


def _pid(store: AuditStore) -> int:
    with store.reading() as conn:
        return int(store.fetch_all(conn, "SELECT pg_backend_pid()", [])[0][0])


def test_reads_take_the_same_connection_again(store: AuditStore) -> None:
    first = _pid(store)
    assert _pid(store) == first
    with store.reading() as conn:
        assert conn.prepare_threshold is None  # no server-side plans kept


def test_a_connection_the_server_ended_is_replaced_not_failed(store: AuditStore) -> None:
    first = _pid(store)
    with psycopg.connect(PG_ADMIN, autocommit=True) as admin:
        admin.execute("SELECT pg_terminate_backend(%s)", [first])
    second = _pid(store)  # no error: the dead one is dropped, a new one opened
    assert second != first


def test_a_failed_read_or_an_open_transaction_is_not_kept(store: AuditStore) -> None:
    first = _pid(store)
    with pytest.raises(psycopg.errors.UndefinedTable), store.reading() as conn:
        conn.execute("SELECT * FROM no_such_table")
    after_failure = _pid(store)
    assert after_failure != first
    with store.reading() as conn:
        conn.execute("SELECT 1")  # left inside a transaction: not handed out again
    assert _pid(store) != after_failure


def test_closed_readers_are_closed_and_reads_still_work(pg_url: str) -> None:
    store = AuditStore(pg_url, timeout_s=2.0)
    first = _pid(store)
    store.close_readers()
    with psycopg.connect(PG_ADMIN, autocommit=True) as admin:
        alive = admin.execute("SELECT count(*) FROM pg_stat_activity WHERE pid = %s",
                              [first]).fetchone()  # fmt: skip
    assert alive is not None and alive[0] == 0
    assert _pid(store) != first  # a read after close opens its own, closed after


def test_a_search_after_the_log_is_closed_still_answers(pg_url: str, tmp_path: Path) -> None:
    log = open_log(pg_url, tmp_path / "home")
    log.append(event(1))
    filters = EventFilter()
    assert list_events(store=log.store, filters=filters, limit=5)["items"]
    log.close()
    assert list_events(store=log.store, filters=filters, limit=5)["items"]


def _table(path: Path, rows: int) -> None:
    with sqlite3.connect(path) as db:
        db.execute("CREATE TABLE t (n INTEGER)")
        db.executemany("INSERT INTO t VALUES (?)", [(n,) for n in range(rows)])


def test_sqlite_reads_the_file_in_the_stores_place(tmp_path: Path) -> None:
    path, other = tmp_path / "audit.db", tmp_path / "other.db"
    _table(path, 1)
    _table(other, 2)
    store = AuditStore(f"sqlite:///{path}", timeout_s=2.0)
    with store.reading() as conn:
        assert store.fetch_all(conn, "SELECT count(*) FROM t", [])[0][0] == 1
    os.replace(other, path)  # a kept connection would still read the old file
    with store.reading() as conn:
        assert store.fetch_all(conn, "SELECT count(*) FROM t", [])[0][0] == 2


def test_an_unreachable_server_is_unavailable() -> None:
    store = AuditStore("postgresql://nobody@127.0.0.1:1/none", timeout_s=0.5)
    with pytest.raises(Unavailable), store.reading():
        pass
