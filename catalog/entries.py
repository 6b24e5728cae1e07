"""The catalog's read model of one entry: frozen, with its fields and the source part an
adapter needs, loaded in one round trip.

This is what the enforcement path reads on every cache miss (``gateway.enforcement.query
.entries`` caches it under the catalog generation), so it is one Core SELECT joining
the entry, its source and its fields — no ORM identity map, no lazy loads — and every
column is read by name, never by position.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from types import SimpleNamespace
from typing import Any

from sqlalchemy import Connection, Row, Select, select

from catalog.entry_seals import (
    DATASETS,
    FIELDS,
    dataset_holds,
    entry_current,
    field_holds,
    report_unsealed,
)
from catalog.models import Dataset, DatasetStatus, Field, Source
from catalog.row_bindings import Check, always_current, checker, settle
from catalog.row_seals import RowSeals, seals_for
from catalog.source_seals import refuse_unsealed, source_current, source_holds


@dataclass(frozen=True)
class FieldEntry:
    name: str
    type: str
    level: str
    pi_category: str
    mask_override: str | None


@dataclass(frozen=True)
class SourceEntry:
    """What opening the source needs; ``fingerprint`` changes with any of it."""

    id: str
    kind: str
    settings: dict[str, Any]
    secret_ciphertext: bytes | None
    secret_key_id: str | None
    fingerprint: str
    # what the source's connections said they reached (PostgreSQL), not part of opening it
    server_identity: str | None = None
    # whether the source's row carries this deployment's seal (catalog.source_seals): a
    # source that does not is never read, wherever it points
    sealed: bool = False

    def as_model(self) -> Source:
        """A transient ``Source`` for ``open_source_adapter`` (never added to a session)."""
        return Source(id=self.id, kind=self.kind, settings=dict(self.settings),
                      secret_ciphertext=self.secret_ciphertext,
                      secret_key_id=self.secret_key_id)  # fmt: skip


@dataclass(frozen=True)
class CatalogEntry:
    """A catalog entry, published or not (``status``), read-only, shared between requests."""

    id: str
    department: str
    source_id: str
    object_name: str
    level: str
    allowed_purposes: list[str]
    region_field: str | None
    status: DatasetStatus
    schema_version: int
    fields: tuple[FieldEntry, ...]
    source: SourceEntry
    frozen: bool = False  # an emergency freeze: every query and comparison refused
    # whether the entry's row and every field row carry this deployment's seal
    # (catalog.entry_seals): an entry that does not is refused, whatever it says
    sealed: bool = False
    # the tables of its system its object reads (``adapters.sql_lineage``; "*": any),
    # None when the source did not tell (a file, an endpoint, an entry drafted before 0023)
    reads: frozenset[str] | None = None

    @property
    def published(self) -> bool:
        return self.status is DatasetStatus.PUBLISHED


_D = Dataset.__table__.c
_F = Field.__table__.c
_S = Source.__table__.c

_ENTRY = select(
    _D.id, _D.department, _D.source_id, _D.object_name, _D.level, _D.allowed_purposes,
    _D.region_field, _D.status, _D.schema_version, _D.frozen_at, _D.frozen_by, _D.reads,
    _D.seal,
    _S.kind.label("source_kind"), _S.settings.label("source_settings"),
    _S.secret_ciphertext.label("source_secret_ciphertext"),
    _S.secret_key_id.label("source_secret_key_id"),
    _S.server_identity.label("source_server_identity"),
    _S.department.label("source_department"), _S.created_at.label("source_created_at"),
    _S.seal.label("source_seal"),
    _F.name.label("field_name"), _F.type.label("field_type"), _F.level.label("field_level"),
    _F.pi_category.label("field_pi_category"), _F.mask_override.label("field_mask_override"),
    _F.dataset_id.label("field_dataset_id"), _F.seal.label("field_seal"),
).select_from(
    Dataset.__table__.join(Source.__table__, _S.id == _D.source_id).outerjoin(
        Field.__table__, _F.dataset_id == _D.id
    )
)  # fmt: skip


def _query_for(dataset_id: str) -> Select[Any]:
    return _ENTRY.where(_D.id == dataset_id).order_by(_F.position)


def load_entry(
    conn: Connection, dataset_id: str, *, generation: int | None = None
) -> CatalogEntry | None:
    """The entry with its fields and source, in one round trip (None if unknown). Its
    seal is checked against the trail's newest binding, the trail read at most once per
    catalog ``generation`` (``catalog.row_bindings.checker``): a cache miss of the
    broker's, never a request."""
    seals, current = seals_for(conn), checker(conn, token=generation)

    def read() -> tuple[Sequence[Row[Any]], bool, bool]:
        rows = conn.execute(_query_for(dataset_id)).all()
        if not rows:
            return rows, True, True
        return rows, _verified(seals, current, rows), _source_verified(seals, current, rows[0])

    def in_flight(found: tuple[Sequence[Row[Any]], bool, bool]) -> bool:
        """Verified, but the entry or its source is not the newest state the trail
        names: a steward's save of it may be in flight (bound before its commit), and
        the query waits for it rather than refusing the entry as tampered (red team 20)."""
        rows, sealed, source_sealed = found
        return bool(rows) and not (sealed and source_sealed) and _held(seals, rows)

    rows, sealed, source_sealed = settle(read, in_flight)
    if not rows:
        return None
    return _build(rows, sealed, source_sealed)


