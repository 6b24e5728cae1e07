"""Keeps one open adapter (and so one connection pool) per registered source.

An adapter is reopened when the source row changes (settings or secret), so a
re-registered source never keeps serving from stale credentials.
"""

from __future__ import annotations

import threading

from adapters.base import SourceAdapter
from catalog.entries import SourceEntry
from gateway.core.services import Services
from gateway.enforcement.sources.connect import open_source_adapter


class SourcePool:
    def __init__(self, services: Services) -> None:
        self._services = services
        self._lock = threading.Lock()
        self._open: dict[str, tuple[str, SourceAdapter]] = {}

    def adapter_for(self, source: SourceEntry) -> SourceAdapter:
        cached = self._open.get(source.id)
        if cached is not None and cached[0] == source.fingerprint:
            return cached[1]
        with self._lock:
            cached = self._open.get(source.id)
            if cached is not None and cached[0] == source.fingerprint:
                return cached[1]
            adapter = open_source_adapter(services=self._services, source=source.as_model())
            self._open[source.id] = (source.fingerprint, adapter)
        if cached is not None:
            cached[1].close()
        return adapter

    def forget(self, source_id: str) -> None:
        """Drop a deregistered source's adapter (and the credentials it holds) from the
        cache. Not closed here: a query still reading holds it, and its connections go
        when that query lets go of it."""
        with self._lock:
            self._open.pop(source_id, None)

    def close(self) -> None:
        with self._lock:
            for _, adapter in self._open.values():
                adapter.close()
            self._open.clear()
