"""Red-team attempts through the HTTP API, each asserting the secure behaviour.

Jurisdiction (rows), clearance (fields), masking, separation of duties, input
validation and audit integrity, tried the way an analyst, steward or security officer
holding a valid token would try them.
"""

from __future__ import annotations

import io
import sqlite3
from collections.abc import Iterator, MutableMapping
from typing import Any

import orjson
import pyarrow as pa
import pyarrow.ipc as ipc
import pyarrow.parquet as pq
import pytest

from audit.search import EventFilter, list_events
from catalog.models import Source
from tests.gateway.demo_app import DemoGateway, demo_gateway

DIBAO = "civil.dibao_recipients"
PAYROLL = "finance.payroll"
CASE = {"purpose": "supervision", "case_ref": "JW-2026-RT"}
ALICE_PREFIX = "430121"
L3_FIELDS = ("id_number", "name", "phone", "address")


@pytest.fixture(scope="module")
def gw(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DemoGateway]:
    with demo_gateway(tmp_path_factory.mktemp("gw-red-team")) as gateway:
        yield gateway


def _source_rows(gw: DemoGateway, source_id: str, sql: str) -> list[tuple[Any, ...]]:
    """Read a demo source directly (the ground truth the gateway must not leak)."""
    with gw.services.sessions() as session:
        source = session.get(Source, source_id)
        assert source is not None
        path = source.settings["url"].removeprefix("sqlite:///")
    with sqlite3.connect(f"file:{path}?mode=ro", uri=True) as conn:
        return conn.execute(sql).fetchall()


def _rows(resp: Any, fmt: str = "json") -> list[dict[str, Any]]:
    assert resp.status_code == 200, resp.text
    if fmt == "json":
        return list(orjson.loads(resp.content)["rows"])
    if fmt == "ndjson":
        lines = [orjson.loads(line) for line in resp.content.splitlines() if line.strip()]
        return [
            line
            for line in lines
            if isinstance(line, dict)
            and "row" not in line
            and "columns" not in line
            and "truncated" not in line
            and "row_count" not in line
        ] or [line["row"] for line in lines if isinstance(line, dict) and "row" in line]
    if fmt == "csv":
        import csv

        text = resp.content.decode("utf-8-sig")
        return list(csv.DictReader(io.StringIO(text)))
    if fmt == "parquet":
        return pq.read_table(io.BytesIO(resp.content)).to_pylist()
    if fmt == "arrow":
        return ipc.open_stream(pa.BufferReader(resp.content)).read_all().to_pylist()
    raise AssertionError(fmt)


def _events(gw: DemoGateway, **filters: Any) -> list[dict[str, Any]]:
    page = list_events(store=gw.services.audit.store, filters=EventFilter(**filters), limit=50)
    return list(page["items"])


# ------------------------------------------------------------------ row-level jurisdiction


@pytest.mark.parametrize("fmt", ["json", "ndjson", "csv", "parquet", "arrow"])
def test_alice_never_gets_rows_outside_her_county_in_any_format(gw: DemoGateway, fmt: str) -> None:
    resp = gw.query(
        "alice",
        DIBAO,
        {"fields": ["region_code", "monthly_amount"], "limit": 10_000, **CASE},
        format=fmt,
    )
    regions = [str(r["region_code"]) for r in _rows(resp, fmt)]
    assert regions and all(r.startswith(ALICE_PREFIX) for r in regions)
    theirs = _source_rows(
        gw, "civil-db", "SELECT count(*) FROM dibao_recipients WHERE region_code LIKE '430121%'"
    )
    assert len(regions) == theirs[0][0]


@pytest.mark.parametrize(
    "clause",
    [
        {"where": [{"field": "region_code", "op": "in", "value": ["430102", "430103", "110101"]}]},
        {"where": [{"field": "region_code", "op": "between", "value": ["000000", "999999"]}]},
        {"where": [{"field": "region_code", "op": "!=", "value": ALICE_PREFIX}]},
        {"where": [{"field": "region_code", "op": "prefix", "value": "4"}]},
        {"where": [{"field": "region_code", "op": "prefix", "value": "４３０１２１"}]},
        {"where": [{"field": "region_code", "op": "=", "value": "430121' OR '1'='1"}]},
        {"where": [{"field": "region_code", "op": "is_null", "value": True}]},
        {"where": [{"field": "region_code", "op": "is_null", "value": False}]},
        {"order_by": ["-region_code"], "offset": 0},
        {"order_by": ["region_code"], "offset": 5, "limit": 3},
        {"offset": 9_999_999},
        {"limit": 10**30},
    ],
)
def test_filters_order_and_paging_never_widen_the_row_filter(
    gw: DemoGateway, clause: dict[str, Any]
) -> None:
    body = {"fields": ["region_code", "status"], **CASE, **clause}
    rows = _rows(gw.query("alice", DIBAO, body))
    assert all(str(r["region_code"]).startswith(ALICE_PREFIX) for r in rows)


