"""The checks a source's effective target passes on register, on update and on every
connect (``open_source_adapter``). Order matters and is:

1. settings keys starting with ``_`` are refused (they are the gateway's own, e.g. the
   pinned address handed to the SQL adapter);
2. the effective target (``gateway.enforcement.sources.targets``) is derived from the merged
   settings and secret under the network guard (every network kind: private, loopback,
   link-local… refused unless allow-listed) and the file roots;
3. it is never one of the gateway's own systems, allow-listed or not: the catalog and
   audit database (same server and database; every server its URL may reach — each
   host of a libpq list, a ``?host=`` overriding the URL's host, ``hostaddr`` — and a
   catalog reached by a Unix socket is its server's ``localhost`` listener,
   ``_servers_named``) — and, since addresses are not identities, every connection to
   a PostgreSQL source asks the server it reached which it is and is refused if it is
   the catalog's (``catalog_server_ids``, ``adapters.sql_config``); the
   limiter's Redis, any file under ``SLUICE_HOME`` except the demo data directory (by
   real path and by file identity, so hard links are caught too), or a directory
   containing ``SLUICE_HOME``;
4. it is not a system another department registered first.

The connection is then pinned to the address checked in step 2 (``pinned_config``), so
the check and the connection see the same server.
"""

from __future__ import annotations

import os
import threading
import urllib.parse
from dataclasses import dataclass, replace

from sqlalchemy import select, text
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import ArgumentError, SQLAlchemyError
from sqlalchemy.orm import Session

from adapters import sql_config
from adapters.base import AdapterLimits, SourceConfig
from adapters.netguard import normalise_host, resolve
from adapters.pathguard import is_inside
from catalog.db import make_engine
from catalog.errors import BadRequest, Forbidden, Unavailable
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

    catalogs: tuple[EffectiveTarget, ...]  # one per server its URL may reach
    redis: tuple[tuple[str, ...], str, int] | None
    home: str
    demo: str
    files: frozenset[FileId]


def _catalog(settings: Settings) -> tuple[EffectiveTarget, ...]:
    """Every server the catalog's URL may reach (one for SQLite: its file)."""
    try:
        url = make_url(settings.resolved_database_url)
    except (ArgumentError, ValueError):
        return ()
    kind = sql_config.FAMILY.get(url.get_backend_name())
    if kind is None:
        return ()
    servers = [(url, False)] if kind == "sqlite" else _servers_named(url)
    found = []
    for server, local in servers:
        shown = server.set(password=None).render_as_string(hide_password=False)
        target = stored_target(kind, {"url": shown})
        if target is not None and local:  # every loopback spelling of the local server
            addresses = tuple(dict.fromkeys([*target.addresses, *LOOPBACK]))
            target = replace(target, addresses=addresses)
        if target is not None:
            found.append(target)
    return tuple(found)


def _items(value: object) -> list[str]:
    """A query parameter's values: repeated (``?host=a&host=b``) and comma lists alike."""
    values = value if isinstance(value, tuple) else (value,) if value else ()
    return [item.strip() for v in values for item in str(v).split(",")]


def _host_port(item: str) -> tuple[str, str]:
    """``db1:5433`` (SQLAlchemy's multi-host form) → host and port; an IPv6 literal or a
    socket directory stays whole."""
    host, sep, port = item.rpartition(":")
    if sep and port.isdigit() and host.count(":") == 0 and not item.startswith("/"):
        return host, port
    return item.strip("[]"), ""


def _servers_named(url: URL) -> list[tuple[URL, bool]]:
    """The catalog's URL once per server it may reach, that server as its host, and
    whether it is the local one through a Unix socket (red teams 6 and 7).

    libpq tries every host of ``?host=db1,db2`` (with ``?port=p1,p2``, or one port for
    all) until one answers, and a ``?host=`` overrides the URL's own host for the
    driver: each of them, the URL's host, every ``hostaddr`` and, when the URL names
    none, ``PGHOST``/``PGHOSTADDR`` is compared — the first alone let a steward name the
    catalog through another listed host. A socket (no host, ``?host=/dir``,
    ``?unix_socket=``) reaches the local server, whose TCP listener is ``localhost`` on
    the same port, which a steward's source could name."""
    query = dict(url.query)
    named = [*_items(query.pop("host", None)), *_items(query.pop("hostaddr", None))]
    ports = _items(query.pop("port", None))
    socket = bool(query.pop("unix_socket", None))
    if url.host:
        named.append(url.host)
    if not named:
        env = [*_items(os.environ.get("PGHOST")), *_items(os.environ.get("PGHOSTADDR"))]
        named = env or [""]
    if socket:
        named.append("")
    default = url.port or (int(p) if (p := os.environ.get("PGPORT", "")).isdigit() else None)
    pairs: list[tuple[str, int | None]] = []
    for index, item in enumerate(named):
        host, own_port = _host_port(item)
        if own_port:
            candidates = [own_port]
        elif len(ports) == len(named):
            candidates = [ports[index]]
        else:
            candidates = ports or [""]
        pairs += [(host, int(p) if p.isdigit() else default) for p in candidates]
    servers = []
    for host, port in dict.fromkeys(pairs):
        local = not host or host.startswith(("/", "@"))
        servers.append((url.set(host="localhost" if local else host, port=port, query=query),
                        local))  # fmt: skip
    return servers


_SERVER_IDS: dict[str, frozenset[str]] = {}
_SERVER_IDS_LOCK = threading.Lock()


def catalog_server_ids(settings: Settings) -> frozenset[str]:
    """``<system identifier>/<database>`` of the catalog's PostgreSQL server (empty for
    SQLite), asked once per process: every PostgreSQL source is refused on connect if it
    reaches it, whatever address got there (``AdapterLimits.refused_servers``). The
    identifier survives a fail-over and is shared by streaming replicas, which hold the
    same data. Unreachable catalog: ``Unavailable`` (a gateway without its catalog
    serves nothing anyway)."""
    url = settings.resolved_database_url
    known = _SERVER_IDS.get(url)
    if known is not None:
        return known
    try:
        backend = make_url(url).get_backend_name()
    except (ArgumentError, ValueError):
        return frozenset()
    if sql_config.FAMILY.get(backend) != "postgresql":
        return _SERVER_IDS.setdefault(url, frozenset())
    with _SERVER_IDS_LOCK:
        engine = make_engine(url, pool_size=1, max_overflow=0)
        try:
            with engine.connect() as conn:
                found = sql_config.server_identity(
                    conn.execute(text(sql_config.SERVER_IDENTITY_SQL)).one()
                )
        except SQLAlchemyError:
            raise Unavailable("the catalog database does not answer") from None
        finally:
            engine.dispose()
        if found is None:
            raise Unavailable("the catalog database does not say which server it is")
        return _SERVER_IDS.setdefault(url, frozenset({found}))


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
    catalogs = _catalog(settings)
    files = set(_home_files(home, demo))
    for catalog in catalogs:
        for suffix in ("", "-wal", "-shm", "-journal") if catalog.path is not None else ():
            ident = file_id(f"{catalog.path}{suffix}")
            if ident is not None:
                files.add(ident)
    return OwnSystems(catalogs, _redis(settings), home, demo, frozenset(files))


def refuse_own_system(target: EffectiveTarget, settings: Settings) -> None:
    """``Forbidden`` if ``target`` is one of the gateway's own systems (module doc, 3)."""
    own = own_systems(settings)
    if target.network:
        for catalog in own.catalogs:
            if catalog.network and target.reaches(catalog.addresses, catalog.host, catalog.port):
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
