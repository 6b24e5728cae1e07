"""The first end-to-end query, on the real PostgreSQL and MariaDB demo data."""

from __future__ import annotations

import hashlib
import io
import re
import time

import orjson
import pyarrow as pa
import pyarrow.parquet as pq

from audit.search import EventFilter, list_events
from tests.gateway.demo_app import DemoGateway

DIBAO = "civil.dibao_recipients"
CASE = {"purpose": "supervision", "case_ref": "JW-2026-001"}
L3_FIELDS = {"id_number", "name", "phone", "address"}


def _rows(resp) -> list[dict]:
    assert resp.status_code == 200, resp.text
    return orjson.loads(resp.content)["rows"]


def test_alice_gets_masked_fields_and_only_her_county(gw: DemoGateway) -> None:
    resp = gw.query(
        "alice",
        DIBAO,
        {
            "fields": ["id_number", "name", "phone", "region_code", "monthly_amount"],
            "limit": 500,
            **CASE,
        },
    )
    rows = _rows(resp)
    assert rows, "alice's county has recipients"
    for row in rows:
        assert row["region_code"].startswith("430121")
        assert re.fullmatch(r"\d{6}\*{8}[\dX]{4}", row["id_number"]), row
        assert re.fullmatch(r"1\d{2}\*{4}\d{4}", row["phone"]), row
        assert re.fullmatch(r"[\u4e00-\u9fff]{1,2}\*+", row["name"]), row
    body = orjson.loads(resp.content)
    methods = {c["name"]: c["method"] for c in body["columns"]}
    assert methods["id_number"] == "id_number_partial"
    assert methods["phone"] == "phone_partial"
    assert resp.headers["X-Sluice-Decision-Id"] == body["decision_id"]
    assert len(resp.headers["X-Sluice-Policy-Version"]) == 64


def test_arthur_does_not_see_l3_fields(gw: DemoGateway) -> None:
    resp = gw.query("arthur", DIBAO, {"limit": 20, **CASE})
    rows = _rows(resp)
    assert len(rows) == 20
    columns = {c["name"] for c in orjson.loads(resp.content)["columns"]}
    assert not columns & L3_FIELDS
    assert all(not set(r) & L3_FIELDS for r in rows)
    # naming a field above clearance is refused with the policy's reason
    named = gw.query("arthur", DIBAO, {"fields": ["phone", "region_code"], **CASE})
    assert named.status_code == 403
    assert "phone" in named.json()["message"]


def test_security_officer_may_not_query(gw: DemoGateway) -> None:
    for dataset in (DIBAO, "finance.payroll", "audit.audit_findings"):
        resp = gw.query("sam", dataset, {"limit": 1, **CASE})
        assert resp.status_code == 403, resp.text
        assert resp.json()["code"] == "forbidden"


def test_filter_for_another_county_returns_only_own_rows(gw: DemoGateway) -> None:
    other = gw.query(
        "alice",
        DIBAO,
        {
            "fields": ["region_code"],
            "where": [{"field": "region_code", "op": "=", "value": "430102"}],
            **CASE,
        },
    )
    assert _rows(other) == []
    prefix = gw.query(
        "alice",
        DIBAO,
        {
            "fields": ["region_code"],
            "where": [{"field": "region_code", "op": "prefix", "value": "43"}],
            "limit": 2000,
            **CASE,
        },
    )
    assert {r["region_code"] for r in _rows(prefix)} == {"430121"}


def test_arthur_sees_every_county(gw: DemoGateway) -> None:
    rows = _rows(gw.query("arthur", DIBAO, {"fields": ["region_code"], "limit": 3000, **CASE}))
    assert len({r["region_code"] for r in rows}) > 1


def test_formats_carry_the_same_rows(gw: DemoGateway) -> None:
    body = {
        "fields": ["id_number", "region_code", "household_size"],
        "limit": 7,
        "order_by": ["household_size"],
        **CASE,
    }
    expected = _rows(gw.query("alice", DIBAO, body))

    nd = gw.query("alice", DIBAO, body, format="ndjson")
    assert nd.headers["content-type"].startswith("application/x-ndjson")
    assert [orjson.loads(line) for line in nd.content.splitlines()] == expected

    csv = gw.query("alice", DIBAO, body, format="csv", bom="true")
    assert csv.content.startswith(b"\xef\xbb\xbf")
    lines = csv.content.decode("utf-8-sig").splitlines()
    assert lines[0] == '"id_number","region_code","household_size"'
    assert len(lines) == 8

    arrow = gw.query("alice", DIBAO, body, format="arrow")
    table = pa.ipc.open_stream(arrow.content).read_all()
    assert table.to_pylist() == expected

    parquet = gw.query("alice", DIBAO, body, format="parquet")
    assert pq.read_table(io.BytesIO(parquet.content)).to_pylist() == expected

    by_accept = gw.client.post(
        f"/api/v1/datasets/{DIBAO}/query",
        json=body,
        headers={**gw.headers("alice"), "Accept": "application/x-ndjson"},
    )
    assert by_accept.content == nd.content


