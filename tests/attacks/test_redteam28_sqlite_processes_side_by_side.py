"""Red team 28's left row: processes beside one another on one SQLite catalog raced.

A governing row's write takes the row's write lock before its checks, held to its
commit (``gateway.stewardship.row_locks``): in the process, a stripe; across processes,
PostgreSQL's advisory lock. SQLite had no cross-process half, so the operator's CLI
(``sluice users add``, ``sluice rebind``) or a second gateway on the same embedded home
took the same key's lock in its own memory only, and both writes went through:

* an admin's ``PUT /api/v1/admin/users/Quill`` through the gateway while the operator
  runs ``sluice users add quill`` — each found no look-alike (red team 28's name lock),
  two accounts read as one name, both ``user.updated`` ok on record;
* two gateways' triggers of one due schedule period (an owner's cron against one, the
  other's clock) — each put ``comparison_schedule.triggered`` and a run on record, the
  loser's run rolled back by the compare-and-set, its records left.

Each attack pauses the gateway in this test process past its lock (and its checks), and
runs the other side as a real process: the ``sluice`` CLI, or ``sluice serve`` over the
same home. Fixed: the other process waits for the row's lock (``WRITE_WAIT_S``), then is
refused (409) with nothing made or on record. On PostgreSQL (advisory locks) both held
before; they run here on it too, as the control.
"""

from __future__ import annotations

import os
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from gateway.stewardship import row_locks
from gateway.stewardship.comparison_models import schedules
from gateway.stewardship.users import service
from tests import live_http
from tests.attacks.deployments import KINDS, open_deployment
from tests.attacks.live_gateway import Live
from tests.attacks.live_gateway import serve as serve_here
from tests.attacks.test_redteam25_schedule_trigger_record import _due_schedule
from tests.gateway.cli.client_gateway import serve as serve_process
from tests.gateway.comparison_env import events, wait
from tests.gateway.demo_app import DemoGateway

USER = {"display_name": "Quill", "department": "civil", "clearance": "L1", "jurisdiction": [""]}


@dataclass
class SideBySide:
    """A gateway in this process (``here``, uvicorn in a thread) and another ``sluice
    serve`` process over the same home and catalog (``there``)."""

    gw: DemoGateway
    home: Path
    here: Live
    there: str
    settings: dict[str, str]

    def sluice(self, *args: str) -> subprocess.CompletedProcess[str]:
        """The operator's ``sluice`` CLI on the gateway host, over the same home."""
        env = {k: v for k, v in os.environ.items() if not k.startswith("SLUICE_")}
        env["SLUICE_HOME"] = str(self.home)
        env.update({f"SLUICE_{k.upper()}": v for k, v in self.settings.items()})
        return subprocess.run([sys.executable, "-m", "gateway.cli.main", *args], env=env,
                              capture_output=True, text=True, timeout=120)  # fmt: skip


@pytest.fixture(scope="module", params=KINDS)
def sides(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
          ) -> Iterator[SideBySide]:  # fmt: skip
    home: Path = tmp_path_factory.mktemp(f"rows32-processes-{request.param}")
    with open_deployment(request.param, home, db_prefix="rows32_processes") as gw:
        settings = {} if request.param == "sqlite" else {
            "database_url": gw.settings.resolved_database_url}  # fmt: skip
        with serve_here(gw) as here, serve_process(home, **settings) as there:
            yield SideBySide(gw=gw, home=home, here=here, there=there, settings=settings)


def _held_past(monkeypatch: pytest.MonkeyPatch, module: object, name: str
               ) -> tuple[threading.Event, threading.Event]:  # fmt: skip
    """``module.name`` in this process signals ``past`` once called (its row lock held),
    then waits for ``go`` (60 s at most) before it goes on."""
    original: Callable[..., Any] = getattr(module, name)
    past, go = threading.Event(), threading.Event()

    def held(*args: Any, **kwargs: Any) -> Any:
        result = original(*args, **kwargs)
        past.set()
        go.wait(60)
        return result

    monkeypatch.setattr(module, name, held)
    return past, go


