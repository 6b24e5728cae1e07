"""Every timestamp in every response is RFC 3339 in UTC with ``Z`` and microseconds,
the audit trail's own style (issue 16): declared so in the OpenAPI document, and so in
real responses of the demo — access requests (with approvals), sources, catalog
entries, audit events, alerts, users, emergency actions."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest
from pydantic import BaseModel

from catalog.timestamps import RFC3339_UTC, UtcDatetime, utc_text
from tests.gateway.demo_app import DemoGateway

DIBAO = "civil.dibao_recipients"
CASE = {"purpose": "supervision", "case_ref": "JW-2026-001"}
# anything a client would take for a date-time, in whatever style
LOOKS_LIKE_TIME = re.compile(r"^\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}")
CANONICAL = re.compile(RFC3339_UTC)


def _strings(value: Any, path: str = "$") -> Iterator[tuple[str, str]]:
    if isinstance(value, dict):
        for key, item in value.items():
            yield from _strings(item, f"{path}.{key}")
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from _strings(item, f"{path}[{index}]")
    elif isinstance(value, str):
        yield path, value


def _check(body: Any, where: str) -> int:
    """Every time-like string is canonical; returns how many were seen."""
    seen = 0
    for path, text in _strings(body):
        if LOOKS_LIKE_TIME.match(text):
            seen += 1
            assert CANONICAL.match(text), f"{where} {path} = {text!r}"
    return seen


class _Probe(BaseModel):
    at: UtcDatetime


@pytest.mark.parametrize("given", [
    datetime(2026, 1, 2, 3, 4, 5),  # naive: UTC, as SQLite hands it back
    datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC),
    datetime(2026, 1, 2, 11, 4, 5, tzinfo=timezone(timedelta(hours=8))),
    "2026-01-02T03:04:05+00:00",
    "2026-01-02T03:04:05Z",
])  # fmt: skip
def test_one_style_whatever_comes_in(given: Any) -> None:
    assert _Probe(at=given).model_dump(mode="json") == {"at": "2026-01-02T03:04:05.000000Z"}
    assert utc_text(_Probe(at=given).at) == "2026-01-02T03:04:05.000000Z"


def test_openapi_declares_every_datetime_canonical(gw_sqlite: DemoGateway) -> None:
    doc = gw_sqlite.client.get("/openapi.json").json()
    loose = []
    for name, schema in doc["components"]["schemas"].items():
        for path, text in _strings(schema):
            if path.endswith(".format") and text == "date-time":
                owner = path.rsplit(".", 1)[0]
                found = dict(_strings(schema))
                if found.get(owner + ".pattern") != RFC3339_UTC:
                    loose.append(f"{name} {owner}")
    assert not loose, loose


def test_real_responses_use_one_style(gw_sqlite: DemoGateway) -> None:
    gw = gw_sqlite
    asked = gw.client.post("/api/v1/access-requests", headers=gw.headers("alice"), json={
        "dataset": DIBAO, "fields": ["phone"], "days": 7,
        "justification": "verify contact of suspected duplicate claimant", **CASE})  # fmt: skip
    assert asked.status_code == 201, asked.text
    approved = gw.client.post(f"/api/v1/access-requests/{asked.json()['id']}/approve",
                              headers=gw.headers("carl"))  # fmt: skip
    assert approved.status_code == 200, approved.text
    assert approved.json()["approvals"], "an approval with its moment"
    gw.query("alice", DIBAO, {"limit": 1, **CASE})
    frozen = gw.client.post(f"/api/v1/datasets/{DIBAO}/freeze", headers=gw.headers("sam"),
                            json={"reason": "timestamp contract test"})  # fmt: skip
    gets = [
        ("alice", "/api/v1/access-requests"),
        ("carl", f"/api/v1/access-requests/{asked.json()['id']}"),
        ("carl", "/api/v1/sources"),
        ("carl", "/api/v1/sources/civil-db"),
        ("alice", "/api/v1/catalog"),
        ("alice", f"/api/v1/catalog/{DIBAO}"),
        ("sam", "/api/v1/audit/events"),
        ("sam", "/api/v1/audit/alerts"),
        ("root", "/api/v1/admin/users"),
    ]
    seen = _check(approved.json(), "approve") + _check(frozen.json(), "freeze")
    for who, url in gets:
        resp = gw.client.get(url, headers=gw.headers(who))
        assert resp.status_code == 200, (url, resp.text)
        seen += _check(resp.json(), url)
    assert seen > 10


@pytest.mark.parametrize("subject", ["alice", "carl", "sam", "root"])
def test_every_listed_get_answers_in_one_style(gw_sqlite: DemoGateway, subject: str) -> None:
    """Every GET of the document without a path parameter, as each role: whatever
    answers 200 in JSON has only canonical timestamps."""
    doc = gw_sqlite.client.get("/openapi.json").json()
    answered = 0
    for path, item in doc["paths"].items():
        if "get" not in item or "{" in path:
            continue
        resp = gw_sqlite.client.get(path, headers=gw_sqlite.headers(subject))
        kind = resp.headers.get("content-type", "")
        if resp.status_code != 200 or "json" not in kind:
            continue
        answered += 1
        bodies = ([json.loads(line) for line in resp.text.splitlines() if line]
                  if "ndjson" in kind else [resp.json()])  # fmt: skip
        for body in bodies:
            _check(body, f"{subject} GET {path}")
    assert answered >= 3
