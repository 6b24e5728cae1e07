"""The checks a source's effective target passes on register, on update and on every
connect (``open_source_adapter``). Order matters and is:

1. settings keys starting with ``_`` are refused (they are the gateway's own, e.g. the
   pinned address handed to the SQL adapter);
2. the effective target (``gateway.enforcement.sources.targets``) is derived from the merged
   settings and secret under the network guard (every network kind: private, loopback,
   link-local… refused unless allow-listed) and the file roots;
3. it is never one of the gateway's own systems, allow-listed or not: the catalog and
   audit database (same server and database; a catalog reached by a Unix socket or a
   ``?host=`` parameter is its server's ``localhost`` listener, ``_server_named``), the
   limiter's Redis, any file under ``SLUICE_HOME`` except the demo data directory (by
   real path and by file identity, so hard links are caught too), or a directory
   containing ``SLUICE_HOME``;
4. it is not a system another department registered first.

The connection is then pinned to the address checked in step 2 (``pinned_config``), so
the check and the connection see the same server.
"""

from __future__ import annotations

import os
import urllib.parse
from dataclasses import dataclass, replace

from sqlalchemy import select
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import ArgumentError
from sqlalchemy.orm import Session

from adapters import sql_config
from adapters.base import AdapterLimits, SourceConfig
from adapters.netguard import normalise_host, resolve
from adapters.pathguard import is_inside
from catalog.errors import BadRequest, Forbidden
from catalog.models import Source
from catalog.service import DEREGISTERED
from gateway.core.settings import Settings
from gateway.enforcement.sources.targets import (
    EffectiveTarget,
    FileId,
    effective_target,
    file_id,
    from_tombstone,
    stored_target,
)

LOOPBACK = ("127.0.0.1", "::1")
OWN_DATABASE = (
    "a source can never be the gateway's own catalog and audit database or its server's "
    "port, however it is spelled"
)


@dataclass(frozen=True)
class OwnSystems:
    """The gateway's own databases and files, as targets are compared with them."""

    catalog: EffectiveTarget | None
    redis: tuple[tuple[str, ...], str, int] | None
    home: str
    demo: str
    files: frozenset[FileId]


def _catalog(settings: Settings) -> EffectiveTarget | None:
    try:
        url = make_url(settings.resolved_database_url)
    except (ArgumentError, ValueError):
        return None
    kind = sql_config.FAMILY.get(url.get_backend_name())
    if kind is None:
        return None
    local = False
    if kind != "sqlite" and not url.host:
        url, local = _server_named(url)
    shown = url.set(password=None).render_as_string(hide_password=False)
    target = stored_target(kind, {"url": shown})
    if target is not None and local:  # every loopback spelling of the local server
        target = replace(target, addresses=tuple(dict.fromkeys([*target.addresses, *LOOPBACK])))
    return target


def _server_named(url: URL) -> tuple[URL, bool]:
    """The catalog's URL with the server it reaches as its host (red team 6). A URL
    naming none reaches the server its query names (``?host=``, libpq's first of a
    list) or the local one through a Unix socket (no host, ``?host=/dir``,
    ``?unix_socket=``): that server's TCP listener is ``localhost`` on the same port,
    which a steward's source could name. Without this the catalog had no target and
    the own-database check compared nothing."""
    query = dict(url.query)
    named = query.pop("host", None)
    port = query.pop("port", None)
    query.pop("unix_socket", None)
    first = str(named[0] if isinstance(named, tuple) else named or "").split(",")[0]
    local = not first or first.startswith(("/", "@"))
    given = str(port[0] if isinstance(port, tuple) else port or "").split(",")[0]
    number = int(given) if given.isdigit() else url.port
    return url.set(host="localhost" if local else first, port=number, query=query), local


def _redis(settings: Settings) -> tuple[tuple[str, ...], str, int] | None:
    if not settings.redis_url:
        return None
    parts = urllib.parse.urlsplit(settings.redis_url)
    if parts.scheme not in ("redis", "rediss"):
        return None  # a unix socket is not reachable by a network source
    host = normalise_host(parts.hostname or "localhost")
    try:
        port = parts.port or 6379
    except ValueError:
        return None
    try:
        addresses = resolve(host, port)
    except BadRequest:
        addresses = ()
    return addresses, host, port


