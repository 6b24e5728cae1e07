"""Scenario 6: payroll × dibao on id_number (status 'active'), default sizes, run
directly on PostgreSQL. The governed comparison feature does not exist yet."""

from __future__ import annotations

import time
from typing import Any

import psycopg

from bench import data

SQL = (
    "SELECT p.id_number, p.name, p.employer, d.monthly_amount, d.region_code "
    "FROM payroll p JOIN dibao_recipients d ON d.id_number = p.id_number "
    "WHERE d.status = 'active'"
)


def run() -> dict[str, Any]:
    best = float("inf")
    rows = 0
    with psycopg.connect(data.dsn(data.DEMO_DB)) as conn:
        for _ in range(5):
            t = time.perf_counter()
            rows = len(conn.execute(SQL).fetchall())
            best = min(best, time.perf_counter() - t)
        sizes = {t: conn.execute(f"SELECT count(*) FROM {t}").fetchone()[0]  # type: ignore[index]
                 for t in ("payroll", "dibao_recipients")}  # fmt: skip
    return {"direct_sql_s": best, "matches": rows, "sizes": sizes, "governed": None,
            "note": "no governed comparison feature exists yet; direct SQL join only"}  # fmt: skip
