"""Comparison runs' lease across real replica processes (issue 15): two ``sluice
serve`` replicas on the guide's PostgreSQL, with a 2 s lease.

The runs are rows as other processes left them: one whose process keeps renewing its
heartbeat (this test renews it, as a live third replica would), and a dozen whose
process died (no renewal since before the lease). Both replicas sweep every half
second, at once: the live process's run is never taken; each dead process's run is
failed as ``interrupted`` exactly once on the shared trail (compare-and-set: two
replicas never both move one run), as is a row from before the lease (no heartbeat).
"""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import orjson
import psycopg
import pytest
from sqlalchemy import insert, update
from sqlalchemy.orm import Session, sessionmaker

from catalog.comparison_models import ComparisonModel, ComparisonRun
from catalog.db import make_engine
from tests.conftest import PG_ADMIN
from tests.ops.deployment import Deployment
from tests.ops.processes import Served, serve, stop_all

pytestmark = pytest.mark.xdist_group("ops-lease")  # one deployment per module, one worker
LEASE_S = 2.0


@pytest.fixture(scope="module")
def replicas(
    guided: Deployment, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[list[Served]]:
    directory = tmp_path_factory.mktemp("lease")
    served = []
    for name in ("a", "b"):
        home = guided.new_home(directory / f"home-{name}")
        served.append(serve(f"lease-{name}", guided.settings(
            home, SLUICE_GATEWAY_ID=f"lease-{name}", SLUICE_COMPARISON_RUN_LEASE_S=str(LEASE_S),
            SLUICE_AUDIT_APPEND_TIMEOUT_S="10",
        ), directory))  # fmt: skip
    try:
        for replica in served:
            replica.wait_ready()
        yield served
    finally:
        stop_all(served)


def _sessions(guided: Deployment) -> sessionmaker[Session]:
    return sessionmaker(make_engine(guided.db.url(guided.db.owner)), expire_on_commit=False)


def _runs(sessions: sessionmaker[Session], beats: list[datetime | None], ago: timedelta,
          model: str) -> list[str]:  # fmt: skip
    """Queued runs as processes left them: a worker and a heartbeat (None: no heartbeat,
    a row from before the lease), created ``ago``."""
    rows = [ComparisonRun(model_id=model, model_version=1, owner="root", purpose="supervision",
                          case_ref="OPS-LEASE", engine="embedded", request_id=uuid.uuid4().hex,
                          created_at=datetime.now(UTC) - ago, heartbeat_at=beat,
                          worker=None if beat is None else f"dead-host:{n}:0")
            for n, beat in enumerate(beats)]  # fmt: skip
    with sessions() as session:
        session.add_all(rows)
        session.commit()
        return [row.id for row in rows]


def _interrupted(guided: Deployment) -> list[str]:
    """The runs the trail records as interrupted, once per event."""
    url = f"{PG_ADMIN.rsplit('/', 1)[0]}/{guided.db.name}"
    with psycopg.connect(url) as conn:
        rows = conn.execute("SELECT body FROM audit_events ORDER BY seq").fetchall()
    events: list[dict[str, Any]] = [orjson.loads(row[0]) for row in rows]
    return [str(e["resource"]).removeprefix("comparison_run:") for e in events
            if e["type"] == "comparison_run.interrupted"]  # fmt: skip


def _renew(sessions: sessionmaker[Session], run_id: str, stop: threading.Event) -> None:
    """The live process renewing its run, as a runner does, until ``stop``."""
    while not stop.wait(0.2):
        with sessions() as session:
            session.execute(update(ComparisonRun).where(ComparisonRun.id == run_id)
                            .values(heartbeat_at=datetime.now(UTC)))  # fmt: skip
            session.commit()


def test_replicas_take_only_expired_runs_and_record_each_once(
    guided: Deployment, replicas: list[Served]
) -> None:
    sessions = _sessions(guided)
    model = f"ops.lease-{uuid.uuid4().hex[:8]}"
    with sessions() as session:  # a bare row for the runs to name (none runs): unsealed
        session.execute(insert(ComparisonModel.__table__).values(id=model, owner="root"))
        session.commit()
    live = _runs(sessions, [datetime.now(UTC)], timedelta(0), model)[0]
    born = time.monotonic()
    stop = threading.Event()
    renewing = threading.Thread(target=_renew, args=(sessions, live, stop))
    renewing.start()
    try:
        long_ago = datetime.now(UTC) - timedelta(minutes=5)
        dead = _runs(sessions, [long_ago] * 12, timedelta(minutes=5), model)
        before = _runs(sessions, [None], timedelta(hours=1), model)[0]  # no heartbeat: 0012
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if all(run in _interrupted(guided) for run in [*dead, before]):
                break
            time.sleep(0.2)
        # two leases since the live run was made: only its renewals have kept it, and both
        # replicas (a sweep every LEASE_S / 4) have swept it and the dead ones eight times
        time.sleep(max(0.0, born + 2 * LEASE_S - time.monotonic()))
        with sessions() as session:
            status = {run.id: (run.status, run.error) for run in session.query(ComparisonRun)
                      .where(ComparisonRun.model_id == model)}  # fmt: skip
    finally:
        stop.set()
        renewing.join()
    recorded = _interrupted(guided)
    logs = "\n".join(r.output()[-2000:] for r in replicas)
    for run in [*dead, before]:
        error = status[run][1] or {}
        assert status[run][0] == "failed" and error.get("code") == "interrupted", logs
        assert recorded.count(run) == 1, (run, recorded.count(run), logs)
    assert status[live][0] == "queued" and live not in recorded, logs
    assert all(r.alive for r in replicas), logs
    with sessions() as session:  # the live run's process ends it (this test)
        session.execute(update(ComparisonRun).where(ComparisonRun.id == live)
                        .values(status="cancelled"))  # fmt: skip
        session.commit()
