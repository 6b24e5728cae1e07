"""Scenario 6: payroll × dibao on id_number (dibao status 'active'), default sizes:
the governed comparison (``POST /api/v1/comparisons`` as dora — analyst, L3, every
county — through the bench gateway) against the same join run directly on PostgreSQL.
Both must find the same number of matches."""

from __future__ import annotations

import time
from typing import Any

import httpx
import orjson
import psycopg

from bench import data
from bench.proc import BASE, Gateway

SQL = (
    "SELECT p.id_number, p.name, p.employer, d.monthly_amount, d.region_code "
    "FROM payroll p JOIN dibao_recipients d ON d.id_number = p.id_number "
    "WHERE d.status = 'active'"
)
BODY = {
    "left": {"dataset": "finance.payroll", "key": "id_number", "fields": ["name", "employer"]},
    "right": {
        "dataset": "civil.dibao_recipients", "key": "id_number",
        "fields": ["monthly_amount", "region_code"],
        "where": [{"field": "status", "op": "=", "value": "active"}],
    },
    "purpose": "supervision",
    "case_ref": "BENCH-CMP",
}  # fmt: skip
RUNS = 5


def direct() -> tuple[float, int, dict[str, int]]:
    best, rows = float("inf"), 0
    with psycopg.connect(data.dsn(data.DEMO_DB)) as conn:
        for _ in range(RUNS):
            t = time.perf_counter()
            rows = len(conn.execute(SQL).fetchall())
            best = min(best, time.perf_counter() - t)
        sizes = {t: conn.execute(f"SELECT count(*) FROM {t}").fetchone()[0]  # type: ignore[index]
                 for t in ("payroll", "dibao_recipients")}  # fmt: skip
    return best, rows, sizes


def governed(gw: Gateway) -> tuple[float, int]:
    best, matches = float("inf"), -1
    headers = {"Authorization": f"Bearer {gw.tokens['dora']}"}
    with httpx.Client(timeout=120) as client:
        for _ in range(RUNS):
            t = time.perf_counter()
            resp = client.post(f"{BASE}/api/v1/comparisons", json=BODY, headers=headers)
            best = min(best, time.perf_counter() - t)
            resp.raise_for_status()
            matches = int(orjson.loads(resp.content)["row_count"])
    return best, matches


def run(gw: Gateway) -> dict[str, Any]:
    direct_s, rows, sizes = direct()
    governed_s, matches = governed(gw)
    if matches != rows:
        raise RuntimeError(f"governed comparison found {matches} matches, direct SQL {rows}")
    return {"direct_sql_s": direct_s, "matches": rows, "sizes": sizes,
            "governed_s": governed_s, "ratio": governed_s / direct_s}  # fmt: skip
