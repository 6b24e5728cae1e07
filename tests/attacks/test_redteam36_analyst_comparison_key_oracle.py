"""Red team 36, as an analyst: a masked field read back by matching it with a clear one.

Rule: a field policy masks for a user never reaches them in clear, by any door (a
filter, an order, a group, a condition on it: 403). A comparison matches its sides'
keys as hash tokens, so that masked keys (ID numbers, masked in both departments) still
join: what the analyst learns is that two rows share a value.

Attack: that holds only when neither key is in clear. Finance's steward masks the
dates of disbursements (``paid_date`` with ``date_shift``) for arthur; the audit
findings' ``finding_date`` is public (L1). Arthur compares the disbursements keyed on
``paid_date`` with the findings keyed on ``finding_date``, showing each finding's id,
then reads the findings themselves: every match hands him a disbursement's true date
(the finding's date, in clear) — 200, for each disbursement paid on a day some finding
is dated; a richer clear column of dates (any entry with a row a day) gives them all.
The same works for any mask whose values some clear column spells: amounts under
``round`` or ``bucket``, months, names.

Expected: a comparison whose sides release its key differently — in clear on one,
masked on the other — is refused (403) before anything is read, ad hoc or as a model.
On the embedded SQLite default and on PostgreSQL.
"""

from __future__ import annotations

from typing import Any

from tests.gateway.comparison_env import hits, start, wait
from tests.gateway.demo_app import DemoGateway

FUNDS = "finance.fund_disbursements"
FINDINGS = "audit.audit_findings"
CASE = {"purpose": "audit", "case_ref": "JW-RT36-KEYS"}
BODY: dict[str, Any] = {
    "left": {"dataset": FUNDS, "key": "paid_date", "fields": ["disbursement_id"]},
    "right": {"dataset": FINDINGS, "key": "finding_date", "fields": ["finding_id"]},
    **CASE,
}
MODEL: dict[str, Any] = {
    "id": "rt36.paid_on_finding_day", "name": {"zh": "同日", "en": "Paid on a finding's day"},
    "sides": [{"alias": "f", "dataset": FUNDS}, {"alias": "a", "dataset": FINDINGS}],
    "joins": [{"left": "f", "left_key": "paid_date", "right": "a", "right_key": "finding_date"}],
    "output": ["f.disbursement_id", "a.finding_id"],
}  # fmt: skip


def _rows(gw: DemoGateway, subject: str, dataset: str, fields: list[str]) -> list[Any]:
    resp = gw.query(subject, dataset, {"fields": fields, "limit": 1000, **CASE})
    assert resp.status_code == 200, resp.text[:300]
    return list(resp.json()["rows"])


def _revealed(gw: DemoGateway, hits: list[dict[str, Any]], left: str, right: str) -> int:
    """The disbursements whose true date the hits give away (through the findings)."""
    truth = {r["disbursement_id"]: r["paid_date"]
             for r in _rows(gw, "dora", FUNDS, ["disbursement_id", "paid_date"])}  # fmt: skip
    public = {r["finding_id"]: r["finding_date"]
              for r in _rows(gw, "arthur", FINDINGS, ["finding_id", "finding_date"])}  # fmt: skip
    shown = {r["disbursement_id"]: r["paid_date"]
             for r in _rows(gw, "arthur", FUNDS, ["disbursement_id", "paid_date"])}  # fmt: skip
    assert all(shown[k] != truth[k] for k in truth)  # masked for arthur
    return len({h[left] for h in hits if public[h[right]] == truth[h[left]]})


def _masked_dates(gw: DemoGateway) -> None:
    shifted = {"paid_date": {"level": "L2", "mask_override": "date_shift"}}
    resp = gw.client.patch(f"/api/v1/datasets/{FUNDS}", headers=gw.headers("fiona"),
                           json={"fields": shifted})  # fmt: skip
    assert resp.status_code == 200, resp.text


def test_an_ad_hoc_comparison_does_not_unmask_its_key(deployment: DemoGateway) -> None:
    gw = deployment
    _masked_dates(gw)
    resp = gw.compare("arthur", BODY)
    hits = resp.json()["rows"] if resp.status_code == 200 else []
    revealed = _revealed(gw, hits, "left.disbursement_id", "right.finding_id")
    assert revealed == 0, f"{revealed} true dates given away ({resp.status_code})"
    assert resp.status_code == 403, resp.text[:300]


