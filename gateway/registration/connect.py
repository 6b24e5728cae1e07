"""Opening a registered source: decrypt its secret, build its config, apply limits.

The query broker and introspection both come through here, so the secret is decrypted
in one place, bound (associated data) to the source id it was stored for.
"""

from __future__ import annotations

from adapters.base import AdapterLimits, SourceAdapter, SourceConfig
from adapters.registry import open_adapter
from catalog.errors import Unavailable
from catalog.models import Source
from gateway.container import Services
from gateway.settings import Settings


def limits_from_settings(settings: Settings) -> AdapterLimits:
    """The adapter bounds configured for this gateway process."""
    return AdapterLimits(
        statement_timeout_s=settings.statement_timeout_s,
        max_rows=settings.source_max_rows,
        file_roots=tuple(str(p) for p in settings.effective_file_roots),
        http_allow_hosts=tuple(settings.http_allow_hosts),
    )


def secret_aad(source_id: str) -> bytes:
    """Associated data binding a stored secret to its source row."""
    return f"source:{source_id}".encode()


def source_config(*, services: Services, source: Source) -> SourceConfig:
    """The adapter's view of ``source`` with its secret decrypted (keep it in memory only)."""
    secret: str | None = None
    if source.secret_ciphertext is not None:
        if services.keyring is None or source.secret_key_id is None:
            raise Unavailable(f"the secret of source {source.id} cannot be decrypted")
        secret = services.keyring.decrypt(
            source.secret_ciphertext, source.secret_key_id, aad=secret_aad(source.id)
        )
    return SourceConfig(kind=source.kind, settings=dict(source.settings or {}), secret=secret)


def open_source_adapter(*, services: Services, source: Source) -> SourceAdapter:
    """An adapter for a registered source; the caller closes it."""
    config = source_config(services=services, source=source)
    return open_adapter(config, limits_from_settings(services.settings))
