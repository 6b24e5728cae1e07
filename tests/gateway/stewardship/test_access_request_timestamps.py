"""Stored approvals carry RFC 3339 timestamps with ``Z`` like every other timestamp
(they were written as ``+00:00`` text): in the row itself and in the API's answer."""

from __future__ import annotations

import re
from pathlib import Path

from sqlalchemy import select

from catalog.access_requests import AccessRequest
from catalog.timestamps import RFC3339_UTC
from tests.gateway.demo_app import demo_gateway


def test_an_approval_is_stored_and_served_in_rfc3339_z(tmp_path: Path) -> None:
    with demo_gateway(tmp_path) as gw:
        asked = gw.client.post("/api/v1/access-requests", headers=gw.headers("alice"), json={
            "dataset": "civil.dibao_recipients", "fields": ["phone"], "purpose": "supervision",
            "case_ref": "JW-TS-1", "justification": "check", "days": 1,
        })  # fmt: skip
        assert asked.status_code == 201, asked.text
        rid = asked.json()["id"]
        approved = gw.client.post(f"/api/v1/access-requests/{rid}/approve",
                                  headers=gw.headers("carl"))  # fmt: skip
        assert approved.status_code == 200, approved.text
        assert re.match(RFC3339_UTC, approved.json()["approvals"][0]["at"])
        with gw.services.sessions() as session:
            row = session.scalars(select(AccessRequest).where(AccessRequest.id == rid)).one()
            assert re.match(RFC3339_UTC, row.approvals[0]["at"]), row.approvals
