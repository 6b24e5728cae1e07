"""Tools for policy authors: Rego unit tests, decision fixtures, the OPA oracle.

Used by ``sluice policy test`` and by the test suite, so the CLI and CI agree on
what "the policy passes" means. A fixture case is ``{name, rule, input, expected}``;
``expected`` is a partial match (see ``mismatches``).
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from policies.bundle import DOCUMENT, PolicySet
from policies.pdp import compile_policy_set, eval_bundle

FIXTURES_PATH = Path(__file__).resolve().parent.parent / "tests/policies/fixtures/decisions.json"
RawDecide = Callable[[dict[str, Any]], dict[str, Any]]

_PACKAGE_RE = re.compile(r"^\s*package\s+([\w.]+)", re.MULTILINE)
_TEST_RULE_RE = re.compile(r"^(test_\w+)\s+if\b", re.MULTILINE)


@dataclass(frozen=True)
class Outcome:
    """One Rego test or fixture case: passed, or why not."""

    name: str
    passed: bool
    detail: str = ""


def load_cases(path: Path = FIXTURES_PATH) -> list[dict[str, Any]]:
    cases: list[dict[str, Any]] = json.loads(path.read_text(encoding="utf-8"))["cases"]
    return cases


def mismatches(decision: dict[str, Any], expected: dict[str, Any]) -> list[str]:
    """What in ``decision`` differs from the partial ``expected`` (empty = match).

    ``decision`` is a raw engine output or ``Decision.to_dict()``. Keys: allow,
    requires_approval, max_rows, row_filter, approval_fields (exact); fields (each named
    field's action and method); reasons_contain (``{code: params}``: each code must be
    among the reasons, with exactly those parameters); aggregates (``min_group_size``
    exact, ``functions`` per named field, as sets). ``casbin`` is the operation check's,
    ignored here.
    """
    problems = []
    for key in ("allow", "requires_approval", "max_rows", "row_filter", "approval_fields"):
        if key in expected and decision.get(key) != expected[key]:
            problems.append(f"{key}: expected {expected[key]!r}, got {decision.get(key)!r}")
    for name, spec in expected.get("fields", {}).items():
        got = decision.get("fields", {}).get(name)
        if got != spec:
            problems.append(f"field {name}: expected {spec!r}, got {got!r}")
    problems += _aggregate_mismatches(decision.get("aggregates"), expected.get("aggregates"))
    reasons = reason_params(decision)
    for code, params in expected.get("reasons_contain", {}).items():
        if reasons.get(code) != params:
            problems.append(f"reasons: expected {code} {params!r} in {reasons!r}")
    return problems


def _aggregate_mismatches(got: Any, expected: dict[str, Any] | None) -> list[str]:
    if expected is None:
        return []
    if not isinstance(got, dict):
        return [f"aggregates: expected {expected!r}, got {got!r}"]
    problems = []
    if "min_group_size" in expected and got.get("min_group_size") != expected["min_group_size"]:
        problems.append(f"aggregates.min_group_size: expected {expected['min_group_size']!r}, "
                        f"got {got.get('min_group_size')!r}")  # fmt: skip
    functions = got.get("functions") or {}
    for name, fns in expected.get("functions", {}).items():
        if sorted(functions.get(name) or []) != sorted(fns):
            problems.append(f"aggregates.functions.{name}: expected {fns!r}, "
                            f"got {functions.get(name)!r}")  # fmt: skip
    return problems


def reason_params(decision: dict[str, Any]) -> dict[str, Any]:
    """``{code: params}`` of a raw output (its ``reasons``) or of ``Decision.to_dict()``."""
    if "reason_codes" in decision:
        return {r["code"]: r["params"] for r in decision["reason_codes"]}
    reasons = decision.get("reasons")
    return dict(reasons) if isinstance(reasons, dict) else {}


def run_cases(decide: RawDecide, cases: list[dict[str, Any]]) -> list[Outcome]:
    outcomes = []
    for case in cases:
        try:
            problems = mismatches(decide(case["input"]), case["expected"])
        except Exception as exc:  # report, do not stop: an author wants every failure
            problems = [f"error: {exc!r}"]
        outcomes.append(Outcome(case["name"], not problems, "; ".join(problems)))
    return outcomes


def regopy_decider(policy_set: PolicySet) -> RawDecide:
    """Raw decisions from regopy (the embedded engine), compiled once."""
    bundle = compile_policy_set(policy_set)

    def decide(value: dict[str, Any]) -> dict[str, Any]:
        result: dict[str, Any] = eval_bundle(bundle, value)
        return result

    return decide


def opa_available() -> bool:
    try:
        import opa_bindings  # noqa: F401
    except ImportError:
        return False
    return True


def opa_decider(policy_set: PolicySet) -> RawDecide:
    """Raw decisions from the real OPA Go engine, in process (the compatibility oracle)."""
    from opa_bindings import OpaEngine

    engine = OpaEngine()
    for name, source in sorted(policy_set.modules.items()):
        engine.add_policy(name, source)
    engine.add_data(policy_set.meta_data())
    path = DOCUMENT.replace("/", ".")

    def decide(value: dict[str, Any]) -> dict[str, Any]:
        result: dict[str, Any] = engine.eval_document(path, value)
        return result

    return decide


def test_rule_names(source: str) -> tuple[str, list[str]]:
    """(package, [test_ rule names]) of one test module."""
    match = _PACKAGE_RE.search(source)
    if match is None:
        raise ValueError("module has no package")
    return match.group(1), sorted(set(_TEST_RULE_RE.findall(source)))


def run_rego_tests(policy_set: PolicySet) -> list[Outcome]:
    """Evaluate every ``test_`` rule of the ``*_test.rego`` modules with the OPA engine.

    Not with regopy: regopy 1.5 crashes the process (SIGSEGV) on ``with input as``
    against the decision module, and unit tests need ``with``. The decision module
    itself is evaluated by both engines (the fixtures).
    """
    if not opa_available():
        raise RuntimeError(
            "Rego unit tests need the OPA engine: pip install --ignore-requires-python "
            "opa-golib-python-bindings"
        )
    from opa_bindings import OpaEngine, OpaError

    engine = OpaEngine()
    for name, source in sorted({**policy_set.modules, **policy_set.tests}.items()):
        engine.add_policy(name, source)
    engine.add_data(policy_set.meta_data())
    outcomes = []
    for _module, source in sorted(policy_set.tests.items()):
        package, rules = test_rule_names(source)
        for rule in rules:
            try:
                passed = engine.eval_document(f"{package}.{rule}") is True
                detail = "" if passed else "false"
            except OpaError as exc:
                passed, detail = False, str(exc)
            outcomes.append(Outcome(f"{package}.{rule}", passed, detail))
    return outcomes
