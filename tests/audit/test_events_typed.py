"""Typed audit events: one vocabulary, builders that cannot misspell it, and an append
that refuses what is not in it before anything reaches the chain."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from audit.event_types import EventType, MalformedEvent, Outcome
from audit.events import EVENT_TYPES, OUTCOMES, prepare
from audit.records import (
    Actor,
    AuditEvent,
    DecisionRecord,
    Delivery,
    FieldRecord,
    access_event,
    audit_access_event,
    emergency_event,
    query_event,
    refusal_event,
    registration_event,
    user_admin_event,
)
from catalog.errors import BadRequest
from tests.audit.helpers import event, open_log, sqlite_url

ALICE = Actor("alice", "finance", ("analyst",))


def test_the_enum_is_the_stored_vocabulary() -> None:
    # StrEnum: a member is its string, so stored and searched text is unchanged
    assert {"query.started": 1}[EventType.QUERY_STARTED] == 1  # hashes and equals its text
    assert {t.value for t in EventType} == EVENT_TYPES
    assert {"ok", "denied", "error", "started", "aborted"} == OUTCOMES
    # the types the gateway emitted before the enum existed, listed or not
    for name in ("request.refused", "user.suspended", "user.unsuspended", "grants.revoked",
                 "dataset.frozen", "dataset.unfrozen", "audit.unsealed",
                 "alert.acknowledged", "alert.resolved"):  # fmt: skip
        assert name in EVENT_TYPES


@pytest.mark.parametrize(
    ("overrides", "says"),
    [
        ({"type": "query.strated"}, r"unknown audit event type 'query\.strated'"),
        ({"type": "Query Started"}, "bad audit event type"),
        ({"type": None}, "bad audit event type"),
        ({"outcome": "fine"}, "bad audit event outcome"),
        ({"actor": None}, "actor.sub"),
        ({"rows": -1}, "rows"),
        ({"secret": "x"}, "unknown audit event fields"),
    ],
)
def test_prepare_refuses_unknown_types_and_malformed_events(
    overrides: dict[str, Any], says: str
) -> None:
    with pytest.raises(MalformedEvent, match=says) as caught:
        prepare(event(1, **overrides))
    assert isinstance(caught.value, BadRequest)  # the same 400 as before the enum
    assert caught.value.code == "bad_request"


def test_an_unknown_type_never_reaches_the_chain(tmp_path: Path) -> None:
    with open_log(sqlite_url(tmp_path), tmp_path / "home") as log:
        first = log.append(event(1))
        with pytest.raises(MalformedEvent, match="unknown audit event type"):
            log.append(event(2, type="query.exploded"))
        with pytest.raises(MalformedEvent, match="unknown audit event type"):
            log.append_nowait(event(3, type="nothing.happened"))
        with pytest.raises(MalformedEvent, match="unknown audit event type"):
            log.submit(event(4, type="query.exploded"))
        after = log.append(event(5))
    assert after.seq == first.seq + 1  # nothing refused took a place in the chain


def test_an_event_is_checked_when_it_is_built() -> None:
    with pytest.raises(MalformedEvent, match=r"unknown audit event type 'query\.exploded'"):
        AuditEvent(type="query.exploded", actor=ALICE, outcome="ok")  # type: ignore[arg-type]
    with pytest.raises(MalformedEvent, match="outcome 'fine'"):
        AuditEvent(type=EventType.AUDIT_READ, actor=ALICE, outcome="fine")  # type: ignore[arg-type]
    # a builder asked for another family's type is a bug at the call site
    with pytest.raises(MalformedEvent, match="not one of the emergency events"):
        emergency_event(type_=EventType.QUERY_STARTED, actor=ALICE, resource="r", reason="x")
    with pytest.raises(MalformedEvent, match=r"unknown audit event type 'user\.deleted'"):
        user_admin_event(type_="user.deleted", actor=ALICE, subject="bob", details={})


def test_a_built_event_is_frozen() -> None:
    built = registration_event(type_=EventType.SOURCE_UPDATED, actor=ALICE,
                               resource="source:s1", department="finance")  # fmt: skip
    with pytest.raises(AttributeError):
        built.resource = "source:s2"  # type: ignore[misc]
    with pytest.raises(TypeError):
        built["resource"] = "source:s2"  # type: ignore[index]


def test_a_query_event_hashes_exactly_as_the_dict_it_replaces() -> None:
    decision = DecisionRecord(
        allow=True, reasons=("grant",), decision_id="d1", policy_version="v1",
        fields={"姓名": FieldRecord("mask", "name"), "amount": FieldRecord("allow")},
        row_filter="region_code starts with 4301", approval_fields=("id_number",),
    )  # fmt: skip
    built = query_event(
        type_=EventType.QUERY_COMPLETED, actor=ALICE, dataset_id="finance.payroll",
        department="finance", level="L3", source_id="s1", purpose="p", case_ref="",
        request_id="r1", outcome=Outcome.OK, client="10.0.0.1", decision=decision,
        delivery=Delivery(rows=3, result_sha256="ab" * 32, duration_ms=1.5),
        details={"truncated": False},
    )  # fmt: skip
    by_hand = {
        "type": "query.completed", "actor": {"sub": "alice", "dept": "finance",
                                             "roles": ["analyst"]},
        "resource": "dataset:finance.payroll", "purpose": "p", "case_ref": "",
        "client": "10.0.0.1", "request_id": "r1", "outcome": "ok",
        "decision": {"allow": True, "reasons": ["grant"], "decision_id": "d1"},
        "policy_version": "v1",
        "fields": {"姓名": {"action": "mask", "method": "name"},
                   "amount": {"action": "allow", "method": None}},
        "row_filter": "region_code starts with 4301", "rows": 3,
        "result_sha256": "ab" * 32, "duration_ms": 1.5,
        "details": {"resource_dept": "finance", "level": "L3", "source_id": "s1",
                    "requires_approval": ["id_number"], "truncated": False},
        "ts": "2025-01-02T03:04:05.000006Z", "event_id": "e" * 32,
    }  # fmt: skip
    fixed = {"ts": "2025-01-02T03:04:05.000006Z", "event_id": "e" * 32}
    assert prepare({**built, **fixed}).data == prepare(by_hand).data


def test_the_other_builders_say_what_the_call_sites_said() -> None:
    access = access_event(type_="access.approved", actor=ALICE, dataset_id="civil.x",
                          department="civil", purpose="p", case_ref="c",
                          details={"access_request": "ar1"})  # fmt: skip
    assert access["resource"] == "dataset:civil.x"
    assert access["details"] == {"resource_dept": "civil", "access_request": "ar1"}
    frozen = emergency_event(type_=EventType.DATASET_FROZEN, actor=ALICE,
                             resource="dataset:civil.x", reason="leak", alert_id="al1")  # fmt: skip
    assert frozen["details"] == {"reason": "leak", "alert_id": "al1"}
    plain = emergency_event(type_=EventType.USER_SUSPENDED, actor=ALICE, resource="user:bob",
                            reason="x")  # fmt: skip
    assert plain["details"] == {"reason": "x"}
    refused = refusal_event(actor=ALICE, path="/api/v1/x", status=503, client=None,
                            request_id="r", details={"status": 503})  # fmt: skip
    assert (refused["type"], refused["outcome"]) == ("request.refused", "error")
    assert refusal_event(actor=ALICE, path="/api/v1/x", status=404, client=None,
                         request_id="r", details={})["outcome"] == "denied"  # fmt: skip
    read = audit_access_event(type_=EventType.AUDIT_READ, actor=Actor.cli("ops"),
                              details={"seq": 4})  # fmt: skip
    assert read["actor"] == {"sub": "cli:ops", "dept": None, "roles": ["cli"]}
    assert read["resource"] == "audit"
    for built in (access, frozen, refused, read):
        prepare(built)  # every builder's output is a valid event
