"""Red team 37, as an analyst: red team 36's token dictionary, through a field a side shows.

Rule (docs/policies.md, Masks): a ``hash``-masked field shows a token per value and
case, never the value. Red team 36 found that a comparison on keys released in clear
handed out ``key_token``s equal to the ``hash`` mask's tokens of the same values (a
dictionary): a side whose key is clear now hashes its key under a key of its own
(``plan.clear_key_tokens``) — and, their left row says, every ``hash`` mask of the
fields that side shows as well.

Attack: so the side's own key hashes both the clear key and the masked fields it shows.
Finance masks ``paid_date`` with ``hash`` for arthur. He compares the audit findings
with themselves keyed on their public ``finding_date`` (clear on both sides, allowed),
showing ``finding_id``: each hit's ``key_token`` is the clear-key token of a date he
reads in the findings. Then, under the same case, he compares the disbursements with
themselves keyed on their public ``project``, showing ``disbursement_id`` and
``paid_date``: the side's key is clear, so ``paid_date`` comes out hashed under the
same clear-key key — and each token is looked up in the findings' dictionary.

Expected: a field a clear-key side shows masked is hashed under the case key, as a
query shows it (its tokens then also find rows by a query's token filter, red team
36's left row), never under the key whose tokens the analyst can pair with values.
On the embedded default and PostgreSQL.
"""

from __future__ import annotations

from typing import Any

from tests.gateway.demo_app import DemoGateway

FUNDS = "finance.fund_disbursements"
FINDINGS = "audit.audit_findings"
CASE = {"purpose": "audit", "case_ref": "JW-RT37-CLEARSIDE"}


def _rows(gw: DemoGateway, subject: str, dataset: str, fields: list[str]) -> list[Any]:
    resp = gw.query(subject, dataset, {"fields": fields, "limit": 1000, **CASE})
    assert resp.status_code == 200, resp.text[:300]
    return list(resp.json()["rows"])


def _compare(gw: DemoGateway, dataset: str, key: str, fields: list[str]) -> list[Any]:
    side = {"dataset": dataset, "key": key, "fields": fields}
    resp = gw.compare("arthur", {"left": side, "right": side, "limit": 10_000, **CASE})
    assert resp.status_code == 200, resp.text[:300]
    return list(resp.json()["rows"])


def test_a_clear_key_side_hashes_its_masked_fields_under_the_case_key(
    deployment: DemoGateway,
) -> None:
    gw = deployment
    hashed = {"paid_date": {"level": "L2", "mask_override": "hash"}}
    resp = gw.client.patch(f"/api/v1/datasets/{FUNDS}", headers=gw.headers("fiona"),
                           json={"fields": hashed})  # fmt: skip
    assert resp.status_code == 200, resp.text
    public = {r["finding_id"]: r["finding_date"]
              for r in _rows(gw, "arthur", FINDINGS, ["finding_id", "finding_date"])}  # fmt: skip
    dictionary = {h["key_token"]: public[h["left.finding_id"]]
                  for h in _compare(gw, FINDINGS, "finding_date", ["finding_id"])}  # fmt: skip
    hits = _compare(gw, FUNDS, "project", ["disbursement_id", "paid_date"])
    shown = {h["left.disbursement_id"]: h["left.paid_date"] for h in hits}
    assert shown and all(str(t).startswith("tk_") for t in shown.values())
    truth = {r["disbursement_id"]: r["paid_date"]
             for r in _rows(gw, "dora", FUNDS, ["disbursement_id", "paid_date"])}  # fmt: skip
    revealed = [k for k, token in shown.items() if dictionary.get(token) == truth[k]]
    assert not revealed, (
        f"{len(revealed)} true dates looked up by their tokens, e.g. {revealed[:3]}"
    )
    # the masked field's tokens are the query's, so a token filter finds its rows
    queried = {r["disbursement_id"]: r["paid_date"]
               for r in _rows(gw, "arthur", FUNDS, ["disbursement_id", "paid_date"])}  # fmt: skip
    assert all(queried[k] == token for k, token in shown.items())
