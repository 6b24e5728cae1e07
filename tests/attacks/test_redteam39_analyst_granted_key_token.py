"""Red team 39, as an analyst: a comparison's ``key_token`` is the case's token of a key
its caller holds in clear by a grant.

Rule (stop 34, ``plan.granted_field_key``): a field some grant of the caller's releases
in clear in another case is masked for them with tokens of its own, so its tokens are
no codebook of the case's (every field masked with ``hash`` shares the case's). "A
comparison side's key keeps the case key, which ``check_keys_alike`` guards."

Attack: ``check_keys_alike`` lets two keys a grant releases match (both count as clear):
dora, holding civil's grant of the roll's ``id_number`` for one case, compares the roll
with itself on ``id_number`` under another case. Each hit carries ``key_token`` — the
roll's number under that case's key, the token finance's payroll shows her under it —
beside the roll's clear fields; the roll read under the grant's case names each row's
number: a codebook of the case's tokens, and finance's masked payroll numbers in clear.

Expected: a comparison's key tokens are no case token of a key some grant of the
caller's releases. On the embedded default and PostgreSQL.
"""

from __future__ import annotations

from typing import Any

from tests.attacks.test_redteam37_analyst_date_shift_codebook import DIBAO, _ok, grant_of_civil
from tests.attacks.test_redteam38_analyst_grant_across_cases import ROW, _key, _rows
from tests.attacks.test_stop34_analyst_grant_token_codebook import PAYROLL, hash_both
from tests.gateway.demo_app import DemoGateway

GRANT_CASE = "JW-RT39-KEY-GRANT"
OTHER_CASE = "JW-RT39-KEY-OTHER"


def test_a_comparisons_key_token_is_no_codebook_of_a_granted_key(
    deployment: DemoGateway,
) -> None:
    gw = deployment
    hash_both(gw)
    grant_of_civil(gw, "dora", "id_number", GRANT_CASE)
    numbers: dict[tuple[Any, ...], set[str]] = {}
    for row in _rows(gw, "dora", DIBAO, [*ROW, "id_number"], GRANT_CASE, "supervision"):
        numbers.setdefault(_key(row), set()).add(row["id_number"])
    body = {
        "left": {"dataset": DIBAO, "key": "id_number", "fields": ROW},
        "right": {"dataset": DIBAO, "key": "id_number", "fields": []},
        "purpose": "supervision", "case_ref": OTHER_CASE, "limit": 10_000,
    }  # fmt: skip
    resp = gw.compare("dora", body)
    hits = _ok(resp)["rows"] if resp.status_code == 200 else []
    codebook: dict[str, set[str]] = {}
    for hit in hits:
        codebook.setdefault(hit["key_token"], set()).update(numbers.get(_key(hit, "left."), ()))
    payroll = _rows(gw, "dora", PAYROLL, ["id_number"], OTHER_CASE, "audit")
    decoded = [r["id_number"] for r in payroll if len(codebook.get(r["id_number"], ())) == 1]
    assert not decoded, (
        f"{len(decoded)} of finance's {len(payroll)} masked ID numbers read in clear through "
        f"a comparison's key tokens ({resp.status_code})"
    )
