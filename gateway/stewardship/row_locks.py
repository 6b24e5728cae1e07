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

Within one process only: replicas (and the CLI beside a running gateway) still race.
Striped by key (bounded memory); a stripe not freed within ``WRITE_WAIT_S`` is a 409.
"""

from __future__ import annotations

import threading
import zlib
from collections.abc import Iterable

from sqlalchemy import event
from sqlalchemy.orm import Session, SessionTransaction

from catalog.errors import Conflict

_STRIPES = tuple(threading.Lock() for _ in range(64))
_HELD = "sluice.row_trail.held_stripes"
WRITE_WAIT_S = 2.0


def _stripe(key: str) -> int:
    return zlib.crc32(key.encode("utf-8", "surrogatepass")) % len(_STRIPES)


def hold_rows(session: Session, keys: Iterable[str]) -> None:
    """Take the write stripes of ``keys`` for ``session`` until its transaction ends;
    ``Conflict`` (409) when another change of one of them does not end within
    ``WRITE_WAIT_S``. Call before checking that a row's loaded state is current."""
    held: set[int] = session.info.setdefault(_HELD, set())
    wanted = sorted({_stripe(k) for k in keys} - held)
    if not wanted:
        return
    session.connection()  # a transaction, whose end gives the stripes back
    if not session.info.get(_HELD + ".listening"):
        event.listen(session, "after_transaction_end", _release)
        session.info[_HELD + ".listening"] = True
    for index in wanted:
        if not _STRIPES[index].acquire(timeout=WRITE_WAIT_S):
            raise Conflict("this row is being changed by another request; load it again")
        held.add(index)


def _release(session: Session, transaction: SessionTransaction) -> None:
    if transaction.parent is not None:
        return
    held: set[int] = session.info.get(_HELD, set())
    while held:
        _STRIPES[held.pop()].release()
