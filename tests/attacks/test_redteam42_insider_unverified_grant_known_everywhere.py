"""Red team 42, as a database insider (the catalog database) with an analyst: a grant
of an edited entry taken as known in clear on every entry of its department.

Rule (red team 41, ``sources.objects.reading_the_same``): a grant of one entry's field
counts for the same field of every entry of its department reading the same object;
an entry whose catalog row no longer verifies (an insider edited it) is taken for a
copy of *every* entry of its department. That fail-closed answer suits the broker
(a field some grant releases is masked with tokens of its own). But the approval check
(``read_tokens``) reads the same answer the other way: a field a grant of the
requester's already releases is not checked at all (their reads since were masked with
its own tokens, and that earlier grant was the one to refuse) — so an edited granted
entry made every same-named field of the department "already granted", and an
approval that must be refused went through unchecked.

Attack: civil and finance mask ID numbers with ``hash``. dora reads civil's dibao roll
under a case (its numbers as the case's tokens, beside the roll's clear fields), and
finance's payroll under the same case. Civil grants her the ``id_number`` of its
*death registrations* (another table: the approval rightly finds no read of it). An
insider edits the death registrations' row (its seal fails). dora now asks for the
roll's ``id_number`` under another case; carl approves; the roll in clear decodes her
case's roll tokens, and finance's payroll tokens with them.

Expected: the approval is refused (409, the request pending), or nothing is decoded.
On the embedded default and PostgreSQL.
"""

from __future__ import annotations

from tests.attacks.test_redteam37_analyst_date_shift_codebook import DIBAO, _ok
from tests.attacks.test_redteam38_analyst_grant_across_cases import ROW, _rows
from tests.attacks.test_stop34_analyst_grant_token_codebook import (
    hash_both,
    hash_ids,
    payroll_decoded,
)
from tests.gateway.demo_app import DemoGateway

DEATHS = "civil.death_registrations"
CASE = "JW-RT42-A"


def ask_for_ids(gw: DemoGateway, dataset: str, case: str, purpose: str = "supervision") -> str:
    """dora's request for ``dataset``'s ``id_number`` under ``case``: its id."""
    asked = _ok(gw.client.post("/api/v1/access-requests", headers=gw.headers("dora"), json={
        "dataset": dataset, "fields": ["id_number"], "purpose": purpose,
        "case_ref": case, "justification": "records", "days": 7}))  # fmt: skip
    return str(asked["id"])


def hashed_with_deaths(gw: DemoGateway) -> None:
    """The roll, the payroll and civil's death registrations mask ID numbers with hash."""
    hash_both(gw)
    hash_ids(gw, "carl", DEATHS)


def test_an_edited_granted_entry_does_not_wave_through_another_entrys_grant(
    deployment: DemoGateway,
) -> None:
    gw = deployment
    hashed_with_deaths(gw)
    masked = _rows(gw, "dora", DIBAO, [*ROW, "id_number"], CASE, "supervision")
    assert all(r["id_number"].startswith("tk_") for r in masked)
    deaths = ask_for_ids(gw, DEATHS, f"{CASE}-DEATHS")
    _ok(gw.client.post(f"/api/v1/access-requests/{deaths}/approve",
                       headers=gw.headers("carl"), json={}))  # fmt: skip
    gw.sql("UPDATE datasets SET object_name = object_name || '_x' WHERE id = :i", i=DEATHS)
    try:
        roll = ask_for_ids(gw, DIBAO, f"{CASE}-GRANT")
        approved = gw.client.post(f"/api/v1/access-requests/{roll}/approve",
                                  headers=gw.headers("carl"), json={})  # fmt: skip
        if approved.status_code == 409:
            state = gw.client.get(f"/api/v1/access-requests/{roll}", headers=gw.headers("carl"))
            assert _ok(state)["status"] == "pending"
            return
        assert approved.status_code == 200, approved.text
        clear = _rows(gw, "dora", DIBAO, [*ROW, "id_number"], f"{CASE}-GRANT", "supervision")
        decoded, payroll = payroll_decoded(gw, clear, CASE, masked)
    finally:
        gw.sql("UPDATE datasets SET object_name = 'death_registrations' WHERE id = :i", i=DEATHS)
    assert not decoded, (
        f"{len(decoded)} of finance's {len(payroll)} masked ID numbers read in clear: the "
        "roll's grant approved unchecked, another entry's grant edited by an insider"
    )
