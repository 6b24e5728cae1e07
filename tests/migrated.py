"""A migrated SQLite database copied from a template instead of migrated again.

Running every migration (four packages' alembic histories) on a fresh SQLite file takes
about a second on two shared cores, and the suite did it a few hundred times: once for
each demo gateway's home and each audit log a test opens. The migrations are the same
each time and write no random value, so each test process migrates one template file
once and copies it. The copy is the file ``catalog.db.migrate`` makes; the gateway (and
``tests/audit/helpers.open_log``) still run ``migrate`` on it, a no-op at the newest
revision. The migrations themselves stay tested on fresh files where they are the
subject (tests/catalog/test_migrations.py, tests/catalog/test_store.py,
tests/ops/test_db_migrate.py).
"""

from __future__ import annotations

import atexit
import contextlib
import shutil
import sqlite3
import tempfile
import threading
from pathlib import Path

from catalog.db import migrate

_lock = threading.Lock()
_template: list[Path] = []


def _make_template() -> Path:
    folder = Path(tempfile.mkdtemp(prefix="sluice-migrated-"))
    atexit.register(shutil.rmtree, folder, True)
    path = folder / "template.db"
    migrate(f"sqlite:///{path}")
    # the catalog runs in WAL mode: fold any log into the file, so the file alone is whole
    with contextlib.closing(sqlite3.connect(path)) as conn:
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    return path


def copy_migrated_sqlite(path: Path) -> None:
    """Put a database at the newest schema at ``path`` (a file that does not exist yet)."""
    if path.exists():
        raise FileExistsError(path)
    with _lock:
        if not _template:
            _template.append(_make_template())
    shutil.copyfile(_template[0], path)


def sqlite_path(url: str) -> Path | None:
    """The file of a ``sqlite:///`` URL, or None for any other database."""
    prefix = "sqlite:///"
    if not url.startswith(prefix) or "?" in url:
        return None
    return Path(url[len(prefix) :])
