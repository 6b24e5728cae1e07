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
