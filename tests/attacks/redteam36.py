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


def _dibao_one(gw: DemoGateway, where: str, params: tuple[Any, ...]) -> str:
    civil = sqlite3.connect(gw.settings.demo_data_dir / "civil.db")
    try:
        ((number,),) = civil.execute(
            f"SELECT id_number FROM dibao_recipients {where} ORDER BY rowid LIMIT 1 OFFSET ?",
            params,
        ).fetchall()
    finally:
        civil.close()
    return str(number)


def dibao_number(gw: DemoGateway, offset: int) -> str:
    """The ID number of the dibao roll's row at ``offset``, in the order the source reads
    it to an analyst of every county (SQLite's rowid order)."""
    return _dibao_one(gw, "", (offset,))


def dibao_number_in(gw: DemoGateway, county: str) -> str:
    """The ID number of the dibao roll's first row in ``county`` (a region-code prefix),
    the first row an analyst reading that county is given."""
    return _dibao_one(gw, "WHERE region_code LIKE ?", (county + "%", 0))


DIBAO = "civil.dibao_recipients"


def dibao_ids_body(case_ref: str, limit: int) -> dict[str, Any]:
    """A query of the dibao roll's ID numbers and counties under ``case_ref``."""
    return {"purpose": "supervision", "case_ref": case_ref, "limit": limit,
            "fields": ["id_number", "region_code"]}  # fmt: skip
