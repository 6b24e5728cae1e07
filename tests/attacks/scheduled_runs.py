"""A monthly schedule of alice's payroll-on-dibao comparison, its first run done and its
next run made due and run: red teams 57 and 66 change what lies between the two (a list
expired, forged, matched on a moved column) and read the second run's changes."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.gateway.comparison_env import ALICE_COUNTY, comparison_gateway, wait
from tests.gateway.demo_app import DemoGateway
from tests.gateway.stewardship.test_comparison_schedules import _due_now, _run_due

MODEL = "demo.payroll_on_dibao"
RUNS = "/api/v1/comparison-runs"


@pytest.fixture(params=["sqlite", "postgres"])
def gw(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[DemoGateway]:
    """A comparison gateway on the embedded default, then on PostgreSQL."""
    with comparison_gateway(tmp_path, request.param) as g:
        yield g


def first_scheduled_run(gw: DemoGateway, case_ref: str) -> tuple[str, str]:
    """alice's monthly schedule under ``case_ref`` and its first run, done with hits:
    (schedule id, run id)."""
    body = {"region": ALICE_COUNTY, "every": "monthly", "purpose": "supervision",
            "case_ref": case_ref}  # fmt: skip
    made = gw.client.post(f"/api/v1/comparison-models/{MODEL}/schedules", json=body,
                          headers=gw.headers("alice"))  # fmt: skip
    assert made.status_code == 201, made.text
    [first] = _run_due(gw)
    assert wait(gw, "alice", first)["hits"] > 0
    return made.json()["id"], first


def next_scheduled_run(gw: DemoGateway, schedule_id: str) -> tuple[str, dict[str, Any]]:
    """The schedule made due now and its next run, done: its id and alice's view of it."""
    _due_now(gw, schedule_id)
    [run] = _run_due(gw)
    return run, wait(gw, "alice", run)


def disappeared(gw: DemoGateway, run_id: str) -> dict[str, Any]:
    """alice's read of ``run_id``'s gone hits (200)."""
    changes = gw.client.get(f"{RUNS}/{run_id}/disappeared", headers=gw.headers("alice"))
    assert changes.status_code == 200, changes.text
    return dict(changes.json())
