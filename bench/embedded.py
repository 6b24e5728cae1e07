"""The embedded default as the bench serves it: catalog and audit trail in SQLite
(``HOME/sluice.db``), the demo departments' SQLite files as sources.

The demo files (default sizes, seed 42) are generated once into ``CACHE`` and reused
while seed and sizes match; each run's home links to them, so ``civil.db`` is the very
file Datasette serves in the peer scenario (``bench.peer``). Sources are opened
read-only by the gateway and by Datasette (``--immutable``), so sharing it is safe.
"""

from __future__ import annotations

import secrets
import shutil
import sqlite3
import threading
from pathlib import Path

from bench.data import SEED
from catalog.demo.generator import Sizes, generate
from catalog.demo.install import install_demo_catalog
from catalog.demo.targets import SqliteTarget
from gateway.core.services import Services
from gateway.core.settings import Settings, load_settings
from gateway.wiring.demo import DEMO_TABLES, assign_demo_roles

CACHE = Path.home() / ".cache" / "sluice-bench" / "demo-sqlite"
# the SELECT of alice's small query on SQLite, run with no governance at all
UNGOVERNED_SQL = (
    'SELECT "id_number", "name", "phone", "region_code", "monthly_amount" '
    "FROM \"dibao_recipients\" WHERE \"region_code\" LIKE ? || '%' ESCAPE '/' LIMIT ?"
)


def _marker() -> str:
    return f"seed={SEED} sizes={Sizes()!r}"


def ensure_files() -> Path:
    """The demo's SQLite files at default sizes, generated once."""
    stamp = CACHE / "marker"
    if (
        stamp.exists()
        and stamp.read_text() == _marker()
        and all((CACHE / name).exists() for name in DEMO_TABLES)
    ):
        return CACHE
    shutil.rmtree(CACHE, ignore_errors=True)
    CACHE.mkdir(parents=True)
    generate(seed=SEED, sizes=Sizes(), targets=[SqliteTarget(CACHE)])
    stamp.write_text(_marker())
    return CACHE


def bench_settings(home: Path) -> Settings:
    """Production settings on the embedded stores, with the same raised limits as the
    PostgreSQL deployment (``bench.server.bench_settings`` says why)."""
    return load_settings(
        home=home,
        env="production",
        master_key=secrets.token_urlsafe(32),
        log_level="WARNING",
        rate_limit="100000000/minute",
        daily_row_quota=10**12,
        source_max_connections_per_user=64,
        alert_runner="external",  # as `sluice serve` runs it (bench.server.alerts_child)
        # the home's demo files are links to the cache, which the path guard resolves
        file_roots=[str(home / "demo"), str(CACHE)],
    )


def install(services: Services) -> None:
    """The demo catalog over links to the cached files, and the demo users' roles."""
    files = ensure_files()
    demo = services.settings.demo_data_dir
    demo.mkdir(parents=True, exist_ok=True)
    for name in DEMO_TABLES:
        target = demo / name
        if not target.exists():
            target.symlink_to(files / name)
    with services.sessions() as session:
        install_demo_catalog(session=session, data_dir=demo.resolve())
        session.commit()
    assign_demo_roles(services)


def civil_db(settings: Settings) -> Path:
    return (settings.demo_data_dir / "civil.db").resolve()


class ThreadConnections:
    """One read-only connection per worker thread, kept open (like a pool): ``connect``
    hands out a connection whose ``close`` keeps it for the thread's next request."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.local = threading.local()

    def connect(self) -> _Kept:
        kept: _Kept | None = getattr(self.local, "conn", None)
        if kept is None:
            raw = sqlite3.connect(f"file:{self.path}?mode=ro", uri=True)
            kept = self.local.conn = _Kept(raw)
        return kept


class _Kept:
    def __init__(self, raw: sqlite3.Connection) -> None:
        self.raw = raw

    def cursor(self) -> sqlite3.Cursor:
        return self.raw.cursor()

    def commit(self) -> None:
        self.raw.commit()

    def close(self) -> None:
        """Kept for the thread's next request."""
