"""Attacks on comparison models and their runs, through HTTP, on SQLite and PostgreSQL.

- another analyst can neither read, download, cancel nor annotate someone's run: 404,
  as for a run that does not exist; an officer reads it and changes nothing (403);
- a model whose condition names a field policy denies (or only masks) is refused when
  stored, and a run is refused when a field it compares is reclassified afterwards;
- a model on an entry an officer froze is refused (423), stored or run;
- a cancelled run stops, running or queued, and its start has an end on record;
- bad input is a 4xx, never a 500.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import pytest

from tests.gateway.comparison_env import (
    CASE,
    GatedEngine,
    events,
    hits,
    run_to_end,
    runner,
    start,
    wait,
)
from tests.gateway.demo_app import DemoGateway

MODEL = "demo.payroll_on_dibao"


@pytest.fixture(scope="module")
def done_run(deployment: DemoGateway) -> dict[str, Any]:
    view = run_to_end(deployment, "dora", MODEL)
    assert view["status"] == "done", view
    return view


def test_another_analyst_sees_no_run_of_someone_else(
    deployment: DemoGateway, done_run: dict[str, Any]
) -> None:
    gw, run_id = deployment, done_run["id"]
    h = gw.headers("alice")
    base = f"/api/v1/comparison-runs/{run_id}"
    assert gw.client.get(base, headers=h).status_code == 404
    assert hits(gw, "alice", run_id).status_code == 404
    assert gw.client.patch(f"{base}/hits/1", json={"state": "confirmed"},
                           headers=h).status_code == 404  # fmt: skip
    assert gw.client.post(f"{base}/cancel", headers=h).status_code == 404
    assert run_id not in {r["id"] for r in gw.client.get("/api/v1/comparison-runs",
                                                         headers=h).json()}  # fmt: skip
    unknown = gw.client.get("/api/v1/comparison-runs/cr_00000000000000000000", headers=h)
    assert unknown.status_code == 404 and unknown.json()["message"].startswith("no comparison run")


def test_an_officer_reads_a_run_and_changes_nothing(
    deployment: DemoGateway, done_run: dict[str, Any]
) -> None:
    gw, run_id = deployment, done_run["id"]
    h = gw.headers("sam")
    base = f"/api/v1/comparison-runs/{run_id}"
    assert gw.client.get(base, headers=h).json()["hits"] == done_run["hits"]
    assert hits(gw, "sam", run_id).status_code == 200
    assert gw.client.patch(f"{base}/hits/1", json={"state": "confirmed"},
                           headers=h).status_code == 403  # fmt: skip
    assert gw.client.post(f"{base}/cancel", headers=h).status_code == 403
    refused = start(gw, "sam", MODEL)  # officers never query (separation of duties)
    assert refused.status_code == 403


def test_a_model_not_shared_with_you_does_not_exist_for_you(deployment: DemoGateway) -> None:
    gw = deployment
    private = {"id": "test.private", "name": {"zh": "私有", "en": "Private"},
               "sides": [{"alias": "p", "dataset": "finance.payroll"},
                         {"alias": "d", "dataset": "civil.dibao_recipients"}],
               "joins": [{"left": "p", "left_key": "id_number", "right": "d",
                          "right_key": "id_number"}],
               "output": ["d.region_code"]}  # fmt: skip
    assert gw.client.post("/api/v1/comparison-models", json=private,
                          headers=gw.headers("dora")).status_code == 201  # fmt: skip
    h = gw.headers("alice")
    assert gw.client.get("/api/v1/comparison-models/test.private", headers=h).status_code == 404
    assert start(gw, "alice", "test.private").status_code == 404
    assert gw.client.put("/api/v1/comparison-models/test.private", json=private,
                         headers=h).status_code == 404  # fmt: skip
    shared = {**private, "shared_with": {"levels": ["county"]}}
    assert gw.client.put("/api/v1/comparison-models/test.private", json=shared,
                         headers=gw.headers("dora")).status_code == 200  # fmt: skip
    assert gw.client.get("/api/v1/comparison-models/test.private", headers=h).status_code == 200
    # shared is not owned: only the owner makes a new version
    assert gw.client.put("/api/v1/comparison-models/test.private", json=shared,
                         headers=h).status_code == 403  # fmt: skip


NAME_COMPARED: dict[str, Any] = {
    "id": "test.same_name_same_county",
    "name": {"zh": "同名同县", "en": "Same name, same county"},
    "sides": [{"alias": "d", "dataset": "civil.dibao_recipients"},
              {"alias": "x", "dataset": "civil.death_registrations"}],
    "joins": [{"left": "d", "left_key": "region_code", "right": "x",
               "right_key": "region_code"}],
    "conditions": [{"op": "=", "args": [{"field": "d.name"}, {"field": "x.name"}]}],
    "output": ["d.status"],
}  # fmt: skip


@pytest.mark.parametrize(
    ("subject", "word"), [("arthur", "above your clearance"), ("alice", "masked")]
)
def test_a_condition_on_a_field_you_may_not_compare_is_refused(
    deployment: DemoGateway, subject: str, word: str
) -> None:
    """arthur (L2) is denied names; alice sees them masked, and a masked value would
    silently compare something else: both refused, naming the field."""
    resp = deployment.client.post("/api/v1/comparison-models", json=NAME_COMPARED,
                                  headers=deployment.headers(subject))  # fmt: skip
    assert resp.status_code == 403, resp.text
    assert word in resp.json()["message"] and "name" in resp.json()["message"]


def test_a_denied_key_refuses_the_run(deployment: DemoGateway) -> None:
    resp = start(deployment, "arthur", MODEL)  # ID numbers are above arthur's clearance
    assert resp.status_code == 403, resp.text


def test_a_field_reclassified_after_the_model_was_stored_refuses_the_run(
    deployment: DemoGateway,
) -> None:
    gw = deployment
    gw.edit_entry("civil.dibao_recipients", "last_paid", level="L4")
    try:
        resp = start(gw, "dora", "demo.dibao_after_death")
        assert resp.status_code == 403, resp.text
        assert "last_paid" in resp.text
    finally:
        gw.edit_entry("civil.dibao_recipients", "last_paid", level="L2")
    assert start(gw, "dora", "demo.dibao_after_death").status_code == 202


def test_a_frozen_entry_refuses_models_and_runs(deployment: DemoGateway) -> None:
    gw = deployment
    gw.edit_entry("civil.death_registrations", frozen_at=datetime.now(UTC), frozen_by="sam",
                  frozen_reason="test")  # fmt: skip
    try:
        run = start(gw, "dora", "demo.dibao_after_death")
        assert run.status_code == 423, run.text
        model = json.loads(json.dumps(NAME_COMPARED))
        model.update(id="test.on_frozen", conditions=[], output=["x.death_date"])
        stored = gw.client.post("/api/v1/comparison-models", json=model, headers=gw.headers("dora"))
        assert stored.status_code == 423, stored.text
    finally:
        gw.edit_entry("civil.death_registrations", frozen_at=None, frozen_by=None,
                      frozen_reason=None)  # fmt: skip


def test_cancel_stops_a_running_and_a_queued_run(deployment: DemoGateway) -> None:
    gw = deployment
    gates = [GatedEngine(), GatedEngine()]
    runner(gw).engines.update({"gated": gates[0], "gated2": gates[1]})
    h = gw.headers("dora")
    running = [start(gw, "dora", MODEL, engine=name).json()["id"] for name in ("gated", "gated2")]
    for gate in gates:  # both workers busy
        assert gate.entered.wait(30)
    queued = start(gw, "dora", MODEL).json()["id"]
    now = gw.client.post(f"/api/v1/comparison-runs/{queued}/cancel", headers=h)
    assert now.status_code == 202 and now.json()["status"] == "cancelled"
    assert wait(gw, "dora", queued)["status"] == "cancelled"
    stop = gw.client.post(f"/api/v1/comparison-runs/{running[0]}/cancel", headers=h)
    assert stop.status_code == 202 and stop.json()["cancel_requested"] is True
    view = wait(gw, "dora", running[0])
    assert view["status"] == "cancelled" and view["hits"] is None
    ended = events(gw, run_id=running[0], types=("comparison.aborted",), want=1)
    assert ended and ended[-1]["details"]["reason"] == "cancelled"
    gates[1].release.set()  # the other one ends normally
    assert wait(gw, "dora", running[1])["status"] == "done"
    again = gw.client.post(f"/api/v1/comparison-runs/{running[1]}/cancel", headers=h)
    assert again.status_code == 409


def _model(**changes: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "name": {"zh": "坏", "en": "Bad"},
        "sides": [{"alias": "p", "dataset": "finance.payroll"},
                  {"alias": "d", "dataset": "civil.dibao_recipients"}],
        "joins": [{"left": "p", "left_key": "id_number", "right": "d", "right_key": "id_number"}],
        "output": ["d.region_code"],
    }  # fmt: skip
    return {**base, **changes}


def _deep(depth: int) -> dict[str, Any]:
    node: dict[str, Any] = {"field": "d.status"}
    for _ in range(depth):
        node = {"op": "not", "args": [node]}
    return node


BAD_MODELS: list[Any] = [
    {}, [], "x", _model(name={"zh": "", "en": ""}), _model(id="Bad Id!"), _model(sides=[]),
    _model(sides=[{"alias": "p", "dataset": "nope.nope"},
                  {"alias": "d", "dataset": "civil.dibao_recipients"}]),
    _model(joins=[{"left": "p", "left_key": "id_number", "right": "d", "right_key": "x; DROP"}]),
    _model(joins=[{"left": "p", "left_key": "id_number", "right": "d", "right_key": "id_number",
                   "kind": "outer"}]),
    _model(conditions=[{"op": "=", "args": [{"field": "d.status"}, {"value": 1e400,
                                                                  "type": "number"}]}]),
    _model(conditions=[{"op": "=", "args": [{"field": "d.status"},
                                            {"value": "\u0000", "type": "string"}]}]),
    _model(conditions=[{"op": "=", "args": [{"field": "d.start_date"},
                                            {"value": "9999-99-99", "type": "date"}]}]),
    _model(conditions=[_deep(30)]), "DEEP",
    _model(conditions=[{"op": "=", "args": [{"field": "d.status"}] * 5000}]),
    _model(output=["d." + "x" * 5000]), _model(shared_with={"levels": ["planet"]}),
    _model(unexpected=True),
]  # fmt: skip


@pytest.mark.parametrize("body", BAD_MODELS)
def test_bad_models_are_4xx(deployment: DemoGateway, body: Any) -> None:
    text = json.dumps(body)
    if body == "DEEP":  # nested past any recursion limit: written out, not encoded
        text = json.dumps(_model(conditions=["@"])).replace(
            '"@"', '{"op": "not", "args": [' * 3000 + '{"field": "d.status"}' + "]}" * 3000
        )
    resp = deployment.client.post("/api/v1/comparison-models", content=text,
                                  headers={**deployment.headers("dora"),
                                           "content-type": "application/json"})  # fmt: skip
    assert 400 <= resp.status_code < 500, resp.text


@pytest.mark.parametrize(("method", "path", "body"), [
    ("POST", f"/api/v1/comparison-models/{MODEL}/runs", {}),
    ("POST", f"/api/v1/comparison-models/{MODEL}/runs", {**CASE, "engine": "spark2"}),
    ("POST", f"/api/v1/comparison-models/{MODEL}/runs", {**CASE, "version": 99}),
    ("POST", f"/api/v1/comparison-models/{MODEL}/runs", {**CASE, "version": "one"}),
    ("POST", f"/api/v1/comparison-models/{MODEL}/runs", {**CASE, "purpose": "x" * 100}),
    ("POST", "/api/v1/comparison-models/nope/runs", CASE),
    ("POST", "/api/v1/comparison-models/" + "x" * 300 + "/runs", CASE),
    ("GET", f"/api/v1/comparison-models/{MODEL}?version=0", None),
    ("GET", f"/api/v1/comparison-models/{MODEL}?version=99", None),
    ("GET", "/api/v1/comparison-runs/%00", None),
    ("GET", "/api/v1/comparison-runs/" + "r" * 100, None),
    ("GET", "/api/v1/comparison-runs/{run}/hits?format=docx", None),
    ("PATCH", "/api/v1/comparison-runs/{run}/hits/0", {"state": "confirmed"}),
    ("PATCH", "/api/v1/comparison-runs/{run}/hits/99999", {"state": "confirmed"}),
    ("PATCH", "/api/v1/comparison-runs/{run}/hits/99999999999999", {"state": "confirmed"}),
    ("PATCH", "/api/v1/comparison-runs/{run}/hits/x", {"state": "confirmed"}),
    ("PATCH", "/api/v1/comparison-runs/{run}/hits/1", {"state": "done"}),
    ("PATCH", "/api/v1/comparison-runs/{run}/hits/1", {"state": "rectified"}),
    ("PATCH", "/api/v1/comparison-runs/{run}/hits/1", {"state": "confirmed",
                                                       "rectified_on": "2025-01-01"}),
    ("PATCH", "/api/v1/comparison-runs/{run}/hits/1", {"state": "rectified",
                                                       "rectified_on": "yesterday"}),
    ("PATCH", "/api/v1/comparison-runs/{run}/hits/1", {"state": "confirmed", "note": "x" * 5000}),
])  # fmt: skip
def test_bad_requests_are_4xx(
    deployment: DemoGateway, done_run: dict[str, Any], method: str, path: str, body: Any
) -> None:
    resp = deployment.client.request(method, path.replace("{run}", done_run["id"]),
                                      json=body, headers=deployment.headers("dora"))  # fmt: skip
    assert 400 <= resp.status_code < 500, resp.text
