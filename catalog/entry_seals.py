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
into the row's other columns.

An entry's seal also covers each of its fields' name and seal (0022): a field row
deleted or inserted behind the gateway, or one written back as it was before a change,
leaves the entry's seal unverified, so the entry serves nothing. What a seal alone does
not stop, writing a row back as it was before a change made through the gateway with
the seal it had then (a replay), the entry's binding on the trail does: every change
made through the gateway binds the entry's new seal first (``catalog.row_bindings``,
``gateway.stewardship.row_trail``), and the readers take an entry as sealed only while
its seal is the newest the trail names (``entry_current``).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from enum import Enum
from types import SimpleNamespace
from typing import Any

from sqlalchemy import Connection, inspect
from sqlalchemy.orm import object_session

from catalog.errors import EntryUnsealed
from catalog.row_bindings import Check, checker, settle
from catalog.row_seals import FirstSeen, RowSeals, as_loaded, seals_for

log = logging.getLogger(__name__)

DATASETS = "datasets"
FIELDS = "fields"

FieldSeals = Sequence[tuple[str, object]]
"""An entry's fields as its seal names them: (name, seal) of each field row."""


def _text(value: Any) -> Any:
    return value.value if isinstance(value, Enum) else value


def legacy_dataset_values(row: Any) -> tuple[Any, ...]:
    """What an entry's seal covered from 0019 to 0022: everything of the row the broker
    and the policy read (``catalog.entries``, ``policies.inputs.dataset_input``) and who
    froze it (the freezer may not lift it); not its titles, descriptions or tags."""
    purposes = row.allowed_purposes
    if not isinstance(purposes, list | None):
        raise TypeError("allowed_purposes is not a list")
    return (row.id, row.department, row.source_id, row.object_name, row.level,
            _text(row.status), list(purposes or []), row.region_field, row.schema_version,
            row.frozen_at is not None, row.frozen_by)  # fmt: skip


def dataset_values(row: Any, fields: FieldSeals) -> tuple[Any, ...]:
    """What an entry's seal covers: its row's governing values, the name and seal of
    each of its fields (a field deleted, inserted or replaced changes the set) and,
    once told, the tables its object reads (0023: an entry sealed before names none,
    and its seal still verifies; one that names them verifies only with them)."""
    named = sorted([str(name), seal if isinstance(seal, str) else None] for name, seal in fields)
    reads = getattr(row, "reads", None)  # a reader that selects no ``reads`` fails closed
    if not isinstance(reads, list | None):
        # ``sorted`` of a JSON object is its keys, of a string its characters: either
        # sealed as the list it spelt while the reader (``catalog.entries._reads``) took
        # it as "not told", unlinking a view from its table (red team 51)
        raise TypeError("reads is not a list")
    return (*legacy_dataset_values(row), named, *(() if reads is None else (sorted(reads),)))


def field_values(row: Any) -> tuple[Any, ...]:
    """What a field's seal covers: its entry, name, type and classification."""
    return (row.dataset_id, row.name, row.type, row.level, row.pi_category, row.mask_override)


_OWN = object()  # the row's own ``seal``


def dataset_seal(seals: RowSeals, row: Any, fields: FieldSeals) -> str:
    return seals.seal(DATASETS, dataset_values(row, fields))


def field_seal(seals: RowSeals, row: Any) -> str:
    return seals.seal(FIELDS, field_values(row))


def _holds(seals: RowSeals, table: str, values: Any, row: Any, seal: object) -> bool:
    try:
        found = row.seal if seal is _OWN else seal
        return seals.holds(table, values(), found)
    except (AttributeError, TypeError, ValueError):
        return False


def dataset_holds(seals: RowSeals, row: Any, fields: FieldSeals, seal: object = _OWN) -> bool:
    """Whether an entry's ``row`` (an ORM object or a Core row with the sealed columns;
    ``seal`` when the row's own is under another name) with ``fields`` was written by a
    gateway of this deployment. A row of values a gateway never writes holds no seal
    (never an error for its readers)."""
    return _holds(seals, DATASETS, lambda: dataset_values(row, fields), row, seal)


def legacy_dataset_holds(seals: RowSeals, row: Any) -> bool:
    """Whether an entry's row holds a seal of 0019's, which named no field (adoption)."""
    return _holds(seals, DATASETS, lambda: legacy_dataset_values(row), row, _OWN)


def field_holds(seals: RowSeals, row: Any, seal: object = _OWN) -> bool:
    """``dataset_holds`` for a field row."""
    return _holds(seals, FIELDS, lambda: field_values(row), row, seal)


def entry_key(dataset_id: object) -> str:
    """An entry's key on the trail (``catalog.row_bindings``): its row and, through its
    seal, its fields."""
    return f"{DATASETS}/{dataset_id}"


def entry_current(check: Check, dataset_id: object, seal: object) -> bool:
    """Whether an entry whose seal verified is the newest state the trail names for it."""
    return check(entry_key(dataset_id), seal)


def _defaults(table: str) -> dict[str, Any]:
    if table == DATASETS:
        return {"level": "L2", "allowed_purposes": [], "status": "draft", "schema_version": 1}
    return {"type": "string", "level": "L2", "pi_category": "none", "position": 0}