def stored_entry_current(conn: Connection, dataset_id: str, current: Check) -> bool:
    """Whether the entry as the database holds it now (its row and fields read in one
    SELECT, whatever a session loaded before) verifies and the trail names it as it is:
    for a writer holding the entry's write lock, whose own loaded state did not verify
    (``gateway.stewardship.row_trail``)."""
    rows = conn.execute(_query_for(dataset_id)).all()
    return bool(rows) and _verified(seals_for(conn), current, rows)


def _held(seals: RowSeals, rows: Sequence[Row[Any]]) -> bool:
    """Whether the entry's, its fields' and its source's seals verify (the trail aside)."""
    return _verified(seals, always_current, rows) and _source_verified(
        seals, always_current, rows[0]
    )


def _source_verified(seals: RowSeals, current: Check, row: Row[Any]) -> bool:
    """Whether the entry's source row verifies and the trail names it as it is (logged
    once if not)."""
    source = SimpleNamespace(id=row.source_id, department=row.source_department,
                             kind=row.source_kind, settings=row.source_settings,
                             secret_ciphertext=row.source_secret_ciphertext,
                             secret_key_id=row.source_secret_key_id,
                             server_identity=row.source_server_identity,
                             created_at=row.source_created_at)  # fmt: skip
    if source_holds(seals, source, row.source_seal) and source_current(
        current, row.source_id, row.source_seal
    ):
        return True
    refuse_unsealed(row.source_id, row.source_seal)  # logged here; refused by the broker
    return False


def _verified(seals: RowSeals, current: Check, rows: Sequence[Row[Any]]) -> bool:
    """Whether each of the entry's field rows and its row with them verify, and the
    trail names the entry as it is (logged once if not)."""
    first = rows[0]
    named = []
    for r in rows:
        if r.field_name is None:
            continue
        field = SimpleNamespace(dataset_id=r.field_dataset_id, name=r.field_name,
                                type=r.field_type, level=r.field_level,
                                pi_category=r.field_pi_category,
                                mask_override=r.field_mask_override)  # fmt: skip
        if not field_holds(seals, field, r.field_seal):
            report_unsealed(FIELDS, f"{first.id}.{r.field_name}", r.field_seal)
            return False
        named.append((r.field_name, r.field_seal))
    if not (dataset_holds(seals, first, named) and entry_current(current, first.id, first.seal)):
        report_unsealed(DATASETS, first.id, first.seal)
        return False
    return True


def _status(value: str) -> DatasetStatus:
    """A hand-edited value that is no status reads as a draft: never served."""
    try:
        return DatasetStatus(value)
    except ValueError:
        return DatasetStatus.DRAFT


def _hashable(value: Any) -> Any:
    if isinstance(value, dict):
        return tuple(sorted((k, _hashable(v)) for k, v in value.items()))
    if isinstance(value, list):
        return tuple(_hashable(v) for v in value)
    return value


def _source(row: Row[Any], sealed: bool) -> SourceEntry:
    # settings that are no object (JSON of another type, written behind the gateway)
    # fail the source's seal: refused (``sealed``), never a 500 (red team 21)
    found = row.source_settings
    settings = dict(found) if isinstance(found, dict) else {}
    sealed = sealed and (found is None or isinstance(found, dict))
    h = hashlib.sha256()
    h.update(row.source_kind.encode())
    h.update(repr(_hashable(settings)).encode())
    h.update(row.source_secret_ciphertext or b"")
    return SourceEntry(
        id=row.source_id, kind=row.source_kind, settings=settings,
        secret_ciphertext=row.source_secret_ciphertext,
        secret_key_id=row.source_secret_key_id, fingerprint=h.hexdigest(),
        server_identity=row.source_server_identity, sealed=sealed,
    )  # fmt: skip


def _build(rows: Sequence[Row[Any]], sealed: bool, source_sealed: bool) -> CatalogEntry:
    first = rows[0]
    fields = tuple(
        FieldEntry(name=r.field_name, type=r.field_type, level=r.field_level,
                   pi_category=r.field_pi_category, mask_override=r.field_mask_override)
        for r in rows
        if r.field_name is not None
    )  # fmt: skip
    return CatalogEntry(
        id=first.id, department=first.department, source_id=first.source_id,
        object_name=first.object_name, level=first.level,
        allowed_purposes=list(first.allowed_purposes or []), region_field=first.region_field,
        status=_status(first.status), schema_version=first.schema_version, fields=fields,
        source=_source(first, source_sealed), frozen=first.frozen_at is not None, sealed=sealed,
        reads=_reads(first.reads),
    )  # fmt: skip


def _reads(found: Any) -> frozenset[str] | None:
    """The tables the entry's object reads, as its (sealed) row names them; a value of
    another shape fails the seal and is served nowhere."""
    return frozenset(str(t) for t in found) if isinstance(found, list) else None
