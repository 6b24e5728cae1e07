"""Red team 5, as a security officer (with an admin): unsealing on a scrap of evidence.

Rule: a sealed trail is unsealed by a security officer and an admin, each naming the
SHA-256 of *a complete export* taken while sealed, "so the approver holds a copy of what
the database looked like" (``audit/unseal.py``, check 3; docs/deploy.md: "a security
officer exports the evidence"). The new epoch then continues from the head as found,
and the loss is accepted on that evidence.

Attack: every export taken while sealed counted as evidence, whatever its range. The
officer downloads ``GET /api/v1/audit/export?from=1&to=1`` — one event — and both
approvals name its digest: the gateway unseals with no copy of the trail it was sealed
over ever taken.
"""

from __future__ import annotations

import hashlib

from tests.gateway.demo_app import DemoGateway


def test_a_partial_export_is_no_evidence_for_unsealing(deployment: DemoGateway) -> None:
    gw = deployment
    sam = gw.headers("sam")
    assert (
        gw.client.get("/api/v1/audit/events", params={"limit": 1}, headers=sam).status_code == 200
    )  # fmt: skip  (an event or two)
    assert gw.services.audit.seal.seal("red team 5: evidence test", {"test": True})
    try:
        scrap = gw.client.get("/api/v1/audit/export", params={"from": 1, "to": 1}, headers=sam)
        assert scrap.status_code == 200, scrap.text
        body = {"evidence_sha256": hashlib.sha256(scrap.content).hexdigest(),
                "note": "one event is all we kept"}  # fmt: skip
        first = gw.client.post("/api/v1/audit/unseal", json=body, headers=sam)
        assert first.status_code == 409, (
            "a one-event export was accepted as the evidence of a sealed trail"
        )
        assert "export the evidence" in first.text
        # the whole trail is the evidence
        whole = gw.client.get("/api/v1/audit/export", headers=sam)
        assert whole.status_code == 200
        body["evidence_sha256"] = hashlib.sha256(whole.content).hexdigest()
        assert gw.client.post("/api/v1/audit/unseal", json=body, headers=sam).status_code == 200
        done = gw.client.post("/api/v1/audit/unseal", json=body, headers=gw.headers("root"))
        assert done.status_code == 200 and done.json()["sealed"] is False, done.text
    finally:
        gw.services.audit.seal.refresh()
        assert not gw.services.audit.seal.sealed, "the test leaves the gateway unsealed"
