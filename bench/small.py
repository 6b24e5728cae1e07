"""Scenario 1: small governed queries vs the same SELECT ungoverned and direct."""

from __future__ import annotations

import statistics
import time
from typing import Any

import httpx
import psycopg

from bench import data
from bench.load import run_load
from bench.proc import BASE, Gateway
from bench.server import SMALL_FIELDS, UNGOVERNED_SQL

BODY = {"fields": SMALL_FIELDS, "purpose": "supervision", "case_ref": "BENCH-1", "limit": 20}
GOVERNED_PATH = "/api/v1/datasets/civil.dibao_recipients/query"
GOVERNED = f"{BASE}{GOVERNED_PATH}"
UNGOVERNED = f"{BASE}/bench/ungoverned"
LEVELS = (1, 8, 32)


def direct_psycopg(n: int = 2000) -> dict[str, float]:
    """The same 20 rows read directly with psycopg (one connection, no HTTP)."""
    times = []
    with psycopg.connect(data.dsn(data.DEMO_DB)) as conn:
        for _ in range(n):
            t = time.perf_counter()
            with conn.cursor() as cur:
                cur.execute(UNGOVERNED_SQL, ("430121", 21))
                cur.fetchmany(20)
            conn.commit()
            times.append(time.perf_counter() - t)
    times.sort()
    return {"p50_ms": statistics.median(times) * 1000, "p99_ms": times[int(n * 0.99)] * 1000,
            "rps": n / sum(times)}  # fmt: skip


def decisions_per_request(gw: Gateway, token: str, n: int = 50) -> dict[str, float]:
    """Exact counts over ``n`` sequential requests (wrk does not count in-flight ones)."""
    before = gw.counters()
    with httpx.Client(timeout=10) as client:
        for _ in range(n):
            client.post(
                gw.base + GOVERNED_PATH, json=BODY, headers={"Authorization": f"Bearer {token}"}
            )
    after = gw.counters()
    return {k: (after[k] - before[k]) / n for k in after}


def run(gw: Gateway, seconds: float = 6.0) -> dict[str, Any]:
    token = gw.tokens["alice"]
    governed, ungoverned = gw.base + GOVERNED_PATH, gw.base + "/bench/ungoverned"
    first = httpx.post(governed, json=BODY, headers={"Authorization": f"Bearer {token}"})
    if first.status_code != 200:  # a refused query would be measured as a fast one
        raise RuntimeError(f"governed query refused: {first.status_code} {first.text[:300]}")
    run_load(governed, BODY, token=token, concurrency=4, seconds=1)  # warm up
    run_load(ungoverned, {}, token=None, concurrency=4, seconds=1)
    per_request = decisions_per_request(gw, token)
    before = gw.counters()
    out: dict[str, Any] = {"levels": {}}
    governed_requests = 0
    for c in LEVELS:
        at_start, cpu = gw.counters(), gw.cpu_s()
        gov = run_load(governed, BODY, token=token, concurrency=c, seconds=seconds)
        gov["cpu_ms"] = (gw.cpu_s() - cpu) / max(gov["requests"], 1) * 1000
        at_end = gw.counters()
        queries = max(1, at_end["queries"] - at_start["queries"])
        gov["audit_ms_per_query"] = (at_end["audit_s"] - at_start["audit_s"]) / queries * 1000
        governed_requests += gov["requests"]
        cpu = gw.cpu_s()
        ung = run_load(ungoverned, {}, token=None, concurrency=c, seconds=seconds)
        ung["cpu_ms"] = (gw.cpu_s() - cpu) / max(ung["requests"], 1) * 1000
        out["levels"][str(c)] = {"governed": gov, "ungoverned": ung}
    after = gw.counters()
    decisions = after["decisions"] - before["decisions"]
    out["decisions_under_load"] = decisions
    out["engine_evaluations_under_load"] = after["evaluations"] - before["evaluations"]
    out["per_request"] = per_request
    out["decisions_per_request"] = per_request["decisions"]
    if not gw.embedded:
        out["direct"] = direct_psycopg()
    _drain(gw)
    return out


def _drain(gw: Gateway, quiet_s: float = 2.0, limit_s: float = 90.0) -> None:
    """Wait until requests wrk gave up on are done (they still hold connections)."""
    end = time.monotonic() + limit_s
    last = gw.counters()["decisions"]
    while time.monotonic() < end:
        time.sleep(quiet_s)
        now = gw.counters()["decisions"]
        if now == last:
            return
        last = now
