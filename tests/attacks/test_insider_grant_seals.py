"""A database insider grants themselves (or an analyst) fields by writing grant rows.

THREAT_MODEL's insider row, after the row seals of 0017 ("insert an approved grant
behind the gateway"): whoever can write the catalog database INSERTed an approved
access request, flipped a pending one to ``approved``, or moved an expired one's
``expires_at`` forward, and the next query unmasked the field, with nothing on the
trail. The first three attacks below passed before grant seals (``catalog.grant_seals``,
migration 0018): alice read phone numbers in clear. Now a grant row without a
gateway's seal grants nothing and is never approved (409 ``request_unsealed``); a
grant approved through the API still unmasks, and an upgraded deployment's grant rows
are adopted once, on record (``catalog.rows_sealed`` naming the table).
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import orjson
import pytest

from audit.search import EventFilter, list_events
from tests.gateway.comparison_env import run_to_end
from tests.gateway.demo_app import DemoGateway

DIBAO = "civil.dibao_recipients"
CASE = {"purpose": "supervision", "case_ref": "JW-2026-GRANT"}
REQUESTS = "/api/v1/access-requests"
MASKED = ("mask", "phone_partial")
CLEAR = ("allow", None)


def _phone(gw: DemoGateway) -> tuple[str, Any]:
    """alice's phone column: (action, method)."""
    resp = gw.query("alice", DIBAO, {"fields": ["phone", "region_code"], "limit": 1, **CASE})
    assert resp.status_code == 200, resp.text
    column = {c["name"]: c for c in orjson.loads(resp.content)["columns"]}["phone"]
    return column["action"], column["method"]


def _ask(gw: DemoGateway) -> str:
    """alice asks for phone numbers through the API (pending)."""
    resp = gw.client.post(REQUESTS, headers=gw.headers("alice"), json={
        "dataset": DIBAO, "fields": ["phone"], "justification": "insider test", "days": 5,
        **CASE})  # fmt: skip
    assert resp.status_code == 201, resp.text
    return str(resp.json()["id"])


def _approve(gw: DemoGateway, request_id: str) -> Any:
    return gw.client.post(f"{REQUESTS}/{request_id}/approve", headers=gw.headers("carl"),
                          json={})  # fmt: skip


@pytest.fixture
def gw(deployment: DemoGateway) -> Iterator[DemoGateway]:
    deployment.sql("DELETE FROM access_requests WHERE requester = 'alice'")
    assert _phone(deployment) == MASKED
    yield deployment
    deployment.sql("DELETE FROM access_requests WHERE requester = 'alice'")


def test_an_approved_grant_inserted_behind_the_gateway_unmasks_nothing(gw: DemoGateway) -> None:
    now = datetime.now(UTC)
    gw.sql(
        "INSERT INTO access_requests (id, requester, dataset_id, department, fields, purpose, "
        "case_ref, justification, days, status, required_approvals, approvals, created_at, "
        "approved_at, expires_at) VALUES ('ar_insider', 'alice', :d, 'civil', :f, :p, :c, "
        "'x', 30, 'approved', 1, :a, :now, :now, :exp)",
        d=DIBAO, f='["phone"]', p=CASE["purpose"], c=CASE["case_ref"], a='[{"by": "carl"}]',
        now=now, exp=now + timedelta(days=30),
    )  # fmt: skip
    assert _phone(gw) == MASKED


def test_a_seal_copied_from_a_real_grant_unmasks_nothing_elsewhere(gw: DemoGateway) -> None:
    """A genuine grant's row copied with its seal under another id (or with more
    fields): the seal covers them, so the copy verifies for nothing."""
    request_id = _ask(gw)
    assert _approve(gw, request_id).status_code == 200
    gw.sql("UPDATE access_requests SET status = 'revoked' WHERE id = :i", i=request_id)
    gw.sql("INSERT INTO access_requests (id, requester, dataset_id, department, fields, purpose, "
           "case_ref, justification, days, status, required_approvals, approvals, created_at, "
           "approved_at, expires_at, seal) SELECT 'ar_copy', requester, dataset_id, department, "
           "fields, purpose, case_ref, justification, days, 'approved', required_approvals, "
           "approvals, created_at, approved_at, expires_at, seal FROM access_requests "
           "WHERE id = :i", i=request_id)  # fmt: skip
    assert _phone(gw) == MASKED


def test_a_pending_request_flipped_to_approved_grants_nothing(gw: DemoGateway) -> None:
    request_id = _ask(gw)
    now = datetime.now(UTC)
    gw.sql("UPDATE access_requests SET status = 'approved', approved_at = :now, "
           "expires_at = :exp, approvals = :a WHERE id = :i", now=now,
           exp=now + timedelta(days=5), a='[{"by": "carl"}]', i=request_id)  # fmt: skip
    assert _phone(gw) == MASKED


