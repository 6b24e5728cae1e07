"""A suspended user's requests are refused with the reason code ``account_disabled``
(403, the shape of a policy refusal: ``details.reason_codes``), through the HTTP API,
whatever token they hold; lifting the suspension restores access."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from policies.reasons import CODES
from tests.gateway.demo_app import DemoGateway, demo_gateway

DIBAO = "civil.dibao_recipients"
QUERY = {"purpose": "supervision", "case_ref": "JW-2026-001", "fields": ["region_code"],
         "limit": 1}  # fmt: skip
WHY = {"reason": "alert: bulk pull at night"}


@pytest.fixture(scope="module")
def gw(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DemoGateway]:
    with demo_gateway(tmp_path_factory.mktemp("gw-disabled")) as gw:
        yield gw


def _refused(resp: Any) -> dict[str, Any]:
    assert resp.status_code == 403, resp.text
    body: dict[str, Any] = resp.json()
    assert body["code"] == "account_disabled"
    assert {"code": "account_disabled", "params": {}} in body["details"]["reason_codes"]
    return body


def test_a_suspended_user_is_refused_with_account_disabled(gw: DemoGateway) -> None:
    assert "account_disabled" in CODES and CODES["account_disabled"].category == "refusal"
    alice = gw.headers("alice")  # minted before the suspension, valid after it
    assert gw.query("alice", DIBAO, QUERY).status_code == 200
    resp = gw.client.post("/api/v1/users/alice/suspend", json=WHY, headers=gw.headers("sam"))
    assert resp.status_code == 200, resp.text
    try:
        body = _refused(gw.client.get("/api/v1/access-requests", headers=alice))
        assert WHY["reason"] not in str(body) and "sam" not in str(body)  # not told who/why
        _refused(gw.client.post(f"/api/v1/datasets/{DIBAO}/query", json=QUERY, headers=alice))
    finally:
        lifted = gw.client.post("/api/v1/users/alice/unsuspend", json={"reason": "cleared"},
                                headers=gw.headers("root"))  # fmt: skip
        assert lifted.status_code == 200, lifted.text
    assert gw.client.post(f"/api/v1/datasets/{DIBAO}/query", json=QUERY,
                          headers=alice).status_code == 200  # fmt: skip


def test_a_suspended_callers_query_is_refused_in_the_routes_own_thread(gw: DemoGateway) -> None:
    """The governed query resolves a known token's identity inside the route
    (``deferred_user``): a suspension still refuses the very next query with the token
    verified before it, and the one visible difference — a malformed body is answered by
    validation (400) before the store's 403 — is on record under the token's subject."""
    from audit.search import EventFilter, list_events

    alice = gw.headers("alice")
    url = f"/api/v1/datasets/{DIBAO}/query"
    assert gw.client.post(url, json=QUERY, headers=alice).status_code == 200  # token known
    resp = gw.client.post("/api/v1/users/alice/suspend", json=WHY, headers=gw.headers("sam"))
    assert resp.status_code == 200, resp.text
    try:
        body = _refused(gw.client.post(url, json=QUERY, headers=alice))
        assert "rows" not in body
        bad = gw.client.post(url, json={**QUERY, "limit": "many"}, headers=alice)
        assert bad.status_code == 400 and bad.json()["code"] == "bad_request", bad.text
        page = list_events(store=gw.services.audit.store, filters=EventFilter(), limit=5,
                           order="desc")  # fmt: skip
        newest = page["items"][0]
        assert newest["type"] == "request.refused"
        assert newest["actor"]["sub"] == "alice" and newest["details"]["status"] == 400
    finally:
        lifted = gw.client.post("/api/v1/users/alice/unsuspend", json={"reason": "cleared"},
                                headers=gw.headers("root"))  # fmt: skip
        assert lifted.status_code == 200, lifted.text
    assert gw.client.post(url, json=QUERY, headers=alice).status_code == 200
