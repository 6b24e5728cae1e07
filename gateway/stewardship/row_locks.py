"""One write of a governing row at a time in this process (red team 20).

A change made through the gateway checks that the row's loaded state is the newest the
trail names, binds the row's new state on the trail, then commits
(``gateway.stewardship.row_trail``). Two saves that both passed the check before either
bound (a double click, two stewards) bound in one order and committed in the other: the
row kept one state while the trail named the other, and the row was refused to everyone
as one written back behind the gateway (an entry: 423 ``entry_unsealed`` to every
analyst until a later save). The check, the binding and the commit are therefore one
step per row: a write takes its rows' stripes before the check and gives them back when
its transaction ends, so a second write waits for the first, then finds its own loaded
state stale (409) — or current, if the first did not commit.

Across processes on PostgreSQL (replicas, the CLI beside a gateway) the same key's
transaction-scoped advisory lock is taken too (``pg_advisory_xact_lock``'s try form, so
a wait is bounded): it ends with the transaction, whatever ends it, and locks no row, so
the trail's own writer never waits on it. On SQLite a lock file per stripe beside the
database stands in for it (``row_lock_files``: the CLI or a second gateway beside a
gateway raced there before rows32). Striped by key in a process
(bounded memory); a stripe, an advisory lock or a stripe's lock file not freed within
``WRITE_WAIT_S`` is a 409.
"""

from __future__ import annotations

import contextlib
import threading
import time
import zlib
from collections.abc import Iterable

from sqlalchemy import event, text
from sqlalchemy.orm import Session, SessionTransaction

from catalog.errors import Conflict, Unavailable
from gateway.stewardship import row_lock_files

_STRIPES = tuple(threading.Lock() for _ in range(64))
_HELD = "sluice.row_trail.held_stripes"
WRITE_WAIT_S = 2.0


_ADVISORY = text("SELECT pg_try_advisory_xact_lock(:space, :key)")
ADVISORY_SPACE = 0x51C0  # the first of advisory locks' two keys: rows' writes, here
_RETRY_S = 0.02


def _stripe(key: str) -> int:
    return zlib.crc32(key.encode("utf-8", "surrogatepass")) % len(_STRIPES)


def advisory_key(key: str) -> int:
    """A row key's advisory lock (PostgreSQL's second key, a signed 32-bit number)."""
    return zlib.crc32(key.encode("utf-8", "surrogatepass")) - 2**31


def hold_rows(session: Session, keys: Iterable[str]) -> None:
    """Take the write locks of ``keys`` for ``session`` until its transaction ends;
    ``Conflict`` (409) when another change of one of them does not end within
    ``WRITE_WAIT_S``. Call before checking that a row's loaded state is current."""
    held: set[int] = session.info.setdefault(_HELD, set())
    held_keys: set[str] = session.info.setdefault(_HELD + ".keys", set())
    new_keys = sorted(set(keys) - held_keys)
    if not new_keys:
        return
    session.connection()  # a transaction, whose end gives the locks back
    if not session.info.get(_HELD + ".listening"):
        event.listen(session, "after_transaction_end", _release)
        session.info[_HELD + ".listening"] = True
    deadline = time.monotonic() + WRITE_WAIT_S
    for index in sorted({_stripe(k) for k in new_keys} - held):
        if not _STRIPES[index].acquire(timeout=max(deadline - time.monotonic(), 0)):
            raise Conflict("this row is being changed by another request; load it again")
        held.add(index)
    bind = session.get_bind()
    if bind.dialect.name == "postgresql":
        for key in new_keys:
            _advisory(session, advisory_key(key), deadline)
    else:
        folder = row_lock_files.lock_dir(bind.engine.url)
        _lock_files(session, folder, {_stripe(k) for k in new_keys}, deadline)
    held_keys.update(new_keys)


def _advisory(session: Session, key: int, deadline: float) -> None:
    """Another process's write of the row (a replica's): wait for its transaction."""
    connection = session.connection()  # no autoflush: nothing is written before the binding
    while not connection.execute(_ADVISORY, {"space": ADVISORY_SPACE, "key": key}).scalar():
        if time.monotonic() >= deadline:
            raise Conflict("this row is being changed by another request; load it again")
        time.sleep(_RETRY_S)


def _lock_files(session: Session, folder: str | None, stripes: set[int], deadline: float) -> None:
    """Another process's write of a row on the same SQLite file (the CLI's, a second
    gateway's): wait for its transaction (``row_lock_files``: a file per stripe)."""
    if folder is None:
        return  # an in-memory database: no other process opens it
    files: dict[int, int] = session.info.setdefault(_HELD + ".files", {})
    for index in sorted(stripes - set(files)):
        try:
            fd = row_lock_files.lock(folder, index, deadline)
        except OSError as exc:
            raise Unavailable(f"the catalog's row lock files cannot be locked: {exc}") from None
        if fd is None:
            raise Conflict("this row is being changed by another request; load it again")
        files[index] = fd


def _release(session: Session, transaction: SessionTransaction) -> None:
    if transaction.parent is not None:
        return
    session.info.get(_HELD + ".keys", set()).clear()  # advisory locks end with it
    files: dict[int, int] = session.info.get(_HELD + ".files", {})
    while files:
        with contextlib.suppress(OSError):  # the stripes are given back whatever happens
            row_lock_files.unlock(files.popitem()[1])
    held: set[int] = session.info.get(_HELD, set())
    while held:
        _STRIPES[held.pop()].release()
