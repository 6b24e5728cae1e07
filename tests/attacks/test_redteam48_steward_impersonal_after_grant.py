"""Red team 48, as civil's steward (with an analyst): the granted roll made "nothing
personal" after its grant was read, so that a view of it no longer counts for it.

Rule (red team 45): a grant of the roll's ``id_number`` counts for an entry over a view
of the roll's table whose fields are all among the roll's, one of them *personal on the
roll* (``objects.shows_part_of``): the view's numbers are then field-scoped tokens for
the grant's holder outside the grant's case. What is personal is read from the entry
as it is now.

Attack: carl publishes a view of the roll without its phone numbers (its ``id_number``
hashed, as the roll's and the payroll's). dora holds the roll's ``id_number`` for one
case and reads the roll in clear there. Then carl sets every field of the roll to no PI
category and no mask (its numbers are then redacted by their level: nothing more is
shown to anyone). The view no longer "shows part of" the roll; under another case dora
reads the view's numbers as that case's tokens and decodes them, and finance's payroll
tokens with them, through what she read in clear before.

Expected: nothing decoded — what a grant released is known whatever its entry became.
On the embedded default and on PostgreSQL.
"""

from __future__ import annotations

from tests.attacks.test_redteam37_analyst_date_shift_codebook import DIBAO, _ok, grant_of_civil
from tests.attacks.test_redteam38_analyst_grant_across_cases import ROW, _rows
from tests.attacks.test_redteam48_analyst_reshaped_view_codebook import reshaped_view
from tests.attacks.test_stop34_analyst_grant_token_codebook import payroll_decoded
from tests.gateway.demo_app import DemoGateway

PERSONAL = ("id_number", "name", "phone", "address")
NARROWER = (  # the roll without its phone numbers
    "SELECT id_number, name, address, household_size, monthly_amount, start_date, status, "
    "region_code, last_paid FROM dibao_recipients"
)


def test_a_roll_made_impersonal_after_its_grant_frees_no_view(deployment: DemoGateway) -> None:
    gw = deployment
    view = reshaped_view(gw, "dibao_rt48_impersonal_grant", NARROWER)
    grant_of_civil(gw, "dora", "id_number", "JW-RT48-I-GRANT")
    clear = _rows(gw, "dora", DIBAO, [*ROW, "id_number"], "JW-RT48-I-GRANT", "supervision")
    impersonal = {n: {"pi_category": "none", "mask_override": None} for n in PERSONAL}
    _ok(gw.client.patch(f"/api/v1/datasets/{DIBAO}", headers=gw.headers("carl"),
                        json={"fields": impersonal}))  # fmt: skip
    masked = _rows(gw, "dora", view, [*ROW, "id_number"], "JW-RT48-I", "supervision")
    decoded, payroll = payroll_decoded(gw, clear, "JW-RT48-I", masked)
    assert not decoded, (
        f"{len(decoded)} of finance's {len(payroll)} masked ID numbers read in clear "
        "through the roll's grant, the roll made impersonal after it"
    )
