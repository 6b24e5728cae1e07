"""Adoption of the catalog's entries and fields (``gateway.wiring.row_seals`` says when
and why adoption happens): the two families of ``row_seal_adoption`` that concern them.

``4`` (0019): entries and fields without a seal are sealed, fields first, since an
entry's seal names each of its fields' name and seal (``catalog.entry_seals``).
``7`` (0022): an entry sealed under 0019, whose seal named no field, is sealed again
over its fields as they are, and only if that seal verifies: an entry changed behind
the gateway before the upgrade stays refused. Its count is ``entry_field_sets``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Connection, select, text

from catalog.entry_seals import DATASETS, FIELDS, dataset_seal, field_seal, legacy_dataset_holds
from catalog.models import Dataset, Field
from catalog.row_seals import RowSeals

ENTRIES = 4  # row_seal_adoption's id for entries and their fields (0019)
FIELD_SETS = 7  # its id for entries' seals naming their fields (0022)
_D, _F = Dataset.__table__, Field.__table__
# typed columns: ``allowed_purposes`` is JSON
_ENTRIES_SQL = select(_D).where(_D.c.seal.is_(None))
_FIELDS_SQL = select(_F).where(_F.c.seal.is_(None))
_SEALED_ENTRIES_SQL = select(_D).where(_D.c.seal.is_not(None))
_NAMED_SQL = select(_F.c.dataset_id, _F.c.name, _F.c.seal)


@dataclass
class EntryRows:
    """What the pending entry families will seal, read before the trail is told."""

    unsealed: dict[str, list[Any]] = field(default_factory=dict)  # by table (family 4)
    sealed: list[Any] | None = None  # entries sealed under 0019 (family 7)

    def counts(self, seals: RowSeals) -> dict[str, int]:
        counts = {table: len(rows) for table, rows in self.unsealed.items()}
        if self.sealed is not None:
            counts["entry_field_sets"] = sum(legacy_dataset_holds(seals, r) for r in self.sealed)
        return counts


def read_entries(conn: Connection, pending: frozenset[int]) -> EntryRows:
    rows = EntryRows()
    if ENTRIES in pending:
        rows.unsealed = {DATASETS: list(conn.execute(_ENTRIES_SQL).all()),
                         FIELDS: list(conn.execute(_FIELDS_SQL).all())}  # fmt: skip
    if FIELD_SETS in pending:
        rows.sealed = list(conn.execute(_SEALED_ENTRIES_SQL).all())
    return rows


def _named(conn: Connection) -> dict[str, list[tuple[str, object]]]:
    """Each entry's fields as its seal names them (name, seal), as stored now."""
    named: dict[str, list[tuple[str, object]]] = {}
    for row in conn.execute(_NAMED_SQL):
        named.setdefault(row.dataset_id, []).append((row.name, row.seal))
    return named


def seal_entries(conn: Connection, seals: RowSeals, rows: EntryRows) -> None:
    """Seal what ``read_entries`` read, in the adoption's transaction."""
    sql = text("UPDATE fields SET seal = :seal WHERE id = :id AND seal IS NULL")
    for row in rows.unsealed.get(FIELDS, []):
        conn.execute(sql, {"seal": field_seal(seals, row), "id": row.id})
    named = _named(conn)
    sql = text("UPDATE datasets SET seal = :seal WHERE id = :id AND seal IS NULL")
    for row in rows.unsealed.get(DATASETS, []):
        conn.execute(sql, {"seal": dataset_seal(seals, row, named.get(row.id, [])),
                           "id": row.id})  # fmt: skip
    sql = text("UPDATE datasets SET seal = :seal WHERE id = :id AND seal = :old")
    for row in rows.sealed or []:
        if legacy_dataset_holds(seals, row):
            conn.execute(sql, {"seal": dataset_seal(seals, row, named.get(row.id, [])),
                               "id": row.id, "old": row.seal})  # fmt: skip
