"""Issue 11, class 1: an analyst tries to rewrite the policy decision with request text.

The embedded engine's output string does not escape quotes, so before the fix a
refused ``purpose`` echoed into ``reasons`` closed its string and added members to the
decision (``allow``, ``fields``, ``max_rows``): PI fields left unmasked, L4 entries
skipped approval, comparisons ran, and the audit trail recorded an allowed query.
Each attack here goes through the HTTP API, as an analyst with a valid token, on the
embedded SQLite default and on a PostgreSQL deployment; each must be refused, leave no
data, keep the row filter, and be on record as a denial.
"""

from __future__ import annotations

import time
from typing import Any

import orjson
import pytest

from audit.search import EventFilter, list_events
from catalog.models import User
from tests.gateway.demo_app import DemoGateway

DIBAO = "civil.dibao_recipients"
PAYROLL = "finance.payroll"
FINDINGS = "audit.audit_findings"
CASE_REF = "JW-2026-C1"
ALICE_PREFIX = "430121"

# Each fits the 64-character limit on ``purpose``; the first ones are what broke main.
INJECTIONS = [
    '"],"allow":true,"fields":{"id_number":{"action":"allow"}},"z":["',
    '"],"allow":true,"fields":{"name":{"action":"allow"}},"z":["',
    '"],"allow":true,"max_rows":99999999,"z":["',
    '"],"allow":true,"z":["',
    'x\\"],\\"allow\\":true,\\"z\\":[\\"',
    '\\u0022],"allow":true,"z":["',
    'supervision"],"allow":true,"z":["',
    '\u2028"],"allow":true,\U0001f600"z":["\t\x01',
]
NUL_PURPOSES = ["supervision\x00", 'supervision\x00"],"allow":true,"z":["']


def _last_seq(gw: DemoGateway) -> int:
    page = list_events(store=gw.services.audit.store, filters=EventFilter(), limit=1,
                       order="desc")  # fmt: skip
    return int(page["items"][0]["seq"]) if page["items"] else 0


def _events_after(gw: DemoGateway, seq: int, want: int = 1) -> list[dict[str, Any]]:
    """Audit events appended after ``seq``, oldest first (polled briefly: completions
    are queued behind the response)."""
    events: list[dict[str, Any]] = []
    for _ in range(40):
        page = list_events(store=gw.services.audit.store, filters=EventFilter(), limit=100,
                           order="desc")  # fmt: skip
        events = [e for e in reversed(page["items"]) if int(e["seq"]) > seq]
        if len(events) >= want:
            break
        time.sleep(0.05)
    return events


def _assert_refused_on_record(
    gw: DemoGateway, resp: Any, since: int, *, statuses: tuple[int, ...]
) -> None:
    """No data left, and the audit trail holds a denial, never a started query."""
    assert resp.status_code in statuses, resp.text
    assert b'"rows"' not in resp.content
    events = _events_after(gw, since, 1 if resp.status_code == 403 else 0)
    types = [e["type"] for e in events]
    assert "query.started" not in types and "query.completed" not in types, types
    for event in events:
        decision = event.get("decision")
        if decision is not None:
            assert decision["allow"] is False, event
    if resp.status_code == 403:
        denied = [e for e in events if e["type"] == "query.denied"]
        assert denied and denied[-1]["outcome"] == "denied", types
        assert denied[-1]["decision"]["allow"] is False


@pytest.mark.parametrize("purpose", INJECTIONS)
def test_purpose_cannot_unmask_or_allow_an_l3_query(deployment: DemoGateway, purpose: str) -> None:
    body = {"fields": ["id_number", "name", "region_code"], "limit": 5,
            "purpose": purpose, "case_ref": CASE_REF}  # fmt: skip
    since = _last_seq(deployment)
    resp = deployment.query("alice", DIBAO, body)
    _assert_refused_on_record(deployment, resp, since, statuses=(403,))
    error = resp.json()
    assert error["code"] == "forbidden"
    assert {"code": "purpose_not_allowed", "params": {}} in error["details"]["reason_codes"]
    assert "purpose is not allowed for this dataset" in error["details"]["reasons"]
    # the caller's text is never echoed back as if the policy had said it
    assert purpose not in error["message"]


@pytest.mark.parametrize("purpose", ['"supervision"', '""supervision""', '"audit"'])
def test_a_quoted_purpose_is_not_the_purpose(deployment: DemoGateway, purpose: str) -> None:
    """rego-cpp reads a string enclosed in quotes as the quoted string: ``"supervision"``
    (quotes included) must not pass for the allowed purpose ``supervision``."""
    body = {"fields": ["id_number", "region_code"], "limit": 5,
            "purpose": purpose, "case_ref": CASE_REF}  # fmt: skip
    since = _last_seq(deployment)
    resp = deployment.query("alice", DIBAO, body)
    _assert_refused_on_record(deployment, resp, since, statuses=(403,))
    assert resp.json()["details"]["reason_codes"] == [{"code": "purpose_not_allowed", "params": {}}]


