"""regopy against the real OPA engine on hostile text in every string of the input.

Issue 11, class 1: a string the policy echoed could rewrite the embedded engine's
decision. Here every string input — purpose, case reference, field names, subject,
department, roles, clearance, jurisdiction, dataset id and level, allowed purposes,
region field, mask overrides, grants (id, dataset, fields, status, requester,
approvals) — is drawn from ``adversarial.text`` (quotes,
backslashes, control characters, non-BMP, JSON fragments) — aggregates' functions and
fields too (issue 16) — mixed with the values
that make the policy take its interesting branches. For each input:

- regopy's raw decision equals OPA's (the oracle), member for member;
- the strict schema accepts it exactly when every mask method in it is a known one
  or the field's own override holding a valid mask spec (a steward's ``mask_override``
  is the only catalog text the policy copies into a method; ``round:100`` is valid on
  the field that holds it only), and then the embedded PDP's ``Decision`` equals the
  one built from OPA's;
- no reason carries text the input did not hold as a catalog value.
"""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from catalog.errors import Unavailable
from catalog.mask_specs import is_mask_spec
from policies.authoring import opa_decider, regopy_decider
from policies.bundle import load_policy_set
from policies.decision import Decision, decision_from_output
from policies.inputs import decision_input_from_dict
from policies.schema import MASK_METHODS
from tests.policies.adversarial import text

POLICY_SET = load_policy_set()
REGOPY = regopy_decider(POLICY_SET)
OPA = opa_decider(POLICY_SET)

LEVELS = ["L1", "L2", "L3", "L4"]
PI = ["none", "id_number", "name", "phone", "bank_card", "address", "uscc", "free_text"]
ROLES = ["analyst", "steward", "security_officer", "admin"]
TIMES = ["2025-01-01T00:00:00Z", "2030-01-01T00:00:00Z"]
OPS = ["=", "!=", "<", "prefix", "in"]
FNS = ["count", "count_distinct", "sum", "avg", "min", "max"]
# overrides as stewards save them (issue 16: parameters after a colon), and refused ones
OVERRIDES = ["hash", "redact", "round:100", "bucket:0,500", "keep_last:4", "replace:#{4}",
             "date_shift", "id_number_fpe", "round", "keep_first:0"]  # fmt: skip


def mixed(values: list[Any]) -> st.SearchStrategy[Any]:
    """One of the meaningful values, or hostile text."""
    return st.sampled_from(values) | text


@st.composite
def inputs(draw: st.DrawFn) -> dict[str, Any]:
    names = draw(st.lists(text, min_size=1, max_size=5, unique=True))
    fields = [
        {
            "name": n,
            "level": draw(mixed(LEVELS)),
            "pi_category": draw(mixed(PI)),
            "mask_override": draw(st.none() | st.sampled_from(OVERRIDES) | text),
        }
        for n in names
    ]
    some_names = st.lists(st.sampled_from(names) | text, max_size=3, unique=True)
    purposes = draw(st.lists(mixed(["case_investigation"]), max_size=3, unique=True))
    dataset_id = draw(text)
    dataset = {
        "id": dataset_id,
        "level": draw(mixed(LEVELS)),
        "department": draw(text),
        "allowed_purposes": purposes,
        "region_field": draw(st.none() | st.sampled_from(names) | text),
        "schema_version": 1,
        "fields": fields,
    }
    subject = draw(text)
    user = {
        "subject": subject,
        "department": draw(st.none() | text),
        "roles": draw(st.lists(mixed(ROLES), min_size=1, max_size=3, unique=True)),
        "clearance": draw(mixed(LEVELS)),
        "jurisdiction": draw(st.lists(text, max_size=3, unique=True)),
    }
    request = {
        "fields": draw(some_names),
        "filters": [
            {"field": f, "op": draw(mixed(OPS)), "value_is_hash_token": draw(st.booleans())}
            for f in draw(some_names)
        ],
        "order_by": draw(some_names),
        "group_by": draw(some_names),
        "unmask": draw(some_names),
        "purpose": draw(st.sampled_from(purposes) | text) if purposes else draw(text),
        "case_ref": draw(st.none() | text),
    }
    # issue 16: aggregates, sometimes with no field (rows per group), hostile fn and field
    aggregates = [
        {"fn": draw(mixed(FNS)), **({"field": f} if f is not None else {})}
        for f in draw(st.lists(st.none() | st.sampled_from(names) | text, max_size=3))
    ]
    if aggregates:
        request["aggregates"] = aggregates
    grants = [
        {
            "id": draw(text),
            "dataset": draw(st.just(dataset_id) | text),
            "fields": draw(st.lists(st.sampled_from(names) | text, max_size=3, unique=True)),
            "action": draw(mixed(["allow"])),
            # timestamps are the gateway's own (policies.inputs.rfc3339), never request text
            "expires_at": draw(st.sampled_from(TIMES)),
            "approvals": draw(st.lists(text | st.just(subject), max_size=3)),
            "status": draw(mixed(["approved", "pending"])),
            "requester": draw(st.just(subject) | text),
        }
        for _ in range(draw(st.integers(0, 2)))
    ]
    return {
        "user": user,
        "dataset": dataset,
        "request": request,
        "grants": grants,
        "now": "2026-01-01T00:00:00Z",
    }


