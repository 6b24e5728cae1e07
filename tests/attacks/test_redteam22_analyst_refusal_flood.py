"""Red team 22, as an analyst: write the append-only audit trail at the speed of the
network, with requests that are refused before anything else counts them.

Rule (THREAT_MODEL, out of scope: "Availability against a determined denial-of-service
attacker (rate limits bound each user ...)"): what one user can make the gateway do is
bounded by their rate limit (``SLUICE_RATE_LIMIT``). Every authenticated refusal is a
``request.refused`` event in a trail no one may ever shrink (issue 11, class 8), and
the live alert runner keeps the last day's events in memory.

Attack: alice sends bodies the validator rejects (400), paths that do not exist (404)
and methods a path does not take (405), as fast as the gateway answers: each one is a
durable, hash-chained, witnessed event. On the demo gateway one analyst wrote about 450
events a second this way (700 requests in 1.6 s: 700 events), 39 million a day, and
the rate limit, counted by the query broker only, never saw them. The trail's store
filling is every user's outage (the gateway fails closed when it cannot append).

Expected: a user's refusals are recorded one by one up to their rate limit; past it, the
first one says so on the trail (``throttled``) and the rest are counted, not recorded,
until the window turns: the next refusal recorded carries how many were left out
(``unrecorded_refusals``). Nothing refused is lost from the count, and the trail grows
by the rate limit at most.
"""

from __future__ import annotations

import time
from typing import Any

import pytest

from audit.search import EventFilter, list_events
from tests.attacks.deployments import rate_limited_fixture
from tests.gateway.demo_app import DemoGateway

# one worker, in file order: the later tests count what the first sent on the same
# module-scoped gateway (spread over xdist workers, a later one met a fresh gateway)
pytestmark = pytest.mark.xdist_group("redteam22-refusal-flood")

RATE = 20
WINDOW_S = 5  # SLUICE_RATE_LIMIT "20 per 5 seconds": the test waits for it to turn
SENT = 150


gw = rate_limited_fixture("redteam22-flood", rate=RATE, window_s=WINDOW_S)


def _refusals(gw: DemoGateway, subject: str) -> list[dict[str, Any]]:
    page = list_events(store=gw.services.audit.store,
                       filters=EventFilter(type="request.refused", actor=subject),
                       limit=1000, order="asc")  # fmt: skip
    return list(page["items"])


def _flood(gw: DemoGateway, subject: str, n: int) -> list[int]:
    headers = gw.headers(subject)
    statuses = []
    for i in range(n):
        kind = i % 3
        if kind == 0:  # a body the validator rejects
            resp = gw.client.post("/api/v1/datasets/civil.dibao_recipients/query",
                                  headers=headers, json={"fields": 1})  # fmt: skip
        elif kind == 1:  # a path no route takes
            resp = gw.client.get(f"/api/v1/nothing-{i}", headers=headers)
        else:  # a method the path does not take
            resp = gw.client.delete("/api/v1/catalog", headers=headers)
        statuses.append(resp.status_code)
    return statuses


def _spend(gw: DemoGateway, subject: str) -> int:
    """Refusals of ``subject`` until one is counted, not recorded (a plain 429): their
    budget is spent in the window they are in now, wherever that window began."""
    sent, status = 0, 0
    while status != 429:
        assert sent < 10 * RATE, "no refusal was ever counted instead of recorded"
        (status,) = _flood(gw, subject, 1)
        sent += 1
    return sent


