"""Which refusals an approval would lift (``approval_would_lift``), one row per case:
the policy's own pending fields, masked fields used where only clear ones may go, and
everything approval cannot lift (clearance, purpose, a mixture)."""

from __future__ import annotations

import pytest

from gateway.enforcement.query.approvals import approval_would_lift
from policies.decision import Decision, FieldAccess
from policies.reasons import Reason

FIELDS = {"name": FieldAccess("mask", "name_surname"),
          "phone": FieldAccess("mask", "phone_partial"),
          "region_code": FieldAccess("allow"), "bank_card": FieldAccess("deny")}  # fmt: skip


def _decision(*reasons: Reason, pending: tuple[str, ...] = (), allow: bool = False) -> Decision:
    """As the policy answers: ``requires_approval`` only when approval is all it says."""
    only_approval = all(r.code.startswith("approval_required") for r in reasons)
    return Decision(allow=allow, reasons=tuple(r.code for r in reasons), fields=FIELDS,
                    row_filter=None, max_rows=10, requires_approval=bool(pending) and only_approval,
                    policy_version="t", approval_fields=pending, reason_codes=reasons)  # fmt: skip


CASES = [
    # (decision, fields to ask for)
    (_decision(Reason("approval_required", ("phone",)), pending=("phone",)), ("phone",)),
    (_decision(Reason("filter_on_masked_field", ("name",))), ("name",)),
    (_decision(Reason("order_by_refused", ("phone",))), ("phone",)),
    (_decision(Reason("group_by_refused", ("name",)), Reason("aggregate_refused", ("phone",))),
     ("name", "phone")),
    # an L4 entry's pending fields join the masked filter's
    (_decision(Reason("filter_on_masked_field", ("name",)), pending=("region_code",)),
     ("name", "region_code")),
    # approval cannot lift these
    (_decision(Reason("order_by_refused", ("bank_card",))), ()),
    (_decision(Reason("filter_on_masked_field", ("name",)), Reason("purpose_not_allowed")), ()),
    (_decision(Reason("field_above_clearance", ("bank_card",))), ()),
    (_decision(Reason("quota_exhausted")), ()),
    (_decision(allow=True), ()),
]  # fmt: skip


@pytest.mark.parametrize(("decision", "wanted"), CASES)
def test_approval_would_lift(decision: Decision, wanted: tuple[str, ...]) -> None:
    assert approval_would_lift(decision) == wanted
