"""Shared helpers for the audit tests: open a migrated log, make events, tamper."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from audit.log import AuditLog
from audit.signing import EventMac, share_mac_secret
from catalog.db import migrate
from tests.migrated import copy_migrated_sqlite, sqlite_path


def sqlite_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'audit.db'}"


def replica_homes(*homes: Path) -> list[Path]:
    """Homes of replicas of one deployment: they share the secret their event MAC key is
    derived from (``audit.signing.EventMac``), as docs/deploy.md has operators copy it.
    Homes with a secret of their own are separate deployments: their events do not
    verify on each other's trail."""
    EventMac.in_home(homes[0])
    for home in homes[1:]:
        share_mac_secret(home, of=homes[0])
    return list(homes)


def open_log(url: str, home: Path, **kwargs: Any) -> AuditLog:
    file = sqlite_path(url)
    if file is not None and not file.exists():
        copy_migrated_sqlite(file)  # the migrations once per process (tests/migrated.py)
    migrate(url)
    kwargs.setdefault("checkpoint_every", 10)
    kwargs.setdefault("checkpoint_seconds", 60.0)
    return AuditLog.open(url=url, home=home, **kwargs)


def event(n: int = 0, **overrides: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "type": "query.completed",
        "outcome": "ok",
        "actor": {"sub": f"user{n % 3}", "dept": "finance", "roles": ["analyst"]},
        "resource": "dataset:finance.payroll",
        "purpose": "case investigation",
        "case_ref": f"CASE-{n}",
        "decision": {"allow": True, "reasons": ["grant"], "decision_id": f"d{n}"},
        "policy_version": "v1",
        "fields": {"姓名": {"action": "mask", "method": "name"}},
        "row_filter": "region = '110105'",
        "rows": n,
        "result_sha256": "ab" * 32,
        "client": "10.0.0.1",
        "request_id": f"req-{n}",
        "duration_ms": 1.5 + n,
        "details": {"resource_dept": "finance"},
    }
    base.update(overrides)
    return base


def fill(log: AuditLog, count: int) -> None:
    for n in range(count):
        log.append(event(n))


def tamper(url: str, *statements: str) -> None:
    """Run SQL as an insider would: with the append-only triggers bypassed."""
    if url.startswith("sqlite"):
        import sqlite3

        conn = sqlite3.connect(url.removeprefix("sqlite:///"))
        try:
            triggers = conn.execute("SELECT name FROM sqlite_master WHERE type = 'trigger'")
            for (name,) in triggers.fetchall():
                conn.execute(f'DROP TRIGGER "{name}"')
            for sql in statements:
                conn.execute(sql)
            conn.commit()
        finally:
            conn.close()
        return
    import psycopg

    with psycopg.connect(url.replace("postgresql+psycopg://", "postgresql://")) as conn:
        conn.execute("SET session_replication_role = replica")
        for sql in statements:
            conn.execute(sql)
