"""Shared steps of red team 36's attack tests."""

from __future__ import annotations

from typing import Any

from tests.gateway.demo_app import DemoGateway


def query_completed(gw: DemoGateway, request_id: str) -> dict[str, Any]:
    """The ``query.completed`` event of a query, once it is on the trail."""
    events = gw.request_events(request_id, want=2)
    done = [e for e in events if e["type"] == "query.completed"]
    assert done, [e["type"] for e in events]
    return done[-1]


def set_own_id_number(gw: DemoGateway, subject: str, number: str) -> None:
    """``subject``'s own ID number recorded by an admin (root), as the API does it."""
    resp = gw.client.put(f"/api/v1/admin/users/{subject}/id-number",
                         json={"id_number": number}, headers=gw.headers("root"))  # fmt: skip
    assert resp.status_code == 200, resp.text
