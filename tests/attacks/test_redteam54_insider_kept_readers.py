"""Red team 54: the PostgreSQL read connections kept between reads of the trail
(``audit.reader_pool``) read what a new connection would read.

The insider has the audit database (here the same superuser the tests' gateway connects as): a
search path set for the database after the readers were opened, a shadow
``audit_events`` in another schema, rows appended after a kept reader last read. A
read the gateway's own code ends cleanly after leaving session state on its
connection (a committed ``SET``, a temporary table that shadows ``audit_events`` —
``pg_temp`` is searched before ``public``) must not hand that state to the next
decision: a kept connection is reset (``DISCARD ALL``) before it is handed out."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest

from audit.genuine import genuine_seqs
from audit.log import AuditLog
from audit.search import EventFilter, list_events
from audit.store import AuditStore
from tests.audit.helpers import event, open_log


@pytest.fixture
def log(pg_url: str, tmp_path: Path) -> Iterator[AuditLog]:
    opened = open_log(pg_url, tmp_path / "home")
    try:
        for n in range(3):
            opened.append(event(n))
        yield opened
    finally:
        opened.close()


def _insider(store: AuditStore, *statements: str) -> None:
    with psycopg.connect(store.conninfo, autocommit=True) as admin:
        for sql in statements:
            admin.execute(sql)


def _pid(store: AuditStore) -> int:
    with store.reading() as conn:
        return int(store.fetch_all(conn, "SELECT pg_backend_pid()", [])[0][0])


def _seqs(store: AuditStore) -> list[int]:
    found = list_events(store=store, filters=EventFilter(), limit=50)["items"]
    return sorted(int(item["seq"]) for item in found)


def _shadow(schema: str) -> str:
    return f"CREATE TABLE {schema}.audit_events (LIKE public.audit_events)"


def test_a_search_path_set_for_the_database_does_not_reach_a_kept_reader(
    log: AuditLog,
) -> None:
    store = log.store
    before, kept = _seqs(store), _pid(store)
    database = store.conninfo.rsplit("/", 1)[1].split("?")[0]
    _insider(store, "CREATE SCHEMA evil", _shadow("evil"),
             f'ALTER DATABASE "{database}" SET search_path = evil, public')  # fmt: skip
    assert _pid(store) == kept
    assert _seqs(store) == before  # the kept reader: still public's trail
    store.close_readers()
    assert _seqs(store) == before  # a new reader too (its options name public)


def test_a_kept_reader_sees_what_was_appended_after_its_last_read(log: AuditLog) -> None:
    store = log.store
    before, kept = _seqs(store), _pid(store)
    log.append(event(9))
    assert _pid(store) == kept
    after = _seqs(store)
    assert len(after) == len(before) + 1  # no snapshot kept from the last read
    assert genuine_seqs(store, after) == set(after)


def test_session_state_a_clean_read_left_is_not_handed_on(log: AuditLog) -> None:
    store = log.store
    before = _seqs(store)
    _insider(store, "CREATE SCHEMA evil", _shadow("evil"))
    with store.reading() as conn:  # a read that commits a SET and a shadow table
        conn.execute("SET search_path = evil")
        conn.execute("CREATE TEMP TABLE audit_events (LIKE public.audit_events)")
        conn.commit()
    assert _seqs(store) == before
    assert genuine_seqs(store, before) == set(before)
    with store.reading() as conn:
        path = store.fetch_all(conn, "SHOW search_path", [])[0][0]
        lock_timeout = store.fetch_all(conn, "SHOW lock_timeout", [])[0][0]
    assert (path, lock_timeout) == ("public", "2s")  # the options it was opened with


def test_a_forked_child_closing_its_readers_leaves_the_parents(log: AuditLog) -> None:
    store = log.store
    kept = _pid(store)
    child = os.fork()
    if child == 0:  # pragma: no cover - the child's only work
        store.close_readers()
        os._exit(0)
    os.waitpid(child, 0)
    assert _pid(store) == kept  # the parent's session was not ended by the child
