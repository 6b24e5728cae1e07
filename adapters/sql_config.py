"""How a SQL source is configured, checked, displayed and turned into an Engine.

Configuration (kinds ``postgresql``, ``mysql``, ``sqlite``):

- ``settings["url"]``: the SQLAlchemy URL **without** a password, safe to display,
  e.g. ``postgresql://fin_reader@db.finance:5432/payroll``. The driver part is
  optional (``postgresql`` → ``postgresql+psycopg``, ``mysql`` → ``mysql+pymysql``);
  any installed SQLAlchemy driver may be named. A URL carrying a password is refused:
  the password belongs in the secret, which is stored encrypted.
- ``settings["schema"]`` (optional): the schema whose tables are the source's objects.
- ``secret``: the password, or a full URL (used when a password cannot be separated,
  e.g. a DSN with unusual options; it is then the URL connected to, and
  ``settings["url"]`` — if given — is only its display form).

Safety applied to every engine: sessions are read-only (PostgreSQL
``default_transaction_read_only``, MySQL ``SET SESSION TRANSACTION READ ONLY``, SQLite
opened with ``mode=ro``), statement timeouts are set per session (PostgreSQL
``statement_timeout``, MariaDB ``max_statement_time``, MySQL ``max_execution_time``;
SQLite through a progress handler, see ``adapters.sql``), URL query parameters are
allow-listed (so a steward cannot turn off the timeout through ``options=`` or enable
``local_infile``), and a SQLite file must lie inside ``SLUICE_FILE_ROOTS`` like any file
source — otherwise a steward could register the gateway's own catalog database.
"""

from __future__ import annotations

import math
import sqlite3
import urllib.parse
from typing import Any

import sqlalchemy as sa
from sqlalchemy import Engine, event
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import ArgumentError, NoSuchModuleError
from sqlalchemy.pool import QueuePool

from adapters.base import AdapterLimits, SourceConfig
from adapters.pathguard import ensure_inside_roots
from catalog.errors import BadRequest

BACKENDS: dict[str, tuple[str, ...]] = {
    "postgresql": ("postgresql",),
    "mysql": ("mysql", "mariadb"),
    "sqlite": ("sqlite",),
}
DEFAULT_DRIVERS = {"postgresql": "psycopg", "mysql": "pymysql", "mariadb": "pymysql"}
ALLOWED_QUERY = {
    "postgresql": {"sslmode", "sslrootcert", "application_name", "target_session_attrs"},
    "mysql": {"charset", "ssl_ca", "ssl_verify_cert", "ssl_verify_identity"},
    "mariadb": {"charset", "ssl_ca", "ssl_verify_cert", "ssl_verify_identity"},
    "sqlite": set(),
}


def _parse(text: object, what: str) -> URL:
    if not isinstance(text, str) or not text:
        raise BadRequest(f"{what} must be a SQLAlchemy URL string")
    try:
        return make_url(text)
    except (ArgumentError, ValueError):
        raise BadRequest(f"{what} is not a valid SQLAlchemy URL") from None


def display_url(config: SourceConfig) -> URL | None:
    """The URL as shown to people: from settings, else from a URL secret."""
    if config.settings.get("url"):
        return _parse(config.settings["url"], "settings.url")
    if config.secret and "://" in config.secret:
        return _parse(config.secret, "the secret URL")
    return None


def connect_url(config: SourceConfig) -> URL:
    """The URL actually connected to, with the secret put in place, driver defaulted."""
    if config.secret and "://" in config.secret:
        url = _parse(config.secret, "the secret URL")
    else:
        url = _parse(config.settings.get("url"), "settings.url")
        if url.password is not None:
            raise BadRequest("settings.url must not contain a password; put it in the secret")
        if config.secret:
            url = url.set(password=config.secret)
    backend = url.get_backend_name()
    if "+" not in url.drivername and backend in DEFAULT_DRIVERS:
        url = url.set(drivername=f"{backend}+{DEFAULT_DRIVERS[backend]}")
    return url


def validate(config: SourceConfig, limits: AdapterLimits) -> None:
    """Static checks: URL shape, kind ↔ backend, no password in settings, query
    allow-list, SQLite file inside the allowed roots."""
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
    schema = config.settings.get("schema")
    if schema is not None and (not isinstance(schema, str) or not schema):
        raise BadRequest("settings.schema must be a non-empty string")
    if backend == "sqlite":
        sqlite_path(url, limits)


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


def create_engine(config: SourceConfig, limits: AdapterLimits) -> Engine:
    """One pooled engine per adapter, every session read-only and time-bounded."""
    url = connect_url(config)
    backend = url.get_backend_name()
    timeout = limits.statement_timeout_s
    connect_timeout = max(2, min(30, math.ceil(timeout)))
    # no pre-ping: it costs a round trip per query; a dropped connection fails one query
    # (SourceFailed) and SQLAlchemy invalidates the pool, so the next one reconnects
    kwargs: dict[str, Any] = {"pool_recycle": 1800, "pool_size": 5, "max_overflow": 15}
    try:
        if backend == "sqlite":
            path = sqlite_path(url, limits)
            uri = f"file:{urllib.parse.quote(path)}?mode=ro"

            def creator() -> sqlite3.Connection:
                return sqlite3.connect(
                    uri, uri=True, check_same_thread=False, timeout=connect_timeout
                )

            return sa.create_engine(
                f"{url.drivername}://", creator=creator, poolclass=QueuePool, **kwargs
            )
        if url.get_driver_name() in {"psycopg", "psycopg2", "pymysql", "mysqldb"}:
            kwargs["connect_args"] = {"connect_timeout": connect_timeout}
        engine = sa.create_engine(url, **kwargs)
    except (NoSuchModuleError, ImportError):
        raise BadRequest(f"the SQL driver {url.drivername!r} is not installed") from None
    if backend == "postgresql":
        event.listen(engine, "connect", _pg_session(timeout))
    else:
        event.listen(engine, "connect", _mysql_session(timeout))
    return engine


def _pg_session(timeout_s: float) -> Any:
    ms = max(1, round(timeout_s * 1000))

    def on_connect(dbapi_connection: Any, _record: Any) -> None:
        cursor = dbapi_connection.cursor()
        try:
            # Integers computed here, not user input; SET takes no bind parameters.
            cursor.execute(f"SET statement_timeout = {int(ms)}")
            cursor.execute("SET default_transaction_read_only = on")
        finally:
            cursor.close()
        dbapi_connection.commit()

    return on_connect


def _mysql_session(timeout_s: float) -> Any:
    def on_connect(dbapi_connection: Any, _record: Any) -> None:
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
