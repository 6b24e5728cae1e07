"""Comparison runs on several replicas of one catalog: a lease, not "fail everything
unfinished at start-up" (issue 15).

Two gateway apps on one catalog (SQLite, then PostgreSQL), each with its own runner and
so its own lease holder (``worker``):

- a run executing on A is left alone when B starts and while B's sweep runs, well past
  the lease: A renews it; it ends ``done``;
- A stops renewing (what a killed process looks like): B fails the run as
  ``interrupted`` once the lease has run out, on record once, and A's worker, still
  alive, stores nothing afterwards;
- a row from before the lease (no heartbeat, older than the lease) is failed at
  start-up; a row just committed and not yet claimed (no heartbeat, newer) is not.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from fastapi.testclient import TestClient

from catalog.comparison_models import ComparisonRun, RunStatus
from gateway.enforcement.comparison import run_store
from gateway.enforcement.comparison.run_lease import RunLease
from gateway.enforcement.comparison.runs import ModelRunner, new_request_id
from gateway.web.app import create_app
from tests.conftest import drop_pg_database
from tests.gateway.comparison_env import PLANTED, GatedEngine, events, runner, start, wait
from tests.gateway.demo_app import DemoGateway, demo_gateway
from tests.migrated import create_migrated_pg_database

MODEL = "demo.payroll_on_dibao"
# renewed every second: a replica starved for seconds on a loaded machine renews in time
LEASE_S = 4.0
INTERRUPTED = ("comparison_run.interrupted",)


@pytest.fixture(scope="module", params=["sqlite", "postgres"])
def gw(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[DemoGateway]:
    home = tmp_path_factory.mktemp(f"lease-{request.param}")
    if request.param == "sqlite":
        with demo_gateway(home, sizes=PLANTED, comparison_run_lease_s=LEASE_S) as g:
            yield g
        return
    name, url = create_migrated_pg_database("sluice_lease")
    try:
        with demo_gateway(home, sizes=PLANTED, database_url=url,
                          comparison_run_lease_s=LEASE_S) as g:  # fmt: skip
            yield g
    finally:
        drop_pg_database(name)


def replica(gw: DemoGateway) -> ModelRunner:
    """Gateway B: a second app on the same catalog and trail, started now (its
    start-up recovery runs here, its sweep every beat from now on)."""
    app = create_app(gw.settings, gw.services)
    TestClient(app).get("/healthz").raise_for_status()
    b: ModelRunner = app.state.comparison_runs
    return b


def swept(*leases: RunLease, times: int = 2) -> None:
    """Return once each lease has finished ``times`` more sweeps than it had (one a
    beat, a second here): what "several sweeps ran" means, waited for, not guessed."""
    had = [lease.sweeps for lease in leases]
    deadline = time.monotonic() + 60
    while any(lease.sweeps < n + times for lease, n in zip(leases, had, strict=True)):
        assert time.monotonic() < deadline, "a replica did not sweep in 60 s"
        time.sleep(0.05)


def _row(gw: DemoGateway, run_id: str) -> ComparisonRun:
    with gw.services.sessions() as session:
        row = session.get(ComparisonRun, run_id)
    assert row is not None
    return row


def test_a_run_on_a_live_replica_is_untouched_by_another_starting_and_sweeping(
    gw: DemoGateway,
) -> None:
    a = runner(gw)
    gate = GatedEngine()
    a.engines["gated-live"] = gate
    run_id = start(gw, "dora", MODEL, engine="gated-live").json()["id"]
    assert gate.entered.wait(30)
    b = replica(gw)
    try:
        assert b.store.worker != a.store.worker
        time.sleep(LEASE_S)  # one lease since the run started: only A's renewals keep it
        swept(b.lease)  # B has swept twice since, past one lease
        row = _row(gw, run_id)
        assert row.status == RunStatus.RUNNING.value, row.error
        assert row.worker == a.store.worker and row.heartbeat_at is not None
    finally:
        b.close()
        gate.release.set()
    view = wait(gw, "dora", run_id)
    assert view["status"] == "done", view
    assert events(gw, run_id=run_id, types=("comparison.completed",), want=1)
    assert not events(gw, run_id=run_id, types=INTERRUPTED)


def test_a_replica_that_stops_renewing_loses_its_run_to_the_other_after_the_lease(
    gw: DemoGateway,
) -> None:
    a = runner(gw)
    gate = GatedEngine()
    a.engines["gated-dead"] = gate
    run_id = start(gw, "dora", MODEL, engine="gated-dead").json()["id"]
    assert gate.entered.wait(30)
    b = replica(gw)
    a.stop_heartbeat()  # A is "killed": its worker thread still runs, it renews nothing
    try:
        view = wait(gw, "dora", run_id, timeout_s=60)
        assert view["status"] == "failed" and view["error"]["code"] == "interrupted", view
        found = events(gw, run_id=run_id, types=INTERRUPTED, want=1)
        assert len(found) == 1 and found[0]["details"]["reason"] == "interrupted"
        assert found[0]["details"]["status_before"] == "running"
    finally:
        a.start_heartbeat()  # A alive again: its sweep may not record the run twice
        gate.release.set()
    try:
        # A's worker ends its run (aborted on record) and stores nothing
        assert events(gw, run_id=run_id, types=("comparison.aborted",), want=1)
        swept(a.lease, b.lease)  # both sweeps ran again, twice
        assert len(events(gw, run_id=run_id, types=INTERRUPTED)) == 1
        assert wait(gw, "dora", run_id)["status"] == "failed"
        assert not events(gw, run_id=run_id, types=("comparison.completed",))
    finally:
        b.close()


def _left_row(gw: DemoGateway, created_at: datetime) -> str:
    """A queued run as a process left it without ever renewing it (or as the rows
    before migration 0014 are): no worker, no heartbeat."""
    row = ComparisonRun(model_id=MODEL, model_version=1, owner="dora", purpose="supervision",
                        case_ref="JW-LEASE-1", engine="embedded", request_id=new_request_id(),
                        created_at=created_at)  # fmt: skip
    with gw.services.sessions() as session:
        session.add(row)
        session.commit()
        return row.id


def test_start_up_fails_a_run_without_heartbeat_older_than_the_lease(gw: DemoGateway) -> None:
    old = _left_row(gw, datetime.now(UTC) - timedelta(hours=1))
    fresh = _left_row(gw, datetime.now(UTC))  # committed, its process about to claim it
    restarted = ModelRunner(broker=runner(gw).broker, services=gw.services, lease_s=600,
                            identities=gw.client.app.state.identities)  # type: ignore[attr-defined]  # fmt: skip
    try:
        assert _row(gw, old).status == RunStatus.FAILED.value
        assert _row(gw, old).error == run_store.INTERRUPTED  # as on record before the lease
        found = events(gw, run_id=old, types=INTERRUPTED, want=1)
        assert len(found) == 1 and found[0]["details"]["status_before"] == "queued"
        assert _row(gw, fresh).status == RunStatus.QUEUED.value
        assert not events(gw, run_id=fresh, types=INTERRUPTED)
    finally:
        restarted.close()
        restarted.store.ended(fresh, RunStatus.CANCELLED)
