"""The query's ``Family`` built from its typed context (``query_family``, issue 17) is the
one ``family_of`` finds in the whole start record (``query_record``): the same shared
parts, the same orjson flag, the same start body and bytes, the same refusals."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, cast

from hypothesis import given, settings
from hypothesis import strategies as st

from audit.event_types import EventType, MalformedEvent, Outcome
from audit.events import Prepared, family_of, prepare
from audit.records import Delivery
from catalog.errors import BadRequest
from gateway.enforcement.query.audit_events import end_details, query_family, query_record
from gateway.enforcement.query.context import Origin, QueryContext
from gateway.enforcement.query.entries import Entry
from gateway.enforcement.query.schemas import QueryBody
from policies.decision import Decision, FieldAccess, UserContext

MOMENT = datetime(2026, 12, 5, 3, 4, 5, 678901, tzinfo=UTC)
# texts a JSON body can hold (a lone surrogate is refused alike: ``ODD``)
TEXT = st.text(st.characters(exclude_categories=["Cs"]), max_size=12)
# a value of the wrong type, as a caller's bug would pass it, or a lone surrogate:
# refused alike (at most one part of an example holds one: ``_part``)
ODD = st.integers() | st.lists(TEXT, max_size=2) | st.text(max_size=3)
ODD_PARTS = ("subject", "department", "request_id", "client", "policy_version")


def _part(draw: st.DrawFn, odd: str | None, name: str) -> Any:
    return draw(ODD if odd == name else TEXT)


@st.composite
def contexts(draw: st.DrawFn, odd: str | None) -> QueryContext:
    user = UserContext(subject=_part(draw, odd, "subject"),
                       department=None if draw(st.booleans()) else _part(draw, odd, "department"),
                       roles=tuple(draw(st.lists(TEXT, max_size=3))), clearance="L3")  # fmt: skip
    entry = Entry(id=draw(TEXT), department=draw(TEXT), source_id=draw(TEXT), object_name="t",
                  level=draw(st.sampled_from(["L1", "L2", "L3", "L4"])), allowed_purposes=[],
                  region_field=None, status=cast(Any, "published"), schema_version=1,
                  fields=(), source=cast(Any, None))  # fmt: skip
    body = QueryBody(purpose=draw(TEXT.filter(lambda s: "\0" not in s)),
                     case_ref=draw(TEXT.filter(lambda s: "\0" not in s)))  # fmt: skip
    origin = Origin(request_id=_part(draw, odd, "request_id"),
                    client=None if draw(st.booleans()) else _part(draw, odd, "client"),
                    client_request_id=draw(st.none() | TEXT))  # fmt: skip
    return QueryContext(user=user, entry=entry, body=body, origin=origin)


@st.composite
def decisions(draw: st.DrawFn, odd: str | None) -> Decision:
    action = st.sampled_from(["allow", "mask", "deny"])
    fields = draw(st.dictionaries(TEXT, st.builds(FieldAccess, action, st.none() | TEXT),
                                  max_size=4))  # fmt: skip
    row_filter = draw(st.none() | st.fixed_dictionaries(
        {"field": TEXT, "prefixes": st.lists(TEXT, max_size=3)}))  # fmt: skip
    return Decision(allow=draw(st.booleans()), reasons=tuple(draw(st.lists(TEXT, max_size=3))),
                    fields=fields, row_filter=row_filter, max_rows=20,
                    requires_approval=draw(st.booleans()),
                    policy_version=_part(draw, odd, "policy_version"),
                    decision_id=draw(TEXT),
                    approval_fields=tuple(draw(st.lists(TEXT, max_size=2))))  # fmt: skip


def _built(make: Any) -> Any:
    try:
        return make()
    except (MalformedEvent, BadRequest) as exc:
        return type(exc)


def _without_id(prepared: Prepared) -> tuple[Any, ...]:
    body = dict(prepared.body)
    body.pop("event_id")
    head, tail = prepared.data.split(b'"event_id":"')
    return body, head + tail[33:], prepared.index, prepared.orjson_safe, prepared.split


@settings(max_examples=300, deadline=None)
@given(odd=st.none() | st.sampled_from(ODD_PARTS), data=st.data(),
       rows_limit=st.integers(0, 10**6))  # fmt: skip
def test_the_typed_family_is_the_family_of_the_whole_start(
    odd: str | None, data: st.DataObject, rows_limit: int
) -> None:
    ctx, decision = data.draw(contexts(odd)), data.draw(decisions(odd))
    details = {"columns_requested": ["a"], "columns_delivered": ["a"],
               "masks": {"a": "hash"}, "rows_limit": rows_limit}  # fmt: skip
    whole = _built(lambda: query_record(ctx, EventType.QUERY_STARTED, Outcome.STARTED,
                                        decision=decision, sent=Delivery(),
                                        details=details))  # fmt: skip
    old = whole if isinstance(whole, type) else _built(lambda: family_of(whole))
    new = _built(lambda: query_family(ctx, decision))
    if isinstance(old, type) or isinstance(new, type):
        assert old == new  # refused alike
        return
    assert new.shared == old.shared and new.safe == old.safe
    start = new.event("query.started", "started", details=end_details(ctx, decision, details, None))
    mine = _built(lambda: prepare(start, clock=lambda: MOMENT))
    theirs = _built(lambda: prepare(whole, clock=lambda: MOMENT))
    if isinstance(mine, type) or isinstance(theirs, type):
        assert mine == theirs
        return
    assert _without_id(mine) == _without_id(theirs)
