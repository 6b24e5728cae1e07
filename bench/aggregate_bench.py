"""Scenario: an aggregate query (issue 16) over the 1,000,000-row ``dibao_big``.

arthur (analyst, L2, every county) asks ``civil.dibao_big`` through the bench gateway
for recipients per county and status: rows, total and average household size. The
gateway compiles one ``GROUP BY`` (the group fields and ``household_size``, the field
aggregated but not grouped on: its breakdown guards the coarse sum, docs/policies.md)
with the row filter (``region_code LIKE '%'`` for him) and runs suppression on the
groups and the breakdown. Sums of near-unique measures (the allowance, distinct ID
numbers) are withheld by that breakdown wherever a value has fewer rows than the
threshold, and on this table their breakdown passes the grouping cap (413), so the bench
asks what an analyst gets an answer to; the baseline is the same ``GROUP BY`` run directly
on PostgreSQL with psycopg. Both must agree on every group; the ratio is governed /
direct, best of ``RUNS`` each (the warm-up query of each is not counted).
"""

from __future__ import annotations

import time
from typing import Any

import httpx
import orjson
import psycopg

from bench import data
from bench.proc import BASE, Gateway

DATASET = "civil.dibao_big"
BODY = {
    "group_by": ["region_code", "status"],
    "aggregates": [
        {"fn": "count", "as": "recipients"},
        {"fn": "sum", "field": "household_size", "as": "people"},
        {"fn": "avg", "field": "household_size", "as": "household"},
    ],
    "purpose": "supervision",
    "case_ref": "BENCH-AGG",
}
SQL = (
    "SELECT region_code, status, count(*), sum(household_size), avg(household_size) "
    "FROM dibao_big "
    "WHERE region_code LIKE '%%' GROUP BY region_code, status"
)
RUNS = 5


def direct() -> tuple[float, dict[tuple[str, str], tuple[Any, ...]]]:
    best, groups = float("inf"), {}
    with psycopg.connect(data.dsn(data.DEMO_DB)) as conn:
        for i in range(RUNS + 1):
            t = time.perf_counter()
            rows = conn.execute(SQL).fetchall()
            if i:
                best = min(best, time.perf_counter() - t)
            groups = {(r[0], r[1]): tuple(r[2:]) for r in rows}
    return best, groups


def governed(gw: Gateway) -> tuple[float, list[dict[str, Any]], dict[str, Any]]:
    best, rows, trailer = float("inf"), [], {}
    headers = {"Authorization": f"Bearer {gw.tokens['arthur']}"}
    with httpx.Client(timeout=300) as client:
        for i in range(RUNS + 1):
            t = time.perf_counter()
            resp = client.post(f"{BASE}/api/v1/datasets/{DATASET}/query", json=BODY,
                               headers=headers)  # fmt: skip
            elapsed = time.perf_counter() - t
            resp.raise_for_status()
            if i:
                best = min(best, elapsed)
            answer = orjson.loads(resp.content)
            rows, trailer = answer["rows"], answer["aggregate"]
    return best, rows, trailer


def _same(rows: list[dict[str, Any]], groups: dict[tuple[str, str], tuple[Any, ...]]) -> None:
    if {(r["region_code"], r["status"]) for r in rows} != set(groups):
        raise RuntimeError("the governed aggregate and the direct GROUP BY differ in groups")
    for row in rows:
        if row["_suppressed"]:
            continue
        n, people, household = groups[(row["region_code"], row["status"])]
        same = (row["recipients"], row["people"]) == (n, people) and (
            abs(row["household"] - float(household)) <= 1e-6 * max(1.0, abs(float(household)))
        )
        if not same:
            raise RuntimeError(f"the governed aggregate differs from SQL on {row}")


def run(gw: Gateway) -> dict[str, Any]:
    direct_s, groups = direct()
    governed_s, rows, trailer = governed(gw)
    _same(rows, groups)
    return {
        "rows": data.BIG_ROWS,
        "groups": len(groups),
        "suppressed": trailer["suppressed"],
        "direct_sql_s": direct_s,
        "governed_s": governed_s,
        "ratio": governed_s / direct_s,
    }
