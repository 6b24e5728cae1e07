"""Which real system a source connects to: its *effective target*.

A source is what it connects to, not how its settings spell it. The target is derived
from the settings merged with the secret (and a secret may hold credentials only —
one naming a server, database or file is refused, ``refuse_target_in_secret``), then
normalised: scheme, every resolved address, the port with its default filled in, the
database (or HTTP path), and for files the real path and file identity
(``st_dev``/``st_ino``, so a symlink, a ``..`` or a hard link to the same file is the
same target). Ownership, the gateway's own databases and the audit record all use this
one derivation (``gateway.enforcement.sources.guard``), on register, on update and on connect.
"""

from __future__ import annotations

import os
import urllib.parse
from dataclasses import dataclass
from typing import Any

from adapters import sql_config
from adapters.base import AdapterLimits, SourceConfig
from adapters.http_config import path_segments
from adapters.netguard import (
    Resolver,
    normalise_host,
    parse_url,
    resolve,
    resolve_checked,
    system_resolver,
)
from adapters.pathguard import ensure_inside_roots, is_inside
from catalog.errors import BadRequest

SQL_KINDS = frozenset({"postgresql", "mysql", "sqlite"})
FILE_KINDS = frozenset({"csv", "parquet"})
FileId = tuple[int, int]


@dataclass(frozen=True)
class EffectiveTarget:
    """The normalised system behind a source. Network targets have ``addresses`` (the
    first is the one connected to) and ``port``; file targets have ``path``."""

    kind: str
    scheme: str  # postgresql | mysql | sqlite | file | http | https
    host: str | None = None
    addresses: tuple[str, ...] = ()
    port: int | None = None
    database: str | None = None  # SQL database, or the HTTP base path
    path: str | None = None
    file_id: FileId | None = None

    @property
    def network(self) -> bool:
        return self.host is not None

    @property
    def family(self) -> str:
        """Schemes that speak the same protocol: ``http`` and ``https`` are one API."""
        return "http" if self.scheme in ("http", "https") else self.scheme

    @property
    def pinned(self) -> str | None:
        return self.addresses[0] if self.addresses else None

    def reaches(self, addresses: tuple[str, ...], host: str | None, port: int | None) -> bool:
        """True if this target connects to that server (shared address or same name)."""
        if not self.network or port != self.port:
            return False
        shared = bool(set(self.addresses) & set(addresses))
        return shared or (host is not None and host == self.host)

    def same_system(self, other: EffectiveTarget) -> bool:
        """True if both reach the same data: same server and database (HTTP: one base
        path inside the other), or the same file or a directory inside the other."""
        if self.network or other.network:
            if self.family != other.family or not self.reaches(
                other.addresses, other.host, other.port
            ):
                return False
            if self.family == "http":
                return _path_within(self.database or "", other.database or "")
            return (self.database or "").casefold() == (other.database or "").casefold()
        if self.file_id is not None and self.file_id == other.file_id:
            return True
        if self.path is None or other.path is None:
            return False
        if self.scheme == other.scheme == "file":
            return is_inside(self.path, other.path) or is_inside(other.path, self.path)
        return self.path == other.path

    def as_record(self) -> dict[str, Any]:
        """What the audit trail shows a security officer: no credential is part of it."""
        record: dict[str, Any] = {"kind": self.kind, "scheme": self.scheme}
        if self.network:
            record.update(
                host=self.host, addresses=list(self.addresses), port=self.port,
                connected_address=self.pinned,
            )  # fmt: skip
            record["path" if self.family == "http" else "database"] = self.database
        else:
            record["path"] = self.path
            if self.file_id is not None:
                record["file_id"] = f"{self.file_id[0]}:{self.file_id[1]}"
        return record


def _path_within(a: str, b: str) -> bool:
    one, two = path_segments(a), path_segments(b)
    shorter = min(len(one), len(two))
    return one[:shorter] == two[:shorter]


def file_id(path: str) -> FileId | None:
    try:
        info = os.stat(path)
    except OSError:
        return None
    return (info.st_dev, info.st_ino)


