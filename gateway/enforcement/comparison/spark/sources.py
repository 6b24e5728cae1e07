"""Where Spark reads a side from: the source as the gateway would connect to it.

The source row's secret is decrypted by the keyring exactly as ``open_source_adapter``
does (bound to the source id), and the target passes the same checks at each run
(network guard, the gateway's own databases, ownership): a SQL source is read by JDBC
from the address that was checked (pinned, so DNS cannot move it between the check
and the read), a file source from the path its roots allow. The password travels to
Spark as a JDBC option only — never in the URL, never in what ``SourceRead`` prints;
the URL holds the checked address, the port and a database name that cannot carry the
driver's parameters (refused, 422, otherwise).
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy.engine import URL

from adapters import sql_config
from adapters.base import AdapterLimits, SourceConfig
from adapters.pathguard import ensure_inside_roots, resolve_object
from catalog.errors import Unprocessable
from gateway.core.services import Services
from gateway.enforcement.query.entries import Entry
from gateway.enforcement.sources.connect import checked_config

JDBC_KINDS = ("postgresql", "mysql", "sqlite")
FILE_KINDS = ("parquet", "csv")
READ_KINDS = JDBC_KINDS + FILE_KINDS
_DRIVERS = {"postgresql": "org.postgresql.Driver", "mysql": "org.mariadb.jdbc.Driver",
            "sqlite": "org.sqlite.JDBC"}  # fmt: skip
# jdbc:mysql: (which MariaDB's driver takes) so Spark picks its MySQL dialect: under the
# generic one a pushed prefix compiles to LIKE … ESCAPE '\', a syntax error in MariaDB
_SCHEMES = {"postgresql": "postgresql", "mysql": "mysql"}
_QUOTE = {"postgresql": '"', "mysql": "`", "sqlite": '"'}
# A database name pasted into a JDBC URL must not carry the driver's own parameters
# (``db?PGDBNAME=other``, ``PGHOST``, ``socketFactory``, ``allowLocalInfile``): the
# gateway checked the literal name, the driver would read another target.
_JDBC_NAME = re.compile(r"[A-Za-z0-9_$.\-]{1,128}")


@dataclass(frozen=True)
class SourceRead:
    """How Spark reads one side: ``jdbc`` (``location`` is the URL, ``table`` the quoted
    object) or a file format (``location`` is the checked path)."""

    format: str
    location: str
    table: str | None = None
    options: dict[str, str] = field(default_factory=dict, repr=False)  # user, password


class SparkSources:
    """Describes the sources Spark may read, as the gateway would open them."""

    def __init__(self, services: Services) -> None:
        self._services = services

    def describe(self, entry: Entry) -> SourceRead:
        services = self._services
        source = entry.source.as_model()
        config, limits = checked_config(settings=services.settings, sessions=services.sessions,
                                        keyring=services.keyring, source=source)  # fmt: skip
        if config.kind in FILE_KINDS:
            return SourceRead(config.kind, _file_path(config, entry.object_name,
                                                      limits.file_roots))  # fmt: skip
        read = _jdbc(config, entry.object_name, limits)
        refused = limits.refused_servers | {i for i, _ in limits.claimed_servers}
        if read.location.startswith("jdbc:postgresql:") and refused:
            read.options["sessionInitStatement"] = server_guard(refused)
        return read


def _jdbc(config: SourceConfig, object_name: str, limits: AdapterLimits) -> SourceRead:
    url: URL = sql_config.connect_url(config)
    family = sql_config.FAMILY[url.get_backend_name()]
    quote = _QUOTE[family]
    schema = config.settings.get("schema")
    table = ".".join(_quoted(part, quote) for part in (schema, object_name) if part)
    options = {"driver": _DRIVERS[family]}
    if family == "sqlite":
        path = sql_config.sqlite_path(url, limits)
        return SourceRead("jdbc", f"jdbc:sqlite:{path}", table, options)
    host = str(config.settings.get(sql_config.PINNED_ADDRESS) or url.host)
    if ":" in host:  # an IPv6 address
        host = f"[{host}]"
    port = int(url.port or sql_config.DEFAULT_PORTS[family])
    database = url.database or ""
    if not _JDBC_NAME.fullmatch(database):  # the driver parses ?, ;, & … as its own settings
        raise Unprocessable(
            "the source's database name cannot be read by the Spark engine (letters, "
            "digits, _ $ . - only); use the embedded engine"
        )
    if url.username:
        options["user"] = url.username
    if url.password is not None:
        options["password"] = str(url.password)
    location = f"jdbc:{_SCHEMES[family]}://{host}:{port}/{database}"
    return SourceRead("jdbc", location, table, options)


def server_guard(refused: frozenset[str] | set[str]) -> str:
    """A statement the JDBC driver runs on each connection Spark opens, before it reads:
    fails unless the server says which it is and is none of ``refused`` (the gateway's
    own catalog, databases other departments registered first). The gateway's own
    connections ask the same on connect (``adapters.sql_config``); Spark's are opened in
    the JVM, where that hook never runs. ``search_path`` is pinned to ``pg_catalog`` for
    the check's transaction first, so a login's own schema cannot answer with a function
    or operator of its own (red team 8). The identities are compared as hex: a database
    name is anyone's text, and none of it reaches the statement."""
    listed = ", ".join(f"'{i.encode().hex()}'" for i in sorted(refused))
    return (
        "DO $sluice$ DECLARE reached text; BEGIN "
        "PERFORM pg_catalog.set_config('search_path', 'pg_catalog', true); "
        "SELECT pg_catalog.encode(pg_catalog.convert_to(pg_catalog.concat("
        "s.system_identifier, '/', pg_catalog.current_database()), 'UTF8'), 'hex') "
        "INTO reached FROM pg_catalog.pg_control_system() AS s; "
        f"IF reached IS NULL OR reached = ANY (ARRAY[{listed}]::text[]) THEN "
        "RAISE EXCEPTION 'sluice: this server may not be read as this source "
        "(the gateway''s own or another department''s database)'; END IF; END $sluice$"
    )


def _quoted(name: str, quote: str) -> str:
    return quote + name.replace(quote, quote * 2) + quote


def _file_path(config: SourceConfig, object_name: str, roots: tuple[str, ...]) -> str:
    """The file's real path, inside the allowed roots (as ``FileAdapter`` resolves it)."""
    settings: dict[str, Any] = config.settings
    single = settings.get("path")
    if single is not None:
        real = ensure_inside_roots(str(single), roots, what="file source")
        if object_name != os.path.basename(str(single)):
            raise FileNotFoundError(object_name)
        return real
    real_root = ensure_inside_roots(str(settings.get("root")), roots, what="file source")
    return resolve_object(real_root, object_name, roots)
