"""The query route's lean path (``routes.datasets.LeanQueryRoute``) answers exactly as
FastAPI's own handler: the same request sent as ``application/json`` (lean path when
well-formed) and as ``application/json; charset=utf-8`` (always FastAPI's handler) gets
the same status and the same answer, well-formed or not, for every caller."""

from __future__ import annotations

import json
from typing import Any

import orjson
import pytest

from tests.gateway.demo_app import DemoGateway

DIBAO = "civil.dibao_recipients"
CASE = {"purpose": "supervision", "case_ref": "JW-2026-001"}
OK = {"fields": ["id_number", "name", "region_code"], "limit": 3, **CASE}

CASES: list[tuple[str, str, Any, str]] = [
    # (subject, dataset, body (text when str), query string)
    ("alice", DIBAO, OK, ""),
    ("alice", DIBAO, OK, "format=csv"),
    ("alice", DIBAO, OK, "format=csv&bom=true"),
    ("alice", DIBAO, OK, "format=csv&bom=1"),
    ("alice", DIBAO, OK, "format=csv&bom=0&bom=1"),  # repeated: FastAPI's handler
    ("alice", DIBAO, OK, "format=csv&bom=yes"),  # pydantic's lax bool
    ("alice", DIBAO, OK, "bom=maybe"),  # 422-style validation error, as FastAPI words it
    ("alice", DIBAO, OK, "format=xml"),
    ("alice", DIBAO, OK, "format=ndjson&format=csv"),
    ("alice", DIBAO, OK, "unrelated=1"),
    ("alice", DIBAO, {**OK, "limit": 0}, ""),
    ("alice", DIBAO, {**OK, "limit": "2"}, ""),  # lax: a numeric string is an int
    ("alice", DIBAO, {**OK, "surprise": True}, ""),  # extra fields are forbidden
    ("alice", DIBAO, {**OK, "purpose": None}, ""),  # null purpose is ""
    ("alice", DIBAO, {**OK, "case_ref": "a\u0000b"}, ""),
    ("alice", DIBAO, [OK], ""),
    ("alice", DIBAO, "{not json", ""),
    ("alice", DIBAO, "", ""),
    ("alice", DIBAO, '{"fields": ["name"], "fields": ["phone"], "limit": 1}', ""),
    ("alice", DIBAO, '{"fields": ["name"], "purpose": "\\ud800"}', ""),
    ("alice", DIBAO, "NaN", ""),
    ("alice", DIBAO, '{"fields": ' + "[" * 50_000 + "]" * 50_000 + "}", ""),  # too deep
    (
        "alice",
        DIBAO,
        '{"purpose": "supervision", "where": [{"field": "region_code", '
        '"op": "=", "value": ' + "[" * 5_000 + "]" * 5_000 + "}]}",
        "",
    ),
    ("alice", "civil.nothing_here", OK, ""),
    ("alice", "finance.payroll", OK, ""),  # another department's entry
    ("sam", DIBAO, OK, ""),  # no role to query it
    ("nobody", DIBAO, OK, ""),  # a token nobody issued
]


def _send(gw: DemoGateway, subject: str, dataset: str, body: Any, query: str,
          content_type: str) -> Any:  # fmt: skip
    text = body if isinstance(body, str) else json.dumps(body)
    token = "not-a-token" if subject == "nobody" else gw.token(subject)
    headers = {"Authorization": f"Bearer {token}", "content-type": content_type}
    url = f"/api/v1/datasets/{dataset}/query" + (f"?{query}" if query else "")
    return gw.client.post(url, content=text.encode("utf-8", "surrogatepass"), headers=headers)


def _answer(resp: Any) -> tuple[int, Any]:
    """Status and body, without what differs between any two requests (ids)."""
    if resp.headers.get("content-type", "").startswith("application/json"):
        data = orjson.loads(resp.content)
        return resp.status_code, _without_ids(data)
    return resp.status_code, resp.content


def _without_ids(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _without_ids(v) for k, v in value.items()
                if k not in ("decision_id", "request_id")}  # fmt: skip
    if isinstance(value, list):
        return [_without_ids(v) for v in value]
    return value


@pytest.mark.parametrize("backend", ["sqlite", "postgres"])
@pytest.mark.parametrize(("subject", "dataset", "body", "query"), CASES)
def test_lean_path_answers_as_fastapi_does(
    request: pytest.FixtureRequest, backend: str, subject: str, dataset: str, body: Any,
    query: str,
) -> None:  # fmt: skip
    gw: DemoGateway = request.getfixturevalue(f"gw_{backend}")
    lean = _send(gw, subject, dataset, body, query, "application/json")
    full = _send(gw, subject, dataset, body, query, "application/json; charset=utf-8")
    assert _answer(lean) == _answer(full), (lean.text[:500], full.text[:500])
    assert lean.headers.get("content-type") == full.headers.get("content-type")
    assert lean.headers.get("sluice-truncated") == full.headers.get("sluice-truncated")


def test_lean_path_is_the_one_taken_for_a_plain_query(gw_sqlite: DemoGateway) -> None:
    """A well-formed query takes the lean path (the point of it), the other request
    FastAPI's handler: the lean path looks the caller up through the module's
    ``deferred_user``, FastAPI through the ``Depends`` it was declared with."""
    from gateway.web.routes import datasets

    original = datasets.deferred_user
    seen: list[bool] = []

    async def counted(request: Any) -> Any:
        seen.append(True)
        return await original(request)

    datasets.deferred_user = counted  # type: ignore[assignment]
    try:
        lean = _send(gw_sqlite, "alice", DIBAO, OK, "format=csv&bom=1", "application/json")
        assert lean.status_code == 200 and lean.content.startswith(b"\xef\xbb\xbf")
        assert seen == [True]
        full = _send(gw_sqlite, "alice", DIBAO, OK, "format=csv&bom=1",
                     "application/json; charset=utf-8")  # fmt: skip
        assert full.status_code == 200 and full.content.startswith(b"\xef\xbb\xbf")
        assert seen == [True]
    finally:
        datasets.deferred_user = original


@pytest.mark.parametrize("content_type", ["application/json", "application/json; charset=utf-8"])
def test_a_body_over_the_bound_is_refused_alike(gw_sqlite: DemoGateway, content_type: str) -> None:
    """A body over the API's bound (``gateway.web.body_limit``), declared or streamed,
    gets the same answer on either path."""
    big = json.dumps({**OK, "case_ref": "x" * (1024 * 1024)}).encode()
    headers = {"Authorization": f"Bearer {gw_sqlite.token('alice')}", "content-type": content_type}
    url = f"/api/v1/datasets/{DIBAO}/query"
    declared = gw_sqlite.client.post(url, content=big, headers=headers)
    streamed = gw_sqlite.client.post(url, content=iter([big[:600_000], big[600_000:]]),
                                     headers=headers)  # fmt: skip
    assert (declared.status_code, streamed.status_code) == (413, 413)