def refuse_target_in_secret(config: SourceConfig) -> None:
    """A secret holds credentials only (password, token, ``user:password``), never a
    URL, host, database or path: ``BadRequest`` saying why."""
    secret = config.secret
    if not secret:
        return
    if config.kind in FILE_KINDS:
        raise BadRequest("file sources take no secret")
    if config.kind in SQL_KINDS:
        sql_config.refuse_target_in_secret(secret)
    elif "://" in secret:
        raise BadRequest(
            "the secret may hold credentials only (a token or user:password), not a URL; "
            "the address of the source belongs in its settings, where it is checked"
        )


def _network(
    kind: str, scheme: str, host: str, port: int, database: str, *,
    limits: AdapterLimits | None, resolver: Resolver,
) -> EffectiveTarget:  # fmt: skip
    if limits is None:  # another source's target: resolve only, no policy
        try:
            addresses = resolve(host, port, resolver)
        except BadRequest:
            addresses = ()
    else:
        addresses = resolve_checked(host, port, limits.http_allow_hosts, resolver)
    return EffectiveTarget(kind, scheme, host, addresses, port, database)


def _file(kind: str, scheme: str, path: str, limits: AdapterLimits | None) -> EffectiveTarget:
    what = "sqlite database" if scheme == "sqlite" else "source root"
    real = ensure_inside_roots(path, limits.file_roots, what=what) if limits else None
    real = real or os.path.realpath(path)
    return EffectiveTarget(kind, scheme, path=real, file_id=file_id(real))


def effective_target(
    config: SourceConfig,
    limits: AdapterLimits | None,
    resolver: Resolver = system_resolver,
) -> EffectiveTarget | None:
    """The target of ``config`` (settings merged with the secret), or None for a kind
    whose target Sluice does not know (an extension). With ``limits`` the network guard
    and file roots are enforced (``Forbidden``/``BadRequest``); without, the target of
    an already stored source is only derived, for comparison."""
    refuse_target_in_secret(config)
    kind, settings = config.kind, config.settings
    if kind in SQL_KINDS:
        url = sql_config.connect_url(config)
        end = sql_config.endpoint(config)
        if end is None:
            if url.get_backend_name() != "sqlite" or not url.database:
                raise BadRequest(f"a {kind} source needs a {kind} URL")
            if limits is not None:
                sql_config.sqlite_path(url, limits)  # no :memory:, no file: URI, in a root
            return _file(kind, "sqlite", url.database, limits)
        return _network(
            kind, end.family, end.host, end.port, end.database, limits=limits, resolver=resolver
        )
    if kind in FILE_KINDS:
        root = settings.get("root") or settings.get("path")
        if not isinstance(root, str) or not root:
            raise BadRequest("settings.root must name the source's directory")
        return _file(kind, "file", root, limits)
    if kind == "http":
        scheme, host, port = parse_url(settings.get("base_url"))
        path = urllib.parse.urlsplit(str(settings["base_url"])).path.rstrip("/")
        return _network(
            kind, scheme, normalise_host(host), port, path, limits=limits, resolver=resolver
        )
    return None


def tombstone_record(target: EffectiveTarget) -> dict[str, Any]:
    """The target as a deregistered source's tombstone keeps it (no credential is part
    of it): the system stays its department's after the source is withdrawn."""
    return {
        "kind": target.kind, "scheme": target.scheme, "host": target.host,
        "addresses": list(target.addresses), "port": target.port,
        "database": target.database, "path": target.path,
        "file_id": list(target.file_id) if target.file_id is not None else None,
    }  # fmt: skip


def from_tombstone(record: object) -> EffectiveTarget | None:
    """The target a tombstone kept (``tombstone_record``); None if it kept none."""
    if not isinstance(record, dict):
        return None
    try:
        found = record.get("file_id")
        return EffectiveTarget(
            kind=str(record["kind"]), scheme=str(record["scheme"]),
            host=record.get("host"), addresses=tuple(record.get("addresses") or ()),
            port=record.get("port"), database=record.get("database"), path=record.get("path"),
            file_id=(int(found[0]), int(found[1])) if found else None,
        )  # fmt: skip
    except (KeyError, TypeError, ValueError, IndexError):
        return None


def stored_target(kind: str, settings: dict[str, Any]) -> EffectiveTarget | None:
    """Best-effort target of another, already stored source (None if underivable)."""
    try:
        return effective_target(SourceConfig(kind=kind, settings=dict(settings)), None)
    except BadRequest:
        return None
