"""Red team 3, as a security officer: suspending an analyst whose comparison is running.

An officer suspends an account to stop it now (``POST /api/v1/users/{subject}/suspend``).
The analyst's next request is refused and a *queued* run of theirs does not start, but
a run already executing went on: it read both sides whole (in a Spark run, executors
holding the keyring's password and raw rows), stored its hit list and ended ``done``,
charged and ready — the suspension governed no running job (ATTACKS.md: freshness, "a
running job"). It must end at its next step instead: failed with ``account_disabled``,
nothing stored, its end on record. An officer's freeze of one of its entries likewise
(``dataset_frozen``).
"""

from __future__ import annotations

from sqlalchemy import select

from catalog.comparison_models import ComparisonRunResult
from tests.gateway.comparison_env import GatedEngine, events, runner, start, wait
from tests.gateway.demo_app import DemoGateway

MODEL = "demo.payroll_on_dibao"
DIBAO = "civil.dibao_recipients"


def _stored(gw: DemoGateway, run_id: str) -> bool:
    with gw.services.sessions() as session:
        found = session.scalar(
            select(ComparisonRunResult.run_id).where(ComparisonRunResult.run_id == run_id)
        )
    return found is not None


def test_a_suspension_stops_the_users_running_comparison(deployment: DemoGateway) -> None:
    gw = deployment
    gate = GatedEngine()
    runner(gw).engines["gated-suspend"] = gate
    answer = start(gw, "dora", MODEL, engine="gated-suspend")
    assert answer.status_code == 202, answer.text
    run_id = answer.json()["id"]
    assert gate.entered.wait(30)  # both sides read, the engine at work
    suspended = gw.client.post("/api/v1/users/dora/suspend", headers=gw.headers("sam"),
                               json={"reason": "exfiltration suspected"})  # fmt: skip
    assert suspended.status_code == 200, suspended.text
    try:
        gate.release.set()
        view = wait(gw, "sam", run_id)
        assert view["status"] == "failed", view
        assert (view.get("error") or {}).get("code") == "account_disabled", view
        assert not _stored(gw, run_id)
        assert events(gw, run_id=run_id, types=("comparison.failed",), want=1)
        assert not events(gw, run_id=run_id, types=("comparison.completed",))
    finally:
        lifted = gw.client.post("/api/v1/users/dora/unsuspend", headers=gw.headers("root"),
                                json={"reason": "test over"})  # fmt: skip
        assert lifted.status_code == 200, lifted.text


def test_a_freeze_stops_a_running_comparison_of_the_entry(deployment: DemoGateway) -> None:
    gw = deployment
    gate = GatedEngine()
    runner(gw).engines["gated-freeze"] = gate
    answer = start(gw, "dora", MODEL, engine="gated-freeze")
    assert answer.status_code == 202, answer.text
    run_id = answer.json()["id"]
    assert gate.entered.wait(30)
    frozen = gw.client.post(f"/api/v1/datasets/{DIBAO}/freeze", headers=gw.headers("sam"),
                            json={"reason": "leak"})  # fmt: skip
    assert frozen.status_code == 200, frozen.text
    try:
        gate.release.set()
        view = wait(gw, "sam", run_id)
        assert view["status"] == "failed", view
        assert (view.get("error") or {}).get("code") == "dataset_frozen", view
        assert not _stored(gw, run_id)
        assert events(gw, run_id=run_id, types=("comparison.failed",), want=1)
    finally:
        lifted = gw.client.post(f"/api/v1/datasets/{DIBAO}/unfreeze", headers=gw.headers("root"),
                                json={"reason": "test over"})  # fmt: skip
        assert lifted.status_code == 200, lifted.text