def test_requesting_only_non_region_fields_still_counts_only_her_rows(gw: DemoGateway) -> None:
    rows = _rows(gw.query("alice", DIBAO, {"fields": ["monthly_amount"], "limit": 10_000, **CASE}))
    mine = _source_rows(
        gw, "civil-db", "SELECT count(*) FROM dibao_recipients WHERE region_code LIKE '430121%'"
    )
    assert len(rows) == mine[0][0]
    assert all(set(r) == {"monthly_amount"} for r in rows)


@pytest.mark.parametrize(
    "dataset",
    [PAYROLL, "finance.fund_disbursements", "civil.death_registrations", "audit.audit_findings"],
)
def test_every_dataset_applies_her_jurisdiction(gw: DemoGateway, dataset: str) -> None:
    rows = _rows(gw.query("alice", dataset, {"fields": ["region_code"], "limit": 10_000, **CASE}))
    assert all(str(r["region_code"]).startswith(ALICE_PREFIX) for r in rows)


def test_token_filter_does_not_skip_the_row_filter(gw: DemoGateway) -> None:
    """Equality on a hash token is applied after masking; the region filter still is
    pushed to the source and offsets are counted over her rows only."""
    body = {"fields": ["payee_uscc", "region_code"], "limit": 1, **CASE}
    tokens = _rows(gw.query("arthur", "finance.fund_disbursements", {**body, "limit": 300}))
    outside = [t for t in tokens if not str(t["region_code"]).startswith(ALICE_PREFIX)]
    assert outside
    # arthur's tokens are for arthur's case; alice uses the same case_ref and value
    for row in outside[:5]:
        resp = gw.query(
            "alice",
            "finance.fund_disbursements",
            {**body, "where": [{"field": "payee_uscc", "op": "=", "value": row["payee_uscc"]}]},
        )
        got = _rows(resp)
        assert all(str(r["region_code"]).startswith(ALICE_PREFIX) for r in got)


# ------------------------------------------------------------------ field level (arthur, L2)


def _l3_values(gw: DemoGateway, limit: int = 50) -> list[str]:
    rows = _source_rows(
        gw,
        "civil-db",
        f"SELECT id_number, name, phone, address FROM dibao_recipients LIMIT {limit}",
    )
    return [str(v) for row in rows for v in row if v]


@pytest.mark.parametrize("fmt", ["json", "ndjson", "csv", "parquet", "arrow"])
def test_arthur_never_sees_an_l3_value_in_any_format(gw: DemoGateway, fmt: str) -> None:
    resp = gw.query("arthur", DIBAO, {"limit": 50, **CASE}, format=fmt)
    assert resp.status_code == 200, resp.text
    if fmt != "ndjson":
        rows = _rows(resp, fmt)
        assert rows and not any(set(L3_FIELDS) & set(r) for r in rows)
    for name in ("id_number", "phone", "address"):  # ("name" is a key of the header)
        assert name.encode() not in resp.content
    for value in _l3_values(gw):
        assert value.encode() not in resp.content


@pytest.mark.parametrize(
    "clause",
    [
        {"fields": ["id_number"]},
        {"fields": ["region_code"], "order_by": ["phone"]},
        {
            "fields": ["region_code"],
            "where": [{"field": "id_number", "op": "is_null", "value": True}],
        },
        {
            "fields": ["region_code"],
            "where": [{"field": "address", "op": "prefix", "value": "湖南省"}],
        },
        {"fields": ["region_code"], "where": [{"field": "name", "op": "=", "value": "tk_00"}]},
    ],
)
def test_arthur_cannot_reach_l3_fields_through_query_shapes(
    gw: DemoGateway, clause: dict[str, Any]
) -> None:
    resp = gw.query("arthur", DIBAO, {**clause, **CASE})
    assert resp.status_code == 403, resp.text
    for value in _l3_values(gw, 200):
        assert value not in resp.text


