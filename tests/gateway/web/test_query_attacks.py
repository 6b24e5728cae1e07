"""Trying to get more than policy gives through the query API."""

from __future__ import annotations

import orjson
import pytest

from gateway.enforcement.masking import derive_case_key, hash_token, load_mask_secret
from tests.gateway.demo_app import DemoGateway

DIBAO = "civil.dibao_recipients"
CASE = {"purpose": "supervision", "case_ref": "JW-2026-001"}


@pytest.mark.parametrize(
    ("subject", "clause"),
    [
        # inference through prefix / ranges / ordering on masked fields
        ("alice", {"where": [{"field": "id_number", "op": "prefix", "value": "430121"}]}),
        ("alice", {"where": [{"field": "phone", "op": ">", "value": "13800000000"}]}),
        ("alice", {"where": [{"field": "id_number", "op": "=", "value": "430121199001011234"}]}),
        ("alice", {"where": [{"field": "name", "op": "in", "value": ["张三", "李四"]}]}),
        ("alice", {"order_by": ["id_number"]}),
        ("alice", {"order_by": [{"field": "phone", "desc": True}]}),
        # denied fields (above arthur's clearance) cannot be filtered or sorted on
        ("arthur", {"where": [{"field": "phone", "op": "is_null", "value": False}]}),
        ("arthur", {"where": [{"field": "id_number", "op": "prefix", "value": "43"}]}),
        ("arthur", {"order_by": ["name"]}),
    ],
)
def test_filters_and_order_on_masked_or_denied_fields_are_refused(
    gw_postgres: DemoGateway, subject: str, clause: dict
) -> None:
    resp = gw_postgres.query(subject, DIBAO, {"fields": ["region_code"], **clause, **CASE})
    assert resp.status_code == 403, resp.text
    assert resp.json()["code"] == "forbidden"
    assert resp.json()["message"]


@pytest.mark.parametrize("subject", ["alice", "arthur"])
def test_group_by_on_a_masked_or_denied_field_is_refused(
    gw_postgres: DemoGateway, subject: str
) -> None:
    """Grouping was a way to infer masked values; until aggregates exist (issue 16) any
    ``group_by`` is a 400 before policy is asked or a row is read (it was a 403)."""
    resp = gw_postgres.query(subject, DIBAO, {"fields": ["region_code"], "group_by": ["name"],
                                              **CASE})  # fmt: skip
    assert resp.status_code == 400, resp.text
    assert resp.json()["code"] == "bad_request"
    assert "group_by" in resp.json()["message"]


def test_equality_on_a_hash_token_is_the_one_allowed_filter(gw_postgres: DemoGateway) -> None:
    """arthur (L2) sees the L2 USCC masked as a hash token; equality on the token finds
    the same rows, and the same value gives another token under another case."""
    gw = gw_postgres
    body = {"fields": ["payee_uscc", "amount", "region_code"], "limit": 3, **CASE}
    resp = gw.query("arthur", "finance.fund_disbursements", body)
    assert resp.status_code == 200, resp.text
    rows = orjson.loads(resp.content)["rows"]
    assert rows and all(r["payee_uscc"].startswith("tk_") for r in rows)
    token = rows[0]["payee_uscc"]
    found = gw.query(
        "arthur",
        "finance.fund_disbursements",
        {**body, "where": [{"field": "payee_uscc", "op": "=", "value": token}]},
    )
    assert found.status_code == 200, found.text
    matches = orjson.loads(found.content)["rows"]
    assert matches and all(r["payee_uscc"] == token for r in matches)
    # the same value under another case gives an unlinkable token
    other = gw.query("arthur", "finance.fund_disbursements", {**body, "case_ref": "JW-2026-999"})
    assert orjson.loads(other.content)["rows"][0]["payee_uscc"] != token
    key = derive_case_key(load_mask_secret(gw.settings.home), CASE["case_ref"])
    assert hash_token("not-the-value", key) != token


@pytest.mark.parametrize(
    "value",
    [
        "430121' OR '1'='1",
        "430121'; DROP TABLE dibao_recipients; --",
        '430121" OR 1=1 --',
        "430121\\'; SELECT pg_sleep(5); --",
        "４３０１２１",
        "%",
        "_",
    ],
)
def test_injection_in_filter_values_is_data(gw: DemoGateway, value: str) -> None:
    resp = gw.query(
        "arthur",
        DIBAO,
        {
            "fields": ["region_code"],
            **CASE,
            "where": [{"field": "region_code", "op": "=", "value": value}],
        },
    )
    assert resp.status_code == 200, resp.text
    assert orjson.loads(resp.content)["rows"] == []
    prefix = gw.query(
        "arthur",
        DIBAO,
        {
            "fields": ["region_code"],
            **CASE,
            "where": [{"field": "region_code", "op": "prefix", "value": value}],
        },
    )
    assert orjson.loads(prefix.content)["rows"] == []
    # the table is still there
    assert (
        gw.query("arthur", DIBAO, {"fields": ["region_code"], "limit": 1, **CASE}).status_code
        == 200
    )


