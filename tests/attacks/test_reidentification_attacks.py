"""Attacks on re-identification (issue 15) through HTTP, on the embedded default and on
PostgreSQL: identities behind hits are released only to the analyst who asked, only for
the hits approved, only once a steward of every source department approved, never by
the requester's or an administrator's approval, and never after a revocation.
"""

from __future__ import annotations

from typing import Any

import orjson
import pytest

from tests.gateway.comparison_env import run_to_end
from tests.gateway.demo_app import DemoGateway

MODEL = "demo.payroll_on_dibao"
ASK = {"purpose": "supervision", "case_ref": "JW-CASE-9", "justification": "open a case"}


@pytest.fixture(scope="module")
def run(deployment: DemoGateway) -> dict[str, Any]:
    view = run_to_end(deployment, "dora", MODEL)
    assert view["status"] == "done" and view["hits"] >= 3, view
    return view


def _ask(gw: DemoGateway, subject: str, run_id: str, hit_ids: list[int]) -> Any:
    return gw.client.post("/api/v1/access-requests", json={"run": run_id, "hits": hit_ids, **ASK},
                          headers=gw.headers(subject))  # fmt: skip


def _approve(gw: DemoGateway, subject: str, request_id: str) -> Any:
    return gw.client.post(f"/api/v1/access-requests/{request_id}/approve",
                          headers=gw.headers(subject))  # fmt: skip


def _released(gw: DemoGateway, subject: str, run_id: str) -> Any:
    return gw.client.get(f"/api/v1/comparison-runs/{run_id}/hits",
                         params={"reidentified": "true"}, headers=gw.headers(subject))  # fmt: skip


def test_another_analyst_cannot_ask_for_or_read_the_release(
    deployment: DemoGateway, run: dict[str, Any]
) -> None:
    gw = deployment
    assert _ask(gw, "alice", run["id"], [1]).status_code == 404  # not her run
    req = _ask(gw, "dora", run["id"], [1]).json()
    assert _approve(gw, "carl", req["id"]).status_code == 200
    assert _approve(gw, "fiona", req["id"]).status_code == 200
    assert _released(gw, "dora", run["id"]).status_code == 200
    assert _released(gw, "alice", run["id"]).status_code == 404  # the run is not hers
    assert _released(gw, "sam", run["id"]).status_code == 403  # officers review, not release


def test_hits_outside_the_approval_are_never_released(
    deployment: DemoGateway, run: dict[str, Any]
) -> None:
    gw = deployment
    assert _ask(gw, "dora", run["id"], [0]).status_code in (400, 422)
    assert _ask(gw, "dora", run["id"], [run["hits"] + 1]).status_code == 400
    req = _ask(gw, "dora", run["id"], [3]).json()
    assert _approve(gw, "carl", req["id"]).status_code == 200
    assert _approve(gw, "fiona", req["id"]).status_code == 200
    resp = _released(gw, "dora", run["id"])
    assert resp.status_code == 200, resp.text
    got = {r["hit_id"] for r in orjson.loads(resp.content)["rows"]}
    assert 3 in got and 2 not in got  # only what some approved request names
    assert got <= {1, 3}


def test_one_department_requester_or_admin_does_not_approve(
    deployment: DemoGateway, run: dict[str, Any]
) -> None:
    gw = deployment
    req = _ask(gw, "dora", run["id"], [2]).json()
    assert _approve(gw, "dora", req["id"]).status_code == 403  # self-approval
    assert _approve(gw, "root", req["id"]).status_code == 403  # no department of its own
    assert _approve(gw, "alice", req["id"]).status_code == 403
    assert _approve(gw, "fiona", req["id"]).status_code == 200
    assert _approve(gw, "fiona", req["id"]).status_code == 403  # nobody approves twice
    view = gw.client.get(f"/api/v1/access-requests/{req['id']}", headers=gw.headers("dora"))
    assert view.json()["status"] == "pending" and view.json()["waiting_on"] == ["civil"]
    resp = _released(gw, "dora", run["id"])
    got = (
        {r["hit_id"] for r in orjson.loads(resp.content)["rows"]}
        if resp.status_code == 200
        else set()
    )
    assert 2 not in got  # finance alone released nothing


def test_revocation_stops_the_release(deployment: DemoGateway, run: dict[str, Any]) -> None:
    gw = deployment
    other = run_to_end(gw, "dora", MODEL)
    req = _ask(gw, "dora", other["id"], [1]).json()
    assert _approve(gw, "carl", req["id"]).status_code == 200
    assert _approve(gw, "fiona", req["id"]).status_code == 200
    assert _released(gw, "dora", other["id"]).status_code == 200
    revoke = gw.client.post(
        f"/api/v1/access-requests/{req['id']}/revoke",
        json={"reason": "case closed"},
        headers=gw.headers("fiona"),
    )
    assert revoke.status_code == 200, revoke.text
    assert _released(gw, "dora", other["id"]).status_code == 403
    # an outsider cannot revive it: approving a revoked request is refused
    assert _approve(gw, "carl", req["id"]).status_code in (403, 409)
    assert _released(gw, "dora", other["id"]).status_code == 403
