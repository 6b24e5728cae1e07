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
from policies.inputs import dataset_input


@dataclass(frozen=True)
class Entry(CatalogEntry):
    """The catalog's read model of an entry plus the policy's view of it, built once per
    load so a cached entry costs no work per request."""

    policy_input: dict[str, Any] = field(default_factory=dict)


K = TypeVar("K", bound=Hashable)
V = TypeVar("V")


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
