"""Red team 37, as an analyst: one department's grant decodes another's shifted dates.

Rule (docs/policies.md, Masks; DESIGN.md): ``date_shift`` moves a date by 1 to 30 days
either way; "one known true date reveals one shift, never everyone's". A steward
chooses it per field, for their own department's data; a grant from one department's
steward unmasks that department's field, for one purpose and case.

Attack: since red team 36 the shift of a date depended on the gateway's one shift key
and the date alone — "in every column and source". Arthur (L2) holds an approved grant
from civil's steward for the dibao roll's ``start_date`` (shifted for him otherwise),
for one case. He reads the roll twice, once under the grant's case (true dates) and
once under another (shifted): row by row, a codebook from shifted to true dates for
every date the roll holds. Finance's steward shifts ``paid_date`` of the disbursements
(no grant of finance's): arthur reads them shifted and looks each one up in civil's
codebook — finance's true payment dates, which no finance steward released.

Expected: a shift is keyed by the entry and the field as well, so a codebook learnt on
one field (by a grant, a known date, a leak) decodes that field only; another
department's field is shifted independently. On the embedded default and PostgreSQL.
"""

from __future__ import annotations

from typing import Any

from tests.gateway.demo_app import DemoGateway

FUNDS = "finance.fund_disbursements"
DIBAO = "civil.dibao_recipients"
GRANT_CASE = "JW-RT37-GRANT"
OTHER_CASE = "JW-RT37-OTHER"
SHIFTED = {"level": "L2", "mask_override": "date_shift"}
CHANCE = 10


def _ok(resp: Any) -> Any:
    assert resp.status_code in (200, 201), resp.text[:400]
    return resp.json()


def _shift(gw: DemoGateway, steward: str, dataset: str, field: str) -> None:
    _ok(gw.client.patch(f"/api/v1/datasets/{dataset}", headers=gw.headers(steward),
                        json={"fields": {field: SHIFTED}}))  # fmt: skip


def grant_of_civil(gw: DemoGateway, analyst: str, field: str, case: str) -> None:
    """An analyst's grant of one field of the roll for one case, approved by carl."""
    asked = _ok(gw.client.post("/api/v1/access-requests", headers=gw.headers(analyst), json={
        "dataset": DIBAO, "fields": [field], "purpose": "supervision", "case_ref": case,
        "justification": "the roll's records", "days": 7}))  # fmt: skip
    _ok(gw.client.post(f"/api/v1/access-requests/{asked['id']}/approve",
                       headers=gw.headers("carl"), json={}))  # fmt: skip


def shifted_and_granted(gw: DemoGateway) -> None:
    """civil shifts the roll's ``start_date``, finance the disbursements' ``paid_date``,
    and civil grants arthur the roll's ``start_date`` under ``GRANT_CASE``."""
    _shift(gw, "carl", DIBAO, "start_date")
    _shift(gw, "fiona", FUNDS, "paid_date")
    grant_of_civil(gw, "arthur", "start_date", GRANT_CASE)


def _rows(gw: DemoGateway, subject: str, dataset: str, fields: list[str], case: str,
          purpose: str, limit: int) -> list[dict[str, Any]]:  # fmt: skip
    body = {"fields": fields, "limit": limit, "purpose": purpose, "case_ref": case}
    return list(_ok(gw.query(subject, dataset, body))["rows"])


def test_a_grant_on_one_field_does_not_decode_another_departments_dates(
    deployment: DemoGateway,
) -> None:
    gw = deployment
    shifted_and_granted(gw)
    fields = ["start_date", "region_code"]
    clear = _rows(gw, "arthur", DIBAO, fields, GRANT_CASE, "supervision", 1000)
    shown = _rows(gw, "arthur", DIBAO, fields, OTHER_CASE, "supervision", 1000)
    assert len(clear) == len(shown) > 500
    assert all(a["start_date"] != b["start_date"] for a, b in zip(clear, shown, strict=True))
    codebook: dict[str, set[str]] = {}
    for true, masked in zip(clear, shown, strict=True):
        codebook.setdefault(masked["start_date"], set()).add(true["start_date"])
    funds = ["disbursement_id", "paid_date"]
    truth = {r["disbursement_id"]: r["paid_date"]
             for r in _rows(gw, "dora", FUNDS, funds, OTHER_CASE, "audit", 300)}  # fmt: skip
    masked_funds = _rows(gw, "arthur", FUNDS, funds, OTHER_CASE, "audit", 300)
    assert len(masked_funds) == len(truth) > 50
    assert all(r["paid_date"] != truth[r["disbursement_id"]] for r in masked_funds)
    decoded = [r["disbursement_id"] for r in masked_funds
               if codebook.get(r["paid_date"]) == {truth[r["disbursement_id"]]}]  # fmt: skip
    # independent shifts: a candidate is right by chance one time in 60 (a few of 300);
    # under the one key for all, 39 of 300 (SQLite) were
    assert len(decoded) <= CHANCE, (
        f"{len(decoded)} of {len(truth)} of finance's true payment dates read through "
        f"civil's codebook, e.g. {decoded[:3]}"
    )