def test_one_users_refusals_are_recorded_up_to_their_rate_then_counted(gw: DemoGateway) -> None:
    before = len(_refusals(gw, "alice"))
    started = time.monotonic()
    statuses = _flood(gw, "alice", SENT)
    took = time.monotonic() - started
    # answered as ever while recorded, a plain 429 once counted only
    assert set(statuses) <= {400, 404, 405, 422, 429}, statuses
    recorded = _refusals(gw, "alice")[before:]
    assert statuses.count(429) == SENT - len(recorded), (statuses, len(recorded))
    # the rate's worth one by one in each window the flood lasted, and in each the one
    # that says the rest are counted
    windows = 1 + int(took // WINDOW_S)
    assert len(recorded) <= windows * (RATE + 1), (len(recorded), took)
    assert any(e["details"].get("throttled") for e in recorded), recorded[-3:]


def test_the_refusals_left_out_are_counted_on_the_next_record(gw: DemoGateway) -> None:
    """Another user is not throttled by alice's flood; alice's next recorded refusal,
    once her window turned, says how many were left out: none is lost from the count."""
    assert _flood(gw, "dora", 3) and len(_refusals(gw, "dora")) == 3
    # alice past her budget in the window she is in now (on a busy machine the first
    # test's flood may have ended in a window it did not fill): until a plain 429
    more = _spend(gw, "alice")
    time.sleep(WINDOW_S + 0.5)  # alice's window turns
    gw.client.get("/api/v1/nothing-after", headers=gw.headers("alice"))
    recorded = _refusals(gw, "alice")
    assert recorded[-1]["details"]["path"] == "/api/v1/nothing-after", recorded[-1]
    assert recorded[-1]["details"].get("unrecorded_refusals"), recorded[-1]
    counted = sum(1 + e["details"].get("unrecorded_refusals", 0) for e in recorded)
    assert counted == SENT + more + 1, (counted, len(recorded))


def test_queries_the_broker_refuses_are_counted_past_the_rate_too(gw: DemoGateway) -> None:
    """The broker's own refusals (``query.denied``): past the rate limit every query is
    refused (429) and was recorded one by one all the same, so the rate limit bounded
    the answers, never the trail. They share the user's refusal budget now."""
    body = {"purpose": "supervision", "case_ref": "JW-2026-022", "fields": ["region_code"]}
    statuses = [gw.query("arthur", "civil.dibao_recipients", body).status_code
                for _ in range(SENT)]  # fmt: skip
    assert statuses.count(429) >= SENT - 2 * RATE, statuses
    page = list_events(store=gw.services.audit.store,
                       filters=EventFilter(type="query.denied", actor="arthur"),
                       limit=1000, order="asc")  # fmt: skip
    denied = page["items"]
    assert len(denied) <= 2 * (RATE + 1), len(denied)


def test_past_the_budget_a_refusal_tells_nothing_it_did_not_record(gw: DemoGateway) -> None:
    """A refusal counted, not recorded, must not answer what a recorded one would: else a
    flood first, then probes (another department's entry ids, policy reasons) learn
    what they ask unseen. Past the budget a refused request is answered 429 alone, and
    the broker counts the rate before the role, so no refusal it sends carries more."""
    _spend(gw, "sam")  # a user of their own: no window to wait for
    probe = gw.client.get("/api/v1/catalog/finance.no_such_entry", headers=gw.headers("sam"))
    assert probe.status_code == 429, (probe.status_code, probe.text)
    assert "no_such_entry" not in probe.text, probe.text
    # what succeeds is answered (and recorded where it is) as ever
    assert gw.client.get("/api/v1/me", headers=gw.headers("sam")).status_code == 200
    # a steward asking for data without the analyst role: the rate counts first
    body = {"purpose": "supervision", "case_ref": "JW-2026-022", "fields": ["region_code"]}
    answers = [gw.query("carl", "civil.dibao_recipients", body) for _ in range(RATE + 10)]
    assert {a.status_code for a in answers[RATE + 2 :]} == {429}, [a.status_code for a in answers]
    assert all("role" not in a.text for a in answers[RATE + 2 :]), answers[-1].text
    # and a query the policy would refuse, sent once the budget is spent, says 429 alone
    _spend(gw, "alice")
    above = {
        "purpose": "supervision",
        "case_ref": "JW-2026-022",
        "fields": ["id_number"],
        "where": [{"field": "id_number", "op": "prefix", "value": "4301"}],
    }
    refused = gw.query("alice", "civil.dibao_recipients", above)
    assert refused.status_code == 429, (refused.status_code, refused.text)
    assert "id_number" not in refused.text, refused.text
