"""Red team 41, as an analyst: a grant's codebook through another entry over the same
table.

Rules (stop 34 and red team 39): a field some grant of the caller's releases in clear
is masked for them, outside the grant's case, with tokens of its own
(``plan.granted_field_key``); a grant is not approved for a field its requester read
as a case's tokens (``read_tokens``) or matched in a comparison with a key masked to
them (``compared_keys``); a key a grant releases counts as clear to the comparison key
rule (``check_keys_alike``). Each rule names the grant's *entry* and field.

Attack: civil's steward publishes a second entry over the dibao roll's table (a
narrower view for another team, ``dibao_copy``) and, as on the roll, masks its
``id_number`` with ``hash``; finance masks the payroll's with ``hash`` too. Civil
grants dora the roll's ``id_number`` for one case. Under another case she reads the
*copy* (its numbers as that case's tokens, beside the roll's clear fields) — not the
roll, which the rules watch — and the roll in clear under the grant's case: row by row
the copy's tokens are decoded, and with them finance's payroll tokens under that case.
The same through the copy read before the grant was asked for (alice, who holds no
grant of the roll yet), and through a comparison of the copy with the payroll keyed on
the ID numbers.

Expected: what a grant releases is known through every entry reading the same data:
the copy's tokens decode nothing (field-scoped), a grant is not approved after the
copy's tokens were read (409, the request pending), and a comparison keyed on the
copy's numbers with finance's masked ones is refused (403). On the embedded default
and PostgreSQL.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from tests.attacks.dibao_copy import publish_dibao_copy
from tests.attacks.test_redteam37_analyst_date_shift_codebook import DIBAO, _ok, grant_of_civil
from tests.attacks.test_redteam38_analyst_grant_across_cases import ROW, _key, _rows
from tests.attacks.test_stop34_analyst_grant_token_codebook import (
    PAYROLL,
    hash_both,
    hash_ids,
    payroll_decoded,
)
from tests.gateway.demo_app import DemoGateway

COPY_AFTER = "civil.dibao_rt41_after"
COPY_BEFORE = "civil.dibao_rt41_before"
COPY_COMPARED = "civil.dibao_rt41_compared"


def _copy_hashed(gw: DemoGateway, copy: str) -> None:
    hash_both(gw)
    publish_dibao_copy(gw, copy)
    hash_ids(gw, "carl", copy)


def _nothing_decoded(
    gw: DemoGateway, analyst: str, masked: list[dict[str, Any]], case: str, how: str
) -> None:
    """The roll read in clear by ``analyst`` under ``case``'s grant (``<case>-GRANT``)
    decodes none of finance's payroll tokens under ``case`` through ``masked`` (the
    copy's rows)."""
    clear = _rows(gw, analyst, DIBAO, [*ROW, "id_number"], f"{case}-GRANT", "supervision")
    decoded, payroll = payroll_decoded(gw, clear, case, masked)
    assert not decoded, (
        f"{len(decoded)} of finance's {len(payroll)} masked ID numbers read in clear "
        f"through civil's grant of the roll's numbers and {how}"
    )


def test_a_copy_read_after_a_grant_is_no_codebook(deployment: DemoGateway) -> None:
    gw = deployment
    _copy_hashed(gw, COPY_AFTER)
    grant_of_civil(gw, "dora", "id_number", "JW-RT41-A-GRANT")
    masked = _rows(gw, "dora", COPY_AFTER, [*ROW, "id_number"], "JW-RT41-A", "supervision")
    assert all(r["id_number"].startswith("tk_") for r in masked)
    _nothing_decoded(gw, "dora", masked, "JW-RT41-A", "a copy of the roll read under another case")


def test_a_copy_read_before_a_grant_is_not_decoded_by_it(deployment: DemoGateway) -> None:
    _copy_hashed(deployment, COPY_BEFORE)
    refused_or_nothing_decoded(deployment, COPY_BEFORE, "JW-RT41-B",
                               "the copy's tokens read before the grant")  # fmt: skip


def refused_or_nothing_decoded(
    gw: DemoGateway, copy: str, case: str, how: str,
    before_approval: Callable[[], None] = lambda: None,
) -> None:  # fmt: skip
    """alice (no grant of the roll yet) reads ``copy`` under ``case`` and asks civil
    for the roll's ``id_number`` under ``<case>-GRANT``; ``before_approval`` runs; carl
    approves: refused (409, the request pending, no case named), or the roll read in
    clear decodes none of finance's payroll tokens under ``case``."""
    masked = _rows(gw, "alice", copy, [*ROW, "id_number"], case, "supervision")
    asked = _ok(gw.client.post("/api/v1/access-requests", headers=gw.headers("alice"), json={
        "dataset": DIBAO, "fields": ["id_number"], "purpose": "supervision",
        "case_ref": f"{case}-GRANT", "justification": "the roll", "days": 7}))  # fmt: skip
    before_approval()
    approved = gw.client.post(f"/api/v1/access-requests/{asked['id']}/approve",
                              headers=gw.headers("carl"), json={})  # fmt: skip
    if approved.status_code == 409:
        assert case not in approved.json()["message"]
        state = gw.client.get(f"/api/v1/access-requests/{asked['id']}", headers=gw.headers("carl"))
        assert _ok(state)["status"] == "pending"
        return
    assert approved.status_code == 200, approved.text
    _nothing_decoded(gw, "alice", masked, case, how)


def test_a_copy_compared_after_a_grant_gives_nothing_away(deployment: DemoGateway) -> None:
    gw = deployment
    _copy_hashed(gw, COPY_COMPARED)
    _ok(gw.client.patch(f"/api/v1/datasets/{COPY_COMPARED}", headers=gw.headers("carl"),
                        json={"allowed_purposes": ["supervision", "audit"]}))  # fmt: skip
    grant_of_civil(gw, "dora", "id_number", "JW-RT41-C-GRANT")
    compared_names_nothing(gw, COPY_COMPARED, "JW-RT41-C")


def compared_names_nothing(gw: DemoGateway, copy: str, case: str) -> None:
    """dora, granted the roll's ``id_number`` under ``<case>-GRANT``, compares the
    payroll with ``copy`` on the ID numbers under ``case``: refused (403, a grant named),
    or no hit matched with one of the roll's clear numbers."""
    resp = gw.compare("dora", {
        "left": {"dataset": PAYROLL, "key": "id_number", "fields": ["id_number"]},
        "right": {"dataset": copy, "key": "id_number", "fields": ROW},
        "purpose": "audit", "case_ref": case, "limit": 10_000})  # fmt: skip
    if resp.status_code == 403:
        assert "grant" in resp.json()["message"], resp.text
        return
    hits = _ok(resp)["rows"]
    numbers: dict[tuple[object, ...], set[str]] = {}
    for row in _rows(gw, "dora", DIBAO, [*ROW, "id_number"], f"{case}-GRANT", "supervision"):
        numbers.setdefault(_key(row), set()).add(row["id_number"])
    named = [h for h in hits if len(numbers.get(_key(h, "right."), ())) == 1]
    assert not named, f"{len(named)} payroll tokens matched with the roll's clear numbers"
