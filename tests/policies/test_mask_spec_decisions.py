"""Mask specs in decisions (issue 16): a parametrised method (``round:100``) is accepted
only on the field whose stored override it is, and a policy may name by itself only the
methods without parameters; anything else fails closed like any malformed decision."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from catalog.errors import Unavailable
from catalog.mask_specs import PARAMETRISED, PLAIN
from catalog.vocabulary import MaskMethod
from policies.authoring import load_cases, regopy_decider
from policies.bundle import load_policy_set
from policies.decision import decision_from_output
from policies.inputs import decision_input_from_dict
from policies.schema import MASK_METHODS

CASES = {c["name"]: c for c in load_cases()}
DECIDE = regopy_decider(load_policy_set())
SPECS = "mask_override_parametrised_specs"


def _decide(case_input: dict[str, Any]) -> tuple[dict[str, Any], Any]:
    return DECIDE(case_input), decision_input_from_dict(case_input)


def test_policy_may_name_only_plain_methods() -> None:
    assert MASK_METHODS == PLAIN
    assert not {m.value for m in PARAMETRISED} & MASK_METHODS
    assert {"date_month", "date_year", "date_shift", "id_number_fpe"} <= MASK_METHODS
    assert {m.value for m in MaskMethod} == MASK_METHODS | {m.value for m in PARAMETRISED}


def test_each_field_keeps_its_own_spec() -> None:
    output, decision_input = _decide(CASES[SPECS]["input"])
    decision = decision_from_output(output, decision_input=decision_input, decision_id="d")
    assert decision.fields["amount"].method == "round:100"
    assert decision.fields["subsidy_total"].method == "bucket:500,1000,5000"
    assert decision.fields["notes"].method == "replace:#{4}"


@pytest.mark.parametrize(
    ("field", "method"),
    [
        ("amount", "round:1000"),  # a spec, but not the one stored for this field
        ("region_code", "round:100"),  # another field's spec
        ("amount", "round"),  # a parametrised method without its parameter
        ("amount", "keep_first:0"),  # not a valid spec at all
    ],
)
def test_a_spec_other_than_the_fields_own_fails_closed(field: str, method: str) -> None:
    output, decision_input = _decide(CASES[SPECS]["input"])
    output = copy.deepcopy(output)
    output["fields"][field] = {"action": "mask", "method": method}
    with pytest.raises(Unavailable):
        decision_from_output(output, decision_input=decision_input, decision_id="d")


def test_a_stored_override_that_is_no_spec_fails_closed() -> None:
    """An override written behind the catalog's back (SQL) is passed through by the
    policy but refused by the schema: the query fails, nothing is released."""
    case_input = copy.deepcopy(CASES[SPECS]["input"])
    for field in case_input["dataset"]["fields"]:
        if field["name"] == "amount":
            field["mask_override"] = "replace:\\d+"
    output, decision_input = _decide(case_input)
    assert output["fields"]["amount"] == {"action": "mask", "method": "replace:\\d+"}
    with pytest.raises(Unavailable):
        decision_from_output(output, decision_input=decision_input, decision_id="d")
