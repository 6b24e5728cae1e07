"""Red team 3, as an analyst: a stored comparison hit list outlives the jurisdiction it
was read under.

Attack: dora (every county) runs a model — ad hoc over every county, or by a schedule
for one county — and the run's hits are stored. An admin then narrows her jurisdiction
to another county. She downloads the stored hits again (``GET
/api/v1/comparison-runs/{id}/hits``, any format, or the console's run page) and a
scheduled run's changes (``…/disappeared``: new hit ids, the gone hits' tokens): they
were handed out whole, though none of their rows is in her jurisdiction any more.

Rule broken: a change of jurisdiction governs the very next request (THREAT_MODEL,
issue 11 class 5; ATTACKS.md "Freshness"); ``check_release`` claimed to check the
jurisdiction "exactly as a new run would", but a preview decision only checks that she
has *some* jurisdiction — the rows it would filter were already read and stored.

On the embedded SQLite default and on PostgreSQL (``deployment``).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from tests.gateway.comparison_env import ALICE_COUNTY, events, hits, run_to_end, wait
from tests.gateway.demo_app import DemoGateway

MODEL = "demo.payroll_on_dibao"
USERS = "/api/v1/admin/users"
OTHER_COUNTY = "430102"


def _set_jurisdiction(gw: DemoGateway, jurisdiction: list[str]) -> None:
    body = {"display_name": "dora", "clearance": "L3", "jurisdiction": jurisdiction,
            "status": "active"}  # fmt: skip
    resp = gw.client.put(f"{USERS}/dora", json=body, headers=gw.headers("root"))
    assert resp.status_code == 200, resp.text


@pytest.fixture
def narrowed_back(deployment: DemoGateway) -> Iterator[None]:
    yield
    _set_jurisdiction(deployment, [""])


def _scheduled_run(gw: DemoGateway) -> dict[str, Any]:
    body = {"region": ALICE_COUNTY, "every": "monthly", "purpose": "supervision",
            "case_ref": "JW-RT3-SCHED"}  # fmt: skip
    made = gw.client.post(f"/api/v1/comparison-models/{MODEL}/schedules", json=body,
                          headers=gw.headers("dora"))  # fmt: skip
    assert made.status_code == 201, made.text
    due = gw.client.post("/api/v1/comparison-schedules/run-due", headers=gw.headers("dora"))
    assert due.status_code == 200, due.text
    [run_id] = due.json()["runs"]
    view = wait(gw, "dora", run_id)
    assert view["status"] == "done", view
    return view


def test_an_adhoc_runs_hits_are_refused_once_the_owner_lost_those_counties(
    deployment: DemoGateway, narrowed_back: None
) -> None:
    gw = deployment
    view = run_to_end(gw, "dora", MODEL)
    assert view["status"] == "done", view
    assert hits(gw, "dora", view["id"]).status_code == 200
    _set_jurisdiction(gw, [OTHER_COUNTY])
    for fmt in ("json", "csv"):
        resp = hits(gw, "dora", view["id"], fmt)
        assert resp.status_code == 403, resp.text
        assert "jurisdiction" in resp.text
    # an officer reviewing the run is not the reader whose jurisdiction changed
    assert hits(gw, "sam", view["id"]).status_code == 200
    _set_jurisdiction(gw, [""])
    assert hits(gw, "dora", view["id"]).status_code == 200


def test_a_scheduled_runs_hits_are_refused_once_its_county_is_not_the_owners(
    deployment: DemoGateway, narrowed_back: None
) -> None:
    gw = deployment
    view = _scheduled_run(gw)
    assert hits(gw, "dora", view["id"]).status_code == 200
    _set_jurisdiction(gw, [OTHER_COUNTY])
    resp = hits(gw, "dora", view["id"])
    assert resp.status_code == 403, resp.text
    # the county itself, or a prefix covering it, still reads it
    _set_jurisdiction(gw, [ALICE_COUNTY])
    assert hits(gw, "dora", view["id"]).status_code == 200
    _set_jurisdiction(gw, ["4301"])
    assert hits(gw, "dora", view["id"]).status_code == 200


def test_a_scheduled_runs_changes_follow_the_same_release_rules(
    deployment: DemoGateway, narrowed_back: None
) -> None:
    """``GET …/disappeared`` lists the previous run's hits (their case-keyed tokens) and
    the new ones: part of the hit list, so released under the same checks as the hits."""
    gw = deployment
    view = _scheduled_run(gw)
    path = f"/api/v1/comparison-runs/{view['id']}/disappeared"
    assert gw.client.get(path, headers=gw.headers("dora")).status_code == 200
    _set_jurisdiction(gw, [OTHER_COUNTY])
    resp = gw.client.get(path, headers=gw.headers("dora"))
    assert resp.status_code == 403, resp.text
    assert gw.client.get(path, headers=gw.headers("sam")).status_code == 200


def test_reading_a_scheduled_runs_changes_is_on_record(
    deployment: DemoGateway, narrowed_back: None
) -> None:
    """The changes name people (the gone hits' tokens): no data leaves off the record
    (THREAT_MODEL's second promise), as for ``…/hits`` (``comparison_run.hits_read``)."""
    gw = deployment
    view = _scheduled_run(gw)
    resp = gw.client.get(f"/api/v1/comparison-runs/{view['id']}/disappeared",
                         headers=gw.headers("dora"))  # fmt: skip
    assert resp.status_code == 200, resp.text
    reads = [e for e in events(gw, run_id=view["id"], types=("comparison_run.hits_read",),
                               want=1)
             if (e.get("details") or {}).get("format") == "disappeared"]  # fmt: skip
    assert len(reads) == 1, reads
    changes = resp.json()
    assert reads[0]["rows"] == len(changes["new"]) + len(changes["disappeared"])
