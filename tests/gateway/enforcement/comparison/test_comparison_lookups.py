"""Who looked up whom covers comparisons: ``comparison.completed`` names the matched
people by their subject tokens (gateway-wide HMAC tokens, never ID numbers; at most
1000), and a security officer's search for the lookups of a person finds the
comparisons that matched them — through the HTTP API."""

from __future__ import annotations

import re
import sqlite3
from collections.abc import Iterator
from typing import Any

import pytest

from tests.gateway.demo_app import DemoGateway, demo_gateway

PAYROLL = "finance.payroll"
DIBAO = "civil.dibao_recipients"
COMPARISON: dict[str, Any] = {
    "left": {"dataset": PAYROLL, "key": "id_number", "fields": ["name", "employer"]},
    "right": {
        "dataset": DIBAO, "key": "id_number", "fields": ["monthly_amount"],
        "where": [{"field": "status", "op": "=", "value": "active"}],
    },
    "purpose": "supervision", "case_ref": "JW-LOOKUP-1",
}  # fmt: skip
# bounded by non-hex characters: 18 digits in a row occur by chance inside a hex token or hash
ID_NUMBER = re.compile(r"(?<![0-9a-fA-F])\d{17}[\dX](?![0-9a-fA-F])")


@pytest.fixture(scope="module")
def gw(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DemoGateway]:
    with demo_gateway(tmp_path_factory.mktemp("gw-lookups")) as gw:
        yield gw


def _people(gw: DemoGateway) -> tuple[list[str], str]:
    """ID numbers the comparison matches (from the sources directly), and one active
    dibao recipient it does not match."""
    data = gw.settings.demo_data_dir
    db = sqlite3.connect(data / "finance.db")
    try:
        db.execute("ATTACH DATABASE ? AS civil", (str(data / "civil.db"),))
        matched = [r[0] for r in db.execute(
            "SELECT DISTINCT p.id_number FROM payroll p JOIN civil.dibao_recipients d "
            "ON d.id_number = p.id_number WHERE d.status = 'active' ORDER BY 1")]  # fmt: skip
        other = db.execute(
            "SELECT id_number FROM civil.dibao_recipients WHERE status = 'active' AND "
            "id_number NOT IN (SELECT id_number FROM payroll) LIMIT 1").fetchone()[0]  # fmt: skip
    finally:
        db.close()
    return matched, other


def _completed(gw: DemoGateway, request_id: str) -> dict[str, Any]:
    events = gw.request_events(request_id, 6)
    found = [e for e in events if e["type"] == "comparison.completed"]
    assert len(found) == 1, [e["type"] for e in events]
    return found[0]


def _lookups(gw: DemoGateway, id_number: str) -> dict[str, Any]:
    resp = gw.client.post("/api/v1/audit/lookups", json={"id_number": id_number},
                          headers=gw.headers("sam"))  # fmt: skip
    assert resp.status_code == 200, resp.text
    body: dict[str, Any] = resp.json()
    return body


def test_comparison_matches_are_lookups_of_those_people(gw: DemoGateway) -> None:
    matched, other = _people(gw)
    assert matched, "the demo data plants matches"
    resp = gw.compare("dora", COMPARISON)
    assert resp.status_code == 200, resp.text
    request_id = resp.headers["X-Request-Id"]
    completed = _completed(gw, request_id)
    details = completed["details"]
    tokens = details["subject_tokens"]
    assert len(tokens) == len(matched) == details["matches"]
    assert all(t.startswith("tk_") for t in tokens) and len(set(tokens)) == len(tokens)
    assert details["subject_tokens_truncated"] is False
    assert details["self_hash_hit"] is False
    # tokens, never the numbers (in the event as read through the API, too)
    raw = gw.client.get(f"/api/v1/audit/events/{completed['seq']}", headers=gw.headers("sam"))
    assert raw.status_code == 200 and not ID_NUMBER.search(raw.text), raw.text

    # the officer asks who looked up one matched person: the comparison is there
    person = matched[0]
    found = _lookups(gw, person)
    assert found["subject_token"] in tokens
    hits = {(e["type"], e["request_id"]) for e in found["items"]}
    assert ("comparison.completed", request_id) in hits
    assert person not in str(found)
    # the same search by token, on the events endpoint
    resp = gw.client.get("/api/v1/audit/events", params={"subject_token": found["subject_token"],
                         "type": "comparison.completed"}, headers=gw.headers("sam"))  # fmt: skip
    assert resp.status_code == 200, resp.text
    assert [e["request_id"] for e in resp.json()["items"]] == [request_id]
    # the search itself is on record, by token only
    reads = gw.client.get("/api/v1/audit/events", params={"type": "audit.read", "limit": 5},
                          headers=gw.headers("sam")).json()["items"]  # fmt: skip
    assert any(e["details"].get("lookups_of") == found["subject_token"] for e in reads)
    assert not any(person in str(e) for e in reads)

    # someone the comparison read on one side but did not match: no comparison lookup
    # (the side's read is there, marked as not delivered)
    unmatched = _lookups(gw, other)
    assert unmatched["subject_token"] not in tokens
    assert not [e for e in unmatched["items"] if e["type"] == "comparison.completed"]
    assert all(e["details"].get("delivered") is False for e in unmatched["items"]
               if e.get("request_id", "").startswith(request_id))  # fmt: skip


def test_only_the_matches_sent_are_named(gw: DemoGateway) -> None:
    resp = gw.compare("dora", {**COMPARISON, "limit": 1})
    assert resp.status_code == 200, resp.text
    details = _completed(gw, resp.headers["X-Request-Id"])["details"]
    assert details["matches"] == 1 and len(details["subject_tokens"]) == 1


@pytest.mark.parametrize(
    ("method", "path", "kwargs"),
    [
        ("get", "/api/v1/audit/events", {"params": {"subject_token": "tk_%25"}}),
        ("get", "/api/v1/audit/events", {"params": {"subject_token": "x" * 100}}),
        ("post", "/api/v1/audit/lookups", {"json": {"id_number": ""}}),
        ("post", "/api/v1/audit/lookups", {"json": {"id_number": "1", "extra": 1}}),
    ],
)  # fmt: skip
def test_bad_lookups_are_4xx(gw: DemoGateway, method: str, path: str,
                             kwargs: dict[str, Any]) -> None:  # fmt: skip
    resp = getattr(gw.client, method)(path, headers=gw.headers("sam"), **kwargs)
    assert resp.status_code in (400, 422), resp.text


def test_analysts_cannot_search_lookups(gw: DemoGateway) -> None:
    resp = gw.client.post("/api/v1/audit/lookups", json={"id_number": "110105199001011234"},
                          headers=gw.headers("dora"))  # fmt: skip
    assert resp.status_code == 403, resp.text
