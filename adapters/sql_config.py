"""How a SQL source is configured, checked, displayed and turned into an Engine.

Configuration (kinds ``postgresql``, ``mysql``, ``sqlite``):

- ``settings["url"]``: the SQLAlchemy URL **without** a password, safe to display,
  e.g. ``postgresql://fin_reader@db.finance:5432/payroll``. The driver part is
  optional (``postgresql`` → ``postgresql+psycopg``, ``mysql`` → ``mysql+pymysql``);
  any installed SQLAlchemy driver may be named. A URL carrying a password is refused:
  the password belongs in the secret, which is stored encrypted.
- ``settings["schema"]`` (optional): the schema whose tables are the source's objects.
- ``secret``: the password, and nothing else. A secret that carries a URL (a server,
  port, database or file) is refused: the secret is stored encrypted and never shown,
  so whatever it named would not be what stewards, the ownership check and the audit
  trail see (``refuse_target_in_secret``).

Network targets (``endpoint``): a PostgreSQL or MySQL/MariaDB URL must name a host and
a database; the port defaults to 5432/3306; only drivers whose connection can be pinned
to an address are accepted. ``create_engine`` resolves the host once through
``adapters.netguard`` (private, loopback, link-local… refused unless the host is
allow-listed) and connects to that address only — psycopg ``hostaddr`` (the host name
stays for TLS verification), pymysql/mysqlclient ``host=`` the address — so a DNS answer
that changes after the check (rebinding) cannot redirect the connection. The gateway may
pass the address it checked itself in ``settings[PINNED_ADDRESS]`` (stewards cannot set
it: registration refuses settings keys starting with ``_``); it is judged by the same
policy before use.

Safety applied to every engine: sessions are read-only (PostgreSQL
``default_transaction_read_only``, MySQL ``SET SESSION TRANSACTION READ ONLY``, SQLite
opened with ``mode=ro``), statement timeouts are set per session (PostgreSQL
``statement_timeout``, MariaDB ``max_statement_time``, MySQL ``max_execution_time``;
SQLite through a progress handler, see ``adapters.sql``), URL query parameters are
allow-listed (so a steward cannot turn off the timeout through ``options=`` or enable
``local_infile``), and a SQLite file must lie inside ``SLUICE_FILE_ROOTS`` like any file
source — otherwise a steward could register the gateway's own catalog database.

A PostgreSQL source is also asked, on every new connection, which server and database
it is (``pg_control_system()``'s system identifier, ``current_database()``): one in
``limits.refused_servers`` — the gateway's own catalog, reached by an address its URL
does not name (a LAN address, a forwarder, a pooler, a replica) — is closed and refused
(``Forbidden``), as is a server that will not say (red team 7). The question names
``pg_catalog`` throughout and uses no operator, so a schema the login put first in its
``search_path`` cannot answer it (red team 8).
"""

from __future__ import annotations

import contextlib
import math
import os
import sqlite3
import stat
import urllib.parse
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy import Engine, event
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import ArgumentError, NoSuchModuleError
from sqlalchemy.pool import QueuePool

from adapters.base import AdapterLimits, SourceConfig
from adapters.netguard import (
    Resolver,
    address_allowed,
    normalise_host,
    resolve_checked,
    system_resolver,
)
from adapters.pathguard import ensure_inside_roots
from adapters.sql_deadline import bounded
from adapters.sqlite_schema import plan_against_stored_schema
from catalog.errors import BadRequest, Forbidden, SourceTimeout

BACKENDS: dict[str, tuple[str, ...]] = {
    "postgresql": ("postgresql",),
    "mysql": ("mysql", "mariadb"),
    "sqlite": ("sqlite",),
}
DEFAULT_DRIVERS = {"postgresql": "psycopg", "mysql": "pymysql", "mariadb": "pymysql"}
DEFAULT_PORTS = {"postgresql": 5432, "mysql": 3306, "mariadb": 3306}
FAMILY = {"postgresql": "postgresql", "mysql": "mysql", "mariadb": "mysql", "sqlite": "sqlite"}
# drivers whose connection can be pinned to the checked address (see module doc)
PINNABLE_DRIVERS = {
    "postgresql": {"psycopg", "psycopg2"},
    "mysql": {"pymysql"},
    "mariadb": {"pymysql"},
}
PINNED_ADDRESS = "_pinned_address"
ALLOWED_QUERY = {
    "postgresql": {"sslmode", "sslrootcert", "application_name", "target_session_attrs"},
    "mysql": {"charset", "ssl_ca", "ssl_verify_cert", "ssl_verify_identity"},
    "mariadb": {"charset", "ssl_ca", "ssl_verify_cert", "ssl_verify_identity"},
    "sqlite": set(),
}


