"""The audit store and the audit modules' logger load their heavy libraries when used,
not when imported (issue 17): psycopg with a PostgreSQL store, structlog (and its rich
renderer) at the first line logged. What each store catches stays its driver's errors."""

from __future__ import annotations

import sqlite3
import subprocess
import sys
from pathlib import Path

import psycopg
from structlog.testing import capture_logs

import audit.store
from audit.lazy_log import get_logger
from audit.store import AuditStore
from catalog.errors import SluiceError


def _loaded(code: str, modules: tuple[str, ...]) -> str:
    probe = f"import sys\n{code}\nprint(sorted(m for m in {modules!r} if m in sys.modules))"
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    return out.stdout.strip().splitlines()[-1]


def test_a_sqlite_store_and_the_audit_loggers_load_neither_psycopg_nor_structlog(
    tmp_path: Path,
) -> None:
    code = (
        "import audit.store, audit.seal, audit.monitor, audit.witness_client\n"
        f"audit.store.AuditStore('sqlite:///{tmp_path / 'a.db'}', timeout_s=1.0).connect().close()"
    )
    assert _loaded(code, ("psycopg", "structlog", "rich", "sqlalchemy", "httpx")) == "[]"


def test_reading_the_trail_loads_psycopg_only_for_a_postgresql_store() -> None:
    """verify, search and the alert rules catch their store's errors; the parallel
    PostgreSQL scan imports the driver when it runs."""
    code = "import audit.verify, audit.search, audit.scan, audit.alert_runner, audit.export"
    assert _loaded(code, ("psycopg",)) == "[]"


def test_each_store_catches_its_drivers_errors(tmp_path: Path) -> None:
    lite = AuditStore(f"sqlite:///{tmp_path / 'a.db'}", timeout_s=1.0)
    assert lite.driver_errors == (sqlite3.Error, OSError)
    assert lite.write_errors == (SluiceError, sqlite3.Error, OSError)
    pg = AuditStore("postgresql+psycopg://u:p@127.0.0.1:1/db", timeout_s=1.0)
    assert pg.driver_errors == (sqlite3.Error, psycopg.Error, OSError)
    assert pg.write_errors == (SluiceError, sqlite3.Error, psycopg.Error, OSError)
    # code holding no store still gets both drivers' errors
    assert pg.driver_errors == audit.store.DRIVER_ERRORS
    assert pg.write_errors == audit.store.WRITE_ERRORS


def test_the_lazy_logger_logs_through_structlog_as_configured() -> None:
    log = get_logger("sluice.audit")
    with capture_logs() as seen:
        log.error("audit_checkpoint_failed", error="disk full")
    assert seen == [{"event": "audit_checkpoint_failed", "error": "disk full",
                     "log_level": "error"}]  # fmt: skip
