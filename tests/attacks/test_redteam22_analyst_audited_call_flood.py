"""Red team 31 (left by red team 22), as an analyst: write the append-only audit trail
at the speed of the network with calls that *succeed*.

Rule (THREAT_MODEL, out of scope: "Availability against a determined denial-of-service
attacker (rate limits bound each user ...)"): what one user can make the gateway do is
bounded by their rate limit (``SLUICE_RATE_LIMIT``). Red team 22 bounded refusals and
queries; every other audited call was not counted by anything.

Attack: dora reads the hit list of her own comparison run again and again (each read is
a durable, chained, witnessed ``comparison_run.hits_read``), and alice files access
requests as fast as the gateway answers (each an ``access.requested``). Before: every
one succeeded and every one was an event, 150 of 150.

Expected: an audited call counts on the user's rate like a query: past it the call is
refused with a clear JSON 429 (``rate_limited``), nothing is done and nothing is
recorded but what red team 22's refusal budget records; the trail grows by the rate
limit at most; another user is not affected.
"""

from __future__ import annotations

import time
from typing import Any

import pytest

from audit.search import EventFilter, list_events
from tests.attacks.deployments import fresh_rate_window, rate_limited_fixture
from tests.gateway.comparison_env import hits, run_to_end
from tests.gateway.demo_app import DemoGateway

pytestmark = pytest.mark.xdist_group("ops31-audited-flood")

# SLUICE_RATE_LIMIT "20 per 60 seconds"; calls sent. The window holds the whole flood on a
# loaded machine too: with 5 s, reads answered in 0.5 s each (load 11, stop 35) never
# passed the rate within a window, and the flood met no 429 to check
RATE, WINDOW_S, SENT = 20, 60, 120


gw = rate_limited_fixture("rt31", rate=RATE, window_s=WINDOW_S)


def _events(gw: DemoGateway, type_: str, actor: str) -> list[dict[str, Any]]:
    page = list_events(store=gw.services.audit.store,
                       filters=EventFilter(type=type_, actor=actor),
                       limit=1000, order="asc")  # fmt: skip
    return list(page["items"])


def _bounded(gw: DemoGateway, statuses: list[int], took: float, type_: str, actor: str,
             before: int) -> None:  # fmt: skip
    """The successes are the events, at most the rate's worth in each window the flood
    lasted; the rest were answered 429; the refusals are bounded by red team 22's budget."""
    windows = 1 + int(took // WINDOW_S)
    recorded = len(_events(gw, type_, actor)) - before
    assert recorded == statuses.count(200) + statuses.count(201), (recorded, statuses)
    assert recorded <= windows * RATE, (recorded, took)
    assert statuses.count(429) >= SENT - windows * RATE, statuses
    refused = _events(gw, "request.refused", actor)
    assert len(refused) <= windows * (RATE + 1), len(refused)


def test_a_hit_list_read_again_and_again_is_bounded_by_the_rate(gw: DemoGateway) -> None:
    run = run_to_end(gw, "dora", "demo.payroll_on_dibao")
    assert run["status"] == "done", run
    fresh_rate_window(gw)  # the run's own calls out of the count
    before = len(_events(gw, "comparison_run.hits_read", "dora"))
    started = time.monotonic()
    answers = [hits(gw, "dora", run["id"]) for _ in range(SENT)]
    took = time.monotonic() - started
    statuses = [a.status_code for a in answers]
    assert set(statuses) <= {200, 429}, statuses
    _bounded(gw, statuses, took, "comparison_run.hits_read", "dora", before)
    past = next(a for a in answers if a.status_code == 429)
    assert past.json()["code"] == "rate_limited", past.text
    assert "message" in past.json(), past.text
    # another user is not affected by dora's flood
    assert gw.client.get("/api/v1/access-requests", headers=gw.headers("alice")).status_code == 200
    assert _ask(gw, "alice", "JW-RT31-OTHER").status_code == 201


def _ask(gw: DemoGateway, subject: str, case_ref: str) -> Any:
    return gw.client.post("/api/v1/access-requests", headers=gw.headers(subject), json={
        "dataset": "civil.dibao_recipients", "fields": ["phone"], "justification": "x",
        "days": 5, "purpose": "supervision", "case_ref": case_ref})  # fmt: skip


def test_access_requests_filed_as_fast_as_the_gateway_answers_are_bounded(
    gw: DemoGateway,
) -> None:
    fresh_rate_window(gw)  # alice's earlier call out of the count
    before = len(_events(gw, "access.requested", "alice"))
    started = time.monotonic()
    statuses = [_ask(gw, "alice", f"JW-RT31-{i}").status_code for i in range(SENT)]
    took = time.monotonic() - started
    assert set(statuses) <= {201, 429}, statuses
    _bounded(gw, statuses, took, "access.requested", "alice", before)
    # dora, whose window turned, reads her runs as ever
    assert gw.client.get("/api/v1/comparison-runs", headers=gw.headers("dora")).status_code == 200


# counted by the broker itself, per query and per side of a comparison
BROKER_COUNTED = {"/api/v1/datasets/{dataset_id}/query", "/api/v1/comparisons"}


def test_every_state_changing_call_counts_on_the_rate(gw: DemoGateway) -> None:
    """Every authenticated call that changes state is audited: each one depends on
    ``audited_user`` (directly or through ``require``), so a new route is counted
    unless it is one the broker counts."""
    from gateway.web.console.openapi_security import _api_routes, _calls
    from gateway.web.current_user import audited_user, current_user, deferred_user

    # the routes inside included routers too: FastAPI >= 0.160 keeps each included router
    # as one ``_IncludedRouter`` item of ``app.routes``, so a walk of ``app.routes``
    # alone met no API route at all and this check passed on nothing (red team 29)
    uncounted, walked = [], set()
    for route in _api_routes(gw.client.app.routes):  # type: ignore[attr-defined]
        walked.add(route.path)
        if route.methods <= {"GET", "HEAD"}:
            continue
        calls = _calls(route.dependant)
        authenticated = calls & {current_user, deferred_user, audited_user}
        if authenticated and audited_user not in calls and route.path not in BROKER_COUNTED:
            uncounted.append((sorted(route.methods), route.path))
    assert walked >= BROKER_COUNTED, BROKER_COUNTED - walked  # the names still name routes
    assert "/api/v1/access-requests/{request_id}/approve" in walked, sorted(walked)
    assert not uncounted, uncounted
