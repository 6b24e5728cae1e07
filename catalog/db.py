"""Engines, sessions and migrations for the catalog database.

SQLite connections get WAL, ``synchronous=FULL`` and foreign keys on every connect: the
audit trail shares this database and must not lose acknowledged events.

Every package that owns tables in this database keeps its migrations in its own
``<package>/migrations/versions`` folder, all of them revisions of ONE Alembic history
(``version_locations``): a revision names its parent whichever folder that is in, so
0008 (catalog) can depend on 0003 (policies' casbin table). The environment and the
template stay in ``catalog/migrations``. A new revision for, say, audit::

    command.revision(alembic_config(url), "what it changes", head="<parent revision>",
                     version_path="audit/migrations/versions")
"""

from __future__ import annotations

import importlib.util
import json
import sqlite3
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from catalog.db_url import sqlite_file
from catalog.migration_heads import code_heads
from catalog.pg_session import PG_SEARCH_PATH

if TYPE_CHECKING:
    from alembic.config import Config
    from sqlalchemy import Engine
    from sqlalchemy.orm import Session, sessionmaker

# SQLAlchemy is imported by the functions that build engines and sessions, not with
# the module: ``migrate`` on an embedded catalog already at its heads reads the
# revisions with sqlite3, so ``sluice token`` never loads it (issue 17)

MIGRATIONS = Path(__file__).parent / "migrations"
HISTORY_OWNERS = ("catalog", "policies", "adapters", "audit")
"""Packages whose ``migrations/versions`` make up the one history (named, not imported:
the catalog sits below them)."""


def version_locations() -> list[Path]:
    """Each owner's versions folder, found without importing the package."""
    found = []
    for package in HISTORY_OWNERS:
        spec = importlib.util.find_spec(package)
        if spec is None or not spec.submodule_search_locations:
            raise RuntimeError(f"package {package!r} is not installed; its migrations are needed")
        found.append(Path(next(iter(spec.submodule_search_locations))) / "migrations" / "versions")
    return found


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=FULL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=5000")
    cursor.close()


def make_engine(url: str, **kwargs: Any) -> Engine:
    """Create an engine with Sluice's durability settings for the URL's dialect."""
    from sqlalchemy import create_engine, event

    from catalog.generation_bump import bump_on_writes

    if url.startswith("sqlite"):
        if _is_file(url) and "poolclass" not in kwargs:
            # the default pool (5 + 10 overflow) is smaller than the server's worker
            # threads: under 8 clients, connections were opened (with their pragmas)
            # and closed on nearly every request
            kwargs.setdefault("pool_size", 20)
            kwargs.setdefault("max_overflow", 20)
        kwargs.setdefault("json_deserializer", _readable_json)
        engine = create_engine(url, connect_args={"check_same_thread": False}, **kwargs)
        event.listen(engine, "connect", _sqlite_pragmas)
        bump_on_writes(engine)  # the caches' counter, triggers or not (red team 46)
        return engine
    if url.startswith("postgresql") and "options=" not in url:  # an operator's own win
        kwargs["connect_args"] = {"options": PG_SEARCH_PATH, **kwargs.get("connect_args", {})}
    # no pre-ping on every checkout (a round trip per request under load): only a
    # connection idle for IDLE_PING_S is pinged (``_ping_if_idle``), so a server restart
    # while the gateway was quiet costs no request; one dropped while busy fails its
    # request with a 503 and SQLAlchemy then invalidates the pool; recycle bounds age
    kwargs.setdefault("pool_recycle", 1800)
    # as many connections as the server's worker threads (anyio's default is 40), so a
    # burst never waits on the pool; a wait that does happen is short and becomes a 503
    kwargs.setdefault("pool_size", 20)
    kwargs.setdefault("max_overflow", 20)
    kwargs.setdefault("pool_timeout", 5)
    engine = create_engine(url, **kwargs)
    event.listen(engine, "checkin", _checked_in)
    event.listen(engine, "checkout", _ping_if_idle)
    bump_on_writes(engine)  # the caches' counter, triggers or not (red team 46)
    return engine


IDLE_PING_S = 2.0
"""A pooled server connection idle this long is pinged before use: a restart (or a
firewall dropping idle sessions) is found there, not by the request."""