def test_arthur_cannot_group_by_an_l3_field(gw: DemoGateway) -> None:
    """``group_by`` is refused outright until aggregates exist (issue 16): a 400 that
    echoes no L3 value (it was the policy's 403)."""
    resp = gw.query("arthur", DIBAO, {"fields": ["region_code"], "group_by": ["name"], **CASE})
    assert resp.status_code == 400, resp.text
    assert "group_by" in resp.json()["message"]
    for value in _l3_values(gw, 200):
        assert value not in resp.text


def test_unmask_of_a_field_above_clearance_releases_nothing(gw: DemoGateway) -> None:
    resp = gw.query("arthur", DIBAO, {"unmask": list(L3_FIELDS), "limit": 20, **CASE})
    if resp.status_code == 200:
        rows = _rows(resp)
        assert rows and not any(set(L3_FIELDS) & set(r) for r in rows)
    else:
        assert resp.status_code == 403
    for value in _l3_values(gw):
        assert value not in resp.text


def test_bad_filter_values_echo_only_the_callers_own_input(gw: DemoGateway) -> None:
    resp = gw.query(
        "arthur",
        DIBAO,
        {
            "fields": ["region_code"],
            **CASE,
            "where": [{"field": "household_size", "op": "=", "value": "SECRET-PROBE"}],
        },
    )
    assert resp.status_code == 400
    for value in _l3_values(gw, 200):
        assert value not in resp.text


def test_catalog_entry_has_metadata_and_no_data(gw: DemoGateway) -> None:
    resp = gw.client.get(
        f"/api/v1/catalog/{DIBAO}",
        headers=gw.headers("arthur"),
        params={"purpose": "supervision", "case_ref": "x"},
    )
    assert resp.status_code == 200
    access = resp.json()["access"]
    assert all(access["fields"][n]["action"] == "deny" for n in L3_FIELDS)
    for value in _l3_values(gw, 200):
        assert value not in resp.text


def test_an_approved_request_never_lifts_a_field_above_clearance(gw: DemoGateway) -> None:
    asked = gw.client.post(
        "/api/v1/access-requests",
        json={
            "dataset": DIBAO,
            "fields": ["id_number", "phone"],
            "days": 3,
            "justification": "red team",
            **CASE,
        },
        headers=gw.headers("arthur"),
    )
    assert asked.status_code == 201, asked.text
    assert b"4301" not in asked.content  # the request holds names, never values
    approved = gw.client.post(
        f"/api/v1/access-requests/{asked.json()['id']}/approve", headers=gw.headers("carl")
    )
    assert approved.status_code == 200, approved.text
    denied = gw.query("arthur", DIBAO, {"fields": ["id_number"], "unmask": ["id_number"], **CASE})
    assert denied.status_code == 403
    rows = _rows(gw.query("arthur", DIBAO, {"limit": 20, **CASE}))
    assert rows and not any(set(L3_FIELDS) & set(r) for r in rows)


@pytest.mark.parametrize("subject", ["alice", "arthur", "fiona", "carl"])
@pytest.mark.parametrize(
    "path",
    [
        "/api/v1/audit/events",
        "/api/v1/audit/events/1",
        "/api/v1/audit/export",
        "/api/v1/audit/alerts",
        "/api/v1/audit/verify",
    ],
)
def test_only_security_officers_and_admins_read_the_trail(
    gw: DemoGateway, subject: str, path: str
) -> None:
    resp = gw.client.get(path, headers=gw.headers(subject))
    assert resp.status_code == 403, resp.text


# ------------------------------------------------------------------ masking


def test_tokens_cannot_be_used_on_partially_masked_id_numbers(gw: DemoGateway) -> None:
    """A token filter is only honoured on ``hash``-masked fields: the ID number
    (``id_number_partial``) takes no filter, so there is no oracle for guessing."""
    for value in ("tk_" + "0" * 64, "430121199001011234", "430121********1234"):
        resp = gw.query(
            "alice",
            DIBAO,
            {
                "fields": ["id_number"],
                **CASE,
                "where": [{"field": "id_number", "op": "=", "value": value}],
            },
        )
        assert resp.status_code == 403, resp.text


def test_masked_id_numbers_keep_only_region_and_last_four(gw: DemoGateway) -> None:
    rows = _rows(
        gw.query("alice", DIBAO, {"fields": ["id_number", "phone", "name"], "limit": 200, **CASE})
    )
    assert rows
    for row in rows:
        assert row["id_number"] is None or "*" * 8 in row["id_number"]
    raw = {r[0] for r in _source_rows(gw, "civil-db", "SELECT id_number FROM dibao_recipients")}
    assert not raw & {r["id_number"] for r in rows}