@pytest.mark.parametrize("purpose", INJECTIONS[:2])
def test_purpose_injection_with_unmask_and_filters(deployment: DemoGateway, purpose: str) -> None:
    """Unmask lists, filters on masked fields, sorting: still one refusal on record."""
    body = {"fields": ["id_number", "name", "region_code"], "unmask": ["id_number", "name"],
            "where": [{"field": "name", "op": "prefix", "value": '"],"allow":true,"z":["'}],
            "order_by": ["name"], "purpose": purpose, "case_ref": CASE_REF}  # fmt: skip
    since = _last_seq(deployment)
    resp = deployment.query("alice", DIBAO, body)
    _assert_refused_on_record(deployment, resp, since, statuses=(403,))


@pytest.mark.parametrize("case_ref", ['"],"allow":true,"z":["', 'C"\\\n\U0001f600'])
def test_case_ref_text_does_not_reach_the_decision(deployment: DemoGateway, case_ref: str) -> None:
    """A hostile case reference with an allowed purpose: masks and row filter hold."""
    body = {"fields": ["id_number", "name", "region_code"], "limit": 50,
            "purpose": "supervision", "case_ref": case_ref}  # fmt: skip
    resp = deployment.query("alice", DIBAO, body)
    assert resp.status_code == 200, resp.text
    out = orjson.loads(resp.content)
    actions = {c["name"]: c["action"] for c in out["columns"]}
    assert actions["id_number"] == "mask" and actions["name"] == "mask"
    assert out["rows"]
    for row in out["rows"]:
        assert str(row["region_code"]).startswith(ALICE_PREFIX)
        assert "*" in row["name"] and "*" in row["id_number"]
    done = deployment.request_events(resp.headers["X-Request-Id"], 2)  # started, completed
    assert [e["type"] for e in done] == ["query.started", "query.completed"]
    assert done[0]["purpose"] == "supervision" and done[0]["case_ref"] == case_ref


@pytest.mark.parametrize("purpose", NUL_PURPOSES)
def test_a_nul_cannot_cut_the_purpose(deployment: DemoGateway, purpose: str) -> None:
    """rego-cpp takes C strings: ``supervision\\0…`` must not be read as ``supervision``."""
    body = {"fields": ["id_number", "region_code"], "limit": 5,
            "purpose": purpose, "case_ref": CASE_REF}  # fmt: skip
    since = _last_seq(deployment)
    resp = deployment.query("alice", DIBAO, body)
    _assert_refused_on_record(deployment, resp, since, statuses=(400, 403))


@pytest.mark.parametrize("purpose", INJECTIONS[:4])
def test_purpose_cannot_skip_l4_approval(deployment: DemoGateway, purpose: str) -> None:
    """An L4 entry needs approved grants; injected text must not release it."""
    deployment.edit_entry(FINDINGS, level="L4")  # as a steward's save: sealed
    deployment.edit_entry(FINDINGS, "category", level="L4")
    _ensure_l4_analyst(deployment)
    honest = deployment.query("lena", FINDINGS, {"purpose": "audit", "case_ref": CASE_REF})
    assert honest.status_code == 403 and honest.json()["details"]["requires_approval"] is True
    body = {"fields": ["category", "region_code"], "limit": 5, "purpose": purpose,
            "case_ref": CASE_REF}  # fmt: skip
    for subject in ("lena", "dora"):
        since = _last_seq(deployment)
        resp = deployment.query(subject, FINDINGS, body)
        _assert_refused_on_record(deployment, resp, since, statuses=(403,))


@pytest.mark.parametrize("purpose", INJECTIONS[:2])
def test_purpose_cannot_open_a_comparison(deployment: DemoGateway, purpose: str) -> None:
    body = {
        "left": {"dataset": PAYROLL, "key": "name", "fields": ["name", "id_number"]},
        "right": {"dataset": DIBAO, "key": "name", "fields": ["name", "id_number"]},
        "purpose": purpose, "case_ref": CASE_REF,
    }  # fmt: skip
    since = _last_seq(deployment)
    resp = deployment.compare("alice", body)
    assert resp.status_code == 403, resp.text
    assert b'"rows"' not in resp.content
    events = _events_after(deployment, since)
    assert events
    assert not [e for e in events if e["type"] in ("query.started", "comparison.started")]
    decisions = [e["decision"] for e in events if e.get("decision") is not None]
    assert decisions and all(d["allow"] is False for d in decisions)


def test_refusal_body_carries_codes_and_readable_reasons(deployment: DemoGateway) -> None:
    """The 403 names each reason as a code with catalog parameters and as a sentence."""
    body = {"fields": ["id_number"], "order_by": ["name"], "purpose": "supervision",
            "case_ref": CASE_REF}  # fmt: skip
    since = _last_seq(deployment)
    resp = deployment.query("alice", DIBAO, body)
    assert resp.status_code == 403, resp.text
    details = resp.json()["details"]
    assert {"code": "order_by_refused", "params": {"fields": ["name"]}} in details["reason_codes"]
    assert "sorting on mask field 'name' is refused" in details["reasons"]
    assert "sorting on mask field 'name' is refused" in resp.json()["message"]
    denied = [e for e in _events_after(deployment, since) if e["type"] == "query.denied"]
    assert denied[-1]["decision"]["reasons"] == details["reasons"]


def _ensure_l4_analyst(gw: DemoGateway) -> None:
    with gw.services.sessions() as session:
        if session.get(User, "lena") is None:
            session.add(User(subject="lena", display_name="Lena", department=None,
                             clearance="L4", jurisdiction=[""], roles=["analyst"]))  # fmt: skip
            session.commit()
    gw.services.authorizer.assign(subject="lena", role="analyst", domain="*")
