"""dora's re-identification of hits of her run, asked under a case and approved, and the
releases on record under a case: the steps shared by the per-case release tests (red
teams 45 and 51, stop 37)."""

from __future__ import annotations

from typing import Any

from audit.search import EventFilter, list_events
from tests.gateway.demo_app import DemoGateway


def ask(gw: DemoGateway, run_id: str, hits: list[int], case_ref: str) -> str:
    """dora asks for ``hits`` of her run under ``case_ref``; the request's id."""
    asked = gw.client.post("/api/v1/access-requests", headers=gw.headers("dora"), json={
        "run": run_id, "hits": hits, "purpose": "supervision", "case_ref": case_ref,
        "justification": "open a case on these hits"})  # fmt: skip
    assert asked.status_code == 201, asked.text
    return str(asked.json()["id"])


def approve(gw: DemoGateway, steward: str, request_id: str) -> None:
    approved = gw.client.post(f"/api/v1/access-requests/{request_id}/approve",
                              headers=gw.headers(steward), json={})  # fmt: skip
    assert approved.status_code == 200, approved.text


def approved(gw: DemoGateway, run_id: str, hits: list[int], case_ref: str) -> str:
    """``ask``, then both departments approve; the request's id."""
    request_id = ask(gw, run_id, hits, case_ref)
    for steward in ("carl", "fiona"):
        approve(gw, steward, request_id)
    return request_id


def releases_under(gw: DemoGateway, case_ref: str) -> list[dict[str, Any]]:
    """The ``reidentification.released`` records under ``case_ref``."""
    return list_events(store=gw.services.audit.store,
                       filters=EventFilter(case_ref=case_ref, type="reidentification.released"),
                       limit=10)["items"]  # fmt: skip