def test_hash_tokens_do_not_link_across_case_refs(gw: DemoGateway) -> None:
    body = {
        "fields": ["payee_uscc", "disbursement_id"],
        "order_by": ["disbursement_id"],
        "limit": 5,
        "purpose": "supervision",
    }
    one = _rows(gw.query("arthur", "finance.fund_disbursements", {**body, "case_ref": "A"}))
    two = _rows(gw.query("arthur", "finance.fund_disbursements", {**body, "case_ref": "B"}))
    assert [r["disbursement_id"] for r in one] == [r["disbursement_id"] for r in two]
    assert not {r["payee_uscc"] for r in one} & {r["payee_uscc"] for r in two}
    # and a token from case A finds nothing under case B
    found = _rows(
        gw.query(
            "arthur",
            "finance.fund_disbursements",
            {
                **body,
                "case_ref": "B",
                "where": [{"field": "payee_uscc", "op": "=", "value": one[0]["payee_uscc"]}],
            },
        )
    )
    assert found == []


# ------------------------------------------------------------------ separation of duties


def _request(gw: DemoGateway, subject: str, dataset: str, fields: list[str]) -> Any:
    return gw.client.post(
        "/api/v1/access-requests",
        json={"dataset": dataset, "fields": fields, "days": 3, "justification": "red team", **CASE},
        headers=gw.headers(subject),
    )


def test_a_steward_cannot_approve_their_own_request(gw: DemoGateway) -> None:
    # fiona also becomes an analyst (the role that may ask) and asks in her department
    gw.services.authorizer.assign(subject="fiona", role="analyst", domain="*")
    try:
        asked = _request(gw, "fiona", PAYROLL, ["bank_card"])
        assert asked.status_code == 201, asked.text
        rid = asked.json()["id"]
        own = gw.client.post(f"/api/v1/access-requests/{rid}/approve", headers=gw.headers("fiona"))
        assert own.status_code == 403, own.text
        own_reject = gw.client.post(
            f"/api/v1/access-requests/{rid}/reject", json={}, headers=gw.headers("fiona")
        )
        assert own_reject.status_code == 403
        # the request stays pending and unmasks nothing
        got = gw.client.get(f"/api/v1/access-requests/{rid}", headers=gw.headers("fiona"))
        assert got.json()["status"] == "pending" and got.json()["approvals"] == []
    finally:
        gw.services.authorizer.unassign(subject="fiona", role="analyst", domain="*")


def test_a_steward_cannot_decide_another_departments_request(gw: DemoGateway) -> None:
    asked = _request(gw, "alice", DIBAO, ["name"])
    rid = asked.json()["id"]
    for path, body in (("approve", None), ("reject", {}), ("revoke", {})):
        resp = gw.client.post(
            f"/api/v1/access-requests/{rid}/{path}", json=body, headers=gw.headers("fiona")
        )
        assert resp.status_code in (403, 404), resp.text
    # nor read it
    assert (
        gw.client.get(f"/api/v1/access-requests/{rid}", headers=gw.headers("fiona")).status_code
        == 404
    )
    # after carl revokes it, nobody can approve it (finance or civil)
    assert (
        gw.client.post(
            f"/api/v1/access-requests/{rid}/revoke", json={}, headers=gw.headers("carl")
        ).status_code
        == 200
    )
    for subject in ("fiona", "carl"):
        resp = gw.client.post(f"/api/v1/access-requests/{rid}/approve", headers=gw.headers(subject))
        assert resp.status_code in (403, 409), resp.text
    # PATCH does not exist on access requests
    patched = gw.client.patch(
        f"/api/v1/access-requests/{rid}", json={"status": "approved"}, headers=gw.headers("alice")
    )
    assert patched.status_code == 405


def test_another_analyst_cannot_read_or_revoke_alices_request(gw: DemoGateway) -> None:
    rid = _request(gw, "alice", DIBAO, ["phone"]).json()["id"]
    assert (
        gw.client.get(f"/api/v1/access-requests/{rid}", headers=gw.headers("arthur")).status_code
        == 404
    )
    assert (
        gw.client.post(
            f"/api/v1/access-requests/{rid}/approve", headers=gw.headers("arthur")
        ).status_code
        == 403
    )
    assert (
        gw.client.post(
            f"/api/v1/access-requests/{rid}/revoke", json={}, headers=gw.headers("arthur")
        ).status_code
        == 403
    )
    listed = gw.client.get("/api/v1/access-requests", headers=gw.headers("arthur")).json()
    assert rid not in {r["id"] for r in listed}


