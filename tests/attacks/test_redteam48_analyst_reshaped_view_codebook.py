"""Red team 48, as an analyst with civil's steward: a grant's codebook through an entry
over a view of the granted table whose fields are *not nested* in the table's.

Rule (red team 45): a grant counts for an entry over a view or copy of the granted
table in the same system when every field of one entry is among the other's and one of
them is personal (``objects.shows_part_of``, asked either way round). A view that drops
a column of the table *and* adds one is nested neither way: ``SELECT id_number, name,
household_size, monthly_amount, start_date, status, region_code, last_paid, 'civil' AS
team FROM dibao_recipients`` (the phone and address left out, a constant added) shows
every ID number and every clear field the codebook pairs rows by.

Attack: civil's administrator creates that view, carl publishes it with its
``id_number`` masked with ``hash`` (as the roll's and finance's payroll's). Civil grants
dora the roll's ``id_number`` for one case; under another case she reads the view's
tokens and decodes them, and finance's payroll tokens with them, through the roll read
in clear under the grant's case; alice reads the view first and then asks for the roll;
dora compares the payroll with the view on the ID numbers.

Expected: as for a nested view (red team 45) — nothing decoded, the approval refused
(409) or decoding nothing, the comparison refused (403) or naming nothing. On the
embedded default and on PostgreSQL (the departments' data are the demo's SQLite files).
"""

from __future__ import annotations

from tests.attacks.test_redteam37_analyst_date_shift_codebook import _ok, grant_of_civil
from tests.attacks.test_redteam38_analyst_grant_across_cases import ROW, _rows
from tests.attacks.test_redteam41_analyst_copy_entry_codebook import (
    _nothing_decoded,
    compared_names_nothing,
    refused_or_nothing_decoded,
)
from tests.attacks.test_redteam45_analyst_view_codebook import draft_view
from tests.attacks.test_stop34_analyst_grant_token_codebook import hash_both, hash_ids
from tests.gateway.demo_app import DemoGateway

RESHAPED = (
    "SELECT id_number, name, household_size, monthly_amount, start_date, status, "
    "region_code, last_paid, 'civil' AS team FROM dibao_recipients"
)


def reshaped_view(gw: DemoGateway, view: str, sql: str = RESHAPED) -> str:
    """civil's administrator creates ``view`` (``sql``) in civil's database; carl
    publishes it as ``civil.<view>`` with its region field and ``id_number`` hashed,
    as the roll's and the payroll's are."""
    entry = draft_view(gw, view, sql)
    _ok(gw.client.post(f"/api/v1/datasets/{entry}/publish", headers=gw.headers("carl")))
    hash_both(gw)
    hash_ids(gw, "carl", entry)
    return entry


def test_a_reshaped_view_of_the_granted_table_is_no_codebook(deployment: DemoGateway) -> None:
    gw = deployment
    view = reshaped_view(gw, "dibao_rt48_read")
    grant_of_civil(gw, "dora", "id_number", "JW-RT48-A-GRANT")
    masked = _rows(gw, "dora", view, [*ROW, "id_number"], "JW-RT48-A", "supervision")
    assert masked and all(r["id_number"].startswith("tk_") for r in masked)
    _nothing_decoded(gw, "dora", masked, "JW-RT48-A", "a reshaped view read under another case")


def test_a_reshaped_view_read_before_a_grant_is_not_decoded(deployment: DemoGateway) -> None:
    view = reshaped_view(deployment, "dibao_rt48_before")
    refused_or_nothing_decoded(deployment, view, "JW-RT48-B", "the reshaped view read first")


def test_a_reshaped_view_compared_after_a_grant_names_nothing(deployment: DemoGateway) -> None:
    gw = deployment
    view = reshaped_view(gw, "dibao_rt48_compared")
    grant_of_civil(gw, "dora", "id_number", "JW-RT48-C-GRANT")
    compared_names_nothing(gw, view, "JW-RT48-C")
