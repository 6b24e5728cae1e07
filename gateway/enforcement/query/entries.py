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

import threading
from collections.abc import Callable, Hashable
from dataclasses import dataclass, field, fields
from typing import Any, Generic, TypeVar

from sqlalchemy import Connection

from catalog import entries as catalog_entries
from catalog.entries import CatalogEntry
from catalog.errors import Unavailable
from policies.inputs import dataset_input


@dataclass(frozen=True)
class Entry(CatalogEntry):
    """The catalog's read model of an entry plus the policy's view of it, built once per
    load so a cached entry costs no work per request."""

    policy_input: dict[str, Any] = field(default_factory=dict)


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


def load_entry(conn: Connection, dataset_id: str, generation: int | None = None) -> Entry | None:
    """The entry with its fields and source, in one round trip (None if unknown), loaded
    under ``generation`` (the trail's bindings are read once per generation)."""
    found = catalog_entries.load_entry(conn, dataset_id, generation=generation)
    if found is None:
        return None
    values = {f.name: getattr(found, f.name) for f in fields(found)}
    return Entry(**values, policy_input=dataset_input(found))  # type: ignore[arg-type]
