"""Scenario 2: 1,000,000 rows streamed as Arrow, CSV and NDJSON, five masked columns,
against psycopg reading the same rows and ``COPY … TO STDOUT`` (the floor)."""

from __future__ import annotations

import json
import subprocess
import time
from typing import Any

import httpx
import psycopg

from bench import data
from bench.proc import BASE, Gateway, RssSampler
from bench.server import BIG_DATASET

ROWS = data.BIG_ROWS
FORMATS = ("arrow", "csv", "ndjson")
COLUMNS = ("id_number, name, phone, address, household_size, monthly_amount, start_date, "
           "status, region_code")  # fmt: skip
SQL = f"SELECT {COLUMNS} FROM {data.BIG_TABLE} WHERE region_code LIKE '%%' LIMIT {ROWS + 1}"


def _curl(url: str, token: str, body: dict[str, Any]) -> dict[str, float]:
    out = subprocess.run(
        ["curl", "-s", "-o", "/dev/null", "-X", "POST", url,
         "-H", f"Authorization: Bearer {token}", "-H", "Content-Type: application/json",
         "-d", json.dumps(body),
         "-w", "%{http_code} %{time_pretransfer} %{time_starttransfer} %{time_total} "
               "%{size_download}"],
        capture_output=True, text=True, check=True,
    ).stdout.split()  # fmt: skip
    if out[0] != "200":
        raise RuntimeError(f"large query answered {out[0]}")
    return {
        "first_byte_ms": (float(out[2]) - float(out[1])) * 1000,
        "total_s": float(out[3]),
        "bytes": int(out[4]),
    }


def direct_psycopg() -> dict[str, float]:
    """Server-side cursor, 65,536 rows a fetch (the adapter's batch size): tuples in Python."""
    with psycopg.connect(data.dsn(data.DEMO_DB)) as conn:
        t = time.perf_counter()
        with conn.cursor(name="bench_direct") as cur:
            cur.itersize = 65_536
            cur.execute(SQL)
            first = None
            n = 0
            while rows := cur.fetchmany(65_536):
                if first is None:
                    first = time.perf_counter() - t
                n += len(rows)
        total = time.perf_counter() - t
    return {"total_s": total, "first_row_ms": (first or 0) * 1000, "rows": n}


def copy_floor() -> dict[str, float]:
    with psycopg.connect(data.dsn(data.DEMO_DB)) as conn, conn.cursor() as cur:
        t = time.perf_counter()
        size = 0
        with cur.copy(f"COPY ({SQL}) TO STDOUT") as copy:
            for chunk in copy:
                size += len(chunk)
        return {"total_s": time.perf_counter() - t, "bytes": size}


def run(gw: Gateway) -> dict[str, Any]:
    token = gw.tokens["arthur"]
    body = {"purpose": "supervision", "limit": ROWS}
    url = f"{BASE}/api/v1/datasets/{BIG_DATASET}/query"
    direct = min((direct_psycopg() for _ in range(2)), key=lambda r: r["total_s"])
    floor = min((copy_floor() for _ in range(2)), key=lambda r: r["total_s"])
    out: dict[str, Any] = {"rows": ROWS, "direct_psycopg": direct, "copy_floor": floor,
                           "formats": {}}  # fmt: skip
    _curl(url + "?format=arrow", token, {**body, "limit": 1000})  # warm the path
    head = httpx.post(url + "?format=json", json={**body, "limit": 1}, timeout=30,
                      headers={"Authorization": f"Bearer {token}"}).json()  # fmt: skip
    out["masked_columns"] = [c["name"] for c in head["columns"] if c["action"] == "mask"]
    for fmt in FORMATS:
        before = gw.counters()
        with RssSampler(gw) as rss:
            res = _curl(f"{url}?format={fmt}", token, body)
        res["mask_s"] = gw.counters()["mask_s"] - before["mask_s"]  # in the stream itself
        res["rss_growth_mb"] = rss.growth_mb
        res["ratio_to_direct"] = res["total_s"] / direct["total_s"]
        res["ratio_to_copy"] = res["total_s"] / floor["total_s"]
        res["first_byte_minus_db_first_row_ms"] = res["first_byte_ms"] - direct["first_row_ms"]
        out["formats"][fmt] = res
    return out
