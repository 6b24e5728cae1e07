"""Red team 25's left row, as an analyst (two triggers of one due period at once: the
owner's cron on two hosts, or the cron beside the gateway's own clock).

Red team 3 made the trigger a compare-and-set on the due time it read, so one period
queues one run. But each trigger put ``comparison_schedule.triggered`` (naming the run
it queued) and the run's ``comparison_run.requested`` on the trail before its claim of
the period: the loser's claim failed, its run was rolled back, and its records stayed —
a run on record that never existed. Now the period is claimed first (the schedule's
write lock, held to the commit, and its due time read afresh under it) and recorded
after: of two triggers, one records and queues, the other records nothing.
"""

from __future__ import annotations

from typing import Any

import pytest

from gateway.stewardship.comparison_models import schedules
from tests.attacks.test_redteam26_analyst_model_create_record import both_past, two_at_once
from tests.gateway.comparison_env import ALICE_COUNTY, events, wait
from tests.gateway.demo_app import DemoGateway

MODEL = "demo.payroll_on_dibao"
SCHEDULE = {"region": ALICE_COUNTY, "every": "daily", "purpose": "supervision",
            "case_ref": "JW-RT25-TRIGGER"}  # fmt: skip


def _due_schedule(gw: DemoGateway) -> str:
    """alice's schedule of ``MODEL``, its first period long due."""
    path = f"/api/v1/comparison-models/{MODEL}/schedules"
    made = gw.client.post(path, json=SCHEDULE, headers=gw.headers("alice"))
    assert made.status_code == 201, made.text
    schedule_id: str = made.json()["id"]
    gw.sql("UPDATE comparison_schedules SET next_due_at = '2000-01-01 00:00:00.000000' "
           "WHERE id = :i", i=schedule_id)  # fmt: skip
    return schedule_id


def test_two_triggers_of_one_period_leave_one_run_and_one_record(
    deployment: DemoGateway, monkeypatch: pytest.MonkeyPatch
) -> None:
    gw = deployment
    schedule = _due_schedule(gw)
    both_past(monkeypatch, schedules, "_queue")  # both found the period due
    results: list[Any] = [None, None]

    def run(i: int) -> None:
        results[i] = gw.client.post("/api/v1/comparison-schedules/run-due",
                                    headers=gw.headers("alice"))  # fmt: skip

    two_at_once(run)
    assert [r.status_code for r in results] == [200, 200], [r.text for r in results]
    queued = [run_id for r in results for run_id in r.json()["runs"]]
    assert len(queued) == 1, queued
    wait(gw, "alice", queued[0])
    triggered = [e for e in events(gw, types=("comparison_schedule.triggered",))
                 if e["resource"] == f"comparison_schedule:{schedule}"]  # fmt: skip
    assert [e["details"].get("run") for e in triggered] == queued, triggered
    requested = [e for e in events(gw, types=("comparison_run.requested",))
                 if (e.get("details") or {}).get("schedule") == schedule]  # fmt: skip
    assert len(requested) == 1, f"a rolled-back run on record: {requested}"