def _home_files(home: str, demo: str) -> frozenset[FileId]:
    found: set[FileId] = set()
    for directory, subdirs, names in os.walk(home):
        subdirs[:] = [d for d in subdirs if os.path.realpath(os.path.join(directory, d)) != demo]
        for name in names:
            ident = file_id(os.path.join(directory, name))
            if ident is not None:
                found.add(ident)
    return frozenset(found)


def own_systems(settings: Settings) -> OwnSystems:
    home = os.path.realpath(settings.home)
    demo = os.path.realpath(settings.demo_data_dir)
    catalog = _catalog(settings)
    files = set(_home_files(home, demo))
    if catalog is not None and catalog.path is not None:
        for suffix in ("", "-wal", "-shm", "-journal"):
            ident = file_id(catalog.path + suffix)
            if ident is not None:
                files.add(ident)
    return OwnSystems(catalog, _redis(settings), home, demo, frozenset(files))


def refuse_own_system(target: EffectiveTarget, settings: Settings) -> None:
    """``Forbidden`` if ``target`` is one of the gateway's own systems (module doc, 3)."""
    own = own_systems(settings)
    catalog = own.catalog
    if target.network:
        if (
            catalog is not None
            and catalog.network
            and target.reaches(catalog.addresses, catalog.host, catalog.port)
        ):
            same_db = (target.database or "").casefold() == (catalog.database or "").casefold()
            if target.family != catalog.family or same_db:
                raise Forbidden(OWN_DATABASE)
        if own.redis is not None and target.reaches(*own.redis):
            raise Forbidden("a source can never be the gateway's own Redis (rate limits)")
        return
    path = target.path or ""
    inside_home = is_inside(path, own.home) and not is_inside(path, own.demo)
    if inside_home or is_inside(own.home, path) or target.file_id in own.files:
        raise Forbidden(
            "a source can never be the gateway's own database or files (SLUICE_HOME, "
            "except the demo data directory), whatever path or link leads there"
        )


def refuse_foreign_target(
    *,
    session: Session,
    department: str,
    source_id: str,
    target: EffectiveTarget,
) -> None:
    """``Forbidden`` if another department registered the same system. On connect this
    fails closed both ways: if a name now resolves to another department's server,
    neither source connects until a steward or admin sorts it out (see THREAT_MODEL)."""
    query = select(Source.id, Source.department, Source.kind, Source.settings).where(
        Source.department != department, Source.id != source_id
    )
    for other_id, other_dept, other_kind, other_settings in session.execute(query):
        other = _registered_target(other_kind, dict(other_settings or {}))
        if other is not None and target.same_system(other):
            raise Forbidden(
                f"this system is already registered by department {other_dept!r} "
                f"(source {other_id!r}); only that department's stewards may use it"
            )


def _registered_target(kind: str, settings: dict[str, object]) -> EffectiveTarget | None:
    """Another source's target; a deregistered one's as its tombstone kept it, so that
    withdrawing a source never hands its system to the next department that asks."""
    tombstone = settings.get(DEREGISTERED)
    if tombstone is not None:
        return from_tombstone(tombstone.get("target") if isinstance(tombstone, dict) else None)
    return stored_target(kind, dict(settings))


def refuse_reserved_settings(settings: dict[str, object]) -> None:
    for key in settings:
        if str(key).startswith("_"):
            raise BadRequest(f"settings.{key}: keys starting with '_' are reserved")


def checked_target(
    *,
    session: Session,
    settings: Settings,
    limits: AdapterLimits,
    department: str,
    source_id: str,
    config: SourceConfig,
) -> EffectiveTarget | None:
    """Every check of the module doc, in order; the target to pin the connection to."""
    refuse_reserved_settings(config.settings)
    target = effective_target(config, limits)
    if target is None:
        return None
    refuse_own_system(target, settings)
    refuse_foreign_target(
        session=session, department=department, source_id=source_id, target=target
    )
    return target


def pinned_config(config: SourceConfig, target: EffectiveTarget | None) -> SourceConfig:
    """``config`` with a network SQL connection pinned to the checked address."""
    if target is None or target.pinned is None or config.kind not in ("postgresql", "mysql"):
        return config
    settings = {**config.settings, sql_config.PINNED_ADDRESS: target.pinned}
    return SourceConfig(kind=config.kind, settings=settings, secret=config.secret)
