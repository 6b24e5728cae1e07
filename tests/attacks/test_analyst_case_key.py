"""An analyst who leaves out the case reference on an entry whose fields are masked with
per-case keys gets a clear 400 — never a 500, and never tokens under some shared key
that would link case-less queries to each other."""

from __future__ import annotations

from tests.gateway.demo_app import DemoGateway

FUNDS = "finance.fund_disbursements"


def test_no_case_ref_with_keyed_masks_is_a_clear_400(deployment: DemoGateway) -> None:
    resp = deployment.client.post(f"/api/v1/datasets/{FUNDS}/query",
                                  json={"purpose": "supervision", "limit": 2},
                                  headers=deployment.headers("arthur"))  # fmt: skip
    assert resp.status_code == 400, resp.text
    assert "case_ref" in resp.json()["message"]


def test_with_a_case_ref_the_same_query_answers(deployment: DemoGateway) -> None:
    resp = deployment.client.post(f"/api/v1/datasets/{FUNDS}/query",
                                  json={"purpose": "supervision", "case_ref": "JW-2026-7",
                                        "limit": 2},
                                  headers=deployment.headers("arthur"))  # fmt: skip
    assert resp.status_code == 200, resp.text
