"""Keeps one open adapter (and so one connection pool) per registered source.

An adapter is reopened when the source row changes (settings or secret), so a
re-registered source never keeps serving from stale credentials.
"""

from __future__ import annotations

import hashlib
import threading

from adapters.base import SourceAdapter
from catalog.errors import NotFound
from catalog.models import Source
from gateway.container import Services
from gateway.registration.service import open_source_adapter


class SourcePool:
    def __init__(self, services: Services) -> None:
        self._services = services
        self._lock = threading.Lock()
        self._open: dict[str, tuple[str, SourceAdapter]] = {}

    def adapter_for(self, source_id: str) -> SourceAdapter:
        with self._services.sessions() as session:
            source = session.get(Source, source_id)
            if source is None:
                raise NotFound(f"source {source_id!r} is gone")
            fingerprint = _fingerprint(source)
            with self._lock:
                cached = self._open.get(source_id)
                if cached is not None and cached[0] == fingerprint:
                    return cached[1]
                adapter = open_source_adapter(services=self._services, source=source)
                self._open[source_id] = (fingerprint, adapter)
                if cached is not None:
                    cached[1].close()
                return adapter

    def close(self) -> None:
        with self._lock:
            for _, adapter in self._open.values():
                adapter.close()
            self._open.clear()


def _fingerprint(source: Source) -> str:
    h = hashlib.sha256()
    h.update(source.kind.encode())
    h.update(repr(sorted(source.settings.items())).encode())
    h.update(source.secret_ciphertext or b"")
    return h.hexdigest()
