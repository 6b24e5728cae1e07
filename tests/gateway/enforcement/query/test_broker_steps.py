"""The broker's steps seen from outside (issue 13): one decision input for the preview,
the query and the comparison; a comparison side's start records what ran; the trail
names the columns asked for and delivered; ``group_by`` is a clear 400."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from typing import Any

import orjson
import pytest

from audit.search import EventFilter, list_events
from gateway.enforcement.query.context import Origin, QueryContext
from gateway.enforcement.query.plan import SideOverrides, clear_key_tokens, plan_query
from gateway.enforcement.query.schemas import QueryBody
from policies.decision import Decision, DecisionInput, DecisionPoint, FieldAccess, UserContext
from tests.gateway.demo_app import DemoGateway

DIBAO = "civil.dibao_recipients"
PAYROLL = "finance.payroll"
CASE = {"purpose": "supervision", "case_ref": "JW-STEPS-1"}
L3_FIELDS = {"id_number", "name", "phone", "address"}


class _Recording(DecisionPoint):
    """Asks the real decision point and keeps every input it was asked with."""

    def __init__(self, inner: DecisionPoint) -> None:
        self.inner = inner
        self.asked: list[DecisionInput] = []

    def decide(self, decision_input: DecisionInput) -> Decision:
        self.asked.append(decision_input)
        return self.inner.decide(decision_input)

    @property
    def policy_version(self) -> str:
        return self.inner.policy_version


@pytest.fixture
def recording(gw_sqlite: DemoGateway) -> Iterator[_Recording]:
    """The same recorder behind the catalog page (``Services.pdp``) and the broker."""
    broker = gw_sqlite.client.app.state.broker
    working = gw_sqlite.services.pdp
    recorder = _Recording(working)
    gw_sqlite.services.pdp = broker.pdp = recorder
    try:
        yield recorder
    finally:
        gw_sqlite.services.pdp = broker.pdp = working


def _events(gw: DemoGateway, request_id: str, want: int) -> dict[tuple[str, str], Any]:
    return {(e["type"], e["request_id"]): e for e in gw.request_events(request_id, want)}


def test_preview_and_query_ask_policy_the_same_question(
    gw_sqlite: DemoGateway, recording: _Recording
) -> None:
    """The catalog page's effective access and the query it previews send the same
    decision input (grants, quota left, row caps included); only the clock may differ."""
    gw = gw_sqlite
    page = gw.client.get(f"/api/v1/catalog/{DIBAO}", headers=gw.headers("alice"), params=CASE)
    assert page.status_code == 200, page.text
    assert page.json()["access"]["may_query"] is True
    resp = gw.query("alice", DIBAO, {**CASE})
    assert resp.status_code == 200, resp.text
    preview, query = recording.asked
    assert preview.usage is not None and preview.usage == query.usage
    assert dataclasses.replace(preview, now=None) == dataclasses.replace(query, now=None)


def test_a_comparison_side_asks_the_question_its_query_would(
    gw_sqlite: DemoGateway, recording: _Recording
) -> None:
    gw = gw_sqlite
    body = {"left": {"dataset": DIBAO, "key": "id_number", "fields": ["region_code"]},
            "right": {"dataset": PAYROLL, "key": "id_number"}, **CASE}  # fmt: skip
    assert gw.compare("dora", body).status_code == 200
    side = recording.asked[0]
    assert gw.query("dora", DIBAO, {"fields": ["id_number", "region_code"], **CASE}
                    ).status_code == 200  # fmt: skip
    query = recording.asked[-1]
    assert dataclasses.replace(side, now=None, usage=None) == dataclasses.replace(
        query, now=None, usage=None
    )


def test_a_comparison_sides_start_records_what_ran(gw_sqlite: DemoGateway) -> None:
    """The key is matched as its hash token whatever policy released, and each side is
    read up to the comparison's ceiling: ``query.started`` says so, before any row is
    read, exactly as the side's end does."""
    gw = gw_sqlite
    body = {"left": {"dataset": PAYROLL, "key": "id_number", "fields": ["name"]},
            "right": {"dataset": DIBAO, "key": "id_number", "fields": ["region_code"]},
            **CASE}  # fmt: skip
    resp = gw.compare("dora", body)
    assert resp.status_code == 200, resp.text
    request_id = resp.headers["X-Request-Id"]
    events = _events(gw, request_id, 6)
    ceiling = gw.settings.comparison_max_side_rows
    for label, fields in (("left", ["id_number", "name"]), ("right", ["id_number", "region_code"])):
        started = events[("query.started", f"{request_id}.{label}")]
        completed = events[("query.completed", f"{request_id}.{label}")]
        assert started["details"]["masks"]["id_number"] == "hash"
        assert started["details"]["masks"] == completed["details"]["masks"]
        assert started["details"]["rows_limit"] == ceiling
        assert started["details"]["columns_requested"] == fields
        assert started["details"]["columns_delivered"] == fields
        assert completed["details"]["columns_delivered"] == fields
        assert started["seq"] < completed["seq"]