# URL parameters naming a file on the gateway's host, which the driver opens and reads
TLS_FILE_PARAMS = frozenset({"sslrootcert", "ssl_ca"})
MAX_CERTIFICATE_FILE = 1 << 20


def require_certificate_file(key: str, value: object) -> None:
    """A TLS parameter names a regular file of at most 1 MiB (a CA bundle): a steward's
    ``sslrootcert=/dev/zero`` had the driver read for ever in a gateway thread, and a
    FIFO held one; the answers told which paths exist on the gateway's host. One
    message whatever the path (red team 34's left row)."""
    refused = BadRequest(
        f"URL parameter {key!r} must name a regular file of at most 1 MiB on the gateway's "
        "host (a CA bundle the gateway's operator placed there)"
    )
    if not isinstance(value, str) or not value or "\x00" in value:
        raise refused
    try:
        found = os.stat(value)
    except (OSError, ValueError):
        raise refused from None
    if not stat.S_ISREG(found.st_mode) or found.st_size > MAX_CERTIFICATE_FILE:
        raise refused


def _parse(text: object, what: str) -> URL:
    if not isinstance(text, str) or not text:
        raise BadRequest(f"{what} must be a SQLAlchemy URL string")
    try:
        return make_url(text)
    except (ArgumentError, ValueError):
        raise BadRequest(f"{what} is not a valid SQLAlchemy URL") from None


@dataclass(frozen=True)
class Endpoint:
    """The server and database a network SQL source connects to, spelled out."""

    family: str  # postgresql | mysql (MariaDB included)
    host: str
    port: int
    database: str


def refuse_target_in_secret(secret: str | None) -> None:
    """A SQL secret is a password only: one carrying a URL would name another target."""
    if secret and "://" in secret:
        raise BadRequest(
            "the secret may hold only the password; the server, port and database belong "
            "in settings.url, where they are checked, shown and audited"
        )


def display_url(config: SourceConfig) -> URL | None:
    """The URL as shown to people (the settings URL; a secret never carries one)."""
    if config.settings.get("url"):
        return _parse(config.settings["url"], "settings.url")
    return None


def connect_url(config: SourceConfig) -> URL:
    """The URL actually connected to, with the password put in place, driver defaulted."""
    refuse_target_in_secret(config.secret)
    url = _parse(config.settings.get("url"), "settings.url")
    if url.password is not None:
        raise BadRequest("settings.url must not contain a password; put it in the secret")
    if config.secret:
        url = url.set(password=config.secret)
    backend = url.get_backend_name()
    if "+" not in url.drivername and backend in DEFAULT_DRIVERS:
        url = url.set(drivername=f"{backend}+{DEFAULT_DRIVERS[backend]}")
    return url


def endpoint(config: SourceConfig) -> Endpoint | None:
    """Host, port (default filled in) and database of a network SQL source; None for
    SQLite. MySQL reads the tables of ``settings.schema`` when given: that database is
    the one the source exposes."""
    url = connect_url(config)
    backend = url.get_backend_name()
    if backend not in DEFAULT_PORTS:
        return None
    host = normalise_host(url.host or "")
    if not host:
        raise BadRequest("settings.url must name the server's host (no local socket)")
    if not url.database:
        raise BadRequest("settings.url must name the database")
    database = url.database
    schema = config.settings.get("schema")
    if FAMILY[backend] == "mysql" and isinstance(schema, str) and schema:
        database = schema
    return Endpoint(FAMILY[backend], host, url.port or DEFAULT_PORTS[backend], database)


def pinned_address(
    config: SourceConfig, limits: AdapterLimits, resolver: Resolver = system_resolver
) -> tuple[Endpoint, str] | None:
    """The endpoint and the one address to connect to, checked by the network guard
    (``Forbidden`` for a refused address); None for SQLite."""
    target = endpoint(config)
    if target is None:
        return None
    pinned = config.settings.get(PINNED_ADDRESS)
    if pinned is not None:
        if not isinstance(pinned, str) or not address_allowed(
            target.host, pinned, limits.http_allow_hosts
        ):
            raise Forbidden(f"the address chosen for host {target.host!r} is not allowed")
        return target, pinned
    addresses = resolve_checked(target.host, target.port, limits.http_allow_hosts, resolver)
    return target, addresses[0]


