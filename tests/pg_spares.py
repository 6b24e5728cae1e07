"""PostgreSQL databases made one ahead, in a thread, while the tests run.

``CREATE DATABASE`` takes about 0.4 s on this machine's server (it copies and fsyncs
its template), and the suite makes a few hundred: one per PostgreSQL test of the audit
trail, one per PostgreSQL deployment of each attack module, and so on. The server does
that work, not the test process, so each test process keeps one database of each kind
made ahead in a background thread: a test takes it (renamed to the name it asked for,
``ALTER DATABASE … RENAME``, a catalog update) and the next one is started at once. The
database a test gets is the one it got before: a fresh copy of the same template that
nobody has connected to. If the spare cannot be renamed (someone connected to it), it
is dropped and the database is made as before, while the test waits.

A fixture's database is dropped the same way (``later``): the server drops it while the
next test runs; whatever connected to it was closed by the fixture, and ``WITH (FORCE)``
ends any straggler as it did when the drop came at once. The process waits for the
drops it queued before it exits.
"""

from __future__ import annotations

import atexit
import contextlib
import os
import threading
import uuid
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor

import psycopg

Make = Callable[[str], None]  # creates the database of that name


class Spares:
    """One database made ahead by ``make``; ``take`` hands it out under a new name."""

    def __init__(self, admin_url: str, make: Make) -> None:
        self._admin = admin_url
        self._make = make
        self._lock = threading.Lock()
        self._pool: ThreadPoolExecutor | None = None
        self._next: Future[str] | None = None

    def take(self, name: str) -> None:
        """Make database ``name``: the spare renamed, or made now if there is none."""
        with self._lock:
            pending, self._next = self._next, None
            if self._pool is None:
                self._pool = ThreadPoolExecutor(1, thread_name_prefix="pg-spare")
                atexit.register(self._close)
            self._next = self._pool.submit(self._spare)
        spare = _result(pending)
        if spare is not None:
            try:
                self._admin_execute(f'ALTER DATABASE "{spare}" RENAME TO "{name}"')
                return
            except psycopg.Error:
                self._drop(spare)
        self._make(name)

    def _spare(self) -> str:
        name = f"sluice_spare_{os.getpid()}_{uuid.uuid4().hex[:10]}"
        self._make(name)
        return name

    def _admin_execute(self, statement: str) -> None:
        with psycopg.connect(self._admin, autocommit=True) as conn:
            conn.execute(statement)  # type: ignore[arg-type]  # names made here, quoted

    def _drop(self, name: str) -> None:
        with contextlib.suppress(psycopg.Error):
            self._admin_execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

    def _close(self) -> None:
        """At the process's end: the spare nobody took is dropped."""
        with self._lock:
            pending, self._next = self._next, None
        spare = _result(pending)
        if spare is not None:
            self._drop(spare)
        if self._pool is not None:
            self._pool.shutdown(wait=True)


def _result(pending: Future[str] | None) -> str | None:
    """The spare's name, or None when none was made (its error is the next make's)."""
    if pending is None:
        return None
    try:
        return pending.result()
    except Exception:
        return None


_later_lock = threading.Lock()
_later: list[ThreadPoolExecutor] = []


def later(work: Callable[[str], None], name: str) -> None:
    """Run ``work(name)`` in this process's background thread (in order, once each);
    every queued call is done before the process exits."""
    with _later_lock:
        if not _later:
            _later.append(ThreadPoolExecutor(1, thread_name_prefix="pg-later"))
            atexit.register(_later[0].shutdown, wait=True)
        _later[0].submit(work, name)
