"""Opening a registered source: decrypt its secret, build its config, check its target,
apply limits.

The query broker (``gateway.enforcement.sources.pool``), introspection and schema refresh all come
through ``open_source_adapter``, so the secret is decrypted in one place, bound
(associated data) to the source id it was stored for, and every connection passes the
same target checks as registration (``gateway.enforcement.sources.guard``: network guard, the
gateway's own databases, ownership) and is pinned to the address that was checked.
"""

from __future__ import annotations

from dataclasses import replace

from sqlalchemy.orm import Session, sessionmaker

from adapters.base import AdapterLimits, SourceAdapter, SourceConfig
from adapters.keyring import SecretKeyring
from adapters.registry import open_adapter
from catalog.errors import Unavailable
from catalog.models import Source
from gateway.core.services import Services
from gateway.core.settings import Settings
from gateway.enforcement.sources.guard import catalog_server_ids, checked_target, pinned_config
from gateway.enforcement.sources.server_claims import claimed_elsewhere, remember_identity


def limits_from_settings(settings: Settings) -> AdapterLimits:
    """The adapter bounds configured for this gateway process. ``http_allow_hosts``
    carries the network guard's allow-list for every network kind (HTTP, PostgreSQL,
    MySQL/MariaDB): ``SLUICE_SOURCE_ALLOW_HOSTS`` with ``SLUICE_HTTP_ALLOW_HOSTS``."""
    return AdapterLimits(
        statement_timeout_s=settings.statement_timeout_s,
        max_rows=settings.source_max_rows,
        file_roots=tuple(str(p) for p in settings.effective_file_roots),
        http_allow_hosts=tuple(settings.effective_source_allow_hosts),
        refused_servers=catalog_server_ids(settings),
    )


def secret_aad(source_id: str) -> bytes:
    """Associated data binding a stored secret to its source row."""
    return f"source:{source_id}".encode()


def source_config(*, keyring: SecretKeyring, source: Source) -> SourceConfig:
    """The adapter's view of ``source`` with its secret decrypted (keep it in memory only)."""
    secret: str | None = None
    if source.secret_ciphertext is not None:
        if source.secret_key_id is None:
            raise Unavailable(f"the secret of source {source.id} cannot be decrypted")
        secret = keyring.decrypt(
            source.secret_ciphertext, source.secret_key_id, aad=secret_aad(source.id)
        )
    return SourceConfig(kind=source.kind, settings=dict(source.settings or {}), secret=secret)


def open_source_adapter(*, services: Services, source: Source) -> SourceAdapter:
    """``connect_source`` with the process's collaborators (stewardship's callers)."""
    return connect_source(settings=services.settings, sessions=services.sessions,
                          keyring=services.keyring, source=source)  # fmt: skip


def connect_source(
    *, settings: Settings, sessions: sessionmaker[Session], keyring: SecretKeyring,
    source: Source,
) -> SourceAdapter:  # fmt: skip
    """An adapter for a registered source, its target checked now (DNS and files may
    have changed since registration) and its connection pinned; the caller closes it."""
    config = source_config(keyring=keyring, source=source)
    limits = limits_from_settings(settings)
    with sessions() as session:
        row = session.get(Source, source.id)
        department = (row.department if row is not None else source.department) or ""
        target = checked_target(
            session=session, settings=settings, limits=limits,
            department=department, source_id=source.id, config=config,
        )  # fmt: skip
        registered = row.created_at if row is not None else None
        claimed = claimed_elsewhere(
            session, department=department, source_id=source.id, registered=registered
        )
        known = row.server_identity if row is not None else None
    source_id = source.id

    def on_server(identity: str) -> None:  # a new connection reached it: kept when new
        if identity != known:
            remember_identity(sessions, source_id, identity)

    limits = replace(limits, claimed_servers=claimed, on_server=on_server)
    return open_adapter(pinned_config(config, target), limits)