def test_an_expired_grant_extended_behind_the_gateway_stays_expired(gw: DemoGateway) -> None:
    """A grant approved through the API unmasks; once over, an insider moving its
    expiry forward gives it nothing back."""
    request_id = _ask(gw)
    resp = _approve(gw, request_id)
    assert resp.status_code == 200, resp.text
    assert resp.json()["status"] == "approved"
    assert _phone(gw) == CLEAR
    gw.write_grant(request_id, expires_at=datetime.now(UTC) - timedelta(minutes=1))
    assert _phone(gw) == MASKED
    gw.sql("UPDATE access_requests SET expires_at = :exp WHERE id = :i",
           exp=datetime.now(UTC) + timedelta(days=60), i=request_id)  # fmt: skip
    assert _phone(gw) == MASKED


def test_a_pending_request_edited_behind_the_gateway_is_not_approved(gw: DemoGateway) -> None:
    """An approval seals the row it writes: a steward approving a request an insider
    edited (more days, here) would launder it. It is refused, on record."""
    request_id = _ask(gw)
    gw.sql("UPDATE access_requests SET days = 90 WHERE id = :i", i=request_id)
    resp = _approve(gw, request_id)
    assert resp.status_code == 409, resp.text
    assert resp.json()["code"] == "request_unsealed"
    assert _phone(gw) == MASKED


def test_grant_rows_from_before_seals_are_adopted_once_on_record(gw: DemoGateway) -> None:
    """An upgraded deployment that adopted its users at 0017: its grant rows have no
    seal and ``row_seal_adoption`` has no row for them. The next start seals them and
    names the table on the trail; an insider's row written after that is not adopted."""
    from gateway.wiring.row_seals import adopt_unsealed_rows, install_row_seals

    request_id = _ask(gw)
    assert _approve(gw, request_id).status_code == 200
    gw.sql("UPDATE access_requests SET seal = NULL")
    gw.sql("DELETE FROM row_seal_adoption WHERE id = 2")
    assert _phone(gw) == MASKED
    settings = gw.settings
    seals = install_row_seals(settings.resolved_database_url, settings.home)
    counts = adopt_unsealed_rows(gw.services.engine, seals, gw.services.audit)
    assert set(counts) == {"access_requests"} and counts["access_requests"] >= 1
    page = list_events(store=gw.services.audit.store,
                       filters=EventFilter(type="catalog.rows_sealed"), limit=50)  # fmt: skip
    assert [e["details"] for e in page["items"]][-1] == counts
    assert _phone(gw) == CLEAR
    gw.sql("UPDATE access_requests SET seal = NULL, days = 90 WHERE id = :i", i=request_id)
    assert adopt_unsealed_rows(gw.services.engine, seals, gw.services.audit) == {}
    assert _phone(gw) == MASKED


def _release(gw: DemoGateway, run_id: str) -> Any:
    return gw.client.get(f"/api/v1/comparison-runs/{run_id}/hits",
                         params={"reidentified": "true"}, headers=gw.headers("dora"))  # fmt: skip


def _ask_identities(gw: DemoGateway, run_id: str, hits: list[int]) -> str:
    resp = gw.client.post(REQUESTS, headers=gw.headers("dora"), json={
        "run": run_id, "hits": hits, "justification": "insider test", **CASE})  # fmt: skip
    assert resp.status_code == 201, resp.text
    return str(resp.json()["id"])


def test_a_re_identification_approved_behind_the_gateway_releases_nothing(
    deployment: DemoGateway,
) -> None:
    """dora's request for the identities behind a hit of her run, flipped to approved
    by the insider: nothing is released. Approved by both departments' stewards it is;
    given another hit behind the gateway it no longer is."""
    gw = deployment
    run = run_to_end(gw, "dora", "demo.payroll_on_dibao")
    assert run["status"] == "done" and run["hits"] >= 2, run
    flipped = _ask_identities(gw, run["id"], [1])
    gw.sql("UPDATE reidentification_requests SET status = 'approved', approved_at = :now, "
           "approvals = :a WHERE id = :i", now=datetime.now(UTC), i=flipped,
           a='[{"by": "carl", "department": "civil"}, {"by": "fiona", "department": "finance"}]',
           )  # fmt: skip
    assert _release(gw, run["id"]).status_code == 403
    genuine = _ask_identities(gw, run["id"], [1])
    for steward in ("carl", "fiona"):
        resp = gw.client.post(f"{REQUESTS}/{genuine}/approve", headers=gw.headers(steward))
        assert resp.status_code == 200, resp.text
    resp = _release(gw, run["id"])
    assert resp.status_code == 200, resp.text
    assert {r["hit_id"] for r in orjson.loads(resp.content)["rows"]} == {1}
    gw.sql("UPDATE reidentification_requests SET hit_ids = '[1, 2]' WHERE id = :i", i=genuine)
    assert _release(gw, run["id"]).status_code == 403
