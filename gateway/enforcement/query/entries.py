"""Catalog entries (and grants) as the broker needs them: one tiny read per request.

Every change to what governs a query — a source, an entry, a field's level or mask, an
access request — bumps the catalog generation in the same transaction (database
triggers, migration 0006, so hand-made SQL edits count too). A request reads the
generation first and uses a cached value only if it was loaded under that same
generation; otherwise one Core SELECT joins the entry, its fields and its source.
A change is therefore seen by the very next request in every process, and an
unchanged catalog costs one single-row read instead of the entry and grant queries.
"""

from __future__ import annotations

import hashlib
import threading
from collections.abc import Callable, Hashable, Sequence
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from sqlalchemy import Connection, select

from catalog.errors import Unavailable
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
    frozen: bool = False  # an emergency freeze: every query and comparison refused


_D = Dataset.__table__.c
_F = Field.__table__.c
_S = Source.__table__.c

_BASE = select(
    _D.id, _D.department, _D.source_id, _D.object_name, _D.level, _D.allowed_purposes,
    _D.region_field, _D.status, _D.schema_version,
    _S.kind, _S.settings, _S.secret_ciphertext, _S.secret_key_id,
    _F.name, _F.type, _F.level, _F.pi_category, _F.mask_override,
    _D.frozen_at,
).select_from(
    Dataset.__table__.join(Source.__table__, _S.id == _D.source_id).outerjoin(
        Field.__table__, _F.dataset_id == _D.id
    )
)


def _query_for(dataset_id: str) -> Any:
    return _BASE.where(_D.id == dataset_id).order_by(_F.position)


K = TypeVar("K", bound=Hashable)
V = TypeVar("V")

_GENERATION = "SELECT value FROM catalog_generation WHERE id = 1"


def catalog_generation(conn: Connection) -> int:
    """The current catalog generation; read before anything it vouches for."""
    # straight on the driver's cursor: SQLAlchemy's execution context costs more than
    # the round trip itself, and this runs on every query. Without SQLAlchemy in the
    # way, a failed connection is ours to invalidate (else the pool hands it out again).
    try:
        cursor = conn.connection.cursor()
        try:
            cursor.execute(_GENERATION)
            row = cursor.fetchone()
        finally:
            cursor.close()
    except conn.dialect.loaded_dbapi.Error as exc:
        conn.invalidate(exc)
        raise Unavailable("catalog database unavailable, retry later") from exc
    value = row[0] if row else None
    if value is None:  # the row is guarded by a trigger; without it nothing is cacheable
        raise Unavailable("the catalog generation row is missing; run `sluice migrate`")
    if isinstance(value, bool) or not isinstance(value, int):
        # SQLite stores whatever it is given (a text value passes the "only grows"
        # trigger, text sorting above numbers): nothing is cacheable, fail closed
        raise Unavailable("the catalog generation is not an integer; nothing is served")
    return value


class GenerationCache(Generic[K, V]):
    """Values tagged with the generation read *before* they were loaded.

    A value is served only to a request that read that same generation, so a load that
    raced with a change (tagged with the older generation) is never served once the
    change is visible. Bounded: when full it starts over.
    """

    def __init__(self, maxsize: int) -> None:
        self._lock = threading.Lock()
        self._items: dict[K, tuple[int, V]] = {}
        self._maxsize = maxsize

    def get(self, generation: int, key: K, load: Callable[[], V]) -> V:
        hit = self._items.get(key)
        if hit is not None and hit[0] == generation:
            return hit[1]
        value = load()
        with self._lock:
            if len(self._items) >= self._maxsize:
                self._items.clear()
            self._items[key] = (generation, value)
        return value


def load_entry(conn: Connection, dataset_id: str) -> Entry | None:
    """The entry with its fields and source, in one round trip (None if unknown)."""
    rows = conn.execute(_query_for(dataset_id)).all()
    return _build(rows) if rows else None


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
        policy_input={}, frozen=first[18] is not None,
    )
    object.__setattr__(entry, "policy_input", dataset_input(entry))  # type: ignore[arg-type]
    return entry
