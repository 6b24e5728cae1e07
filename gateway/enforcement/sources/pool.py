"""Keeps one open adapter (and so one connection pool) per registered source.

An adapter is reopened when the source row changes (settings or secret), so a
re-registered source never keeps serving from stale credentials.
"""

from __future__ import annotations

import threading

from sqlalchemy.orm import Session, sessionmaker

from adapters.base import SourceAdapter
from adapters.keyring import SecretKeyring
from catalog.entries import SourceEntry
from gateway.core.settings import Settings
from gateway.enforcement.sources.connect import connect_source


class SourcePool:
    """What opening a source needs and nothing more: the settings (limits, the network
    guard), the catalog's sessions (the target's ownership checks) and the keyring (the
    source's secret)."""

    def __init__(
        self, *, settings: Settings, sessions: sessionmaker[Session], keyring: SecretKeyring
    ) -> None:
        self._settings = settings
        self._sessions = sessions
        self._keyring = keyring
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
            adapter = connect_source(settings=self._settings, sessions=self._sessions,
                                     keyring=self._keyring, source=source.as_model())  # fmt: skip
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
