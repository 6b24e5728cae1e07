"""The strict decision schema: every malformed decision fails closed (503), and the
reasons reach people as sentences built from codes, never from request text."""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

import pytest

from catalog.errors import Unavailable
from policies.authoring import load_cases, regopy_decider
from policies.bundle import load_policy_set
from policies.decision import DecisionInput, decision_from_output
from policies.inputs import decision_input_from_dict
from policies.reasons import CODES
from policies.schema import MalformedDecision, loads_unique

CASES = {c["name"]: c for c in load_cases()}
DECIDE = regopy_decider(load_policy_set())
ALLOWED = "analyst_l3_defaults"  # allowed, masks, a withheld field, a row filter
REFUSED = "order_by_masked"
APPROVAL = "l4_dataset_without_grant"
AGGREGATE = "aggregate_count_and_sum_per_region"  # allowed, with its aggregates section

Edit = Callable[[dict[str, Any]], None]


def raw(name: str) -> tuple[dict[str, Any], DecisionInput]:
    case = CASES[name]
    return DECIDE(case["input"]), decision_input_from_dict(case["input"])


def _set(path: str, value: Any) -> Edit:
    *parents, last = path.split(".")

    def edit(decision: dict[str, Any]) -> None:
        node = decision
        for key in parents:
            node = node[key]
        node[last] = value

    return edit


def _drop(key: str) -> Edit:
    return lambda decision: decision.pop(key)


MALFORMED: dict[str, tuple[str, Edit]] = {
    "extra member": (ALLOWED, _set("z", True)),
    "missing member": (ALLOWED, _drop("row_filter")),
    "allow as string": (ALLOWED, _set("allow", "true")),
    "allow as 1": (ALLOWED, _set("allow", 1)),
    "requires_approval as null": (APPROVAL, _set("requires_approval", None)),
    "max_rows negative": (ALLOWED, _set("max_rows", -1)),
    "max_rows bool": (ALLOWED, _set("max_rows", True)),
    "max_rows float": (ALLOWED, _set("max_rows", 10.0)),
    "empty policy_version": (ALLOWED, _set("policy_version", "")),
    "field missing": (ALLOWED, lambda d: d["fields"].pop("amount")),
    "field unknown": (ALLOWED, _set("fields.x", {"action": "allow", "method": None})),
    "action unknown": (ALLOWED, _set("fields.amount", {"action": "ALLOW", "method": None})),
    "field spec extra key": (
        ALLOWED,
        _set("fields.amount", {"action": "allow", "method": None, "x": 1}),
    ),
    "mask without method": (ALLOWED, _set("fields.phone", {"action": "mask", "method": None})),
    "mask method unknown": (ALLOWED, _set("fields.phone", {"action": "mask", "method": "none"})),
    "allow with method": (ALLOWED, _set("fields.phone", {"action": "allow", "method": "hash"})),
    "row filter dropped": (ALLOWED, _set("row_filter", None)),
    "row filter other field": (ALLOWED, _set("row_filter.field", "amount")),
    "row filter foreign prefix": (ALLOWED, _set("row_filter.prefixes", ["11"])),
    "row filter all regions": (ALLOWED, _set("row_filter.prefixes", [""])),
    "row filter prefixes string": (ALLOWED, _set("row_filter.prefixes", "1101")),
    "approval field unknown": (APPROVAL, _set("approval_fields", ["x"])),
    "approval field twice": (APPROVAL, lambda d: d["approval_fields"].extend(d["approval_fields"])),
    "reasons as list": (REFUSED, _set("reasons", ["sorting refused"])),
    "unknown code": (REFUSED, _set("reasons.please_allow", {})),
    "params on a bare code": (REFUSED, _set("reasons.quota_exhausted", {"x": "y"})),
    "params fields unknown": (REFUSED, _set("reasons.order_by_refused", {"fields": ["x"]})),
    "params fields empty": (REFUSED, _set("reasons.order_by_refused", {"fields": []})),
    "purpose not the catalog's": (ALLOWED, _set("reasons.allowed", {"purpose": "curiosity"})),
    "allowed with a refusal": (ALLOWED, _set("reasons.quota_exhausted", {})),
    "refused without reasons": (REFUSED, _set("reasons", {})),
    "refusal with a note": (REFUSED, _set("reasons.rows_limited_to_jurisdiction", {})),
    "allow and approval": (ALLOWED, _set("requires_approval", True)),
    "approval without reasons": (APPROVAL, _set("reasons", {})),
    "not an object": (ALLOWED, lambda d: d.clear()),
    # issue 16: the aggregates section
    "aggregates as list": (AGGREGATE, _set("aggregates", [])),
    "aggregates extra key": (AGGREGATE, _set("aggregates.z", 1)),
    "aggregates threshold missing": (AGGREGATE, lambda d: d["aggregates"].pop("min_group_size")),
    "aggregates threshold zero": (AGGREGATE, _set("aggregates.min_group_size", 0)),
    "aggregates threshold bool": (AGGREGATE, _set("aggregates.min_group_size", True)),
    "aggregates threshold float": (AGGREGATE, _set("aggregates.min_group_size", 5.0)),
    "aggregates threshold text": (AGGREGATE, _set("aggregates.min_group_size", "5")),
    "aggregates field missing": (AGGREGATE, lambda d: d["aggregates"]["functions"].pop("amount")),
    "aggregates field unknown": (AGGREGATE, _set("aggregates.functions.x", ["count"])),
    "aggregates function unknown": (AGGREGATE, _set("aggregates.functions.amount", ["median"])),
    "aggregates function twice": (AGGREGATE, _set("aggregates.functions.amount", ["sum", "sum"])),
    "aggregates functions string": (AGGREGATE, _set("aggregates.functions.amount", "sum")),
    "aggregates on a denied field": (AGGREGATE, _set("aggregates.functions.case_flag", ["count"])),
}


