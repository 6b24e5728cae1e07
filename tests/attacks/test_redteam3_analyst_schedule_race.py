"""Red team 3, as an analyst: one due period of a comparison schedule triggered twice.

Attack: the owner's cron calls ``POST /api/v1/comparison-schedules/run-due`` while
another call (a second cron host, the gateway's own clock) does the same. Each call read
the schedule as due, queued a run and moved ``next_due_at`` on, without checking that
nobody had moved it meanwhile: one period ran twice — two full reads of every side, two
runs on record, two charges — although the schedule promises "missed periods are not
run twice" and a trigger that finds the schedule already moved on does nothing.

Rule broken: check-then-act on one schedule's due time (ATTACKS.md "Concurrency"); the
trigger must be a compare-and-set on the due time it read.

On the embedded SQLite default and on PostgreSQL (``deployment``).
"""

from __future__ import annotations

import threading
from typing import Any

from tests.gateway.comparison_env import ALICE_COUNTY, wait
from tests.gateway.demo_app import DemoGateway

MODEL = "demo.payroll_on_dibao"
ATTEMPTS = 4


def _run_due(gw: DemoGateway, barrier: threading.Barrier, out: list[Any]) -> None:
    headers = gw.headers("alice")
    barrier.wait()
    resp = gw.client.post("/api/v1/comparison-schedules/run-due", headers=headers)
    out.append(resp)


def test_one_due_period_is_one_run_however_many_trigger_it(deployment: DemoGateway) -> None:
    gw = deployment
    body = {"region": ALICE_COUNTY, "every": "daily", "purpose": "supervision",
            "case_ref": "JW-RT3-RACE"}  # fmt: skip
    made = gw.client.post(f"/api/v1/comparison-models/{MODEL}/schedules", json=body,
                          headers=gw.headers("alice"))  # fmt: skip
    assert made.status_code == 201, made.text
    schedule = made.json()["id"]
    for _ in range(ATTEMPTS):
        gw.sql("UPDATE comparison_schedules SET next_due_at = :t WHERE id = :i",
               t="2000-01-01 00:00:00.000000", i=schedule)  # fmt: skip
        barrier = threading.Barrier(3)
        out: list[Any] = []
        threads = [threading.Thread(target=_run_due, args=(gw, barrier, out)) for _ in range(3)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=120)
        assert [r.status_code for r in out] == [200, 200, 200], [r.text for r in out]
        queued = [run for r in out for run in r.json()["runs"]]
        assert len(queued) == 1, queued
        for run in queued:
            wait(gw, "alice", run)