def _field_to_be(seals: RowSeals, dataset_id: object, field: Any) -> object:
    """The seal ``seal_entry_row`` gives ``field`` at the coming flush (its own seal
    when it does not re-seal it)."""
    if inspect(field).key is None:  # a new field: its defaults, under its entry
        values = {name: getattr(field, name) for name in _COLUMNS}
        for name, value in _defaults(FIELDS).items():
            if name in values and values[name] is None:
                values[name] = value
        return field_seal(seals, SimpleNamespace(**{**values, "dataset_id": dataset_id}))
    if not field_holds(seals, as_loaded(field)):
        return field.seal
    return field_seal(seals, field)


_COLUMNS = ("dataset_id", "name", "type", "level", "pi_category", "mask_override")


def fields_to_be(seals: RowSeals, dataset: Any) -> list[tuple[str, object]]:
    """An ORM ``Dataset``'s fields as its seal will name them after the coming flush."""
    return [(f.name, _field_to_be(seals, dataset.id, f)) for f in dataset.fields]


def loaded_fields(dataset: Any) -> list[tuple[str, object]]:
    """An ORM ``Dataset``'s fields as its session loaded them, before its own changes:
    what its loaded seal named."""
    dataset.fields  # noqa: B018 - loaded first, so its history is the loaded collection
    history = inspect(dataset).attrs["fields"].history
    found = [*history.unchanged, *history.deleted]
    return [(loaded.name, loaded.seal) for loaded in map(as_loaded, found)]


def stored_fields(dataset: Any) -> list[tuple[str, object]]:
    """An ORM ``Dataset``'s fields as they are (each one's own seal)."""
    return [(f.name, f.seal) for f in dataset.fields]


def _with_defaults(table: str, target: Any) -> None:
    for name, value in _defaults(table).items():
        if getattr(target, name) is None:
            setattr(target, name, value)


def dataset_loaded_holds(seals: RowSeals, dataset: Any) -> bool:
    """Whether an ORM ``Dataset`` and its fields as its session loaded them verified
    under the seal loaded with them."""
    return dataset_holds(seals, as_loaded(dataset), loaded_fields(dataset))


def seal_entry_row(connection: Connection, table: str, target: Any, *, update: bool) -> None:
    """Seal an entry or field the ORM is about to write. An update seals only a row whose
    loaded values (an entry's: with its fields as loaded) verified under the seal loaded
    with them (the module). An entry is sealed with its fields as they will be after
    this flush (its row is written before theirs)."""
    seals = seals_for(connection)
    if table == DATASETS:
        if update and not dataset_loaded_holds(seals, target):
            return
        if not update:
            _with_defaults(table, target)
        target.seal = dataset_seal(seals, target, fields_to_be(seals, target))
        return
    if update and not field_holds(seals, as_loaded(target)):
        return
    if not update:
        _with_defaults(table, target)
    target.seal = field_seal(seals, target)


_REPORTED = FirstSeen()


def report_unsealed(table: str, key: object, seal: str | None) -> None:
    """Log a row that does not verify, once per process per (row, seal)."""
    if _REPORTED.first((table, str(key), seal)):
        log.warning("entry_unsealed table=%s id=%s", table, key)


def resealed(connection: Connection, row: Any, **changes: Any) -> str | None:
    """The seal an entry ``row`` (an ORM ``Dataset`` as its session loaded it, flushed)
    takes with ``changes`` made by a Core write, or None when its loaded values did not
    verify (the write then leaves its seal as it was: still unsealed)."""
    seals = seals_for(connection)
    if not dataset_loaded_holds(seals, row):
        return None
    changed = SimpleNamespace(**{**vars(as_loaded(row)), **changes})
    return dataset_seal(seals, changed, loaded_fields(row))


def dataset_verifies(seals: RowSeals, dataset: Any, check: Check | None = None) -> bool:
    """Whether an ORM ``Dataset`` and each of its fields verify (logged once if not),
    and, with ``check``, whether the entry's seal is the newest the trail names."""
    for field in dataset.fields:
        if not field_holds(seals, field):
            report_unsealed(FIELDS, f"{dataset.id}.{field.name}", field.seal)
            return False
    if not dataset_holds(seals, dataset, stored_fields(dataset)):
        report_unsealed(DATASETS, dataset.id, dataset.seal)
        return False
    if check is not None and not entry_current(check, dataset.id, dataset.seal):
        report_unsealed(DATASETS, dataset.id, dataset.seal)
        return False
    return True


def require_entry_sealed(connection: Connection, dataset: Any, *, token: object = None) -> None:
    """``EntryUnsealed`` for an entry (an ORM ``Dataset`` read in the request) whose row
    or a field row does not verify, or which the trail no longer names (a replay): the
    comparisons refuse it as the broker does. ``token``: the catalog generation, so the
    trail is read at most once per generation (``catalog.row_bindings.checker``)."""
    check, seals = checker(connection, token=token), seals_for(connection)
    if not dataset_verifies(seals, dataset, check) and not _settled(seals, dataset, check):
        raise EntryUnsealed(f"dataset {dataset.id!r} was changed outside the gateway; "
                            "it serves nothing until its sealed values are restored")  # fmt: skip


def _settled(seals: RowSeals, dataset: Any, check: Check) -> bool:
    """Whether an entry that verifies but is not the newest state the trail names was
    in the middle of a steward's save (bound before its commit) that has now ended:
    read again, fields and all, until the row and the trail agree (``settle``)."""
    session = object_session(dataset)
    if session is None or not dataset_verifies(seals, dataset):
        return False

    def read() -> bool:
        for field in list(dataset.fields):
            session.expire(field)
        session.expire(dataset)
        return dataset_verifies(seals, dataset, check)

    return settle(read, lambda agreed: not agreed)
