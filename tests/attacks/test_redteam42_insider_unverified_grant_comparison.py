"""Red team 42, as a database insider (the catalog database) with an analyst: an edited
granted entry lets a comparison match a masked key with one its caller holds in clear.

Rule (red team 38, ``comparison.access.check_keys_alike``): a key some grant of the
caller's releases in clear counts as clear, and a comparison of it with a key masked to
them is refused (403): each match would spell the masked key's values. Red team 41: an
entry whose catalog row no longer verifies is taken for a copy of every entry of its
department, so its grant counted for the same-named field of each of them — the rule
then took a masked key of such an entry for one held in clear too.

Attack: civil and finance mask ID numbers with ``hash``. Finance grants dora the
payroll's ``id_number`` (she reads it in clear with the employer, position, county and
salary that pick out each row); civil grants her the ``id_number`` of its *death
registrations*. An insider edits the death registrations' row. dora compares the payroll
with civil's dibao roll on the ID numbers under another case: the roll's numbers, which
nobody released to her, are "granted" now, both keys count as clear and match; each hit
pairs a roll row with a payroll row she knows the number of.

Expected: refused (403), as without the insider's edit, or nothing named. On the
embedded default and PostgreSQL.
"""

from __future__ import annotations

from typing import Any

from tests.attacks.test_redteam37_analyst_date_shift_codebook import DIBAO, _ok
from tests.attacks.test_redteam38_analyst_grant_across_cases import ROW, _rows
from tests.attacks.test_redteam42_insider_unverified_grant_known_everywhere import (
    DEATHS,
    ask_for_ids,
    hashed_with_deaths,
)
from tests.attacks.test_stop34_analyst_grant_token_codebook import PAYROLL
from tests.gateway.demo_app import DemoGateway

PICK = ["employer", "position", "region_code", "monthly_salary"]


def _granted(gw: DemoGateway, dataset: str, steward: str, purpose: str, case: str) -> None:
    asked = ask_for_ids(gw, dataset, case, purpose)
    _ok(gw.client.post(f"/api/v1/access-requests/{asked}/approve",
                       headers=gw.headers(steward), json={}))  # fmt: skip


def _pick(row: dict[str, Any], prefix: str = "") -> tuple[Any, ...]:
    return tuple(row[prefix + f] for f in PICK)


def test_an_edited_granted_entry_does_not_make_a_masked_key_clear(
    deployment: DemoGateway,
) -> None:
    gw = deployment
    hashed_with_deaths(gw)
    _ok(gw.client.patch(f"/api/v1/datasets/{DIBAO}", headers=gw.headers("carl"),
                        json={"allowed_purposes": ["supervision", "audit"]}))  # fmt: skip
    _granted(gw, PAYROLL, "fiona", "audit", "JW-RT42-B-PAY")
    _granted(gw, DEATHS, "carl", "supervision", "JW-RT42-B-DEATHS")
    numbers: dict[tuple[Any, ...], set[str]] = {}
    for row in _rows(gw, "dora", PAYROLL, [*PICK, "id_number"], "JW-RT42-B-PAY", "audit"):
        numbers.setdefault(_pick(row), set()).add(row["id_number"])
    gw.sql("UPDATE datasets SET object_name = object_name || '_x' WHERE id = :i", i=DEATHS)
    try:
        resp = gw.compare("dora", {
            "left": {"dataset": PAYROLL, "key": "id_number", "fields": PICK},
            "right": {"dataset": DIBAO, "key": "id_number", "fields": ROW},
            "purpose": "audit", "case_ref": "JW-RT42-B", "limit": 10_000})  # fmt: skip
    finally:
        gw.sql("UPDATE datasets SET object_name = 'death_registrations' WHERE id = :i", i=DEATHS)
    if resp.status_code == 403:
        return
    hits = _ok(resp)["rows"]
    named = [h for h in hits if len(numbers.get(_pick(h, "left."), ())) == 1]
    assert not named, (
        f"{len(named)} of the roll's masked ID numbers named through a comparison with the "
        "payroll's granted ones, another entry's grant edited by an insider"
    )
