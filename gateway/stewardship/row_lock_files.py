"""Row write locks across processes on SQLite: one byte of a lock file per row key.

PostgreSQL gives the row locks (``row_locks``) their cross-process half in advisory
locks. SQLite has none, so the operator's CLI (``sluice users add``, ``sluice rebind``)
or a second gateway on the same embedded catalog took a row's lock in its own memory
only: an admin's user and the CLI's look-alike were both made, two gateways' triggers
of one schedule period both went on record (rows32, red team 28's left row). Here a
row key is one byte of ``<database>.row-locks`` beside the database file (the byte at
the key's CRC-32), locked with ``fcntl.lockf``'s non-blocking form, retried until the
caller's deadline, given back when the transaction ends.

Not the database's own write lock (``BEGIN IMMEDIATE`` where a row's lock is taken): on
SQLite the trail shares the database, and a governed write puts its record on the
trail (the audit writer's connection, ``BEGIN IMMEDIATE`` too) before it commits — the
writer would wait for the request that waits for the writer, and every record behind
it too. A byte of a separate file locks no table, so only another write of the same row
waits on it, as with PostgreSQL's advisory locks.

POSIX record locks belong to the process, not to a thread: a second thread asking for
a byte its process holds is granted it at once. ``row_locks`` keeps that from happening:
a key's in-process stripe is its CRC-32 modulo the stripes, so two keys on one byte
share a stripe, held first and given back last. The file is opened once per process
and never closed: closing any descriptor of it drops every lock the process holds there.
"""

from __future__ import annotations

import errno
import fcntl
import os
import threading
import time

from sqlalchemy.engine import URL

from catalog.private_files import PRIVATE_FILE

SUFFIX = ".row-locks"
_RETRY_S = 0.02
_BUSY = (errno.EACCES, errno.EAGAIN)
_OPEN: dict[str, int] = {}
_OPENING = threading.Lock()


def lock_file(url: URL) -> str | None:
    """The lock file beside a SQLite catalog's database file (its real path, so two
    processes naming it differently share it); None for an in-memory database, which no
    other process can open."""
    database = url.database
    if url.get_backend_name() != "sqlite" or not database or database == ":memory:":
        return None
    if database.startswith("file:"):  # a URI filename (``?uri=true``)
        if "mode=memory" in database:
            return None
        database = database.removeprefix("file:").split("?", 1)[0]
    return os.path.realpath(database) + SUFFIX


def _descriptor(path: str) -> int:
    with _OPENING:
        fd = _OPEN.get(path)
        if fd is None:
            fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, PRIVATE_FILE)
            _OPEN[path] = fd
        return fd


def lock(path: str, offset: int, deadline: float) -> bool:
    """Take byte ``offset`` of the lock file for this process; False when another
    process holds it past ``deadline`` (``time.monotonic``)."""
    fd = _descriptor(path)
    while True:
        try:
            fcntl.lockf(fd, fcntl.LOCK_EX | fcntl.LOCK_NB, 1, offset)
            return True
        except OSError as exc:
            if exc.errno not in _BUSY:
                raise
        if time.monotonic() >= deadline:
            return False
        time.sleep(_RETRY_S)


def unlock(path: str, offset: int) -> None:
    """Give byte ``offset`` back (before the stripe that guards it in the process)."""
    fcntl.lockf(_OPEN[path], fcntl.LOCK_UN, 1, offset)
