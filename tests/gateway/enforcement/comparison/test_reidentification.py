"""Re-identification after approval (issue 15), through the HTTP API on the embedded
default: an analyst asks for the real identities behind named hits of their run; a
steward of each source department approves; those hits — only those — come back with
each side's ID number in clear, matching the tokens of the hit list; each release is on
record with the hit ids and every side's governed re-read; a revocation stops it."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import orjson
import pyarrow as pa
import pytest

from gateway.enforcement.masking.apply import mask_array
from tests.gateway.comparison_env import CASE, comparison_gateway, events, run_to_end, runner
from tests.gateway.demo_app import DemoGateway

MODEL = "demo.payroll_on_dibao"
ASK = {"purpose": "supervision", "case_ref": "JW-CASE-7", "justification": "open a case"}


@pytest.fixture(scope="module")
def gw(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DemoGateway]:
    with comparison_gateway(tmp_path_factory.mktemp("reid"), "sqlite") as g:
        yield g


@pytest.fixture(scope="module")
def run(gw: DemoGateway) -> dict[str, Any]:
    view = run_to_end(gw, "dora", MODEL)
    assert view["status"] == "done" and view["hits"] >= 3, view
    return view


def ask(gw: DemoGateway, subject: str, run_id: str, hit_ids: list[int]) -> Any:
    return gw.client.post("/api/v1/access-requests", json={"run": run_id, "hits": hit_ids, **ASK},
                          headers=gw.headers(subject))  # fmt: skip


def decide(gw: DemoGateway, subject: str, request_id: str, action: str = "approve") -> Any:
    body = {} if action == "approve" else {"reason": "done"}
    return gw.client.post(f"/api/v1/access-requests/{request_id}/{action}",
                          json=body if body else None, headers=gw.headers(subject))  # fmt: skip


def released(gw: DemoGateway, subject: str, run_id: str) -> Any:
    return gw.client.get(f"/api/v1/comparison-runs/{run_id}/hits",
                         params={"reidentified": "true"}, headers=gw.headers(subject))  # fmt: skip


def test_released_after_each_department_approves_and_stopped_by_revoke(
    gw: DemoGateway, run: dict[str, Any]
) -> None:
    resp = ask(gw, "dora", run["id"], [2, 1])
    assert resp.status_code == 201, resp.text
    req = resp.json()
    assert req["kind"] == "reidentification" and req["status"] == "pending"
    assert req["hits"] == [1, 2] and req["departments"] == ["civil", "finance"]
    assert req["waiting_on"] == ["civil", "finance"]
    assert released(gw, "dora", run["id"]).status_code == 403  # nothing approved yet

    first = decide(gw, "carl", req["id"])
    assert first.status_code == 200, first.text
    assert first.json()["waiting_on"] == ["finance"] and first.json()["status"] == "pending"
    assert first.json()["approvals"][0]["at"].endswith("Z")
    assert released(gw, "dora", run["id"]).status_code == 403  # one department is not all

    second = decide(gw, "fiona", req["id"])
    assert second.status_code == 200, second.text
    assert second.json()["status"] == "approved"

    resp = released(gw, "dora", run["id"])
    assert resp.status_code == 200, resp.text
    rows = orjson.loads(resp.content)["rows"]
    assert [r["hit_id"] for r in rows] == [1, 2]
    case_key = runner(gw).broker.subjects.case_key(CASE["case_ref"])
    for row in rows:
        ids = {k: v for k, v in row.items() if k.endswith(".reidentified")}
        assert set(ids) == {"p.id_number.reidentified", "d.id_number.reidentified"}, row
        for raw in ids.values():
            assert raw is not None and len(raw) == 18
            token = mask_array(pa.array([raw]), "hash", hash_key=case_key)[0].as_py()
            assert token == row["key_token"]  # the identity is that hit's, on every side

    found = events(gw, run_id=run["id"], types=("reidentification.released",), want=1)
    assert found and found[-1]["details"]["hit_ids"] == [1, 2]
    assert found[-1]["details"]["requests"] == [req["id"]]
    assert found[-1]["actor"]["sub"] == "dora"
    sides = [e for e in events(gw, types=("query.completed",), want=2)
             if (e.get("details") or {}).get("reidentification") == [req["id"]]]  # fmt: skip
    assert len(sides) == 2 and all(e["details"]["delivered"] is False for e in sides)

    revoked = decide(gw, "carl", req["id"], "revoke")
    assert revoked.status_code == 200, revoked.text
    assert released(gw, "dora", run["id"]).status_code == 403


def test_requests_are_listed_for_the_requester_and_each_departments_steward(
    gw: DemoGateway, run: dict[str, Any]
) -> None:
    resp = ask(gw, "dora", run["id"], [3])
    assert resp.status_code == 201, resp.text
    rid = resp.json()["id"]
    for subject in ("dora", "carl", "fiona"):
        listed = gw.client.get("/api/v1/access-requests", headers=gw.headers(subject))
        assert rid in {r["id"] for r in listed.json()}, subject
        one = gw.client.get(f"/api/v1/access-requests/{rid}", headers=gw.headers(subject))
        assert one.status_code == 200 and one.json()["run"] == run["id"]
    for outsider in ("alice", "sam"):
        listed = gw.client.get("/api/v1/access-requests", headers=gw.headers(outsider))
        assert rid not in {r["id"] for r in listed.json()}
        one = gw.client.get(f"/api/v1/access-requests/{rid}", headers=gw.headers(outsider))
        assert one.status_code == 404
    assert events(gw, run_id=run["id"], types=("reidentification.requested",), want=2)
