"""Red team 13, as an analyst: read a person's record so that "who looked up whom" does
not find it.

Rule: a query records the subject tokens (keyed HMACs of the ID numbers) of the people
whose records it returned, and an officer finds every lookup of one person with
``POST /api/v1/audit/lookups`` (README, "Who looked up whom"); the own-records alert
reads the same list.

Attack: the list is capped at the first 1,000 people of a result
(``query.subjects.MAX_TOKENS``) and, unlike a comparison's (``subject_tokens_truncated``),
a query's event did not say it was cut. An L3 query may return 10,000 rows, below the
bulk-pull alert's 10,000 an hour: dora reads 3,000 rows of the dibao roll, and the
people after the first thousand are on the trail nowhere — sam's lookup of any of them
answers no event, and nothing tells him the list was incomplete.

Expected: a query whose token list was cut says so (``subject_tokens_truncated``), and a
lookup also lists the events whose token list was cut (the person may be among them),
so the officer's search misses no query that may have returned the person.
"""

from __future__ import annotations

import sqlite3

from tests.attacks.redteam36 import query_completed
from tests.gateway.demo_app import DemoGateway

DIBAO = "civil.dibao_recipients"
BODY = {"purpose": "supervision", "case_ref": "JW-2026-013", "limit": 3000,
        "fields": ["id_number", "region_code"]}  # fmt: skip


def test_people_beyond_the_first_thousand_are_found(deployment: DemoGateway) -> None:
    gw = deployment
    resp = gw.query("dora", DIBAO, BODY)
    assert resp.status_code == 200, resp.text[:300]
    assert resp.json()["row_count"] > 1000, resp.json()["row_count"]
    request_id = resp.headers["X-Request-Id"]
    details = query_completed(gw, request_id)["details"]
    recorded = set(details["subject_tokens"])
    assert details.get("subject_tokens_truncated") is True, sorted(details)
    # a person the result held whose token the list does not carry
    civil = sqlite3.connect(gw.settings.demo_data_dir / "civil.db")
    try:
        numbers = [r[0] for r in civil.execute("SELECT id_number FROM dibao_recipients")]
    finally:
        civil.close()
    subjects = gw.client.app.state.broker.subjects  # type: ignore[attr-defined]
    shown = {r["id_number"][:6] + r["id_number"][-4:] for r in resp.json()["rows"]}
    unseen = next(n for n in numbers
                  if subjects.token(n) not in recorded and n[:6] + n[-4:] in shown)  # fmt: skip
    found = gw.client.post("/api/v1/audit/lookups", json={"id_number": unseen},
                           headers=gw.headers("sam"))  # fmt: skip
    assert found.status_code == 200, found.text
    assert request_id in {e.get("request_id") for e in found.json()["items"]}, found.json()
