"""Red team 6, as an analyst: rewriting the rule another analyst's schedule runs.

dora owns the shared model ``demo.payroll_on_dibao``; alice schedules it for her county
(``POST …/schedules``): a run per period, as her, under her case. A schedule stores no
version: each trigger requests the model's *newest* version. dora then stores a version
2 (``PUT /api/v1/comparison-models/{id}``) with another rule — here without the
"dibao still active" condition and with other output fields; it could as well add a
side, or a filter that singles out people — and alice's next scheduled run executes
dora's new rule under alice's name, purpose and case, reading what dora chose with
alice's clearance and jurisdiction. alice reviewed nothing of it; the trail shows
*alice* reading those sides and looking up those people (``comparison.completed``
subject tokens, the bulk and cross-department alerts), and her "new hits" since the
previous run are differences between two different rules.

Rule broken: identity of a target — what a schedule runs must be what its owner chose;
only the schedule's owner may change it (here: by scheduling again).

Expected: a schedule runs the version that was newest when it was made (its owner's
own later versions too, when the schedule's owner is the model's owner); a version
another author stores later is not run under the schedule.

On the embedded SQLite default and on PostgreSQL (``deployment``).
"""

from __future__ import annotations

from typing import Any

from tests.gateway.comparison_env import ALICE_COUNTY, wait
from tests.gateway.demo_app import DemoGateway

MODEL = "demo.payroll_on_dibao"


def _trigger(gw: DemoGateway, subject: str, schedule: str) -> list[str]:
    gw.sql("UPDATE comparison_schedules SET next_due_at = :t WHERE id = :i",
           t="2000-01-01 00:00:00.000000", i=schedule)  # fmt: skip
    resp = gw.client.post("/api/v1/comparison-schedules/run-due", headers=gw.headers(subject))
    assert resp.status_code == 200, resp.text
    runs: list[str] = resp.json()["runs"]
    return runs


def _new_version(gw: DemoGateway) -> int:
    model = gw.client.get(f"/api/v1/comparison-models/{MODEL}", headers=gw.headers("dora"))
    assert model.status_code == 200, model.text
    spec: dict[str, Any] = model.json()["spec"]
    body = {
        "name": model.json()["name"], "description": model.json()["description"],
        "shared_with": model.json()["shared_with"], "sides": spec["sides"],
        "joins": spec["joins"], "conditions": [], "output": ["p.name", "d.region_code"],
    }  # fmt: skip
    changed = gw.client.put(f"/api/v1/comparison-models/{MODEL}", json=body,
                            headers=gw.headers("dora"))  # fmt: skip
    assert changed.status_code == 200, changed.text
    version: int = changed.json()["version"]
    return version


def test_a_schedule_does_not_run_a_version_another_author_stored_later(
    deployment: DemoGateway,
) -> None:
    gw = deployment
    body = {"region": ALICE_COUNTY, "every": "monthly", "purpose": "supervision",
            "case_ref": "JW-RT6-SWAP"}  # fmt: skip
    made = gw.client.post(f"/api/v1/comparison-models/{MODEL}/schedules", json=body,
                          headers=gw.headers("alice"))  # fmt: skip
    assert made.status_code == 201, made.text
    schedule = made.json()["id"]
    first = _trigger(gw, "alice", schedule)
    assert len(first) == 1, first
    scheduled = wait(gw, "alice", first[0])
    assert scheduled["model_version"] == 1, scheduled

    assert _new_version(gw) == 2  # dora rewrites the rule alice scheduled

    later = _trigger(gw, "alice", schedule)
    for run_id in later:
        run = wait(gw, "alice", run_id)
        assert run["model_version"] == 1, (
            f"alice's schedule ran dora's later version {run['model_version']} as alice"
        )
    own = gw.client.post(f"/api/v1/comparison-models/{MODEL}/schedules", json=body,
                         headers=gw.headers("alice"))  # fmt: skip
    assert own.status_code == 201, own.text  # scheduling again takes the new version
    runs = _trigger(gw, "alice", own.json()["id"])
    assert [wait(gw, "alice", r)["model_version"] for r in runs] == [2]
