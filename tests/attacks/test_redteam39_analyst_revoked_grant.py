"""Red team 39, as an analyst: a grant given back is knowledge kept.

Rule (stop 34, red team 38's rows): a key some grant of the caller's releases in clear,
in any case, counts as clear in a comparison (``check_keys_alike``), and a field some
grant releases in clear is masked for them outside its case with tokens of its own
(``plan.granted_field_key``): what a grant's holder read under its case they know under
every other.

Attack: both rules read only *approved, unexpired* grants, and the requester may revoke
their own grant (``POST /access-requests/{id}/revoke``) the moment they have read it —
or simply wait for it to expire. What they read in clear they still hold:

- arthur reads the roll's ``start_date`` in clear under the grant's case, gives the grant
  back, and compares finance's shifted ``paid_date`` with the roll's shifted
  ``start_date`` under another case (red team 38's attack): each match is a true
  payment date;
- dora reads the roll's ``id_number`` in clear under the grant's case, gives the grant
  back, reads the roll under another case (the case's ``hash`` tokens again) and
  finance's payroll under it: a codebook of that case's tokens (stop 34's attack).

Expected: a grant once approved counts for both rules, whether it expired or was
revoked since. On the embedded default and PostgreSQL.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from tests.attacks.test_redteam37_analyst_date_shift_codebook import (
    DIBAO,
    FUNDS,
    GRANT_CASE,
    _ok,
    _shift,
)
from tests.attacks.test_redteam38_analyst_grant_across_cases import ROW, _key, _rows
from tests.attacks.test_stop34_analyst_grant_token_codebook import (
    hash_both,
    payroll_decoded,
)
from tests.gateway.demo_app import DemoGateway

OTHER_CASE = "JW-RT39-OTHER"


def granted_and_read(
    gw: DemoGateway, analyst: str, field: str, case: str, read: list[str],
    then: Callable[[str], object],
) -> list[dict[str, Any]]:  # fmt: skip
    """The roll read with ``field`` in clear under ``case``, by ``analyst`` holding
    civil's grant; ``then`` is done to the grant (by its id) after the read."""
    asked = _ok(gw.client.post("/api/v1/access-requests", headers=gw.headers(analyst), json={
        "dataset": DIBAO, "fields": [field], "purpose": "supervision", "case_ref": case,
        "justification": "the roll's records", "days": 7}))  # fmt: skip
    _ok(gw.client.post(f"/api/v1/access-requests/{asked['id']}/approve",
                       headers=gw.headers("carl"), json={}))  # fmt: skip
    rows = _rows(gw, analyst, DIBAO, read, case, "supervision")
    then(asked["id"])
    return rows


def _granted_then_revoked(gw: DemoGateway, analyst: str, field: str, case: str,
                          read: list[str]) -> list[dict[str, Any]]:  # fmt: skip
    """As ``granted_and_read``, the grant then given back by its holder."""
    return granted_and_read(gw, analyst, field, case, read, lambda grant: _ok(gw.client.post(
        f"/api/v1/access-requests/{grant}/revoke", headers=gw.headers(analyst),
        json={"reason": "done"})))  # fmt: skip


def shift_both(gw: DemoGateway) -> None:
    """civil shifts the roll's ``start_date``, finance the disbursements' ``paid_date``."""
    _shift(gw, "carl", DIBAO, "start_date")
    _shift(gw, "fiona", FUNDS, "paid_date")


def test_a_revoked_grant_still_counts_as_clear_in_a_comparison(deployment: DemoGateway) -> None:
    gw = deployment
    shift_both(gw)
    dates: dict[tuple[Any, ...], set[str]] = {}
    for row in _granted_then_revoked(gw, "arthur", "start_date", GRANT_CASE,
                                     [*ROW, "start_date"]):  # fmt: skip
        dates.setdefault(_key(row), set()).add(row["start_date"])
    revealed, truth, status = dates_revealed(gw, dates)
    assert not revealed, (
        f"{len(revealed)} of finance's {len(truth)} true payment dates read through a "
        f"grant revoked by its holder ({status})"
    )


def test_a_revoked_grant_is_no_codebook_of_another_cases_tokens(deployment: DemoGateway) -> None:
    gw = deployment
    hash_both(gw)
    clear = _granted_then_revoked(gw, "dora", "id_number", "JW-RT39-GRANT", [*ROW, "id_number"])
    decoded, payroll = payroll_decoded(gw, clear, OTHER_CASE)
    assert not decoded, (
        f"{len(decoded)} of finance's {len(payroll)} masked ID numbers read in clear "
        "through civil's grant, revoked by its holder"
    )


def dates_revealed(
    gw: DemoGateway, dates: dict[tuple[Any, ...], set[str]]
) -> tuple[set[str], dict[str, str], int]:
    """arthur compares finance's shifted ``paid_date`` with the roll's shifted
    ``start_date`` under ``OTHER_CASE``: the disbursements whose true payment date the
    roll's true start dates he read (``dates``, by each row's clear fields) give away;
    every true date; the comparison's status."""
    body = {
        "left": {"dataset": FUNDS, "key": "paid_date", "fields": ["disbursement_id"]},
        "right": {"dataset": DIBAO, "key": "start_date", "fields": ROW},
        "purpose": "audit", "case_ref": OTHER_CASE, "limit": 10_000,
    }  # fmt: skip
    resp = gw.compare("arthur", body)
    found = resp.json()["rows"] if resp.status_code == 200 else []
    truth = {r["disbursement_id"]: r["paid_date"]
             for r in _rows(gw, "dora", FUNDS, ["disbursement_id", "paid_date"], OTHER_CASE,
                            "audit")}  # fmt: skip
    revealed = {
        hit["left.disbursement_id"]
        for hit in found
        if dates.get(_key(hit, "right."), set()) == {truth[hit["left.disbursement_id"]]}
    }
    return revealed, truth, resp.status_code