@pytest.mark.parametrize("dataset", [DIBAO, PAYROLL, "audit.audit_findings"])
def test_security_officer_and_admin_never_query(gw: DemoGateway, dataset: str) -> None:
    for subject in ("sam", "root", "fiona", "carl"):
        for fmt in ("json", "csv", "arrow"):
            resp = gw.query(subject, dataset, {"limit": 1, **CASE}, format=fmt)
            assert resp.status_code == 403, (subject, resp.text)
    assert _request(gw, "sam", dataset, ["region_code"]).status_code == 403


def test_sam_cannot_be_made_an_analyst(gw: DemoGateway) -> None:
    with pytest.raises(Exception):  # noqa: B017 - Authorizer.assign refuses the pair
        gw.services.authorizer.assign(subject="sam", role="analyst", domain="*")
    assert gw.query("sam", DIBAO, {"limit": 1, **CASE}).status_code == 403


def test_analysts_cannot_register_draft_edit_or_publish(gw: DemoGateway) -> None:
    h = gw.headers("alice")
    source = {
        "id": "evil-db",
        "department": "civil",
        "kind": "sqlite",
        "display_name": "x",
        "settings": {"url": "sqlite:////etc/passwd"},
    }
    assert gw.client.post("/api/v1/sources", json=source, headers=h).status_code == 403
    draft = {"source_id": "civil-db", "object_name": "dibao_recipients", "dataset_id": "civil.mine"}
    assert gw.client.post("/api/v1/datasets", json=draft, headers=h).status_code == 403
    assert (
        gw.client.patch(
            f"/api/v1/datasets/{DIBAO}", json={"region_field": None}, headers=h
        ).status_code
        == 403
    )
    assert gw.client.post(f"/api/v1/datasets/{DIBAO}/publish", headers=h).status_code == 403
    assert gw.client.get("/api/v1/sources/civil-db", headers=h).status_code == 403


def test_a_steward_stays_in_their_department(gw: DemoGateway) -> None:
    h = gw.headers("fiona")
    # a draft from another department's source
    other = {
        "source_id": "civil-db",
        "object_name": "dibao_recipients",
        "dataset_id": "finance.dibao_copy",
    }
    assert gw.client.post("/api/v1/datasets", json=other, headers=h).status_code == 403
    # another department's entry: edit, drop its region field, publish, refresh
    assert (
        gw.client.patch(
            f"/api/v1/datasets/{DIBAO}", json={"region_field": None}, headers=h
        ).status_code
        == 403
    )
    assert gw.client.patch(
        f"/api/v1/datasets/{DIBAO}", json={"fields": {"id_number": {"level": "L1"}}}, headers=h
    ).status_code in (400, 403)
    assert gw.client.post(f"/api/v1/datasets/{DIBAO}/publish", headers=h).status_code == 403
    assert gw.client.post(f"/api/v1/datasets/{DIBAO}/refresh", headers=h).status_code == 403
    # a source registered into another department
    source = {
        "id": "civil-shadow",
        "department": "civil",
        "kind": "sqlite",
        "display_name": "x",
        "settings": {"url": "sqlite:////nonexistent.db"},
    }
    assert gw.client.post("/api/v1/sources", json=source, headers=h).status_code == 403
    assert (
        gw.client.patch(
            "/api/v1/sources/civil-db", json={"display_name": "mine"}, headers=h
        ).status_code
        == 403
    )


def test_a_dataset_id_prefix_does_not_choose_the_department(gw: DemoGateway) -> None:
    """fiona may not name a draft ``civil.x``: an entry id's prefix is its source's
    department (red team 27), checked against the source, never read as a choice of
    department; under her own prefix it is finance's, and carl gains nothing over it."""
    draft = {"source_id": "finance-db", "object_name": "payroll"}
    resp = gw.client.post("/api/v1/datasets", headers=gw.headers("fiona"),
                          json={**draft, "dataset_id": "civil.payroll_shadow"})  # fmt: skip
    assert resp.status_code == 400, resp.text
    assert "'finance.'" in resp.json()["message"], resp.text
    resp = gw.client.post("/api/v1/datasets", headers=gw.headers("fiona"),
                          json={**draft, "dataset_id": "finance.payroll_shadow"})  # fmt: skip
    assert resp.status_code == 201, resp.text
    assert resp.json()["department"] == "finance"
    # carl, steward of civil, gains nothing over it; fiona keeps it in finance
    assert (
        gw.client.post(
            "/api/v1/datasets/finance.payroll_shadow/publish", headers=gw.headers("carl")
        ).status_code
        == 403
    )
    # a draft is invisible to analysts
    assert gw.query("alice", "finance.payroll_shadow", CASE).status_code == 404


