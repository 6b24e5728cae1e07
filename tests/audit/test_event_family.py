"""A record built from its start's ``Family`` (``audit.events.family_of``) is the record
built whole: the same body, the same canonical bytes, the same indexed columns, the
same refusals. The query's start and end are built so (``gateway.enforcement.query.run``)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from audit.event_types import EventType, MalformedEvent, Outcome
from audit.events import Prepared, family_of, prepare
from audit.records import (
    Actor,
    AggregateRecord,
    DecisionRecord,
    Delivery,
    FieldRecord,
    query_details,
    query_event,
)
from catalog.errors import BadRequest

MOMENT = datetime(2026, 12, 5, 3, 4, 5, 678901, tzinfo=UTC)
ALICE = Actor("alice", "civil", ("analyst", "auditor"))
DECISION = DecisionRecord(
    allow=True, reasons=("clearance", "purpose"), decision_id="d-1", policy_version="v7",
    fields={"id_number": FieldRecord("mask", "id_number_partial"), "name": FieldRecord("allow"),
            "phone": FieldRecord("deny")},
    row_filter="region_code starts with 430121", approval_fields=("phone",),
)  # fmt: skip

# free-form values as they reach the details: texts (code points past U+E000 sort
# differently in JCS), numbers orjson and RFC 8785 print alike or not, lists, objects
LEAF = (st.none() | st.booleans() | st.text(max_size=8)
        | st.integers(-(2**53) + 1, 2**53 - 1)
        | st.floats(allow_nan=False, allow_infinity=False))  # fmt: skip
VALUE = st.recursive(
    LEAF,
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=4), inner, max_size=3)
    ),
    max_leaves=8,
)
DETAILS = st.dictionaries(st.text(max_size=6), VALUE, max_size=4)


def _whole(type_: EventType, outcome: Outcome, delivery: Delivery, details: dict[str, Any],
           decision: DecisionRecord | None = DECISION,
           aggregate: AggregateRecord | None = None) -> Any:  # fmt: skip
    return query_event(type_=type_, actor=ALICE, dataset_id="civil.dibao", department="civil",
                       purpose="supervision", case_ref="JW-1", request_id="r-1",
                       outcome=outcome, client="10.0.0.1", level="L3", source_id="civil-db",
                       decision=decision, delivery=delivery, details=details,
                       aggregate=aggregate)  # fmt: skip


def _same(a: Prepared, b: Prepared) -> None:
    """Equal but for the event id (random in each)."""
    assert a.body.pop("event_id") != b.body.pop("event_id")
    assert a.body == b.body
    assert a.index == b.index and a.orjson_safe == b.orjson_safe
    strip = [p.data.split(b'"event_id":"')[0] + p.data.split(b'"event_id":"')[1][33:]
             for p in (a, b)]  # fmt: skip
    assert strip[0] == strip[1]
    assert a.split == b.split


@settings(max_examples=150, deadline=None)
@given(details=DETAILS, rows=st.none() | st.integers(0, 10**9),
       duration=st.none() | st.floats(0, 1e16, allow_nan=False),
       sha=st.none() | st.text(max_size=64))  # fmt: skip
def test_an_end_built_from_its_family_is_the_whole_end(
    details: dict[str, Any], rows: int | None, duration: float | None, sha: str | None
) -> None:
    clock = lambda: MOMENT  # noqa: E731
    start = _whole(EventType.QUERY_STARTED, Outcome.STARTED, Delivery(), {"masks": {"a": "b"}})
    family = family_of(start)
    delivery = Delivery(rows=rows, result_sha256=sha, duration_ms=duration)
    aggregate = AggregateRecord(group_by=("county",), functions=("count(*)",), groups=3)
    whole = _whole(EventType.QUERY_COMPLETED, Outcome.OK, delivery, details, aggregate=aggregate)
    member = family.event(
        "query.completed", "ok", rows=rows, result_sha256=sha, duration_ms=duration,
        details=query_details(department="civil", level="L3", source_id="civil-db",
                              approval_fields=("phone",), aggregate=aggregate, details=details),
    )  # fmt: skip
    try:
        expected = prepare(whole, clock=clock)
    except (BadRequest, MalformedEvent) as exc:  # refused whole: refused from the family
        with pytest.raises(type(exc)):
            prepare(member, clock=clock)
        return
    _same(prepare(member, clock=clock), expected)


@pytest.mark.parametrize("decision", [DECISION, None])
def test_a_start_built_from_its_family_is_the_whole_start(decision: DecisionRecord | None) -> None:
    clock = lambda: MOMENT  # noqa: E731
    start = _whole(EventType.QUERY_STARTED, Outcome.STARTED, Delivery(),
                   {"masks": {"id_number": "id_number_partial"}, "rows_limit": 20},
                   decision=decision)  # fmt: skip
    member = family_of(start).event(str(start.type), str(start.outcome), details=start.details)
    _same(prepare(member, clock=clock), prepare(start, clock=clock))


def test_a_family_refuses_what_the_whole_event_refuses() -> None:
    too_long = query_event(type_=EventType.QUERY_STARTED, actor=ALICE, dataset_id="x" * 400,
                           department="civil", purpose="p", case_ref="c", request_id="r",
                           outcome=Outcome.STARTED)  # fmt: skip
    with pytest.raises(MalformedEvent):
        prepare(too_long)
    start = _whole(EventType.QUERY_STARTED, Outcome.STARTED, Delivery(), {})
    family = family_of(start)
    with pytest.raises(MalformedEvent):
        prepare(family.event("query.nonsense", "ok"))
    with pytest.raises(MalformedEvent):
        prepare(family.event("query.completed", "fine"))
    with pytest.raises(MalformedEvent):
        prepare(family.event("query.completed", "ok", rows=-1))
    with pytest.raises(MalformedEvent):  # the department is an indexed column: bounded
        prepare(family.event("query.completed", "ok", details={"resource_dept": "d" * 65}))
    with pytest.raises(BadRequest):
        prepare(family.event("query.completed", "ok", details={"x": float("nan")}))
    with pytest.raises(BadRequest):
        prepare(family.event("query.completed", "ok", details={"x": object()}))
