"""Bench databases on the machine's PostgreSQL: the demo departments' tables at the
default sizes (generated once, reused while the seed and sizes match) and a
1,000,000-row copy of ``dibao_recipients`` for the large-result scenario.

Three databases, all dropped and recreated as needed:
- ``sluice_bench_demo``: the five demo tables (``Sizes()``, seed 42) + ``dibao_big``;
- ``sluice_bench_catalog``: the gateway's catalog and audit trail, fresh per run;
- ``sluice_bench_audit``: the audit-throughput scenario's own store, fresh per run.
"""

from __future__ import annotations

import time
from pathlib import Path

import psycopg

from audit.signing import share_mac_secret
from catalog.demo.generator import Sizes, generate
from catalog.demo.targets import open_target

ADMIN_DSN = "host=127.0.0.1 port=5432 user=postgres dbname=postgres"
DEMO_DB = "sluice_bench_demo"
CATALOG_DB = "sluice_bench_catalog"
AUDIT_DB = "sluice_bench_audit"
SEED = 42
BIG_ROWS = 1_000_000
BIG_TABLE = "dibao_big"


def dsn(db: str) -> str:
    return f"host=127.0.0.1 port=5432 user=postgres dbname={db}"


def sa_url(db: str) -> str:
    return f"postgresql+psycopg://postgres@127.0.0.1:5432/{db}"


def recreate(db: str) -> None:
    with psycopg.connect(ADMIN_DSN, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{db}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{db}"')


def _exists(db: str) -> bool:
    with psycopg.connect(ADMIN_DSN, autocommit=True) as conn:
        row = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (db,)).fetchone()
    return row is not None


def _marker(sizes: Sizes) -> str:
    return f"seed={SEED} sizes={sizes!r} big={BIG_ROWS}"


def ensure_demo(log: callable = print) -> dict[str, object]:  # type: ignore[valid-type]
    """The demo tables at default sizes plus ``dibao_big``; reused when already there."""
    sizes = Sizes()
    want = _marker(sizes)
    if _exists(DEMO_DB):
        with psycopg.connect(dsn(DEMO_DB)) as conn:
            try:
                row = conn.execute("SELECT marker FROM bench_marker").fetchone()
            except psycopg.Error:
                row = None
        if row and row[0] == want:
            log(f"demo data: reusing {DEMO_DB}")
            return {"reused": True, "sizes": sizes.__dict__}
    started = time.perf_counter()
    recreate(DEMO_DB)
    log(f"demo data: generating default sizes into {DEMO_DB} …")
    report = generate(seed=SEED, sizes=sizes, targets=[open_target(sa_url(DEMO_DB))])
    with psycopg.connect(dsn(DEMO_DB), autocommit=True) as conn:
        # 10 copies of the 100,000 recipients: same value shapes, 1,000,000 rows
        copies = BIG_ROWS // sizes.dibao_recipients
        conn.execute(
            f"CREATE TABLE {BIG_TABLE} AS SELECT d.* FROM dibao_recipients d, "
            f"generate_series(1, {copies}) AS g(n)"
        )
        conn.execute(f"VACUUM ANALYZE {BIG_TABLE}")
        conn.execute("VACUUM ANALYZE")
        conn.execute("CREATE TABLE bench_marker (marker text)")
        conn.execute("INSERT INTO bench_marker VALUES (%s)", (want,))
    log(f"demo data: generated in {time.perf_counter() - started:.1f} s")
    return {
        "reused": False,
        "sizes": sizes.__dict__,
        "rows": report.rows,
        "payroll_on_dibao": report.anomalies.payroll_on_dibao,
    }


def replica_home(home: Path, of: Path) -> Path:
    """``home`` as another replica of ``of``'s deployment, so processes of one bench
    appending to one trail do not read each other's events as forgeries and seal it."""
    return share_mac_secret(home, of)