def test_truncation_and_limits(gw: DemoGateway) -> None:
    body = orjson.loads(
        gw.query("arthur", DIBAO, {"fields": ["region_code"], "limit": 5, **CASE}).content
    )
    assert body["truncated"] is True and len(body["rows"]) == 5
    small = orjson.loads(
        gw.query("alice", "audit.audit_findings", {"limit": 100000, **CASE}).content
    )
    assert small["truncated"] is False


def test_query_is_audited_with_the_digest_of_the_bytes_sent(gw: DemoGateway) -> None:
    resp = gw.query("alice", DIBAO, {"fields": ["id_number"], "limit": 3, **CASE}, format="csv")
    assert resp.status_code == 200
    request_id = resp.headers["X-Request-Id"]
    # query.started is committed before the response; query.completed is queued
    # behind it (a lost completion would read as "incomplete"), so poll briefly
    events: list[dict] = []
    for _ in range(100):
        page = list_events(
            store=gw.services.audit.store,
            filters=EventFilter(dataset=DIBAO),
            limit=50,
            order="desc",
        )
        events = [e for e in reversed(page["items"]) if e.get("request_id") == request_id]
        if len(events) == 2:
            break
        time.sleep(0.05)
    types = [e["type"] for e in events]
    assert types == ["query.started", "query.completed"]
    completed = events[-1]
    assert completed["rows"] == 3
    assert completed["result_sha256"] == hashlib.sha256(resp.content).hexdigest()
    assert completed["actor"]["sub"] == "alice"
    assert completed["case_ref"] == "JW-2026-001"


def test_catalog_entry_tells_each_caller_their_access(gw_sqlite: DemoGateway) -> None:
    gw = gw_sqlite
    public = gw.client.get(f"/api/v1/catalog/{DIBAO}")
    assert public.status_code == 200 and public.json()["access"] is None
    alice = gw.client.get(f"/api/v1/catalog/{DIBAO}", headers=gw.headers("alice")).json()
    assert alice["access"]["fields"]["id_number"] == {
        "action": "mask",
        "method": "id_number_partial",
    }
    assert alice["access"]["row_filter"]["prefixes"] == ["430121"]
    arthur = gw.client.get(f"/api/v1/catalog/{DIBAO}", headers=gw.headers("arthur")).json()
    assert arthur["access"]["fields"]["id_number"]["action"] == "deny"
    sam = gw.client.get(f"/api/v1/catalog/{DIBAO}", headers=gw.headers("sam")).json()
    assert sam["access"]["may_query"] is False
    forged = gw.client.get(f"/api/v1/catalog/{DIBAO}", headers={"Authorization": "Bearer x"})
    assert forged.status_code == 401


def test_catalog_search_finds_dibao_in_chinese(gw_sqlite: DemoGateway) -> None:
    found = gw_sqlite.client.get("/api/v1/catalog", params={"q": "低保"}).json()
    assert DIBAO in [d["id"] for d in found]


def test_same_shape_queries_bind_their_own_values(gw: DemoGateway) -> None:
    """Queries of one shape share a compiled statement; each must bind its own row
    filter and filter values (a stale bind would leak another county's rows)."""
    body = {"fields": ["region_code"], "limit": 200, **CASE}
    for _ in range(2):
        alice = {r["region_code"] for r in _rows(gw.query("alice", DIBAO, body))}
        assert alice == {"430121"}
        every = {**body, "limit": 5000}  # row order is the source's; read all rows
        arthur = {r["region_code"] for r in _rows(gw.query("arthur", DIBAO, every))}
        assert len(arthur) > 1
    for code in ("430102", "430121", "430181"):
        where = {**body, "where": [{"field": "region_code", "op": "prefix", "value": code}]}
        got = {r["region_code"] for r in _rows(gw.query("arthur", DIBAO, where))}
        assert got == {code}
