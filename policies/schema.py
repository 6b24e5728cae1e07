"""The strict schema of a policy decision, checked before anything uses it.

Why strict, and why against the input: the engine's strings are not reliable text
(``policies.rego_call``), and a decision is the one thing that releases data. So every
member is required and nothing else is allowed; booleans are booleans, ``max_rows`` an
integer ≥ 0; every string must come from a closed set — a fixed code or mask method,
or a value of *this* decision's input passed through (a field name of the entry, a
region field, a jurisdiction prefix of the user, an allowed purpose, a field's own
``mask_override`` when it is a valid mask spec: ``round:100`` is accepted for the
field the steward set it on and nowhere else). A string from
anywhere else, however it got there, makes the decision malformed. Duplicate keys are
refused by the readers (node walk, ``loads_unique``). The messages name the member
that is wrong, never the offending value (it may be request text).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from catalog.mask_specs import PLAIN, is_mask_spec
from policies.reasons import CODES, ORDER, Params, Reason

MEMBERS = frozenset(
    {
        "allow",
        "reasons",
        "fields",
        "row_filter",
        "max_rows",
        "requires_approval",
        "approval_fields",
        "aggregates",
        "policy_version",
    }
)
ACTIONS = frozenset({"allow", "mask", "deny"})
AGGREGATE_FNS = frozenset({"count", "count_distinct", "sum", "avg", "min", "max"})
"""The functions an aggregate query may compute (issue 16)."""
MASK_METHODS = PLAIN
"""Mask methods a decision may name for any field: those without parameters."""


class MalformedDecision(ValueError):
    """The engine's output is not a decision of the expected shape."""


@dataclass(frozen=True)
class Vocabulary:
    """The strings a decision for one input may contain besides fixed codes."""

    fields: frozenset[str]
    region_field: str | None
    jurisdiction: frozenset[str]
    purposes: frozenset[str]
    overrides: frozenset[tuple[str, str]] = frozenset()  # (field, its valid mask spec)

    @classmethod
    def of(cls, dataset: Mapping[str, Any], jurisdiction: Iterable[str]) -> Vocabulary:
        region = dataset.get("region_field")
        return cls(
            fields=frozenset(str(f["name"]) for f in dataset.get("fields") or ()),
            region_field=region if isinstance(region, str) else None,
            jurisdiction=frozenset(jurisdiction),
            purposes=frozenset(str(p) for p in dataset.get("allowed_purposes") or ()),
            overrides=frozenset(
                (str(f["name"]), f["mask_override"])
                for f in dataset.get("fields") or ()
                if is_mask_spec(f.get("mask_override"))
            ),
        )


@dataclass(frozen=True)
class Checked:
    """A decision's members after the schema check (reasons in code order)."""

    allow: bool
    reasons: tuple[Reason, ...]
    fields: dict[str, tuple[str, str | None]]
    row_filter: dict[str, Any] | None
    max_rows: int
    requires_approval: bool
    approval_fields: tuple[str, ...]
    policy_version: str
    # (min_group_size, {field: functions allowed}) of an aggregate query; None otherwise
    aggregates: tuple[int, dict[str, frozenset[str]]] | None = None


def check(output: Any, vocabulary: Vocabulary) -> Checked:
    """Validate the raw decision ``output``; raise ``MalformedDecision`` on anything off."""
    if type(output) is not dict:
        raise MalformedDecision("the decision is not an object")
    if output.keys() != MEMBERS:
        raise MalformedDecision("the decision's members are not exactly the expected ones")
    allow = _bool(output["allow"], "allow")
    requires_approval = _bool(output["requires_approval"], "requires_approval")
    max_rows = output["max_rows"]
    if type(max_rows) is not int or max_rows < 0:
        raise MalformedDecision("max_rows is not an integer >= 0")
    version = output["policy_version"]
    if type(version) is not str or not version:
        raise MalformedDecision("policy_version is not a non-empty string")
    fields = _fields(output["fields"], vocabulary)
    row_filter = _row_filter(output["row_filter"], vocabulary)
    approval_fields = _names(output["approval_fields"], vocabulary, "approval_fields", empty=True)
    reasons = _reasons(output["reasons"], vocabulary)
    _consistent(allow, requires_approval, reasons, row_filter, vocabulary)
    aggregates = _aggregates(output["aggregates"], fields, vocabulary)
    return Checked(
        allow=allow,
        reasons=reasons,
        fields=fields,
        row_filter=row_filter,
        max_rows=max_rows,
        requires_approval=requires_approval,
        approval_fields=approval_fields,
        policy_version=version,
        aggregates=aggregates,
    )


def _bool(value: Any, member: str) -> bool:
    if type(value) is not bool:
        raise MalformedDecision(f"{member} is not a boolean")
    return value


def _names(value: Any, vocabulary: Vocabulary, member: str, *, empty: bool) -> tuple[str, ...]:
    if type(value) is not list or (not value and not empty):
        raise MalformedDecision(f"{member} is not a list of field names")
    for name in value:
        if type(name) is not str or name not in vocabulary.fields:
            raise MalformedDecision(f"{member} names something that is not a field of the entry")
    names = tuple(sorted(value))  # the engine's sort order is not reliable (rego_call)
    if len(set(names)) != len(names):
        raise MalformedDecision(f"{member} names a field twice")
    return names