def test_the_trail_names_the_columns_requested_and_delivered(gw_sqlite: DemoGateway) -> None:
    """arthur (L2) asks for every field: the L3 ones are dropped by policy; the trail
    says what he asked for and what he got, at the start and at the end."""
    gw = gw_sqlite
    resp = gw.query("arthur", DIBAO, {"limit": 5, **CASE})
    assert resp.status_code == 200, resp.text
    sent = [c["name"] for c in orjson.loads(resp.content)["columns"]]
    assert sent and not set(sent) & L3_FIELDS
    request_id = resp.headers["X-Request-Id"]
    events = _events(gw, request_id, 2)
    every_field = gw.client.get(f"/api/v1/catalog/{DIBAO}").json()["fields"]
    names = [f["name"] for f in every_field]
    for kind in ("query.started", "query.completed"):
        details = events[(kind, request_id)]["details"]
        assert details["columns_requested"] == names
        assert details["columns_delivered"] == sent
    # a refusal names what was asked for
    refused = gw.query("arthur", DIBAO, {"fields": ["phone", "region_code"], **CASE})
    assert refused.status_code == 403
    page = list_events(store=gw.services.audit.store,
                       filters=EventFilter(type="query.denied"), limit=1, order="desc")  # fmt: skip
    assert page["items"][0]["details"]["columns_requested"] == ["phone", "region_code"]


@pytest.mark.parametrize("group_by", [["region_code"], ["name"], ["region_code", "status"]])
def test_group_by_is_a_clear_400_until_aggregates_exist(
    gw_sqlite: DemoGateway, recording: _Recording, group_by: list[str]
) -> None:
    """``group_by`` used to be accepted, sent to policy and ignored (rows came back that
    read as groups): it is refused before policy is asked or anything is read."""
    gw = gw_sqlite
    started = _count(gw, "query.started")
    resp = gw.query("alice", DIBAO, {"fields": ["region_code"], "group_by": group_by, **CASE})
    assert resp.status_code == 400, resp.text
    assert resp.json()["code"] == "bad_request"
    assert "group_by" in resp.json()["message"]
    assert recording.asked == []
    assert _count(gw, "query.started") == started
    assert gw.query("alice", DIBAO, {"fields": ["region_code"], "group_by": [], "limit": 1,
                                     **CASE}).status_code == 200  # fmt: skip


def _count(gw: DemoGateway, kind: str) -> int:
    page = list_events(store=gw.services.audit.store, filters=EventFilter(type=kind),
                       limit=1000)  # fmt: skip
    return len(page["items"])


# -- the plan step on its own: pure, frozen, overrides inside --


def _context(gw: DemoGateway, body: QueryBody) -> QueryContext:
    broker = gw.client.app.state.broker
    with broker._catalog.connect() as conn:
        from gateway.enforcement.query.entries import load_entry

        entry = load_entry(conn, DIBAO)
    assert entry is not None
    user = UserContext(subject="dora", department=None, roles=("analyst",), clearance="L3")
    return QueryContext(user=user, entry=entry, body=body, origin=Origin(request_id="r1"))


def _decision(*, id_number: FieldAccess) -> Decision:
    return Decision(allow=True, reasons=(), row_filter=None, max_rows=1000,
                    requires_approval=False, policy_version="p",
                    fields={"id_number": id_number, "region_code": FieldAccess("allow"),
                            "name": FieldAccess("deny")})  # fmt: skip


def test_a_side_override_is_in_the_frozen_plan(gw_sqlite: DemoGateway) -> None:
    ctx = _context(gw_sqlite, QueryBody(fields=["id_number", "region_code", "name"], **CASE))
    decision = _decision(id_number=FieldAccess("allow"))
    keys: list[str] = []

    def case_key(case_ref: str) -> bytes:
        keys.append(case_ref)
        return b"k" * 32

    query = plan_query(ctx, decision, rows_left=500, case_key=case_key)
    assert dict(query.masks) == {} and query.hash_key is None and query.limit == 500
    assert query.requested == ("id_number", "region_code", "name")
    assert query.delivered == ("id_number", "region_code")  # name: denied, dropped
    side = plan_query(ctx, decision, rows_left=500, case_key=case_key,
                      side=SideOverrides(label="left", key="id_number", max_rows=7))  # fmt: skip
    assert dict(side.masks) == {"id_number": "hash"}
    # a key released in clear is hashed under a key of its own (red team 36), that key
    # alone: the side's other masks keep the case key (red team 37)
    assert dict(side.key_hashes) == {"id_number": clear_key_tokens(b"k" * 32)}
    assert side.hash_key == b"k" * 32 and keys == [CASE["case_ref"]]
    assert side.limit == 7 and side.source.limit == 8 and side.source.offset == 0
    assert side.columns[0].header() == {"name": "id_number", "action": "mask", "method": "hash"}
    assert side.subject_column == "id_number"
    with pytest.raises(dataclasses.FrozenInstanceError):
        side.limit = 10_000  # type: ignore[misc]
    with pytest.raises(TypeError):
        side.masks["id_number"] = "redact"  # type: ignore[index]
    cut = query.within(3)
    assert (cut.limit, cut.source.limit, query.limit) == (3, 4, 500)
