"""Issue 11, class 8: refusals that never reach policy are on record too.

The attacker is an analyst probing the data endpoints for what exists — field names,
dataset ids, body shapes the validator accepts, the policy engine's failure modes —
hoping that anything refused before the policy decision leaves no trace. Every
authenticated request to a data endpoint must leave an audit event, whatever its
outcome: ``request.refused`` with status, code, path and actor (never the body).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest

from audit.search import EventFilter, list_events
from catalog.errors import Unavailable
from policies.decision import Decision, DecisionInput, DecisionPoint
from tests.gateway.demo_app import DemoGateway

DIBAO = "civil.dibao_recipients"
QUERY = f"/api/v1/datasets/{DIBAO}/query"
CASE = {"purpose": "supervision", "case_ref": "JW-2026-PROBE"}


def _refusals(gw: DemoGateway) -> list[dict[str, Any]]:
    page = list_events(store=gw.services.audit.store,
                       filters=EventFilter(type="request.refused"), limit=500)  # fmt: skip
    return list(page["items"])


def _newest(gw: DemoGateway) -> dict[str, Any]:
    page = list_events(store=gw.services.audit.store, filters=EventFilter(), limit=1,
                       order="desc")  # fmt: skip
    return dict(page["items"][0])


def _post(gw: DemoGateway, path: str, subject: str | None, content: bytes,
          content_type: str = "application/json") -> Any:  # fmt: skip
    headers = {"content-type": content_type}
    if subject:
        headers.update(gw.headers(subject))
    return gw.client.post(path, content=content, headers=headers)


def _assert_recorded(gw: DemoGateway, before: int, resp: Any, *, status: int, path: str,
                     subject: str = "alice") -> dict[str, Any]:  # fmt: skip
    assert resp.status_code == status, resp.text
    after = _refusals(gw)
    assert len(after) == before + 1, "exactly one refusal on record"
    event = _newest(gw)
    assert event["type"] == "request.refused"
    assert event["actor"]["sub"] == subject
    assert event["details"]["status"] == status
    assert event["details"]["path"] == path
    assert event["client"]
    return event


CASES: dict[str, tuple[str, bytes, str, int]] = {
    "unknown field": (QUERY, json.dumps({"fields": ["salary_secret"], **CASE}).encode(),
                      "application/json", 400),
    "unknown filter field": (QUERY, json.dumps({"where": [{"field": "x", "op": "=",
                             "value": 1}], **CASE}).encode(), "application/json", 400),
    "invalid body": (QUERY, json.dumps({"limit": "many", "sneaky": 1, **CASE}).encode(),
                     "application/json", 400),
    "malformed json": (QUERY, b'{"fields": [', "application/json", 400),
    "not json": (QUERY, b"fields=name", "text/plain", 400),
    "unknown dataset": ("/api/v1/datasets/civil.secret_table/query",
                        json.dumps({"limit": 1, **CASE}).encode(), "application/json", 404),
    "comparison invalid body": ("/api/v1/comparisons", json.dumps({"left": 1}).encode(),
                                "application/json", 400),
    "oversized body": (QUERY, json.dumps({"fields": ["x" * 100] * 20_000, **CASE}).encode(),
                       "application/json", 413),
}  # fmt: skip


@pytest.mark.parametrize("case", sorted(CASES))
def test_probe_is_on_record(deployment: DemoGateway, case: str) -> None:
    gw = deployment
    path, content, content_type, status = CASES[case]
    before = len(_refusals(gw))
    resp = _post(gw, path, "alice", content, content_type)
    event = _assert_recorded(gw, before, resp, status=status, path=path)
    recorded = json.dumps(event)
    assert "salary_secret" not in recorded or case == "unknown field"
    assert "x" * 100 not in recorded  # never the body


class _BrokenEngine(DecisionPoint):
    """A policy engine that fails as a broken bundle does: ``Unavailable``."""

    def decide(self, decision_input: DecisionInput) -> Decision:
        raise Unavailable("policy engine unavailable: bundle failed to compile")

    @property
    def policy_version(self) -> str:
        return "broken"


@pytest.fixture
def broken_engine(deployment: DemoGateway) -> Iterator[DemoGateway]:
    # the broker holds its decision point (not the Services bundle): break both
    broker = deployment.client.app.state.broker
    working = deployment.services.pdp
    deployment.services.pdp = broker.pdp = _BrokenEngine()
    try:
        yield deployment
    finally:
        deployment.services.pdp = broker.pdp = working


def test_policy_engine_failure_is_on_record(broken_engine: DemoGateway) -> None:
    gw = broken_engine
    before = len(_refusals(gw))
    resp = gw.query("alice", DIBAO, {"limit": 1, **CASE})
    event = _assert_recorded(gw, before, resp, status=503, path=QUERY)
    assert event["outcome"] == "error"
    assert event["details"]["code"] == "unavailable"


def test_policy_refusal_is_recorded_once(deployment: DemoGateway) -> None:
    """The broker's own denial is the record: no second ``request.refused``."""
    gw = deployment
    before = len(_refusals(gw))
    resp = gw.query("arthur", DIBAO, {"fields": ["phone"], **CASE})
    assert resp.status_code == 403
    assert _newest(gw)["type"] == "query.denied"
    assert len(_refusals(gw)) == before


def test_disabled_account_probing_is_on_record(deployment: DemoGateway) -> None:
    gw = deployment
    headers = gw.headers("arthur")
    gw.edit_user("arthur", status="disabled")
    try:
        before = len(_refusals(gw))
        resp = gw.client.post(QUERY, json={"limit": 1, **CASE}, headers=headers)
        event = _assert_recorded(gw, before, resp, status=403, path=QUERY, subject="arthur")
        assert event["details"]["code"] == "account_disabled"
    finally:
        gw.edit_user("arthur", status="active")


def test_unauthenticated_requests_are_not_written_to_the_trail(deployment: DemoGateway) -> None:
    """Anyone can send these: they are logged (rate-limited), not chained."""
    gw = deployment
    before = len(_refusals(gw))
    for headers in ({}, {"Authorization": "Bearer not-a-token"}):
        resp = gw.client.post(QUERY, content=b"{", headers=headers)
        assert resp.status_code in (400, 401)
    assert len(_refusals(gw)) == before
