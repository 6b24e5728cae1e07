"""Red team 39, as a database insider with an analyst: a grant row deleted is a grant
forgotten.

Rule (red team 39's first row, ``grants.known_rows``): a key some grant of the caller's
ever released in clear, in any case, counts as clear in a comparison
(``check_keys_alike``): what they read under it they know. The grant is read from the
``access_requests`` table, sealed rows only.

Attack: arthur reads the roll's ``start_date`` in clear under his grant's case; then an
insider who can write the catalog database deletes the grant's row (or changes any
column of it: its seal fails, and a row whose seal fails is dropped — fail closed for
a grant, fail *open* for what its holder knows). arthur compares finance's shifted
``paid_date`` with the roll's shifted ``start_date`` under another case: each match is
a true payment date, which no finance steward released and the insider cannot read.

Expected: what a grant released stays known to a comparison whatever is done to its
row (the trail's ``access.approved`` events name it, and an insider cannot drop them
unnoticed: ``grants_on_trail``); and the same for stop 34's codebook of a case's tokens
(the query plan's field-scoped tokens). On the embedded default and PostgreSQL.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from tests.attacks.test_redteam37_analyst_date_shift_codebook import GRANT_CASE
from tests.attacks.test_redteam38_analyst_grant_across_cases import ROW, _key
from tests.attacks.test_redteam39_analyst_revoked_grant import (
    OTHER_CASE,
    dates_revealed,
    granted_and_read,
    shift_both,
)
from tests.attacks.test_stop34_analyst_grant_token_codebook import hash_both, payroll_decoded
from tests.gateway.demo_app import DemoGateway


def test_a_deleted_grant_row_is_not_forgotten(deployment: DemoGateway) -> None:
    gw = deployment
    shift_both(gw)
    dates: dict[tuple[Any, ...], set[str]] = {}

    for row in granted_and_read(gw, "arthur", "start_date", GRANT_CASE, [*ROW, "start_date"],
                                _deleted(gw)):  # fmt: skip
        dates.setdefault(_key(row), set()).add(row["start_date"])
    revealed, truth, status = dates_revealed(gw, dates)
    assert not revealed, (
        f"{len(revealed)} of finance's {len(truth)} true payment dates read through a "
        f"grant whose row an insider deleted ({status})"
    )


def _deleted(gw: DemoGateway) -> Callable[[str], None]:
    def delete(grant: str) -> None:  # an insider's statement, behind the gateway
        gw.sql("DELETE FROM access_requests WHERE id = :i", i=grant)

    return delete


def test_a_deleted_grant_row_is_no_codebook_of_another_cases_tokens(
    deployment: DemoGateway,
) -> None:
    gw = deployment
    hash_both(gw)
    clear = granted_and_read(gw, "dora", "id_number", "JW-RT39-DELETED", [*ROW, "id_number"],
                             _deleted(gw))  # fmt: skip
    decoded, payroll = payroll_decoded(gw, clear, OTHER_CASE)
    assert not decoded, (
        f"{len(decoded)} of finance's {len(payroll)} masked ID numbers read in clear "
        "through civil's grant, its row deleted by an insider"
    )
