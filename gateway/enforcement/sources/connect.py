"""Opening a registered source: decrypt its secret, build its config, check its target,
apply limits.

The query broker (``gateway.enforcement.sources.pool``), introspection and schema refresh all come
through ``open_source_adapter``, so the secret is decrypted in one place, bound
(associated data) to the source id it was stored for, and every connection passes the
same target checks as registration (``gateway.enforcement.sources.guard``: network guard, the
gateway's own databases, ownership) and is pinned to the address that was checked.
"""

from __future__ import annotations

import threading
from dataclasses import replace
from datetime import datetime

import structlog
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from adapters.base import AdapterLimits, SourceAdapter, SourceConfig
from adapters.keyring import SecretKeyring
from adapters.registry import open_adapter
from catalog.errors import Unavailable
from catalog.models import Source
from catalog.service import is_deregistered
from gateway.core.services import Services
from gateway.core.settings import Settings
from gateway.enforcement.sources.guard import catalog_server_ids, checked_target, pinned_config
from gateway.enforcement.sources.server_claims import (
    claimed_elsewhere,
    remember_identity,
    require_sources_sealed,
)


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
    return open_adapter(*checked_config(settings=settings, sessions=sessions, keyring=keyring,
                                        source=source))  # fmt: skip


def checked_config(
    *, settings: Settings, sessions: sessionmaker[Session], keyring: SecretKeyring,
    source: Source,
) -> tuple[SourceConfig, AdapterLimits]:  # fmt: skip
    """A registered source's config pinned to its target, checked now, and the limits its
    connections carry: the servers other departments claimed, and the hook that keeps
    the server each new connection reached. Every reader of a source starts here: the
    gateway's adapters (``connect_source``) and Spark (``comparison.spark.sources``)."""
    config = source_config(keyring=keyring, source=source)
    limits = limits_from_settings(settings)
    with sessions() as session:
        require_sources_sealed(session)  # the checks below read every source's row
        row = session.get(Source, source.id)
        department = (row.department if row is not None else source.department) or ""
        target = checked_target(
            session=session, settings=settings, limits=limits,
            department=department, source_id=source.id, config=config,
        )  # fmt: skip
        known = row.server_identity if row is not None else None
        registered = row.created_at if row is not None else None
    # outside the session: learning connects to older sources, each through this same
    # function, and an open session per level would hold a pooled connection each
    claimed = claims_on(
        settings=settings, sessions=sessions, keyring=keyring, kind=config.kind,
        department=department, source_id=source.id, registered=registered, known=known,
    )  # fmt: skip
    source_id = source.id

    stored = [known]  # what the row holds: each new pooled connection asks the server

    def on_server(identity: str) -> None:  # kept when it changed, written once
        if identity != stored[0]:
            remember_identity(sessions, source_id, identity)
            stored[0] = identity

    limits = replace(limits, claimed_servers=claimed, on_server=on_server)
    return pinned_config(config, target), limits


def claims_on(
    *, settings: Settings, sessions: sessionmaker[Session],
    keyring: SecretKeyring, kind: str, department: str, source_id: str,
    registered: datetime | None, known: str | None = None,
) -> tuple[tuple[str, str], ...]:  # fmt: skip
    """The servers other departments claimed that a source of ``kind`` may not reach
    (``server_claims.claimed_elsewhere``), once the older PostgreSQL sources whose
    identity is not yet known have been asked (``learn_unknown_identities``)."""
    if kind == "postgresql":
        learn_unknown_identities(
            settings=settings, sessions=sessions, keyring=keyring, department=department,
            source_id=source_id, registered=registered,
        )  # fmt: skip
    with sessions() as session:
        require_sources_sealed(session)  # a registration's checks read every row too
        return claimed_elsewhere(session, department=department, source_id=source_id,
                                 registered=registered, known=known)  # fmt: skip


# (catalog, source) pairs whose identity this process tried to learn: a source that is
# down is not tried again on every connect of the others (it is learned when it connects)
_TRIED: set[tuple[str, str]] = set()
_TRIED_LOCK = threading.Lock()
log = structlog.get_logger("sluice.sources")


def learn_unknown_identities(
    *, settings: Settings, sessions: sessionmaker[Session], keyring: SecretKeyring,
    department: str, source_id: str, registered: datetime | None,
) -> None:  # fmt: skip
    """Before a PostgreSQL source is checked against the servers other departments hold
    (``server_claims``): the identities not yet known of other departments' PostgreSQL
    sources registered before it — rows from before migration 0016, known otherwise only
    from their own next connect — are learned by connecting to them, once per process.
    Without it, a department registering another's database in that window was not
    refused until the owner's source connected again. A source that cannot be reached
    stays unknown (logged) and is asked again by its own next connect."""
    query = select(Source).where(
        Source.department != department, Source.id != source_id,
        Source.kind == "postgresql", Source.server_identity.is_(None),
    )  # fmt: skip
    if registered is not None:
        query = query.where(Source.created_at < registered)
    with sessions() as session:
        others = [s for s in session.scalars(query) if not is_deregistered(s)]
        session.expunge_all()
    catalog = settings.resolved_database_url
    for other in others:
        with _TRIED_LOCK:
            if (catalog, other.id) in _TRIED:
                continue
            _TRIED.add((catalog, other.id))
        try:
            adapter = connect_source(settings=settings, sessions=sessions, keyring=keyring,
                                     source=other)  # fmt: skip
            try:
                adapter.test_connection()  # its connect hook stores what the server said
            finally:
                adapter.close()
        except Exception as exc:  # the other source's failure is not this one's
            log.warning("source_identity_unknown", source=other.id, error=type(exc).__name__)
