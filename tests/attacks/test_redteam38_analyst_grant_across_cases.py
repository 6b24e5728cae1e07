"""Red team 38, as an analyst: a comparison under one case, read back under another.

Rule (red team 36, ``comparison.access.check_keys_alike``): a comparison whose two keys
policy releases differently to the caller — in clear on one side, masked on the other —
is refused (403): each match would spell the masked value in the clear key's words.
Keys masked alike still join (that is what an analyst learns: two rows share a value).

Attack: "alike" is judged under the comparison's own case only, and a grant makes
the same field clear in one case and masked in every other. Civil's steward shifts
the dibao roll's ``start_date`` and grants arthur (L2) that field for one case
(red team 37's set-up); finance's steward shifts ``paid_date`` (no grant of
finance's). Under another case both keys are shifted — alike — so arthur compares the
disbursements keyed on ``paid_date`` with the roll keyed on ``start_date``, showing
each side's row id; then, under the grant's case, he reads the roll in clear: every
match hands him a disbursement's true payment date, the roll's start date of the row
it matched. Red team 36's own attack, in two cases instead of one; the workaround red
team 36 left for a grant's holder ("compare under another case, both masked") is the
door.

Expected: a key some grant of the caller's releases in clear while the other side's
is masked to them is not matched, in any case (or the matches give nothing away).
On the embedded default and PostgreSQL.
"""

from __future__ import annotations

from typing import Any

from tests.attacks.test_redteam37_analyst_date_shift_codebook import (
    DIBAO,
    FUNDS,
    GRANT_CASE,
    _ok,
    shifted_and_granted,
)
from tests.gateway.demo_app import DemoGateway

OTHER_CASE = "JW-RT38-OTHER"


def _rows(gw: DemoGateway, subject: str, dataset: str, fields: list[str], case: str,
          purpose: str) -> list[dict[str, Any]]:  # fmt: skip
    body = {"fields": fields, "limit": 5000, "purpose": purpose, "case_ref": case}
    return list(_ok(gw.query(subject, dataset, body))["rows"])


ROW = ["region_code", "status", "household_size", "monthly_amount", "last_paid"]


def _key(row: dict[str, Any], prefix: str = "") -> tuple[Any, ...]:
    return tuple(row[prefix + f] for f in ROW)


def test_a_grant_in_one_case_does_not_unmask_a_comparison_in_another(
    deployment: DemoGateway,
) -> None:
    gw = deployment
    shifted_and_granted(gw)
    body = {
        "left": {"dataset": FUNDS, "key": "paid_date", "fields": ["disbursement_id"]},
        "right": {"dataset": DIBAO, "key": "start_date", "fields": ROW},
        "purpose": "audit",
        "case_ref": OTHER_CASE,
        "limit": 10_000,
    }
    resp = gw.compare("arthur", body)
    found = resp.json()["rows"] if resp.status_code == 200 else []
    # the roll under the grant's case: each row's true start date, by its clear fields
    dates: dict[tuple[Any, ...], set[str]] = {}
    for row in _rows(gw, "arthur", DIBAO, [*ROW, "start_date"], GRANT_CASE, "supervision"):
        dates.setdefault(_key(row), set()).add(row["start_date"])
    truth = {r["disbursement_id"]: r["paid_date"]
             for r in _rows(gw, "dora", FUNDS, ["disbursement_id", "paid_date"], OTHER_CASE,
                            "audit")}  # fmt: skip
    shown = {r["disbursement_id"]: r["paid_date"]
             for r in _rows(gw, "arthur", FUNDS, ["disbursement_id", "paid_date"], OTHER_CASE,
                            "audit")}  # fmt: skip
    assert all(shown[k] != truth[k] for k in truth)  # shifted for arthur
    revealed = set()
    for hit in found:
        guess = dates.get(_key(hit, "right."), set())
        if len(guess) == 1 and truth[hit["left.disbursement_id"]] in guess:
            revealed.add(hit["left.disbursement_id"])
    assert not revealed, (
        f"{len(revealed)} of finance's {len(truth)} true payment dates read through "
        f"civil's grant in another case ({resp.status_code})"
    )
