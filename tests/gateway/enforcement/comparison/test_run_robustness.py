"""Runs end in exactly one final state, on record (issue 15, robustness):

- a run a killed process left ``queued`` or ``running`` (its lease no longer renewed) is
  failed (``interrupted``) when a gateway process starts, with
  ``comparison_run.interrupted`` on the trail; its old worker, were it still alive,
  stores nothing afterwards (the lease between live replicas: ``test_run_lease.py``);
- a cancel racing the completion: whichever commits first decides — a cancel landing
  just before the hits are stored leaves the run cancelled with nothing stored and no
  completion on record; a cancel landing just after is a 409 and the run stays done.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import pyarrow as pa
import pytest
from sqlalchemy import select

from catalog.comparison_models import ComparisonRunResult
from gateway.enforcement.comparison.run_store import RunStore
from gateway.enforcement.comparison.runs import ModelRunner
from tests.gateway.comparison_env import (
    GatedEngine,
    comparison_gateway,
    events,
    runner,
    start,
    wait,
)
from tests.gateway.demo_app import DemoGateway

MODEL = "demo.payroll_on_dibao"


@pytest.fixture(scope="module", params=["sqlite", "postgres"])
def gw(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[DemoGateway]:
    with comparison_gateway(tmp_path_factory.mktemp(f"robust-{request.param}"),
                            request.param) as g:  # fmt: skip
        yield g


def _cancel(gw: DemoGateway, run_id: str) -> Any:
    return gw.client.post(f"/api/v1/comparison-runs/{run_id}/cancel", headers=gw.headers("dora"))


def _stored(gw: DemoGateway, run_id: str) -> bool:
    with gw.services.sessions() as session:
        found = session.scalar(
            select(ComparisonRunResult.run_id).where(ComparisonRunResult.run_id == run_id)
        )
    return found is not None


def test_runs_left_by_a_killed_process_fail_as_interrupted_at_start_up(gw: DemoGateway) -> None:
    gate = GatedEngine()
    runner(gw).engines["gated-kill"] = gate
    running = start(gw, "dora", MODEL, engine="gated-kill").json()["id"]
    assert gate.entered.wait(30)
    queued = start(gw, "dora", MODEL, engine="gated-kill")  # behind it on the worker pool
    assert queued.status_code == 202
    # the process is killed: its heartbeat stops; a process starting on the same catalog
    # once the lease (1 s here) ran out is the killed one's successor
    runner(gw).stop_heartbeat()
    try:
        time.sleep(1.5)
        restarted = ModelRunner(broker=runner(gw).broker, services=gw.services, lease_s=1,
                                identities=gw.client.app.state.identities)  # type: ignore[attr-defined]  # fmt: skip
        restarted.close()
    finally:
        runner(gw).start_heartbeat()  # the module's other tests run on this gateway
    for run_id in (running, queued.json()["id"]):
        view = wait(gw, "dora", run_id, timeout_s=1)
        assert view["status"] == "failed", view
        assert view["error"]["code"] == "interrupted"
        found = events(gw, run_id=run_id, types=("comparison_run.interrupted",), want=1)
        assert found and found[0]["details"]["reason"] == "interrupted"
    # the old worker, still alive, finishes: it may not turn the failed run into a done one
    gate.release.set()
    assert events(gw, run_id=running, types=("comparison.aborted",), want=1)  # its end
    view = wait(gw, "dora", running)
    assert view["status"] == "failed" and not _stored(gw, running)
    assert not events(gw, run_id=running, types=("comparison.completed",))


class RacingStore(RunStore):
    """The real store; ``before`` / ``after`` run around storing the hits."""

    def __init__(self, real: RunStore, *, before: Any = None, after: Any = None) -> None:
        self.__dict__.update(real.__dict__)
        self.before, self.after = before, after

    def done(
        self, run_id: str, *, hits: pa.Table, truncated: bool, extra: Any = None
    ) -> tuple[bytes, str] | None:
        if self.before:
            self.before(run_id)
        stored = super().done(run_id, hits=hits, truncated=truncated, extra=extra)
        if self.after:
            self.after(run_id)
        return stored


def _race(gw: DemoGateway, *, cancel_first: bool) -> tuple[str, list[Any]]:
    job = runner(gw)
    answers: list[Any] = []
    hook = {("before" if cancel_first else "after"): lambda rid: answers.append(_cancel(gw, rid))}
    real = job.store
    job.store = RacingStore(real, **hook)
    try:
        run_id = start(gw, "dora", MODEL).json()["id"]
        view = wait(gw, "dora", run_id)
        deadline = time.monotonic() + 30
        while not answers and time.monotonic() < deadline:  # "after" runs past the done
            time.sleep(0.02)
    finally:
        job.store = real
    assert view["status"] in ("done", "cancelled"), view
    return run_id, answers


def test_a_cancel_just_before_the_hits_are_stored_wins(gw: DemoGateway) -> None:
    run_id, answers = _race(gw, cancel_first=True)
    assert answers[0].status_code == 202, answers[0].text
    view = wait(gw, "dora", run_id)
    assert view["status"] == "cancelled" and view["hits"] is None
    assert not _stored(gw, run_id)
    assert events(gw, run_id=run_id, types=("comparison.aborted",), want=1)
    assert not events(gw, run_id=run_id, types=("comparison.completed",))


def test_a_cancel_just_after_the_hits_are_stored_is_a_409(gw: DemoGateway) -> None:
    run_id, answers = _race(gw, cancel_first=False)
    assert answers[0].status_code == 409, answers[0].text
    view = wait(gw, "dora", run_id)
    assert view["status"] == "done" and view["hits"] and _stored(gw, run_id)
    assert events(gw, run_id=run_id, types=("comparison.completed",), want=1)
    assert not events(gw, run_id=run_id, types=("comparison.aborted",))
