"""Red team 16: the governed query's lean path skipped the gateway's text guard.

Every JSON body and every path and query parameter holding a NUL or a lone surrogate is
a 400 before any route reads it (``gateway.web.text_guard``, an application-wide
FastAPI dependency): PostgreSQL refuses NUL in text, the policy engine takes C strings.
The query route's lean path (79f1ca3) reads its inputs itself when a request is plainly
well-formed, skipping FastAPI's dependency solving, and with it that guard: an analyst's
plain ``application/json`` query with a NUL in a filter's value was answered (200) with
rows, and one naming ``civil.dibao%00x`` made the PostgreSQL deployment's catalog read
fail (a 500) where FastAPI's handler answers 400, on record.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from audit.search import EventFilter, list_events
from tests.gateway.demo_app import DemoGateway

DIBAO = "civil.dibao_recipients"
OK = {"fields": ["name", "region_code"], "limit": 2, "purpose": "supervision",
      "case_ref": "JW-2026-001"}  # fmt: skip
GUARD = "text holding a NUL character or a lone surrogate is refused"

CASES: list[tuple[str, str, Any, str]] = [
    # (label, dataset as sent in the path, body (text when str), query string)
    ("nul in a filter value", DIBAO,
     {**OK, "where": [{"field": "region_code", "op": "=", "value": "430121\u0000"}]}, ""),
    ("lone surrogate in a filter value", DIBAO,
     '{"fields": ["name"], "limit": 2, "purpose": "supervision", "case_ref": "JW-2026-001",'
     ' "where": [{"field": "region_code", "op": "prefix", "value": "43\\udc00"}]}', ""),
    ("nul in a field name", DIBAO, {**OK, "fields": ["na\u0000me"]}, ""),
    ("nul in the dataset id", "civil.dibao%00x", OK, ""),
    ("nul in a query parameter", DIBAO, OK, "note=%00"),
]  # fmt: skip


@pytest.mark.parametrize(("label", "dataset", "body", "query"), CASES,
                         ids=[c[0] for c in CASES])  # fmt: skip
def test_a_plain_json_query_meets_the_text_guard(
    deployment: DemoGateway, label: str, dataset: str, body: Any, query: str
) -> None:
    text = body if isinstance(body, str) else json.dumps(body)
    headers = {**deployment.headers("alice"), "content-type": "application/json"}
    url = f"/api/v1/datasets/{dataset}/query" + (f"?{query}" if query else "")
    resp = deployment.client.post(url, content=text.encode("utf-8", "surrogatepass"),
                                  headers=headers)  # fmt: skip
    assert resp.status_code == 400, (label, resp.status_code, resp.text[:300])
    assert resp.json()["message"] == GUARD, (label, resp.text[:300])
    page = list_events(store=deployment.services.audit.store,
                       filters=EventFilter(type="request.refused"), limit=1,
                       order="desc")  # fmt: skip
    event = page["items"][0]
    assert event["actor"]["sub"] == "alice"
    assert event["details"]["status"] == 400