def validate(config: SourceConfig, limits: AdapterLimits) -> None:
    """Static checks: URL shape, kind ↔ backend, no password in settings, no target in
    the secret, query allow-list, pinnable driver, host and database named, SQLite file
    inside the allowed roots; last, the network guard on the resolved host."""
    if config.kind not in BACKENDS:
        raise BadRequest(f"{config.kind!r} is not a SQL source kind")
    shown = config.settings.get("url")
    if shown is not None and _parse(shown, "settings.url").password is not None:
        raise BadRequest("settings.url must not contain a password; put it in the secret")
    url = connect_url(config)
    backend = url.get_backend_name()
    if backend not in BACKENDS[config.kind]:
        raise BadRequest(f"a {config.kind} source needs a {config.kind} URL, not {backend!r}")
    for key in url.query:
        if key not in ALLOWED_QUERY[backend]:
            raise BadRequest(f"URL parameter {key!r} is not allowed for {backend} sources")
        if key in TLS_FILE_PARAMS:
            require_certificate_file(key, url.query[key])
    schema = config.settings.get("schema")
    if schema is not None and (not isinstance(schema, str) or not schema):
        raise BadRequest("settings.schema must be a non-empty string")
    if backend == "sqlite":
        sqlite_path(url, limits)
        return
    if url.get_driver_name() not in PINNABLE_DRIVERS[backend]:
        allowed = ", ".join(sorted(PINNABLE_DRIVERS[backend]))
        raise BadRequest(f"{backend} sources use one of the drivers {allowed}")
    pinned_address(config, limits)


def sqlite_path(url: URL, limits: AdapterLimits) -> str:
    """The real path of a SQLite source's file, which must exist inside a file root."""
    database = url.database
    if not database or database == ":memory:" or database.startswith("file:"):
        raise BadRequest("a sqlite source needs the path of a database file")
    return ensure_inside_roots(database, limits.file_roots, what="sqlite database")


def redact(config: SourceConfig) -> str:
    url = display_url(config)
    if url is None:
        return f"{config.kind} source (no URL)"
    if url.password is not None or (config.secret and url.username):
        url = url.set(password="hidden")  # noqa: S106 - a placeholder, rendered as ***
    return url.render_as_string(hide_password=True)


POOL_SIZE = 20
"""Connections one source's pool holds at most (``source_max_connections`` ≤ this)."""


def create_engine(config: SourceConfig, limits: AdapterLimits) -> Engine:
    """One pooled engine per adapter, every session read-only and time-bounded."""
    url = connect_url(config)
    backend = url.get_backend_name()
    timeout = limits.statement_timeout_s
    connect_timeout = max(2, min(30, math.ceil(timeout)))
    # no pre-ping: it costs a round trip per query; a dropped connection fails one query
    # (SourceFailed) and SQLAlchemy invalidates the pool, so the next one reconnects.
    # The pool keeps every connection it opened (up to POOL_SIZE, the most a source is
    # read through at once: the broker's per-source slots stay at or under it): with 5
    # kept and 15 overflow, 8 steady readers opened and closed 3 connections per round,
    # a new server process on the source each time
    kwargs: dict[str, Any] = {"pool_recycle": 1800, "pool_size": POOL_SIZE, "max_overflow": 0}
    try:
        if backend == "sqlite":
            path = sqlite_path(url, limits)
            uri = f"file:{urllib.parse.quote(path)}?mode=ro"

            def creator() -> sqlite3.Connection:
                return sqlite3.connect(
                    uri, uri=True, check_same_thread=False, timeout=connect_timeout
                )

            engine = sa.create_engine(
                f"{url.drivername}://", creator=creator, poolclass=QueuePool, **kwargs
            )
            plan_against_stored_schema(engine)  # a view rewritten behind the cookie
            return engine
        pinned = pinned_address(config, limits)
        if pinned is None or url.get_driver_name() not in PINNABLE_DRIVERS[backend]:
            raise BadRequest(f"a {backend} source needs a pinnable driver and a host")
        target, address = pinned
        connect_args: dict[str, Any] = {"connect_timeout": connect_timeout}
        if target.family == "postgresql":
            # libpq connects to hostaddr and never resolves host (kept for TLS checks)
            connect_args["hostaddr"] = address
            url = url.set(port=target.port)
        else:
            url = url.set(host=address, port=target.port)
            # bounds the wait for the server's greeting: a silent port must fail like
            # a closed one, not hang (lifted again once connected, ``_mysql_session``)
            connect_args["read_timeout"] = connect_timeout
        kwargs["connect_args"] = connect_args
        engine = sa.create_engine(url, **kwargs)
    except (NoSuchModuleError, ImportError):
        raise BadRequest(f"the SQL driver {url.drivername!r} is not installed") from None
    if backend == "postgresql":
        event.listen(engine, "connect", _pg_session(timeout, limits))
    else:
        event.listen(engine, "connect", _mysql_session(timeout))
    return engine


OWN_SERVER = (
    "a source can never be the gateway's own catalog and audit database, whatever "
    "address, name or relay reaches its server"
)
# every name qualified and no operator or cast: a login's ``search_path`` may put a schema
# of its own before ``pg_catalog``, and a function or operator there would answer another
# server's identity (red team 8); the two parts are joined here (``server_identity``)
SERVER_IDENTITY_SQL = (
    "SELECT s.system_identifier, pg_catalog.current_database() "
    "FROM pg_catalog.pg_control_system() AS s"
)


