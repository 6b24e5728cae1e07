"""PostgreSQL read connections to the audit store, kept between reads.

Every read of the trail that a request or a background check makes — a search, the
freezes and grants on record, the genuine-event check, the alert rules' scans — opened a
connection of its own and closed it: on PostgreSQL a new server process, its
authentication and the durable-settings check each time, several milliseconds and a
fork on the server for a read of a few rows. The suite opened ~18,000 connections in one
run, three in four of them for such reads (stop 38's count). A few idle read
connections are now kept and handed out again.

What may be handed out again is only a connection that came back whole: not closed or
broken, outside any transaction (every read rolls back when it is done:
``AuditStore.fetch_all`` and ``stream``), and from this process (a forked worker opens
its own). Before it is handed out, one round trip (``DISCARD ALL``) proves the server
still answers it (a server restarted meanwhile) and resets whatever session state a read
left on it (a committed ``SET``, a temporary table): a dead one is dropped and a new one
opened, so a read fails only when a new connection would have failed too. Kept
connections never prepare statements on the server (``prepare_threshold = None``): a
table an insider dropped and made again must not meet a plan of the old one.

SQLite readers are not kept: a connection holds the file it opened, and a file put in
the store's place (an insider's restored copy) must be the one read.
"""

from __future__ import annotations

import contextlib
import os
import threading
from collections.abc import Callable, Iterator
from typing import Any

KEEP = 4
"""Idle connections kept; more readers at once each open their own, closed after."""


class ReaderPool:
    """Idle PostgreSQL read connections of one audit store."""

    def __init__(self, open_reader: Callable[[], Any], *, keep: int = KEEP) -> None:
        self._open = open_reader
        self._keep = keep
        self._idle: list[Any] = []
        self._lock = threading.Lock()
        self._pid = os.getpid()
        self._closed = False

    @contextlib.contextmanager
    def reading(self) -> Iterator[Any]:
        """A read connection (a kept one that answers, or a new one), kept again after
        a read that ended cleanly; closed after anything else."""
        conn = self._answering() or self._new()
        clean = False
        try:
            yield conn
            clean = True
        finally:
            if not (clean and self._give_back(conn)):
                _close(conn)

    def close(self) -> None:
        """Close the idle connections; later readers are closed after their read. A
        forked child only forgets the ones it inherited: closing them would end the
        parent's sessions on the sockets both hold (red team 54)."""
        with self._lock:
            self._closed = True
            idle, self._idle = self._idle, []
        if os.getpid() != self._pid:
            return
        for conn in idle:
            _close(conn)

    def _new(self) -> Any:
        conn = self._open()
        conn.prepare_threshold = None
        return conn

    def _answering(self) -> Any | None:
        while True:
            with self._lock:
                if not self._idle or os.getpid() != self._pid:
                    return None
                conn = self._idle.pop()
            try:
                _reset(conn)
                return conn
            except Exception:  # the server went away or ended it: a new one instead
                _close(conn)

    def _give_back(self, conn: Any) -> bool:
        if conn.closed or conn.broken or not _idle_in_no_transaction(conn):
            return False
        with self._lock:
            if self._closed or os.getpid() != self._pid or len(self._idle) >= self._keep:
                return False
            self._idle.append(conn)
            return True


def _reset(conn: Any) -> None:
    """One round trip that proves the server answers and returns the session to how it
    was opened: ``DISCARD ALL`` resets every setting to the connection's own (its
    ``search_path=public``), drops temporary tables (``pg_temp`` is searched before
    ``public``: a temporary ``audit_events`` would shadow the trail), prepared
    statements, advisory locks and listens (red team 54)."""
    conn.autocommit = True
    try:
        conn.execute("DISCARD ALL")
    finally:
        conn.autocommit = False


def _idle_in_no_transaction(conn: Any) -> bool:
    from psycopg.pq import TransactionStatus

    return bool(conn.info.transaction_status == TransactionStatus.IDLE)


def _close(conn: Any) -> None:
    with contextlib.suppress(Exception):
        conn.close()