# ------------------------------------------------------------------ injection / validation


def _post_raw(
    gw: DemoGateway, subject: str, path: str, content: bytes, headers: dict[str, str] | None = None
) -> Any:
    return gw.client.post(
        path,
        content=content,
        headers={**gw.headers(subject), "Content-Type": "application/json", **(headers or {})},
    )


@pytest.mark.parametrize(
    "content",
    [
        b"{" * 100_000,
        b'{"fields": ' + b"[" * 50_000 + b"]" * 50_000 + b"}",
        b'{"purpose": "supervision", "case_ref": "x", "where": [{"field": "region_code", '
        b'"op": "=", "value": ' + b"[" * 5_000 + b"]" * 5_000 + b"}]}",
        orjson.dumps({"fields": [f"f{i}" for i in range(10_000)], **CASE}),
        orjson.dumps({"fields": ["region_code"], "purpose": "s" * 1_000_000}),
        orjson.dumps({"fields": ["region_code"], **CASE, "case_ref": "c" * 100_000}),
        b'{"fields": ["region_code"], "purpose": "supervision", "case_ref": "\xff\xfe"}',
        b'{"fields": ["region_code"], "purpose": "supervision", "case_ref": "\\ud800"}',
        b'{"fields": ["region_code"], "purpose": "\\ud800", "case_ref": "x"}',
        b'{"fields": ["\\ud800"], "purpose": "supervision", "case_ref": "x"}',
        b'{"fields": ["region_code\\u0000"], "purpose": "supervision", "case_ref": "x"}',
        b'{"fields": ["region_code"], "purpose": "supervision\\u0000", "case_ref": "x"}',
        b'{"fields": ["region_code"], "purpose": "supervision", "case_ref": "x\\u0000y"}',
        b'{"fields": ["region_code"], "purpose": "supervision", "case_ref": "x", '
        b'"where": [{"field": "region_code", "op": "=", "value": "430121\\u0000"}]}',
        b'{"fields": ["region_code"], "purpose": "supervision", "case_ref": "x", '
        b'"where": [{"field": "region_code", "op": "prefix", "value": "\\ud800"}]}',
        b'{"fields": ["region_code"], "purpose": "supervision", "case_ref": "x", '
        b'"where": [{"field": "household_size", "op": "=", "value": 1e400}]}',
        b'{"fields": ["region_code"], "purpose": "supervision", "case_ref": "x", '
        b'"where": [{"field": "household_size", "op": "=", "value": ' + b"9" * 5000 + b"}]}",
        b'{"fields": ["region_code"], "purpose": "supervision", "case_ref": "x", '
        b'"where": [{"field": "household_size", "op": ">", "value": "NaN"}]}',
        b'{"fields": ["region_code"], "purpose": "supervision", "case_ref": "x", '
        b'"where": [{"field": "start_date", "op": ">", "value": "9999-99-99"}]}',
        b'{"fields": ["region_code"], "purpose": "supervision", "case_ref": "x", '
        b'"where": [{"field": "region_code", "op": "in", "value": ['
        + b",".join(b'"%d"' % i for i in range(1000))
        + b"]}]}",
        b'{"fields": ["region_code"], "purpose": "supervision", "case_ref": "x", "limit": -1}',
        b'{"fields": ["region_code"], "purpose": "supervision", "case_ref": "x", '
        b'"offset": 100000000000}',
        b'{"fields": ["region_code"], "purpose": "supervision", "case_ref": "x", '
        b'"limit": 1' + b"0" * 400 + b"}",
    ],
)
def test_hostile_bodies_never_500(gw: DemoGateway, content: bytes) -> None:
    for subject in ("alice", "arthur"):
        resp = _post_raw(gw, subject, f"/api/v1/datasets/{DIBAO}/query", content)
        assert resp.status_code < 500, resp.text[:500]
        if resp.status_code == 200:
            rows = _rows(resp)
            if subject == "alice":
                assert all(str(r["region_code"]).startswith(ALICE_PREFIX) for r in rows)


