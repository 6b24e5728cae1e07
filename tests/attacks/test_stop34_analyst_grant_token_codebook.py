"""Stop 34 (red team 38's note, run), as an analyst: a grant in one case is a codebook of
another case's tokens.

Rule (docs/policies.md, Masks): ``hash`` tokens and ``id_number_fpe`` pseudonyms are keyed
by the case, the same for every field within it, so that two departments' ID numbers
join; a grant unmasks a field for its own case only, and naming people across
departments is for re-identification, which every source department approves.

Attack: both departments mask their ID numbers with ``hash``. Civil grants dora the dibao
roll's ``id_number`` for one case. She reads the roll under that case (clear numbers)
and under another (tokens), pairing the rows by their clear fields: a codebook of the
other case's tokens. Then she reads finance's payroll under that other case: every
employee's token that is on the roll is in her codebook, so she reads finance's masked
ID numbers in clear and knows which employees draw the allowance, with no comparison
(which stop 34 refuses for a key granted elsewhere) and no finance steward's approval.

Expected: a field some grant of the caller's releases in clear in another case is
masked, outside that case, with tokens of its own (scoped to the entry and field), which
match no other field's: no payroll token is in the codebook. On the embedded default
and PostgreSQL.
"""

from __future__ import annotations

from typing import Any

from tests.attacks.test_redteam37_analyst_date_shift_codebook import (
    DIBAO,
    _ok,
    grant_of_civil,
)
from tests.attacks.test_redteam38_analyst_grant_across_cases import ROW, _key, _rows
from tests.gateway.demo_app import DemoGateway

PAYROLL = "finance.payroll"
GRANT_CASE = "JW-S34-GRANT"
OTHER_CASE = "JW-S34-OTHER"


def hash_ids(gw: DemoGateway, steward: str, dataset: str) -> None:
    _ok(gw.client.patch(f"/api/v1/datasets/{dataset}", headers=gw.headers(steward),
                        json={"fields": {"id_number": {"mask_override": "hash"}}}))  # fmt: skip


def hash_both(gw: DemoGateway) -> None:
    """Civil's roll and finance's payroll both mask ID numbers with ``hash``."""
    hash_ids(gw, "carl", DIBAO)
    hash_ids(gw, "fiona", PAYROLL)


def test_a_grant_in_one_case_is_no_codebook_of_another_cases_tokens(
    deployment: DemoGateway,
) -> None:
    gw = deployment
    hash_both(gw)
    # alice, not dora: a grant is refused for a field its requester read as a case's
    # tokens (red team 39: that read is decoded by the grant)
    before = _rows(gw, "alice", DIBAO, ["id_number"], OTHER_CASE, "supervision")
    payroll_before = _rows(gw, "alice", PAYROLL, ["id_number"], OTHER_CASE, "audit")
    shared = {r["id_number"] for r in before} & {r["id_number"] for r in payroll_before}
    assert shared, "tokens of one case join two departments' numbers (the design)"
    grant_of_civil(gw, "dora", "id_number", GRANT_CASE)
    clear = _rows(gw, "dora", DIBAO, [*ROW, "id_number"], GRANT_CASE, "supervision")
    decoded, payroll = payroll_decoded(gw, clear, OTHER_CASE)
    assert not decoded, (
        f"{len(decoded)} of finance's {len(payroll)} masked ID numbers read in clear "
        "through civil's grant in another case"
    )


def payroll_decoded(
    gw: DemoGateway, clear: list[dict[str, Any]], case: str,
    masked: list[dict[str, Any]] | None = None,
) -> tuple[list[str], list[dict[str, Any]]]:  # fmt: skip
    """The payroll's ID numbers dora reads under ``case`` that the roll read with its
    numbers in clear (``clear``) decodes, row by row through its clear fields and the
    roll's tokens under ``case`` (``masked``: read earlier; else read now); and the
    payroll read."""
    codebook: dict[tuple[Any, ...], set[str]] = {}
    for row in clear:
        codebook.setdefault(_key(row), set()).add(row["id_number"])
    assert all(len(n) == 18 for numbers in codebook.values() for n in numbers)  # clear
    if masked is None:
        masked = _rows(gw, "dora", DIBAO, [*ROW, "id_number"], case, "supervision")
    tokens: dict[str, set[str]] = {}
    for row in masked:
        tokens.setdefault(row["id_number"], set()).update(codebook.get(_key(row), set()))
    payroll = _rows(gw, "dora", PAYROLL, ["id_number", "employer"], case, "audit")
    return [r["id_number"] for r in payroll if len(tokens.get(r["id_number"], ())) == 1], payroll