def _fields(value: Any, vocabulary: Vocabulary) -> dict[str, tuple[str, str | None]]:
    if type(value) is not dict or value.keys() != vocabulary.fields:
        raise MalformedDecision("fields does not cover exactly the entry's fields")
    out: dict[str, tuple[str, str | None]] = {}
    for name, spec in value.items():
        if type(spec) is not dict or spec.keys() != {"action", "method"}:
            raise MalformedDecision("a field decision is not {action, method}")
        action, method = spec["action"], spec["method"]
        if type(action) is not str or action not in ACTIONS:
            raise MalformedDecision("a field action is not allow, mask or deny")
        if action == "mask":
            if type(method) is not str or not (
                method in MASK_METHODS or (name, method) in vocabulary.overrides
            ):
                raise MalformedDecision("a masked field has no known mask method")
        elif method is not None:
            raise MalformedDecision("a field that is not masked has a mask method")
        out[name] = (action, method)
    return out


def _aggregates(
    value: Any, fields: dict[str, tuple[str, str | None]], vocabulary: Vocabulary
) -> tuple[int, dict[str, frozenset[str]]] | None:
    """``null``, or ``{min_group_size: int >= 1, functions: {field: [fn, ...]}}`` covering
    exactly the entry's fields, each a list of known functions without repeats, and none
    for a denied field (a denied field is never aggregated, whatever the policy says)."""
    if value is None:
        return None
    if type(value) is not dict or value.keys() != {"min_group_size", "functions"}:
        raise MalformedDecision("aggregates is not {min_group_size, functions} or null")
    size = value["min_group_size"]
    if type(size) is not int or size < 1:
        raise MalformedDecision("aggregates.min_group_size is not an integer >= 1")
    functions = value["functions"]
    if type(functions) is not dict or functions.keys() != vocabulary.fields:
        raise MalformedDecision("aggregates.functions does not cover exactly the entry's fields")
    out: dict[str, frozenset[str]] = {}
    for name, fns in functions.items():
        if type(fns) is not list or any(type(f) is not str or f not in AGGREGATE_FNS for f in fns):
            raise MalformedDecision("aggregates.functions holds an unknown function")
        if len(set(fns)) != len(fns):
            raise MalformedDecision("aggregates.functions names a function twice")
        if fns and fields[name][0] == "deny":
            raise MalformedDecision("aggregates.functions allows a denied field")
        out[name] = frozenset(fns)
    return size, out


def _row_filter(value: Any, vocabulary: Vocabulary) -> dict[str, Any] | None:
    if value is None:
        return None
    if type(value) is not dict or value.keys() != {"field", "prefixes"}:
        raise MalformedDecision("row_filter is not {field, prefixes} or null")
    if value["field"] != vocabulary.region_field or vocabulary.region_field is None:
        raise MalformedDecision("row_filter is not on the entry's region field")
    prefixes = value["prefixes"]
    if type(prefixes) is not list:
        raise MalformedDecision("row_filter prefixes are not a list")
    for prefix in prefixes:
        if type(prefix) is not str or prefix not in vocabulary.jurisdiction:
            raise MalformedDecision("a row_filter prefix is not in the user's jurisdiction")
    if len(set(prefixes)) != len(prefixes):
        raise MalformedDecision("a row_filter prefix is given twice")
    return {"field": vocabulary.region_field, "prefixes": sorted(prefixes)}


def _reasons(value: Any, vocabulary: Vocabulary) -> tuple[Reason, ...]:
    if type(value) is not dict:
        raise MalformedDecision("reasons is not an object of codes")
    reasons = []
    for code, params in value.items():
        spec = CODES.get(code) if type(code) is str else None
        if spec is None:
            raise MalformedDecision("reasons holds an unknown code")
        if type(params) is not dict:
            raise MalformedDecision("reason parameters are not an object")
        if spec.params is Params.NONE:
            if params:
                raise MalformedDecision("a reason without parameters has some")
            reasons.append(Reason(code))
        elif spec.params is Params.FIELDS:
            if params.keys() != {"fields"}:
                raise MalformedDecision("a reason's parameters are not {fields}")
            fields = _names(params["fields"], vocabulary, "reason fields", empty=False)
            reasons.append(Reason(code, fields=fields))
        else:
            purpose = params.get("purpose")
            if params.keys() != {"purpose"} or type(purpose) is not str:
                raise MalformedDecision("a reason's parameters are not {purpose}")
            if purpose not in vocabulary.purposes:
                raise MalformedDecision("a reason names a purpose the entry does not allow")
            reasons.append(Reason(code, purpose=purpose))
    return tuple(sorted(reasons, key=lambda r: ORDER[r.code]))


def _consistent(
    allow: bool,
    requires_approval: bool,
    reasons: tuple[Reason, ...],
    row_filter: dict[str, Any] | None,
    vocabulary: Vocabulary,
) -> None:
    """The members must tell one story: an allow carries notes only and the row filter
    of an entry with a region field; a refusal says why."""
    categories = {CODES[r.code].category for r in reasons}
    if allow and requires_approval:
        raise MalformedDecision("allow and requires_approval are both true")
    if allow:
        if categories - {"note"}:
            raise MalformedDecision("an allowed decision carries refusal reasons")
        if vocabulary.region_field is not None and row_filter is None:
            raise MalformedDecision("an allowed decision lacks the entry's row filter")
    elif requires_approval:
        if categories != {"approval"}:
            raise MalformedDecision("a decision awaiting approval does not say what for")
    elif "refusal" not in categories or "note" in categories:
        raise MalformedDecision("a refusal does not carry its refusal reasons")


def _refuse_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in pairs:
        if key in out:
            raise MalformedDecision("a JSON object key is given twice")
        out[key] = value
    return out


def loads_unique(text: str | bytes) -> Any:
    """Parse JSON refusing duplicate keys (``json``/``orjson`` keep the last one)."""
    try:
        return json.loads(text, object_pairs_hook=_refuse_duplicates)
    except MalformedDecision:
        raise
    except ValueError as exc:
        raise MalformedDecision(f"the decision is not JSON ({exc.__class__.__name__})") from exc