def _in_thread(call: Callable[[], httpx.Response]) -> tuple[threading.Thread, list[Any]]:
    answer: list[Any] = []
    thread = threading.Thread(target=lambda: answer.append(call()), daemon=True)
    thread.start()
    return thread, answer


def test_the_cli_beside_the_gateway_makes_no_look_alike_account(
    sides: SideBySide, monkeypatch: pytest.MonkeyPatch
) -> None:
    gw = sides.gw
    past, go = _held_past(monkeypatch, service, "check_new_subject")  # under the name's lock
    thread, answer = _in_thread(lambda: live_http.put(
        f"{sides.here.base}/api/v1/admin/users/Quill", json=USER,
        headers=gw.headers("root"), timeout=60,
    ))  # fmt: skip
    try:
        assert past.wait(30), "the gateway's creation never reached its name check"
        cli = sides.sluice("users", "add", "quill", "--name", "Quill", "--department", "civil")
    finally:
        go.set()
        thread.join(60)
    assert answer and answer[0].status_code == 200, answer and answer[0].text
    listed = gw.client.get("/api/v1/admin/users", headers=gw.headers("root")).json()
    alike = [u["subject"] for u in listed if service.name_key(u["subject"]) == "quill"]
    assert alike == ["Quill"], f"two accounts read as one name: {alike}; {cli.stderr}"
    assert cli.returncode == 1 and "being changed by another request" in cli.stderr, cli
    saved = [e["resource"] for e in events(gw, types=("user.updated",))
             if service.name_key(e["resource"].removeprefix("user:")) == "quill"]  # fmt: skip
    assert saved == ["user:Quill"], saved


def test_two_gateways_trigger_one_period_once(
    sides: SideBySide, monkeypatch: pytest.MonkeyPatch
) -> None:
    gw = sides.gw
    schedule = _due_schedule(gw)
    past, go = _held_past(monkeypatch, schedules, "_queue")  # the period's lock held, due
    alice = gw.headers("alice")
    thread, answer = _in_thread(
        lambda: live_http.post(
            f"{sides.here.base}/api/v1/comparison-schedules/run-due", headers=alice, timeout=60
        )
    )
    try:
        assert past.wait(30), "this gateway's trigger never found the period due"
        there = live_http.post(f"{sides.there}/api/v1/comparison-schedules/run-due",
                           headers=alice, timeout=60)  # fmt: skip
    finally:
        go.set()
        thread.join(60)
    assert there.status_code == 200, there.text
    assert answer and answer[0].status_code == 200, answer and answer[0].text
    queued = [*answer[0].json()["runs"], *there.json()["runs"]]
    triggered = [e for e in events(gw, types=("comparison_schedule.triggered",))
                 if e["resource"] == f"comparison_schedule:{schedule}"]  # fmt: skip
    requested = [e for e in events(gw, types=("comparison_run.requested",))
                 if (e.get("details") or {}).get("schedule") == schedule]  # fmt: skip
    assert len(triggered) == 1 and len(requested) == 1, (
        f"one period, {len(triggered)} triggers and {len(requested)} runs on record: "
        f"{[e['details'] for e in triggered]}"
    )
    assert [e["details"].get("run") for e in triggered] == queued, (triggered, queued)
    assert there.json()["runs"] == [], "the other gateway did not wait for the period's lock"
    wait(gw, "alice", queued[0])


def test_a_query_takes_no_row_lock(sides: SideBySide, monkeypatch: pytest.MonkeyPatch) -> None:
    """The hot path: a query (and its charging, its records) takes no row's write lock,
    in the process or across processes."""
    taken: list[list[str]] = []
    original = row_locks.hold_rows

    def counted(session: Any, keys: Any) -> None:
        taken.append(list(keys))
        original(session, keys)

    for module in list(sys.modules.values()):  # every module that imported it
        if getattr(module, "hold_rows", None) is original:
            monkeypatch.setattr(module, "hold_rows", counted)
    body = {"purpose": "supervision", "case_ref": "JW-ROWS32", "limit": 50}
    resp = sides.gw.query("alice", "civil.dibao_recipients", body)
    assert resp.status_code == 200, resp.text
    assert taken == [], taken
