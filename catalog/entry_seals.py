"""Seals on the catalog rows that classify: entries (``datasets``) and their fields.

Why: an entry's level, purposes, region field and freeze, and each field's level,
personal-information category, mask override and type, decide what a query releases.
Whoever can write the catalog database could otherwise declassify a field
(``UPDATE fields SET level='L1', pi_category='none'``), widen an entry's purposes,
clear its region field or lift an officer's freeze (``frozen_at = NULL``), and the next
query was governed by it with nothing on the trail (red team 16). Each such row now
carries ``seal``, the deployment's row seal (``catalog.row_seals``: HMAC under a key
derived from ``keys/mask.secret``, which never goes into the database) over those
values; the broker refuses an entry whose row or any field row does not verify
(``EntryUnsealed``, on record), until the sealed values are written back.

Seals are written where the ORM writes the rows (``before_insert``/``before_update`` on
the models) and by the few Core writes of ``catalog.service`` (publication, a
source's deregistration), which seal what they write themselves. An update seals only
a row whose loaded values verified (as ``catalog.row_seals.seal_user_row``): a
steward's correction of a title would otherwise seal whatever an insider had written
into the row's other columns. What a seal does not stop: writing back a row as it was
before a change made through the gateway, with the seal it had then (a replay), or
deleting a field row (THREAT_MODEL).
"""

from __future__ import annotations

import logging
import threading
from enum import Enum
from types import SimpleNamespace
from typing import Any

from sqlalchemy import Connection

from catalog.errors import EntryUnsealed
from catalog.row_seals import RowSeals, as_loaded, seals_for

log = logging.getLogger(__name__)

DATASETS = "datasets"
FIELDS = "fields"


def _text(value: Any) -> Any:
    return value.value if isinstance(value, Enum) else value


def dataset_values(row: Any) -> tuple[Any, ...]:
    """What an entry's seal covers: everything of the row the broker and the policy read
    (``catalog.entries``, ``policies.inputs.dataset_input``) and who froze it (the
    freezer may not lift it); not its titles, descriptions or tags."""
    purposes = row.allowed_purposes
    if not isinstance(purposes, list | None):
        raise TypeError("allowed_purposes is not a list")
    return (row.id, row.department, row.source_id, row.object_name, row.level,
            _text(row.status), list(purposes or []), row.region_field, row.schema_version,
            row.frozen_at is not None, row.frozen_by)  # fmt: skip


def field_values(row: Any) -> tuple[Any, ...]:
    """What a field's seal covers: its entry, name, type and classification."""
    return (row.dataset_id, row.name, row.type, row.level, row.pi_category, row.mask_override)


_VALUES = {DATASETS: dataset_values, FIELDS: field_values}
_OWN = object()  # the row's own ``seal``


def entry_seal(seals: RowSeals, table: str, row: Any) -> str:
    return seals.seal(table, _VALUES[table](row))


def entry_holds(seals: RowSeals, table: str, row: Any, seal: object = _OWN) -> bool:
    """Whether ``row`` (an ORM object or a Core row with the sealed columns; ``seal``
    when the row's own is under another name) was written by a gateway of this
    deployment. A row of values a gateway never writes holds no seal (never an error
    for its readers)."""
    try:
        values = _VALUES[table](row)
        found = row.seal if seal is _OWN else seal
    except (AttributeError, TypeError, ValueError):
        return False
    return seals.holds(table, values, found)


def _with_defaults(table: str, target: Any) -> None:
    defaults = (
        {"level": "L2", "allowed_purposes": [], "status": "draft", "schema_version": 1}
        if table == DATASETS
        else {"type": "string", "level": "L2", "pi_category": "none", "position": 0}
    )
    for name, value in defaults.items():
        if getattr(target, name) is None:
            setattr(target, name, value)


def seal_entry_row(connection: Connection, table: str, target: Any, *, update: bool) -> None:
    """Seal an entry or field the ORM is about to write. An update seals only a row whose
    loaded values verified under the seal loaded with them (the module)."""
    seals = seals_for(connection)
    if update and not entry_holds(seals, table, as_loaded(target)):
        return
    if not update:
        _with_defaults(table, target)
    target.seal = entry_seal(seals, table, target)


_REPORTED: set[tuple[str, str, str | None]] = set()
_LOCK = threading.Lock()


def report_unsealed(table: str, key: object, seal: str | None) -> None:
    """Log a row that does not verify, once per process per (row, seal)."""
    mark = (table, str(key), seal)
    with _LOCK:
        if mark in _REPORTED or len(_REPORTED) >= 10_000:
            return
        _REPORTED.add(mark)
    log.warning("entry_unsealed table=%s id=%s", table, key)


def resealed(connection: Connection, row: Any, **changes: Any) -> str | None:
    """The seal an entry ``row`` (an ORM ``Dataset`` as its session loaded it) takes
    with ``changes`` made by a Core write, or None when its loaded values did not
    verify (the write then leaves its seal as it was: still unsealed)."""
    seals = seals_for(connection)
    loaded = as_loaded(row)
    if not entry_holds(seals, DATASETS, loaded):
        return None
    return entry_seal(seals, DATASETS, SimpleNamespace(**{**vars(loaded), **changes}))


def dataset_verifies(seals: RowSeals, dataset: Any) -> bool:
    """Whether an ORM ``Dataset`` and each of its fields verify (logged once if not)."""
    if not entry_holds(seals, DATASETS, dataset):
        report_unsealed(DATASETS, dataset.id, dataset.seal)
        return False
    for field in dataset.fields:
        if not entry_holds(seals, FIELDS, field):
            report_unsealed(FIELDS, f"{dataset.id}.{field.name}", field.seal)
            return False
    return True


def require_entry_sealed(connection: Connection, dataset: Any) -> None:
    """``EntryUnsealed`` for an entry (an ORM ``Dataset`` read in the request) whose row
    or a field row does not verify: the comparisons refuse it as the broker does."""
    if not dataset_verifies(seals_for(connection), dataset):
        raise EntryUnsealed(f"dataset {dataset.id!r} was changed outside the gateway; "
                            "it serves nothing until its sealed values are restored")  # fmt: skip