def _checked_in(_dbapi_connection: Any, record: Any) -> None:
    record.info["sluice_idle_since"] = time.monotonic()


def _ping_if_idle(dbapi_connection: Any, record: Any, _proxy: Any) -> None:
    """SQLAlchemy's documented pessimistic check (a ``DisconnectionError`` makes the pool
    replace the connection and retry), only for connections idle ``IDLE_PING_S``."""
    from sqlalchemy.exc import DisconnectionError

    since = record.info.get("sluice_idle_since")
    if since is None or time.monotonic() - since < IDLE_PING_S:
        return
    try:
        cursor = dbapi_connection.cursor()
        try:
            cursor.execute("SELECT 1")
        finally:
            cursor.close()
        dbapi_connection.rollback()  # the request starts its own transaction
    except Exception as exc:  # the driver's own error types: any failure means gone
        raise DisconnectionError(f"idle connection gone: {type(exc).__name__}") from exc


def _readable_json(value: str) -> Any:
    """A JSON column's text as SQLite holds it, decoded; text that is not JSON (SQLite
    stores whatever it is given: a hand edit) comes back as the text itself. A seal over
    the column then fails to verify and the row is refused as any row changed behind the
    gateway is; a decode error was a 500 wherever the row was read (red team 21: one
    source's settings made every analyst's catalog listing fail)."""
    try:
        return json.loads(value)
    except ValueError:
        return value


def _is_file(url: str) -> bool:
    """A SQLite URL naming a file (an in-memory database has a pool of its own kind)."""
    from sqlalchemy import make_url

    database = make_url(url).database
    return bool(database) and database != ":memory:" and "mode=memory" not in url


def reads_engine(engine: Engine) -> Engine:
    """``engine`` for reads that need no transaction (lookups on every request).

    On a server database, autocommit spares the BEGIN and ROLLBACK round trips a
    transaction would add. SQLite's driver starts no transaction for a SELECT anyway,
    and switching its isolation level on every checkout and checkin costs more than it
    saves: the engine as it is."""
    if engine.dialect.name == "sqlite":
        return engine
    return engine.execution_options(isolation_level="AUTOCOMMIT")


def make_session_factory(engine: Engine) -> sessionmaker[Session]:
    from sqlalchemy.orm import sessionmaker

    return sessionmaker(engine, expire_on_commit=False)


def alembic_config(url: str) -> Config:
    from alembic.config import Config  # a migration's tool: not at every process start

    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    cfg.set_main_option("path_separator", "newline")
    locations = "\n".join(str(path) for path in version_locations())
    cfg.set_main_option("version_locations", locations.replace("%", "%%"))
    cfg.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return cfg


def migrate(url: str) -> None:
    """Bring the database at ``url`` to the newest schema (every package's branch);
    nothing to do, and alembic not loaded, when it is there already (``at_heads``)."""
    if at_heads(url):
        return
    from alembic import command

    command.upgrade(alembic_config(url), "heads")


def at_heads(url: str) -> bool:
    """Whether the database's recorded revisions are exactly the code's heads
    (``catalog.migration_heads``); False when either is unknown."""
    heads = code_heads(version_locations())
    if heads is None:
        return False
    path = sqlite_file(url)
    if path is not None:
        return _sqlite_revisions(path) == heads
    from sqlalchemy import text
    from sqlalchemy.exc import SQLAlchemyError

    engine = make_engine(url)
    try:
        with engine.connect() as conn:
            found = conn.execute(text("SELECT version_num FROM alembic_version")).scalars()
            return frozenset(found) == heads
    except SQLAlchemyError:  # no table yet (a new database), or unreachable: alembic says
        return False
    finally:
        engine.dispose()


def _sqlite_revisions(path: str) -> frozenset[str] | None:
    """The revisions recorded in the SQLite file at ``path``, read with sqlite3 (as the
    engine would: the same busy timeout); None when there is no file or no table yet
    (alembic then creates them) or the file cannot be read (alembic says why)."""
    if not Path(path).is_file():
        return None
    try:
        conn = sqlite3.connect(path, timeout=5.0)
        try:
            rows = conn.execute("SELECT version_num FROM alembic_version").fetchall()
        finally:
            conn.close()
    except sqlite3.Error:
        return None
    return frozenset(str(row[0]) for row in rows)