@pytest.mark.parametrize("subject", ["alice", "arthur"])
@pytest.mark.parametrize(
    ("case_ref", "dataset"),
    [
        ("\ud800", "finance.fund_disbursements"),
        ("x\x00y", "finance.fund_disbursements"),
        ("\ud800", DIBAO),
    ],
)
def test_odd_case_refs_with_hash_masks_never_500(
    gw: DemoGateway, subject: str, case_ref: str, dataset: str
) -> None:
    content = orjson.dumps({"limit": 3, "purpose": "supervision", "case_ref": "PLACEHOLDER"})
    content = content.replace(
        b"PLACEHOLDER", orjson.dumps(case_ref)[1:-1] if case_ref != "\ud800" else b"\\ud800"
    )
    resp = _post_raw(gw, subject, f"/api/v1/datasets/{dataset}/query", content)
    assert resp.status_code < 500, resp.text


@pytest.mark.parametrize(
    "dataset",
    [
        "..%2F..%2Fetc%2Fpasswd",
        "civil.dibao_recipients%00",
        "civil.dibao_recipients%2F..",
        "%2e%2e",
        "civil.dibao_recipients\u202e",
        "CIVIL.DIBAO_RECIPIENTS",
        "x" * 5000,
    ],
)
def test_path_tricks_in_dataset_ids_are_404(gw: DemoGateway, dataset: str) -> None:
    resp = gw.client.post(
        f"/api/v1/datasets/{dataset}/query", json=CASE, headers=gw.headers("alice")
    )
    assert resp.status_code in (404, 400), resp.text
    entry = gw.client.get(f"/api/v1/catalog/{dataset}", headers=gw.headers("alice"))
    assert entry.status_code in (404, 400), entry.text


@pytest.mark.parametrize(
    ("path", "content"),
    [
        (f"/api/v1/datasets/{DIBAO}/query", b'{"\\ud800": 1}'),
        (f"/api/v1/datasets/{DIBAO}/query", b'{"fields": ["\\ud800"]}'),
        (
            "/api/v1/access-requests",
            b'{"dataset": "\\ud800", "fields": ["x"], "purpose": "p",'
            b' "case_ref": "c", "justification": "j", "days": 1}',
        ),
    ],
)
def test_lone_surrogates_echoed_in_errors_never_500(
    gw: DemoGateway, path: str, content: bytes
) -> None:
    resp = _post_raw(gw, "alice", path, content)
    assert 400 <= resp.status_code < 500, resp.text
    assert orjson.loads(resp.content)["message"]


def test_request_id_cannot_inject_headers(gw: DemoGateway) -> None:
    """Sent through the ASGI layer directly (an HTTP client would refuse CR/LF)."""
    import asyncio

    captured: dict[str, Any] = {}
    body = orjson.dumps({"fields": ["region_code"], "limit": 1, **CASE})
    raw_headers = [
        (b"authorization", f"Bearer {gw.token('alice')}".encode()),
        (b"content-type", b"application/json"),
        (b"x-request-id", b"abc\nSet-Cookie: pwn=1\r\n\r\n<script>"),
        (b"host", b"testserver"),  # a name the suite allows (tests/conftest.py)
    ]

    async def call() -> None:
        sent = False

        async def receive() -> dict[str, Any]:
            nonlocal sent
            if sent:
                return {"type": "http.disconnect"}
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}

        async def send(message: MutableMapping[str, Any]) -> None:
            if message["type"] == "http.response.start":
                captured["status"] = message["status"]
                captured["headers"] = message["headers"]

        scope = {
            "type": "http",
            "asgi": {"version": "3.0"},
            "http_version": "1.1",
            "method": "POST",
            "scheme": "http",
            "path": f"/api/v1/datasets/{DIBAO}/query",
            "raw_path": f"/api/v1/datasets/{DIBAO}/query".encode(),
            "query_string": b"",
            "root_path": "",
            "headers": raw_headers,
            "client": ("127.0.0.1", 1),
            "server": ("sluice.test", 80),
        }
        await gw.client.app(scope, receive, send)

    asyncio.run(call())
    assert captured["status"] == 200
    for name, value in captured["headers"]:
        assert b"\r" not in value and b"\n" not in value, (name, value)
        assert name.lower() != b"set-cookie"


# ------------------------------------------------------------------ audit integrity