def _strings(value: Any) -> set[str]:
    if isinstance(value, str):
        return {value}
    if isinstance(value, dict):
        return set().union(*(_strings(k) | _strings(v) for k, v in value.items()))
    if isinstance(value, list):
        return set().union(*(_strings(v) for v in value))
    return set()


def canonical(decision: dict[str, Any]) -> dict[str, Any]:
    """Lists the policy sorts, sorted here: rego-cpp orders strings by its own text
    (``policies.rego_call``), so the schema re-sorts them and so does this comparison."""
    out = {**decision, "approval_fields": sorted(decision["approval_fields"])}
    if isinstance(decision["row_filter"], dict):
        prefixes = sorted(decision["row_filter"]["prefixes"])
        out["row_filter"] = {**decision["row_filter"], "prefixes": prefixes}
    out["reasons"] = {
        code: {k: sorted(v) if isinstance(v, list) else v for k, v in params.items()}
        for code, params in decision["reasons"].items()
    }
    return out


def _same(one: Decision, other: Decision) -> bool:
    return one.to_dict() | {"decision_id": ""} == other.to_dict() | {"decision_id": ""}


@settings(
    max_examples=150,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(inputs())
def test_regopy_and_opa_agree_on_hostile_text_everywhere(value: dict[str, Any]) -> None:
    ours, oracle = REGOPY(value), OPA(value)
    assert canonical(ours) == canonical(oracle)
    decision_input = decision_input_from_dict(value)
    overrides = {f["name"]: f["mask_override"] for f in value["dataset"]["fields"]}
    known = all(
        spec["method"] is None
        or spec["method"] in MASK_METHODS
        or (spec["method"] == overrides.get(name) and is_mask_spec(spec["method"]))
        for name, spec in ours["fields"].items()
    )
    if not known:  # a steward's override the catalog would refuse
        with pytest.raises(Unavailable):
            decision_from_output(ours, decision_input=decision_input, decision_id="d")
        return
    mine = decision_from_output(ours, decision_input=decision_input, decision_id="d")
    theirs = decision_from_output(oracle, decision_input=decision_input, decision_id="d")
    assert _same(mine, theirs)
    catalog = {f["name"] for f in value["dataset"]["fields"]}
    catalog |= set(value["dataset"]["allowed_purposes"])
    for reason in mine.reason_codes:
        assert _strings(list(reason.params().values())) <= catalog
    request_only = _strings(value["request"]) - catalog - _strings(value["dataset"])
    said = _strings([list(params.values()) for params in ours["reasons"].values()])
    assert not (request_only & said)
