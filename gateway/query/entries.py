"""Catalog entries as the broker needs them, read in one round trip per request.

The ORM load of an entry with its fields (plus a separate load of its source) was the
largest cost of a small query. One Core SELECT joins the entry, its fields and its
source; the row tuples themselves are the cache key, so any change a steward makes —
a field's level, a mask override, a new secret — is seen by the very next request,
while an unchanged entry reuses its parsed snapshot and policy input.
"""

from __future__ import annotations

import hashlib
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, select

from catalog.models import Dataset, Field, Source
from policies.inputs import dataset_input


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

    def as_model(self) -> Source:
        """A transient ``Source`` for ``open_source_adapter`` (never added to a session)."""
        return Source(id=self.id, kind=self.kind, settings=dict(self.settings),
                      secret_ciphertext=self.secret_ciphertext,
                      secret_key_id=self.secret_key_id)  # fmt: skip


@dataclass(frozen=True)
class Entry:
    """A published-or-not catalog entry, read-only, shared between requests."""

    id: str
    department: str
    source_id: str
    object_name: str
    level: str
    allowed_purposes: list[str]
    region_field: str | None
    status: str
    schema_version: int
    fields: tuple[FieldEntry, ...]
    source: SourceEntry
    policy_input: dict[str, Any]


_D = Dataset.__table__.c
_F = Field.__table__.c
_S = Source.__table__.c

_BASE = select(
    _D.id, _D.department, _D.source_id, _D.object_name, _D.level, _D.allowed_purposes,
    _D.region_field, _D.status, _D.schema_version,
    _S.kind, _S.settings, _S.secret_ciphertext, _S.secret_key_id,
    _F.name, _F.type, _F.level, _F.pi_category, _F.mask_override,
).select_from(
    Dataset.__table__.join(Source.__table__, _S.id == _D.source_id).outerjoin(
        Field.__table__, _F.dataset_id == _D.id
    )
)


def _query_for(dataset_id: str) -> Any:
    return _BASE.where(_D.id == dataset_id).order_by(_F.position)


class EntryCache:
    def __init__(self, maxsize: int = 512) -> None:
        self._lock = threading.Lock()
        self._entries: dict[str, tuple[tuple[Any, ...], Entry]] = {}
        self._maxsize = maxsize

    def get(self, conn: Connection, dataset_id: str) -> Entry | None:
        rows = conn.execute(_query_for(dataset_id)).all()
        if not rows:
            return None
        # compared by equality, never hashed: the rows' JSON lists and dicts compare
        # by value as they are
        key = tuple(tuple(row) for row in rows)
        cached = self._entries.get(dataset_id)
        if cached is not None and cached[0] == key:
            return cached[1]
        entry = _build(rows)
        with self._lock:
            if len(self._entries) >= self._maxsize:
                self._entries.clear()
            self._entries[dataset_id] = (key, entry)
        return entry


def _hashable(value: Any) -> Any:
    if isinstance(value, dict):
        return tuple(sorted((k, _hashable(v)) for k, v in value.items()))
    if isinstance(value, list):
        return tuple(_hashable(v) for v in value)
    return value


def _build(rows: Sequence[Any]) -> Entry:
    first = rows[0]
    fields = tuple(
        FieldEntry(name=r[13], type=r[14], level=r[15], pi_category=r[16], mask_override=r[17])
        for r in rows
        if r[13] is not None
    )
    h = hashlib.sha256()
    h.update(first[9].encode())
    h.update(repr(_hashable(first[10] or {})).encode())
    h.update(first[11] or b"")
    source = SourceEntry(
        id=first[2], kind=first[9], settings=dict(first[10] or {}),
        secret_ciphertext=first[11], secret_key_id=first[12], fingerprint=h.hexdigest(),
    )
    entry = Entry(
        id=first[0], department=first[1], source_id=first[2], object_name=first[3],
        level=first[4], allowed_purposes=list(first[5] or []), region_field=first[6],
        status=first[7], schema_version=first[8], fields=fields, source=source,
        policy_input={},
    )
    object.__setattr__(entry, "policy_input", dataset_input(entry))  # type: ignore[arg-type]
    return entry
