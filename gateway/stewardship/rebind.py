"""An operator's rebinding of a row left refused by a change that never committed.

A change made through the gateway binds the row's new state on the trail before it
commits (``gateway.stewardship.row_trail``) and binds the old one back if the commit
fails. A gateway killed in between (a crash, ``kill -9``, a host lost) leaves the trail
naming a state the row never took: the row verifies, but is not the newest state the
trail names, so it serves nothing (423) and every change of it through the API answers
409 ("changed by another request"), for ever. Users have a way out (an admin's whole
save); entries, sources, comparison models and schedules had none.

``sluice catalog rebind`` is that way out, on the host: the operator, who holds the
deployment's keys and could seal anything anyway, names the row and a reason; a row
whose seal verifies is bound as it is now, on record (``catalog.row_bound`` by the
operator, with ``rebound``: the reason). A row whose seal does not verify (changed
behind the gateway) is refused: its sealed values must be written back first. A
replay (a row written back as it was before a change, seal and all) verifies too, and
this makes it govern: the command shows the row's values and asks first.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session
from sqlalchemy.orm.attributes import flag_modified

from audit.event_types import EventType
from audit.records import Actor, key_event
from audit.sink import AuditSink
from catalog.comparison_models import ComparisonModel
from catalog.comparison_schedules import ComparisonSchedule
from catalog.entry_seals import DATASETS, dataset_verifies
from catalog.errors import Conflict, NotFound
from catalog.models import Dataset, Source
from catalog.row_bindings import REMOVED, bindings_for, checker, digest
from catalog.row_seals import RowSeals, seals_for
from gateway.stewardship.row_locks import hold_rows
from gateway.stewardship.row_trail import loaded_holds, trail_key

KINDS: dict[str, type[Any]] = {
    "entry": Dataset, "source": Source, "model": ComparisonModel, "schedule": ComparisonSchedule,
}  # fmt: skip


def _holds(seals: RowSeals, table: str, row: Any) -> bool:
    if table == DATASETS:
        return dataset_verifies(seals, row)  # and each of its fields
    return loaded_holds(seals, table, row)


def load(session: Session, kind: str, row_id: str) -> Any:
    row = session.get(KINDS[kind], row_id)
    if row is None:
        raise NotFound(f"no {kind} {row_id!r}")
    return row


def rebind(audit: AuditSink, session: Session, kind: str, row: Any, *, actor: Actor,
           reason: str) -> bool:  # fmt: skip
    """Bind ``row`` as it was shown (loaded), on record as ``actor``'s act for ``reason``;
    False if the trail already names it as it is (nothing done). ``Conflict`` for a row
    whose seal does not verify, one changed since it was loaded, or a schedule deleted
    (its row says so, or the trail's newest state of it does: it runs nothing whatever
    it is bound). The caller commits.

    The row's write lock is held first and the row read again under it (red team 21):
    the command asks before it binds, and a steward's save committed meanwhile was
    overwritten — the trail named the shown state again and the seal column was written
    back onto the saved values, so the row verified for no one."""
    bind, found = session.get_bind(), trail_key(row)
    assert found is not None  # every kind in KINDS is bound on the trail
    (key, table), shown = found, row.seal
    hold_rows(session, [key])  # a save of it waits for this, or this for it
    session.expire_all()
    row = load(session, kind, row.id)
    if row.seal != shown:
        raise Conflict(f"the {kind} {row.id!r} changed since it was shown (a save through "
                       "the gateway); run the command again")  # fmt: skip
    _refuse_deleted(bind, kind, key, row)
    if not _holds(seals_for(bind), table, row):
        raise Conflict(f"the {kind} {row.id!r} does not verify: it was changed behind the "
                       "gateway; write its sealed values back first")  # fmt: skip
    if checker(bind)(key, row.seal):
        return False
    audit.append(key_event(type_=EventType.ROW_BOUND, actor=actor, resource=f"row:{key}",
                           details={"digest": digest(key, row.seal),
                                    "rebound": reason}))  # fmt: skip
    # written again as it is, so the catalog generation moves and every process reads
    # the row and its binding afresh (a refusal is kept for a generation); the caller
    # commits, which gives the row's lock back
    flag_modified(row, "seal")
    return True


def _refuse_deleted(bind: Any, kind: str, key: str, row: Any) -> None:
    """A schedule whose row or newest binding says deleted: its owner's deletion stands.
    Written back by an insider as it was before the deletion, seal and all, it verified
    and was rebound on request, and ran again in its owner's name (red team 21)."""
    if kind != "schedule":
        return
    bindings = bindings_for(bind)
    if row.deleted_at is not None or (bindings is not None and bindings.newest(key) == REMOVED):
        raise Conflict(f"schedule {row.id} was deleted by its owner; it runs nothing and "
                       "is not rebound (its owner makes a new one)")  # fmt: skip
