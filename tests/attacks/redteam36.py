"""Shared steps of red team 36's attack tests."""

from __future__ import annotations

import sqlite3
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


def dibao_number(gw: DemoGateway, offset: int) -> str:
    """The ID number of the dibao roll's row at ``offset``, in the order the source reads
    it to an analyst of every county (SQLite's rowid order)."""
    civil = sqlite3.connect(gw.settings.demo_data_dir / "civil.db")
    try:
        ((number,),) = civil.execute(
            "SELECT id_number FROM dibao_recipients ORDER BY rowid LIMIT 1 OFFSET ?", (offset,)
        ).fetchall()
    finally:
        civil.close()
    return str(number)


DIBAO = "civil.dibao_recipients"


def dibao_ids_body(case_ref: str, limit: int) -> dict[str, Any]:
    """A query of the dibao roll's ID numbers and counties under ``case_ref``."""
    return {"purpose": "supervision", "case_ref": case_ref, "limit": limit,
            "fields": ["id_number", "region_code"]}  # fmt: skip