PG_SEARCH_PATH = "SET search_path = public"
"""Every session of a PostgreSQL source finds an unqualified object in ``public``, not by
the login's own ``search_path`` nor by ``"$user"``: both are defaults each new session
takes (``ALTER ROLE … SET search_path``, or ``SET role`` to a role whose name
``"$user"`` then is, which the source's administrator — or the login itself — may run at
any time), so two sessions of one pool, opened before and after such a change, resolved
one name to two objects. The freeze's question of what an
entry reads (``lineage_now``) was answered on the older session (a harmless table) while
the read was made on the newer one (the frozen roll), and the pool hands its sessions out
in turn (red team 52). A source whose objects live elsewhere names its ``schema``."""


def server_identity(row: Any) -> str | None:
    """``<system identifier>/<database>`` from a row of ``SERVER_IDENTITY_SQL``, or None
    when the server left either part out."""
    if not row or len(row) < 2 or row[0] is None or not row[1]:
        return None
    try:
        return f"{int(row[0])}/{row[1]}"
    except (TypeError, ValueError):
        return None


def _pg_session(timeout_s: float, limits: AdapterLimits) -> Any:
    ms = max(1, round(timeout_s * 1000))
    refused, claimed = limits.refused_servers, dict(limits.claimed_servers)
    asks = bool(refused or claimed or limits.on_server)

    def on_connect(dbapi_connection: Any, _record: Any) -> None:
        with _set_up(dbapi_connection, timeout_s):
            cursor = dbapi_connection.cursor()
            try:
                # Integers computed here, not user input; SET takes no bind parameters.
                cursor.execute(f"SET statement_timeout = {int(ms)}")
                cursor.execute("SET default_transaction_read_only = on")
                cursor.execute(PG_SEARCH_PATH)
                identity = _pg_identity(cursor) if asks else None
            finally:
                cursor.close()
            dbapi_connection.commit()
        refusal = _refusal(identity, refused, claimed)
        if refusal is not None:
            dbapi_connection.close()
            raise Forbidden(refusal)
        if identity is not None and limits.on_server is not None:
            limits.on_server(identity)

    return on_connect


def _refusal(identity: str | None, refused: frozenset[str], claimed: dict[str, str]) -> str | None:
    """Why a connection that reached ``identity`` may not be used, or None."""
    if identity is None:
        if refused or claimed:  # a mute server could be any of them
            return ("the source's server does not say which server it is "
                    "(pg_control_system()), so it cannot be told from the gateway's own "
                    "or another department's")  # fmt: skip
        return None
    if identity in refused:
        return OWN_SERVER
    if identity in claimed:
        return (f"this database is already registered by department {claimed[identity]!r} "
                "(the same server, reached by another address); only that department's "
                "stewards may use it")  # fmt: skip
    return None


def _pg_identity(cursor: Any) -> str | None:
    """``<system identifier>/<database>`` of the server the connection reached (a
    streaming replica shares its primary's identifier), or None if it will not say."""
    try:
        cursor.execute(SERVER_IDENTITY_SQL)
        row = cursor.fetchone()
    except Exception:  # any refusal reads as "will not say": refused
        cursor.connection.rollback()
        return None
    return server_identity(row)


@contextmanager
def _set_up(dbapi_connection: Any, timeout_s: float) -> Iterator[None]:
    """A new connection's session set-up within the gateway's own deadline (red team
    22: a server or relay that stops answering kept it waiting for ever); a connection
    cut there is closed, never pooled."""
    try:
        with bounded(dbapi_connection, timeout_s):
            yield
    except SourceTimeout:
        with contextlib.suppress(Exception):
            dbapi_connection.close()
        raise


def _mysql_session(timeout_s: float) -> Any:
    def on_connect(dbapi_connection: Any, _record: Any) -> None:
        # pymysql has no public setter: the handshake's read timeout must not cut off
        # a long read of a streamed result (statements are bounded server-side below)
        if hasattr(dbapi_connection, "_read_timeout"):
            dbapi_connection._read_timeout = None
        with _set_up(dbapi_connection, timeout_s):
            cursor = dbapi_connection.cursor()
            try:
                cursor.execute("SELECT VERSION()")
                version = str(cursor.fetchone()[0])
                if "mariadb" in version.lower():
                    cursor.execute(f"SET SESSION max_statement_time = {float(timeout_s):.3f}")
                else:
                    cursor.execute(f"SET SESSION max_execution_time = {round(timeout_s * 1000)}")
                cursor.execute("SET SESSION TRANSACTION READ ONLY")
            finally:
                cursor.close()
            dbapi_connection.commit()

    return on_connect
