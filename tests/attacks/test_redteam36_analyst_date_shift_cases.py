"""Red team 36, as an analyst: a shifted date read back in clear under many cases.

Rule (docs/policies.md, Masks): ``date_shift`` moves every date by 1 to 30 days either
way, never 0, so "a shifted date is never the true one"; a steward chooses it for a
field an analyst may see only so (finance's steward, for the dates of disbursements).

Attack: the shift was keyed by the case reference, which the analyst types: "unrelated
across cases". Arthur asks for the same 300 disbursements under 40 case references of
his own making. Each answer puts a row's true date somewhere in the 60 days around the
date he is shown, never on it, each time by an independent shift; intersecting those
windows pinned the true date of nearly every row (the date shown can never be it, and
the shifts fall on both sides of it).

Expected: a date moves by the same shift whatever the case (keyed by the gateway's
mask secret alone, under a name no case can take), so asking again under other cases
shows the same shifted date and narrows nothing. On the embedded SQLite default and on
PostgreSQL.
"""

from __future__ import annotations

import datetime
from typing import Any

from gateway.enforcement.masking.dates import MAX_SHIFT_DAYS
from tests.gateway.demo_app import DemoGateway

FUNDS = "finance.fund_disbursements"
FIELDS = ["disbursement_id", "paid_date"]
CASES = 40


def _dates(gw: DemoGateway, subject: str, case_ref: str) -> dict[str, datetime.date]:
    body: dict[str, Any] = {"fields": FIELDS, "limit": 300, "purpose": "audit",
                            "case_ref": case_ref}  # fmt: skip
    resp = gw.query(subject, FUNDS, body)
    assert resp.status_code == 200, resp.text[:300]
    return {r["disbursement_id"]: datetime.date.fromisoformat(r["paid_date"])
            for r in resp.json()["rows"]}  # fmt: skip


def _candidates(shown: list[datetime.date]) -> set[datetime.date]:
    """The dates each shown date may have been moved from (1 to 30 days either way)."""
    found: set[datetime.date] | None = None
    for day in shown:
        near = {day + datetime.timedelta(days=d)
                for d in range(-MAX_SHIFT_DAYS, MAX_SHIFT_DAYS + 1) if d}  # fmt: skip
        found = near if found is None else found & near
    assert found is not None
    return found


def test_many_cases_do_not_pin_a_shifted_date(deployment: DemoGateway) -> None:
    gw = deployment
    shifted = {"paid_date": {"level": "L2", "mask_override": "date_shift"}}
    resp = gw.client.patch(f"/api/v1/datasets/{FUNDS}", headers=gw.headers("fiona"),
                           json={"fields": shifted})  # fmt: skip
    assert resp.status_code == 200, resp.text
    clear = _dates(gw, "dora", "JW-RT36-REF")  # L3: the L2 field below her clearance
    answers = [_dates(gw, "arthur", f"JW-RT36-{n:03d}") for n in range(CASES)]
    assert all(a.keys() == clear.keys() for a in answers) and len(clear) > 50
    assert all(a[k] != clear[k] for a in answers for k in clear)  # each one masked
    pinned = [k for k in clear if _candidates([a[k] for a in answers]) == {clear[k]}]
    assert not pinned, f"{len(pinned)} of {len(clear)} true dates pinned, e.g. {pinned[:3]}"
