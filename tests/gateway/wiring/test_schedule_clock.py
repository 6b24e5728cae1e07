"""The gateway's own clock for comparison schedules: off by default (a due schedule
waits), and when ``SLUICE_COMPARISON_SCHEDULER`` is on it triggers every due schedule
by itself, on record, without anyone calling ``run-due``."""

from __future__ import annotations

import threading
import time
from pathlib import Path

from sqlalchemy import select

from catalog.comparison_schedules import ComparisonSchedule
from tests.gateway.comparison_env import ALICE_COUNTY, events, wait
from tests.gateway.demo_app import DemoGateway, demo_gateway

MODEL = "demo.payroll_on_dibao"
BODY = {"region": ALICE_COUNTY, "every": "daily", "purpose": "supervision",
        "case_ref": "JW-CLOCK-1"}  # fmt: skip


def _schedule(gw: DemoGateway) -> str:
    made = gw.client.post(f"/api/v1/comparison-models/{MODEL}/schedules", json=BODY,
                          headers=gw.headers("alice"))  # fmt: skip
    assert made.status_code == 201, made.text
    return str(made.json()["id"])


def _last_run(gw: DemoGateway, schedule_id: str, timeout_s: float) -> str | None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        with gw.services.sessions() as session:
            found = session.scalar(select(ComparisonSchedule.last_run_id)
                                   .where(ComparisonSchedule.id == schedule_id))  # fmt: skip
        if found:
            return str(found)
        time.sleep(0.1)
    return None


def _clocks() -> set[threading.Thread]:
    """The schedule clocks running in this process (ScheduleClock's thread)."""
    return {t for t in threading.enumerate() if t.name == "sluice-schedules" and t.is_alive()}


def test_the_clock_is_off_by_default(tmp_path: Path) -> None:
    """The switch left at its default: no clock is started, and a due schedule is not
    triggered although the interval is one a running clock would tick ten times in the
    wait (at the default interval, 60 s, a clock started by mistake ticks only after a
    minute: a wait of seconds could not see it)."""
    before = _clocks()
    with demo_gateway(tmp_path, comparison_scheduler_interval_s=0.05) as gw:
        assert gw.settings.comparison_scheduler is False
        assert _clocks() == before
        schedule_id = _schedule(gw)
        assert _last_run(gw, schedule_id, timeout_s=0.5) is None


def test_the_clock_triggers_due_schedules(tmp_path: Path) -> None:
    before = _clocks()
    with demo_gateway(tmp_path, comparison_scheduler=True,
                      comparison_scheduler_interval_s=0.1) as gw:  # fmt: skip
        assert _clocks() - before  # what the test above looks for when the switch is off
        schedule_id = _schedule(gw)
        run_id = _last_run(gw, schedule_id, timeout_s=30)
        assert run_id is not None
        view = wait(gw, "alice", run_id)
        assert view["status"] == "done" and view["region"] == ALICE_COUNTY, view
        found = events(gw, types=("comparison_schedule.triggered",), want=1)
        assert found[0]["details"]["run"] == run_id
        assert found[0]["actor"]["sub"] == "gateway"
