"""Invariants over generated requests (hypothesis), on the embedded engine:

- no field above the user's clearance is ever ``allow`` (nor ``mask``): grants,
  unmask requests, roles and filters cannot lift it;
- an allowed decision on an entry with a region field always carries the row filter
  of exactly the user's jurisdiction (no rows outside it);
- a security officer is never allowed.
"""

from __future__ import annotations

from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from policies.authoring import regopy_decider
from policies.bundle import load_policy_set

LEVELS = ["L1", "L2", "L3", "L4"]
RANK = {"L1": 1, "L2": 2, "L3": 3, "L4": 4}
PI = [
    "none",
    "id_number",
    "name",
    "phone",
    "bank_card",
    "address",
    "birth_date",
    "uscc",
    "free_text",
]
OPS = ["=", "!=", "<", ">", "prefix", "in"]
NAMES = [f"f{i}" for i in range(8)]
DECIDE = regopy_decider(load_policy_set())

field_st = st.fixed_dictionaries(
    {
        "level": st.sampled_from(LEVELS),
        "pi_category": st.sampled_from(PI),
        "mask_override": st.none() | st.sampled_from(["hash", "redact"]),
    }
)


@st.composite
def inputs(draw: st.DrawFn) -> dict[str, Any]:
    names = draw(st.lists(st.sampled_from(NAMES), min_size=1, max_size=6, unique=True))
    fields = [{"name": n, **draw(field_st)} for n in names]
    some_names = st.lists(st.sampled_from([*names, "ghost"]), max_size=3, unique=True)
    region = draw(st.none() | st.sampled_from(names))
    dataset = {
        "id": "d.x",
        "level": draw(st.sampled_from(LEVELS)),
        "department": "civil",
        "allowed_purposes": ["p"],
        "region_field": region,
        "schema_version": 1,
        "fields": fields,
    }
    user = {
        "subject": "u",
        "department": draw(st.sampled_from(["civil", "finance", None])),
        "roles": draw(
            st.lists(
                st.sampled_from(["analyst", "steward", "security_officer", "admin"]),
                min_size=1,
                max_size=2,
                unique=True,
            )
        ),
        "clearance": draw(st.sampled_from([*LEVELS, "L9", ""])),
        "jurisdiction": draw(st.lists(st.sampled_from(["", "11", "1101", "33"]), max_size=3)),
    }
    request = {
        "fields": draw(some_names),
        "filters": [
            {
                "field": f,
                "op": draw(st.sampled_from(OPS)),
                "value_is_hash_token": draw(st.booleans()),
            }
            for f in draw(some_names)
        ],
        "order_by": draw(some_names),
        "group_by": draw(some_names),
        "unmask": draw(some_names),
        "purpose": draw(st.sampled_from(["p", "q", "", None])),
        "case_ref": draw(st.none() | st.just("C-1")),
    }
    grants = [
        {
            "id": f"g{i}",
            "dataset": draw(st.sampled_from(["d.x", "d.y"])),
            "fields": draw(st.lists(st.sampled_from(names), max_size=4, unique=True)),
            "action": "allow",
            "expires_at": draw(st.sampled_from(["2025-01-01T00:00:00Z", "2030-01-01T00:00:00Z"])),
            "approvals": draw(st.lists(st.sampled_from(["u", "s1", "s2", "s3"]), max_size=3)),
            "status": draw(st.sampled_from(["approved", "pending", "rejected"])),
            "requester": draw(st.sampled_from(["u", "v"])),
        }
        for i in range(draw(st.integers(0, 2)))
    ]
    usage = draw(
        st.none() | st.builds(lambda n: {"rows_remaining_today": n}, st.integers(0, 200_000))
    )
    body = {"user": user, "dataset": dataset, "request": request, "grants": grants}
    body["now"] = "2026-01-01T00:00:00Z"
    if usage is not None:
        body["usage"] = usage
    return body


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(inputs())
def test_no_field_above_clearance_and_no_rows_outside_jurisdiction(value: dict[str, Any]) -> None:
    decision = DECIDE(value)
    clearance = RANK.get(value["user"]["clearance"], 0)
    for field in value["dataset"]["fields"]:
        if RANK[field["level"]] > clearance:
            assert decision["fields"][field["name"]]["action"] == "deny", field
    if decision["allow"]:
        region = value["dataset"]["region_field"]
        if region is not None:
            assert decision["row_filter"] == {
                "field": region,
                "prefixes": sorted(set(value["user"]["jurisdiction"])),
            }
        assert "security_officer" not in value["user"]["roles"]
        assert "analyst" in value["user"]["roles"]
        assert (
            decision["max_rows"]
            <= {"L1": 100000, "L2": 100000, "L3": 10000, "L4": 1000}[value["dataset"]["level"]]
        )
        usage = value.get("usage")
        if usage is not None:
            assert 0 < decision["max_rows"] <= usage["rows_remaining_today"]
        assert not decision["requires_approval"]
