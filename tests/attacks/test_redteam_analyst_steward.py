"""Red team as an analyst and as a steward: siblings of the classes in ATTACKS.md in
paths the earlier attack tests did not cover. Each test goes through the HTTP API on the
embedded SQLite default and on a PostgreSQL deployment (``deployment``).

- **Concurrency.** A decision on an access request is check-then-act: the status is read,
  the audit event appended, then the row written. A withdrawal (or rejection) landing in
  between was overwritten by the approval, and a withdrawn request became a live grant.
"""

from __future__ import annotations

import threading
import uuid
from collections.abc import Mapping
from typing import Any

from tests.gateway.demo_app import DemoGateway

DIBAO = "civil.dibao_recipients"


def _ask(gw: DemoGateway, case_ref: str) -> str:
    resp = gw.client.post(
        "/api/v1/access-requests",
        json={"dataset": DIBAO, "fields": ["phone"], "purpose": "audit", "case_ref": case_ref,
              "justification": "red team", "days": 1},
        headers=gw.headers("alice"),
    )  # fmt: skip
    assert resp.status_code == 201, resp.text
    return str(resp.json()["id"])


def test_an_approval_racing_a_withdrawal_never_revives_the_request(
    deployment: DemoGateway,
) -> None:
    """carl's approval reads the request as pending; alice withdraws it before the
    approval is written. The withdrawal must stand: no grant, and the approval is
    refused (and on record as refused), not silently applied over it."""
    gw = deployment
    case_ref = f"RT-RACE-{uuid.uuid4().hex[:8]}"
    request_id = _ask(gw, case_ref)
    headers = {"carl": gw.headers("carl"), "alice": gw.headers("alice")}

    audit = gw.services.audit
    original = audit.append
    approving = threading.Event()
    withdrawn = threading.Event()

    def held_append(event: Mapping[str, Any]) -> Any:
        if event.get("type") == "access.approved":
            approving.set()  # the approval has read "pending" and is about to write
            assert withdrawn.wait(30)
        return original(event)

    results: dict[str, Any] = {}

    def approve() -> None:
        results["approve"] = gw.client.post(
            f"/api/v1/access-requests/{request_id}/approve", headers=headers["carl"]
        )

    audit.append = held_append
    try:
        thread = threading.Thread(target=approve)
        thread.start()
        assert approving.wait(30)
        revoke = gw.client.post(
            f"/api/v1/access-requests/{request_id}/revoke", json={"reason": "withdrawn"},
            headers=headers["alice"],
        )  # fmt: skip
        withdrawn.set()
        thread.join(30)
    finally:
        audit.append = original
    assert revoke.status_code == 200, revoke.text
    assert results["approve"].status_code == 409, results["approve"].text

    state = gw.client.get(f"/api/v1/access-requests/{request_id}", headers=headers["alice"])
    assert state.json()["status"] == "revoked"
    rows = gw.query("alice", DIBAO, {"fields": ["phone"], "unmask": ["phone"], "limit": 5,
                                     "purpose": "audit", "case_ref": case_ref})  # fmt: skip
    assert rows.status_code == 403 or all(
        "*" in (r["phone"] or "*") for r in rows.json()["rows"]
    ), rows.text