@pytest.mark.parametrize("label", list(MALFORMED))
def test_a_malformed_decision_fails_closed(label: str) -> None:
    name, edit = MALFORMED[label]
    output, decision_input = raw(name)
    decision_from_output(copy.deepcopy(output), decision_input=decision_input, decision_id="d")
    edit(output)
    with pytest.raises(Unavailable, match="malformed decision") as caught:
        decision_from_output(output, decision_input=decision_input, decision_id="d")
    assert caught.value.details == {"problem": "malformed_decision"}
    assert caught.value.http_status == 503


def test_a_string_outside_the_inputs_vocabulary_is_refused_whatever_it_looks_like() -> None:
    """A field name that only *looks* like the entry's (its JSON spelling) is refused."""
    case = copy.deepcopy(CASES[ALLOWED])
    case["input"]["dataset"]["fields"][0]["name"] = 'a"b'
    output = DECIDE(case["input"])
    decision_input = decision_input_from_dict(case["input"])
    assert decision_from_output(output, decision_input=decision_input, decision_id="d")
    output["fields"]['a\\"b'] = output["fields"].pop('a"b')
    with pytest.raises(Unavailable):
        decision_from_output(output, decision_input=decision_input, decision_id="d")


def test_messages_come_from_codes_and_catalog_names() -> None:
    output, decision_input = raw(ALLOWED)
    decision = decision_from_output(output, decision_input=decision_input, decision_id="d")
    assert decision.reasons == (
        "allowed for purpose 'subsidy_audit'",
        "field 'address' masked with address_district",
        "field 'bank_card' masked with bank_card_last4",
        "field 'id_number' masked with id_number_partial",
        "field 'phone' masked with phone_partial",
        "field 'recipient_name' masked with name_surname",
        "field 'case_flag' withheld: above clearance",
        "rows limited to the user's jurisdiction",
    )
    assert decision.reason_dicts()[0] == {"code": "allowed", "params": {"purpose": "subsidy_audit"}}
    refused, refused_input = raw("order_by_denied")
    decision = decision_from_output(refused, decision_input=refused_input, decision_id="d")
    assert decision.reasons == ("sorting on deny field 'case_flag' is refused",)


def test_every_code_renders() -> None:
    assert len(CODES) == 23
    for name, spec in CODES.items():
        assert name.replace("_", "").isalnum() and name.islower(), name
        assert spec.category in ("refusal", "approval", "note")


@pytest.mark.parametrize(
    "text",
    [
        '{"allow": false, "allow": true}',
        '{"a": {"b": 1, "b": 2}}',
        '[{"x": 1, "x": 1}]',
        "{",
        "",
    ],
)
def test_loads_unique_refuses_duplicates_and_garbage(text: str) -> None:
    with pytest.raises(MalformedDecision):
        loads_unique(text)


def test_loads_unique_reads_plain_json() -> None:
    assert loads_unique('{"a": [1, {"b": "\\"c"}]}') == {"a": [1, {"b": '"c'}]}


def test_an_aggregate_decision_carries_its_rules() -> None:
    """The aggregates section reaches the gateway as ``AggregateRules``; a query without
    aggregates gets none (null), and the section survives ``to_dict``."""
    output, decision_input = raw(AGGREGATE)
    decision = decision_from_output(output, decision_input=decision_input, decision_id="d")
    assert decision.aggregates is not None and decision.aggregates.min_group_size == 5
    assert decision.aggregates.allows("amount", "sum")
    assert decision.aggregates.allows("id_number", "count_distinct")
    assert not decision.aggregates.allows("id_number", "sum")
    assert not decision.aggregates.allows("case_flag", "count")
    assert decision.to_dict()["aggregates"]["functions"]["case_flag"] == []
    plain, plain_input = raw(ALLOWED)
    assert plain["aggregates"] is None
    plain_decision = decision_from_output(plain, decision_input=plain_input, decision_id="d")
    assert plain_decision.aggregates is None
