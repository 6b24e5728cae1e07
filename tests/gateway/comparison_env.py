"""Comparison-model runs through the HTTP API: a demo gateway with more planted anomalies
than the shared ``SMALL`` sizes (so every demo model has hits in alice's county), on the
embedded default (SQLite catalog and audit) or on PostgreSQL, and helpers that run a
model and wait for it."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pyarrow as pa

from audit.search import EventFilter, list_events
from catalog.demo.generator import Sizes
from gateway.enforcement.comparison.engine import CancelToken, Hits, Progress
from gateway.enforcement.comparison.runs import ModelRunner
from gateway.enforcement.comparison.spec import CompiledModel
from tests.conftest import drop_pg_database_later
from tests.gateway.demo_app import DemoGateway, demo_gateway
from tests.migrated import create_migrated_pg_database

PLANTED = Sizes(
    payroll=1500, fund_disbursements=400, dibao_recipients=3000, death_registrations=400,
    audit_findings=100, payroll_on_dibao=40, deceased_active=24, duplicate_payments=16,
)  # fmt: skip
DEMO_MODELS = ("demo.payroll_on_dibao", "demo.dibao_after_death", "demo.duplicate_subsidy",
               "demo.ghost_on_payroll")  # fmt: skip
ALICE_COUNTY = "430121"
CASE = {"purpose": "supervision", "case_ref": "JW-RUN-1"}
FINISHED = ("done", "failed", "cancelled")


@contextmanager
def comparison_gateway(home: Path, backend: str) -> Iterator[DemoGateway]:
    """The demo gateway with ``PLANTED`` sizes: SQLite, or catalog and trail on PostgreSQL."""
    if backend == "sqlite":
        with demo_gateway(home, sizes=PLANTED) as gw:
            yield gw
        return
    name, url = create_migrated_pg_database("sluice_cmp")
    try:
        with demo_gateway(home, sizes=PLANTED, database_url=url) as gw:
            yield gw
    finally:
        drop_pg_database_later(name)


def runner(gw: DemoGateway) -> ModelRunner:
    found: ModelRunner = gw.client.app.state.comparison_runs  # type: ignore[attr-defined]
    return found


def start(gw: DemoGateway, subject: str, model: str, **body: Any) -> Any:
    return gw.client.post(f"/api/v1/comparison-models/{model}/runs", json={**CASE, **body},
                          headers=gw.headers(subject))  # fmt: skip


def wait(gw: DemoGateway, subject: str, run_id: str, timeout_s: float = 60) -> dict[str, Any]:
    deadline = time.monotonic() + timeout_s
    while True:
        resp = gw.client.get(f"/api/v1/comparison-runs/{run_id}", headers=gw.headers(subject))
        assert resp.status_code == 200, resp.text
        view: dict[str, Any] = resp.json()
        if view["status"] in FINISHED or time.monotonic() > deadline:
            return view
        time.sleep(0.05)


def run_to_end(gw: DemoGateway, subject: str, model: str, **body: Any) -> dict[str, Any]:
    resp = start(gw, subject, model, **body)
    assert resp.status_code == 202, resp.text
    assert resp.json()["status"] == "queued"
    return wait(gw, subject, resp.json()["id"])


def hits(gw: DemoGateway, subject: str, run_id: str, fmt: str = "json") -> Any:
    return gw.client.get(f"/api/v1/comparison-runs/{run_id}/hits", params={"format": fmt},
                         headers=gw.headers(subject))  # fmt: skip


def events(gw: DemoGateway, *, run_id: str | None = None, types: tuple[str, ...] = (),
           want: int = 0) -> list[dict[str, Any]]:  # fmt: skip
    """The trail's events about a run (its own and its sides'), oldest first; the
    completions are queued, so poll briefly for ``want`` of them."""
    found: list[dict[str, Any]] = []
    for _ in range(100):
        page = list_events(store=gw.services.audit.store, filters=EventFilter(), limit=1000,
                           order="desc")  # fmt: skip
        found = [e for e in reversed(page["items"])
                 if (not types or e["type"] in types)
                 and (run_id is None or (e.get("details") or {}).get("comparison_id") == run_id
                      or e.get("resource") == f"comparison_run:{run_id}")]  # fmt: skip
        if len(found) >= want:
            break
        time.sleep(0.05)
    return found


class GatedEngine:
    """An engine that waits until the run is cancelled (or ``release`` is set): a run
    that is reliably *running* when the test cancels it."""

    name = "gated"

    def __init__(self) -> None:
        self.entered = threading.Event()
        self.release = threading.Event()

    def run(self, model: CompiledModel, sides: Mapping[str, pa.RecordBatchReader], *,
            limit: int, cancel: CancelToken, progress: Progress) -> Hits:  # fmt: skip
        self.entered.set()
        while not self.release.is_set():
            if cancel.wait(0.02):
                cancel.check()
        empty = pa.table({"key_token": pa.array([], pa.string())})
        return Hits(empty, truncated=False)