def test_a_model_run_does_not_unmask_its_key(deployment: DemoGateway) -> None:
    gw = deployment
    _masked_dates(gw)
    made = gw.client.post("/api/v1/comparison-models", json=MODEL, headers=gw.headers("arthur"))
    assert made.status_code in (201, 403), made.text[:300]
    found: list[dict[str, Any]] = []
    if made.status_code == 201:  # stored: the run must be refused, or give nothing away
        resp = start(gw, "arthur", MODEL["id"], **CASE)
        assert resp.status_code in (202, 403), resp.text[:300]
        if resp.status_code == 202:
            view = wait(gw, "arthur", resp.json()["id"])
            got = hits(gw, "arthur", view["id"])
            found = got.json()["rows"] if got.status_code == 200 else []
    revealed = _revealed(gw, found, "f.disbursement_id", "a.finding_id")
    assert revealed == 0, f"{revealed} true dates given away"


def test_a_comparison_on_clear_keys_gives_no_dictionary_of_tokens(
    deployment: DemoGateway,
) -> None:
    """The same, in two steps, past the rule above: finance masks ``paid_date`` with
    ``hash`` for arthur (a ``tk_`` token per date, per case). He compares the findings
    with themselves keyed on their public ``finding_date`` — clear on both sides, so
    allowed — and each hit's ``key_token`` is the token of a date he can read; his query
    of the disbursements under the same case shows ``paid_date`` as the same tokens.
    Expected: the tokens of a key released in clear are not those of the ``hash`` mask
    (keys masked alike keep the mask's tokens, which token filters use)."""
    gw = deployment
    hashed = {"paid_date": {"level": "L2", "mask_override": "hash"}}
    resp = gw.client.patch(f"/api/v1/datasets/{FUNDS}", headers=gw.headers("fiona"),
                           json={"fields": hashed})  # fmt: skip
    assert resp.status_code == 200, resp.text
    side = {"dataset": FINDINGS, "key": "finding_date", "fields": ["finding_id"]}
    resp = gw.compare("arthur", {"left": side, "right": side, "limit": 10_000, **CASE})
    assert resp.status_code == 200, resp.text[:300]
    public = {r["finding_id"]: r["finding_date"]
              for r in _rows(gw, "arthur", FINDINGS, ["finding_id", "finding_date"])}  # fmt: skip
    dictionary = {h["key_token"]: public[h["left.finding_id"]] for h in resp.json()["rows"]}
    shown = _rows(gw, "arthur", FUNDS, ["disbursement_id", "paid_date"])
    assert all(str(r["paid_date"]).startswith("tk_") for r in shown)
    truth = {r["disbursement_id"]: r["paid_date"]
             for r in _rows(gw, "dora", FUNDS, ["disbursement_id", "paid_date"])}  # fmt: skip
    revealed = [r for r in shown if dictionary.get(r["paid_date"]) == truth[r["disbursement_id"]]]
    assert not revealed, f"{len(revealed)} true dates looked up by their tokens"


def test_a_redacted_key_is_not_matched(deployment: DemoGateway) -> None:
    """A field masked with ``redact`` shows nothing of its values, not even which rows
    share one (``hash`` is the mask for that). Finance redacts the disbursements'
    ``project`` for arthur; a comparison of the disbursements with themselves keyed on
    it paired every two disbursements of one project (200). Expected: 403."""
    gw = deployment
    redacted = {"project": {"level": "L2", "mask_override": "redact"}}
    resp = gw.client.patch(f"/api/v1/datasets/{FUNDS}", headers=gw.headers("fiona"),
                           json={"fields": redacted})  # fmt: skip
    assert resp.status_code == 200, resp.text
    assert {r["project"] for r in _rows(gw, "arthur", FUNDS, ["project"])} == {None}
    side = {"dataset": FUNDS, "key": "project", "fields": ["disbursement_id"]}
    resp = gw.compare("arthur", {"left": side, "right": side, **CASE})
    assert resp.status_code == 403, resp.text[:300]
