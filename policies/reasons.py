"""Reason codes of the data policy and their human messages.

The Rego policy returns ``reasons`` as ``{code: params}`` and never a sentence: a
sentence built in the engine from request text could be read back as structure
(issue 11, class 1). Parameters name only catalog values — the entry's field names,
one of its allowed purposes — so a message rendered here carries no text the caller
typed. This table is the closed vocabulary ``policies.schema`` checks decisions
against: a code not listed here makes the decision malformed (fail closed).

It is also the vocabulary of refusals made before any policy runs, so that clients read
one set of codes: ``account_disabled`` comes from the identity directory (a suspended or
disabled account, whatever token it holds), never from the Rego policy.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from enum import Enum
from typing import Any, Literal

Category = Literal["refusal", "approval", "note"]


class Params(Enum):
    """The one parameter shape each code takes."""

    NONE = "none"  # {}
    FIELDS = "fields"  # {"fields": [field name of the entry, ...]} (non-empty, unique)
    PURPOSE = "purpose"  # {"purpose": one of the entry's allowed purposes}


@dataclass(frozen=True)
class Reason:
    """One reason of a decision: a code and its (catalog-valued) parameters."""

    code: str
    fields: tuple[str, ...] = ()
    purpose: str | None = None

    def params(self) -> dict[str, Any]:
        kind = CODES[self.code].params
        if kind is Params.FIELDS:
            return {"fields": list(self.fields)}
        if kind is Params.PURPOSE:
            return {"purpose": self.purpose}
        return {}

    def to_dict(self) -> dict[str, Any]:
        return {"code": self.code, "params": self.params()}


FieldSpecs = Mapping[str, tuple[str, str | None]]
"""Each field's ``(action, method)`` in the same decision."""
Render = Callable[[Reason, FieldSpecs], list[str]]
"""The messages of one reason."""


@dataclass(frozen=True)
class Code:
    category: Category
    params: Params
    render: Render


def _fixed(text: str) -> Render:
    return lambda _reason, _fields: [text]


def _per_field(template: str) -> Render:
    """One message per named field; ``{action}`` and ``{method}`` are that field's."""

    def render_fields(reason: Reason, fields: FieldSpecs) -> list[str]:
        out = []
        for name in reason.fields:
            action, method = fields.get(name, ("deny", None))
            out.append(template.format(name=name, action=action, method=method))
        return out

    return render_fields


# Declaration order is the order reasons are listed in.
CODES: dict[str, Code] = {
    "security_officer_never_queries": Code(
        "refusal",
        Params.NONE,
        _fixed("separation of duties: a security officer never queries data"),
    ),
    "analysts_only": Code("refusal", Params.NONE, _fixed("only analysts may query data")),
    "purpose_required": Code("refusal", Params.NONE, _fixed("purpose is required")),
    "purpose_not_allowed": Code(
        "refusal", Params.NONE, _fixed("purpose is not allowed for this dataset")
    ),
    "case_ref_required": Code(
        "refusal", Params.NONE, _fixed("a case reference is required for L3 and L4 datasets")
    ),
    "unknown_dataset_level": Code("refusal", Params.NONE, _fixed("unknown dataset level")),
    "unknown_field": Code(
        "refusal", Params.NONE, _fixed("the request names a field this dataset does not have")
    ),
    "field_above_clearance": Code(
        "refusal", Params.FIELDS, _per_field("field '{name}' is above your clearance")
    ),
    "filter_on_denied_field": Code(
        "refusal", Params.FIELDS, _per_field("filtering on denied field '{name}' is refused")
    ),
    "filter_on_masked_field": Code(
        "refusal",
        Params.FIELDS,
        _per_field("masked field '{name}' can only be filtered by equality on its hash token"),
    ),
    "order_by_refused": Code(
        "refusal", Params.FIELDS, _per_field("sorting on {action} field '{name}' is refused")
    ),
    "group_by_refused": Code(
        "refusal", Params.FIELDS, _per_field("grouping on {action} field '{name}' is refused")
    ),
    "aggregate_refused": Code(
        "refusal",
        Params.FIELDS,
        _per_field("aggregating {action} field '{name}' with that function is refused"),
    ),
    "quota_exhausted": Code("refusal", Params.NONE, _fixed("daily row quota exhausted")),
    "no_region_field": Code(
        "refusal",
        Params.NONE,
        _fixed("this dataset has no region field, so rows cannot be limited to your region"),
    ),
    "nothing_visible": Code(
        "refusal", Params.NONE, _fixed("no field of this dataset is visible to you")
    ),
    "approval_required_l4_dataset": Code(
        "approval", Params.NONE, _fixed("approval required: L4 dataset")
    ),
    "approval_required": Code(
        "approval", Params.FIELDS, _per_field("approval required to release field '{name}'")
    ),
    "allowed": Code(
        "note", Params.PURPOSE, lambda reason, _f: [f"allowed for purpose '{reason.purpose}'"]
    ),
    "fields_masked": Code("note", Params.FIELDS, _per_field("field '{name}' masked with {method}")),
    "fields_withheld": Code(
        "note", Params.FIELDS, _per_field("field '{name}' withheld: above clearance")
    ),
    "rows_limited_to_jurisdiction": Code(
        "note", Params.NONE, _fixed("rows limited to the user's jurisdiction")
    ),
    "account_disabled": Code(
        "refusal", Params.NONE, _fixed("this account is suspended or disabled")
    ),
}
ORDER = {code: i for i, code in enumerate(CODES)}


def render(reasons: tuple[Reason, ...], fields: FieldSpecs) -> tuple[str, ...]:
    """The human messages of ``reasons`` (in the order given), for people to read."""
    out: list[str] = []
    for reason in reasons:
        out += CODES[reason.code].render(reason, fields)
    return tuple(out)