def test_the_actor_of_a_query_event_is_the_token_subject(gw: DemoGateway) -> None:
    """Nothing in the body or headers names the actor: extra keys are refused and the
    event's actor is the token's subject."""
    forged = gw.query("alice", DIBAO, {"fields": ["region_code"], "actor": "arthur", **CASE})
    assert forged.status_code == 400
    resp = gw.client.post(
        f"/api/v1/datasets/{DIBAO}/query",
        json={"fields": ["region_code"], "limit": 1, **CASE},
        headers={
            **gw.headers("alice"),
            "X-Request-Id": "rt-forge-1",
            "X-Forwarded-User": "arthur",
            "X-Actor": "arthur",
        },
    )
    assert resp.status_code == 200
    # the id on record is the gateway's (returned as X-Request-Id); the client's is kept
    # beside it, never instead of it
    request_id = resp.headers["X-Request-Id"]
    assert request_id != "rt-forge-1"
    events = [e for e in _events(gw, actor="alice") if e.get("request_id") == request_id]
    assert {e["type"] for e in events} >= {"query.started"}
    assert all(e["actor"]["sub"] == "alice" for e in events)
    assert all(e["details"]["client_request_id"] == "rt-forge-1" for e in events)
    assert not [e for e in _events(gw) if e.get("request_id") == "rt-forge-1"]
    assert not [e for e in _events(gw, actor="arthur") if e.get("request_id") == request_id]


def test_no_route_lets_a_caller_choose_an_event_type_or_outcome(gw: DemoGateway) -> None:
    h = gw.headers("alice")
    for path in ("/api/v1/audit/events", "/api/v1/audit", "/api/v1/audit/append"):
        resp = gw.client.post(
            path,
            json={"type": "audit.verified", "outcome": "ok", "actor": {"sub": "sam"}},
            headers=h,
        )
        assert resp.status_code in (403, 404, 405), resp.text
    # an access request's free text lands in the request, not in the event's type/outcome
    asked = gw.client.post(
        "/api/v1/access-requests",
        json={
            "dataset": DIBAO,
            "fields": ["phone"],
            "days": 1,
            **CASE,
            "justification": '","type":"audit.verified","outcome":"ok',
        },
        headers=h,
    )
    assert asked.status_code == 201
    events = [
        e
        for e in _events(gw, actor="alice", type="access.requested")
        if e["details"].get("access_request") == asked.json()["id"]
    ]
    assert len(events) == 1 and events[0]["outcome"] == "ok"


@pytest.mark.parametrize("subject", ["sam", "root", "fiona"])
def test_queries_refused_by_role_are_audited(gw: DemoGateway, subject: str) -> None:
    """A security officer (or admin, or steward) trying to query is a denial that
    belongs on the record, like any policy refusal."""
    rid = f"rt-role-{subject}"
    resp = gw.client.post(
        f"/api/v1/datasets/{DIBAO}/query",
        json=CASE,
        headers={**gw.headers(subject), "X-Request-Id": rid},
    )
    assert resp.status_code == 403
    denied = [e for e in _events(gw, actor=subject, type="query.denied")
              if e["details"].get("client_request_id") == rid]  # fmt: skip
    assert denied and denied[0]["request_id"] != rid  # the gateway's own id is on record
    assert len(denied) == 1, denied
    assert denied[0]["outcome"] == "denied"
    assert denied[0]["resource"] == f"dataset:{DIBAO}"


def test_unauthenticated_and_unknown_dataset_requests_leave_no_forged_events(
    gw: DemoGateway,
) -> None:
    before = len(_events(gw))
    assert gw.client.post(f"/api/v1/datasets/{DIBAO}/query", json=CASE).status_code == 401
    assert (
        gw.client.post(
            f"/api/v1/datasets/{DIBAO}/query", json=CASE, headers={"Authorization": "Bearer x.y.z"}
        ).status_code
        == 401
    )
    assert len(_events(gw)) == before  # nothing attributable to record, nothing invented


def test_a_grant_only_unmasks_under_the_case_it_was_approved_for(gw: DemoGateway) -> None:
    rid = _request(gw, "alice", DIBAO, ["address"]).json()["id"]
    assert (
        gw.client.post(
            f"/api/v1/access-requests/{rid}/approve", headers=gw.headers("carl")
        ).status_code
        == 200
    )
    other = gw.query(
        "alice",
        DIBAO,
        {
            "fields": ["address"],
            "unmask": ["address"],
            "limit": 5,
            "purpose": "supervision",
            "case_ref": "UNRELATED-CASE",
        },
    )
    assert other.status_code == 403, other.text


def test_a_steward_cannot_register_another_departments_database(gw: DemoGateway) -> None:
    with gw.services.sessions() as session:
        civil = session.get(Source, "civil-db")
        assert civil is not None
        url = civil.settings["url"]
    resp = gw.client.post(
        "/api/v1/sources",
        headers=gw.headers("fiona"),
        json={
            "id": "finance-shadow",
            "department": "finance",
            "kind": "sqlite",
            "display_name": "shadow",
            "settings": {"url": url},
        },
    )
    assert resp.status_code in (400, 403), resp.text