@pytest.mark.parametrize(
    "name",
    [
        "name; DROP TABLE dibao_recipients",
        'region_code" --',
        "region_code'",
        "地址",
        "REGION_CODE",
        "region_code ",
        "*",
    ],
)
def test_field_names_not_in_the_catalog_are_400(gw_postgres: DemoGateway, name: str) -> None:
    for body in (
        {"fields": [name]},
        {"where": [{"field": name, "op": "=", "value": "1"}]},
        {"order_by": [name]},
    ):
        resp = gw_postgres.query("arthur", DIBAO, {**body, **CASE})
        assert resp.status_code == 400, resp.text
        assert resp.json()["code"] == "bad_request"


@pytest.mark.parametrize(
    ("body", "status"),
    [
        ({"where": [{"field": "household_size", "op": "=", "value": "many"}]}, 400),
        ({"where": [{"field": "household_size", "op": "like", "value": 1}]}, 400),
        ({"where": [{"field": "household_size", "op": "=", "value": 10**30}]}, 400),
        ({"where": [{"field": "household_size", "op": "in", "value": [1, -(2**64)]}]}, 400),
        ({"where": [{"field": "start_date", "op": ">", "value": "yesterday"}]}, 400),
        ({"where": [{"field": "region_code", "op": "in", "value": "430121"}]}, 400),
        ({"where": [{"field": "region_code", "op": "between", "value": [1]}]}, 400),
        ({"limit": 0}, 400),
        ({"limit": "ten"}, 400),
        ({"unknown_key": 1}, 400),
        ({"purpose": None, "case_ref": None}, 403),
        ({"purpose": "curiosity"}, 403),
    ],
)
def test_bad_queries_get_clear_errors(gw_postgres: DemoGateway, body: dict, status: int) -> None:
    resp = gw_postgres.query("arthur", DIBAO, {**CASE, **body})
    assert resp.status_code == status, resp.text
    assert resp.json()["message"]


def test_unknown_dataset_and_missing_token(gw_postgres: DemoGateway) -> None:
    gw = gw_postgres
    assert gw.query("alice", "civil.nope", CASE).status_code == 404
    anonymous = gw.client.post(f"/api/v1/datasets/{DIBAO}/query", json=CASE)
    assert anonymous.status_code == 401
    garbage = gw.client.post(
        f"/api/v1/datasets/{DIBAO}/query",
        json=CASE,
        headers={"Authorization": "Bearer not.a.token"},
    )
    assert garbage.status_code == 401
    bad_format = gw.query("alice", DIBAO, CASE, format="xls")  # xlsx is a format now
    assert bad_format.status_code == 400


def test_refusals_are_audited(gw_postgres: DemoGateway) -> None:
    from audit.search import EventFilter, list_events

    gw = gw_postgres
    resp = gw.query("alice", DIBAO, {"order_by": ["id_number"], **CASE})
    assert resp.status_code == 403
    page = list_events(
        store=gw.services.audit.store,
        filters=EventFilter(type="query.denied", actor="alice"),
        limit=10,
    )
    latest = page["items"][0]
    assert latest["outcome"] == "denied"
    assert latest["decision"]["allow"] is False
    assert latest["decision"]["reasons"]


def test_token_filter_on_a_masked_field_not_asked_for(gw_postgres: DemoGateway) -> None:
    """The masked field is read to compare tokens, then dropped: never sent."""
    gw = gw_postgres
    body = {"fields": ["payee_uscc", "amount"], "limit": 1, **CASE}
    token = orjson.loads(gw.query("arthur", "finance.fund_disbursements", body).content)["rows"][0][
        "payee_uscc"
    ]
    for fmt in ("json", "csv", "arrow"):
        resp = gw.query(
            "arthur",
            "finance.fund_disbursements",
            {
                "fields": ["amount", "region_code"],
                **CASE,
                "where": [{"field": "payee_uscc", "op": "=", "value": token}],
            },
            format=fmt,
        )
        assert resp.status_code == 200, resp.text
        assert b"payee_uscc" not in resp.content and token.encode() not in resp.content
    rows = orjson.loads(
        gw.query(
            "arthur",
            "finance.fund_disbursements",
            {
                "fields": ["amount"],
                **CASE,
                "where": [
                    {"field": "payee_uscc", "op": "=", "value": "tk_000000000000000000000000"}
                ],
            },
        ).content
    )["rows"]
    assert rows == []
