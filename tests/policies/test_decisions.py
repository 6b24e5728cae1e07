"""The decision fixtures through casbin + the embedded PDP, and through real OPA.

Every case of ``fixtures/decisions.json`` must (1) get the expected casbin answer for
``dataset:query`` in the dataset's department, (2) match its expected decision from
``EmbeddedPDP`` (regopy), and (3) get an identical raw decision from the OPA Go
engine: that is what keeps the policy valid for an OPA server in production.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Any

import pytest
from regopy import Interpreter

from catalog.db import migrate
from catalog.vocabulary import DEFAULT_MASK
from policies.authoring import (
    load_cases,
    mismatches,
    opa_decider,
    regopy_decider,
    run_rego_tests,
)
from policies.bundle import PolicySet, load_policy_set
from policies.inputs import decision_input_from_dict
from policies.pdp import EmbeddedPDP
from policies.rbac import Authorizer
from tests.policies.helpers import assign_roles
from tests.row_seals import register_test_seals

CASES = load_cases()


@pytest.fixture(scope="module")
def policy_set() -> PolicySet:
    return load_policy_set()


@pytest.fixture(scope="module")
def pdp() -> EmbeddedPDP:
    return EmbeddedPDP()


@pytest.fixture(scope="module")
def authorizer(tmp_path_factory: pytest.TempPathFactory) -> Authorizer:
    url = f"sqlite:///{tmp_path_factory.mktemp('casbin') / 'c.db'}"
    migrate(url)
    register_test_seals(url)
    authz = Authorizer.from_url(url, refresh_s=0)
    authz.seed_defaults()
    for case in CASES:
        assign_roles(authz, case["name"], case["input"]["user"])
    return authz


def test_fixture_table_is_big_enough() -> None:
    assert len(CASES) >= 40
    assert len({c["name"] for c in CASES}) == len(CASES)
    outcomes = Counter(c["expected"].get("allow") for c in CASES)
    assert outcomes[True] >= 15 and outcomes[False] >= 15
    levels = {c["input"]["dataset"]["level"] for c in CASES}
    assert levels == {"L1", "L2", "L3", "L4"}
    roles = {r for c in CASES for r in c["input"]["user"]["roles"]}
    assert roles == {"analyst", "steward", "security_officer", "admin"}
    masked = {
        spec["method"]
        for c in CASES
        for spec in c["expected"].get("fields", {}).values()
        if spec["action"] == "mask"
    }
    assert {m.value for m in DEFAULT_MASK.values()} <= masked


@pytest.mark.parametrize("case", CASES, ids=[c["name"] for c in CASES])
def test_case_through_casbin_and_embedded_pdp(
    case: dict[str, Any], pdp: EmbeddedPDP, authorizer: Authorizer
) -> None:
    user, dataset = case["input"]["user"], case["input"]["dataset"]
    allowed = authorizer.allowed(
        subject=case["name"], domain=dataset["department"], action="dataset:query"
    )
    assert allowed is case["expected"]["casbin"], user["roles"]
    decision = pdp.decide(decision_input_from_dict(case["input"]))
    assert mismatches(decision.to_dict(), case["expected"]) == []
    assert decision.policy_version == pdp.policy_version
    assert len(decision.decision_id) == 32


def test_every_case_identical_in_regopy_and_opa(policy_set: PolicySet) -> None:
    regopy, opa = regopy_decider(policy_set), opa_decider(policy_set)
    differ = [c["name"] for c in CASES if regopy(c["input"]) != opa(c["input"])]
    assert differ == []
    failing = [c["name"] for c in CASES if mismatches(opa(c["input"]), c["expected"])]
    assert failing == []


def test_rego_unit_tests_pass(policy_set: PolicySet) -> None:
    outcomes = run_rego_tests(policy_set)
    assert len(outcomes) >= 5
    assert [o for o in outcomes if not o.passed] == []


def test_rego_default_masks_match_the_catalog(policy_set: PolicySet) -> None:
    interpreter = Interpreter()
    for name, source in policy_set.modules.items():
        interpreter.add_module(name, source)
    output = interpreter.query("x = data.sluice.decision.default_mask")
    assert output.results[0].bindings["x"] == {k.value: v.value for k, v in DEFAULT_MASK.items()}


def test_fixture_file_is_where_the_cli_looks() -> None:
    assert (Path(__file__).parent / "fixtures" / "decisions.json").is_file()
