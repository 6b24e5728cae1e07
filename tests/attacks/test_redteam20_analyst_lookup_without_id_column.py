"""Red team 20, analyst: "who looked up whom" misses a lookup whose answer leaves the ID
number out.

Rule (README, "Who looked up whom"): queries record the subject tokens of the people
whose records they returned, and the per-user baseline learns the counties a user read
(``unusual_counties``), so an officer finds every lookup of one person
(``POST /api/v1/audit/lookups``) and an access outside a user's usual counties.

Attack: the tokens and counties were taken from the columns the analyst asked for. alice,
granted phone numbers in clear (the README's own example), asked for ``name`` and
``phone`` only: the people whose phones she received were not named on the trail
(``subject_tokens: []``), and the officer's lookup of one of them found nothing. arthur
read the roll's amounts without ``region_code``: no county on record. The gateway now
reads an entry's ID-number and region fields beside what was asked (never sent), for the
trail alone.
"""

from __future__ import annotations

import sqlite3
import time
from typing import Any

from gateway.enforcement.query.subjects import subject_token
from tests.attacks.test_insider_entry_replay import _civil_db
from tests.gateway.demo_app import DemoGateway

DIBAO = "civil.dibao_recipients"
CASE = {"purpose": "supervision", "case_ref": "JW-RT20-LOOKUP"}


def _completed(gw: DemoGateway, request_id: str) -> dict[str, Any]:
    found = [e for e in gw.request_events(request_id, 2) if e["type"] == "query.completed"]
    assert found, request_id
    return found[0]


def _ids_with_phones(gw: DemoGateway, phones: list[str]) -> list[str]:
    marks = ", ".join("?" for _ in phones)
    with sqlite3.connect(_civil_db(gw)) as conn:
        rows = conn.execute(f"SELECT id_number FROM dibao_recipients WHERE phone IN ({marks})",
                            phones).fetchall()  # fmt: skip
    return [str(r[0]) for r in rows]


def test_people_whose_phones_were_read_are_named_on_the_trail(deployment: DemoGateway) -> None:
    gw = deployment
    asked = gw.client.post("/api/v1/access-requests", headers=gw.headers("alice"), json={
        "dataset": DIBAO, "fields": ["phone"], "justification": "contact claimants",
        "days": 1, **CASE})  # fmt: skip
    assert asked.status_code == 201, asked.text
    approved = gw.client.post(f"/api/v1/access-requests/{asked.json()['id']}/approve",
                              headers=gw.headers("carl"))  # fmt: skip
    assert approved.status_code == 200, approved.text
    resp = gw.query("alice", DIBAO, {"fields": ["name", "phone"], "unmask": ["phone"],
                                     "limit": 3, **CASE})  # fmt: skip
    assert resp.status_code == 200, resp.text
    assert [c["name"] for c in resp.json()["columns"]] == ["name", "phone"]
    assert all(set(row) == {"name", "phone"} for row in resp.json()["rows"]), resp.text
    phones = [row["phone"] for row in resp.json()["rows"]]
    people = _ids_with_phones(gw, phones)
    assert people
    completed = _completed(gw, resp.headers["x-request-id"])
    named = set(completed["details"]["subject_tokens"])
    assert {subject_token(gw.settings.home, p) for p in people} & named, completed["details"]
    time.sleep(0.1)
    lookups = gw.client.post("/api/v1/audit/lookups", json={"id_number": people[0]},
                             headers=gw.headers("sam"))  # fmt: skip
    assert lookups.status_code == 200, lookups.text
    found = {e.get("request_id") for e in lookups.json()["items"]}
    assert resp.headers["x-request-id"] in found, lookups.text[:500]


def test_the_counties_read_are_on_record_without_the_region_field(deployment: DemoGateway) -> None:
    gw = deployment
    resp = gw.query("arthur", DIBAO, {"fields": ["monthly_amount"], "limit": 5, **CASE})
    assert resp.status_code == 200, resp.text
    assert all(set(row) == {"monthly_amount"} for row in resp.json()["rows"]), resp.text
    completed = _completed(gw, resp.headers["x-request-id"])
    assert completed["details"].get("counties"), completed["details"]
