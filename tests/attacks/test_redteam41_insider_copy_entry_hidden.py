"""Red team 41, as a database insider (the catalog database) with an analyst: a copy of
an entry hidden from the grant rules by editing the catalog.

Rule (red team 41's first row, ``sources.objects.reading_the_same``): a grant of one
entry's field counts for the same field of every entry of its department reading the
same object — the broker masks such a copy's field with tokens of its own, and a grant
is not approved after the requester read the copy's field as a case's tokens. Which
entries read the same object is told from the catalog's rows: the entry's object name,
department and source.

Attack: both departments mask ID numbers with ``hash``; civil's steward publishes a
second entry over the roll's table and masks its numbers with ``hash`` too.
(1) dora reads the roll in clear under her grant's case; an insider who can write the
catalog database then changes the roll's row (its object name: the seal fails, and the
roll is read by no one any more — she has its rows already), and the copy no longer
reads "the same object": read under another case, its numbers are that case's tokens
again, decoded by the roll's clear rows, and finance's payroll tokens with them.
(2) alice reads the copy under a case (its numbers as the case's tokens); just before
civil approves her request for the roll's ``id_number``, the insider deletes the copy's
rows: the approval no longer finds a copy to look for reads on.

Expected: an entry whose row no longer verifies (edited or gone) is taken for a copy
of every entry of its department (as the trail and the grant rows record it), so
neither does anything: the copy's tokens are field-scoped and the approval is refused
(409). On the embedded default and PostgreSQL.
"""

from __future__ import annotations

from tests.attacks.test_redteam37_analyst_date_shift_codebook import DIBAO, grant_of_civil
from tests.attacks.test_redteam38_analyst_grant_across_cases import ROW, _rows
from tests.attacks.test_redteam41_analyst_copy_entry_codebook import (
    _copy_hashed,
    refused_or_nothing_decoded,
)
from tests.attacks.test_stop34_analyst_grant_token_codebook import payroll_decoded
from tests.gateway.demo_app import DemoGateway

EDITED_COPY = "civil.dibao_rt41_edited"
DELETED_COPY = "civil.dibao_rt41_deleted"


def test_an_edited_granted_entry_leaves_its_copy_known(deployment: DemoGateway) -> None:
    gw = deployment
    _copy_hashed(gw, EDITED_COPY)
    grant_of_civil(gw, "dora", "id_number", "JW-RT41-D-GRANT")
    clear = _rows(gw, "dora", DIBAO, [*ROW, "id_number"], "JW-RT41-D-GRANT", "supervision")
    gw.sql("UPDATE datasets SET object_name = 'dibao_recipients_old' WHERE id = :i", i=DIBAO)
    try:
        masked = _rows(gw, "dora", EDITED_COPY, [*ROW, "id_number"], "JW-RT41-D", "supervision")
        decoded, payroll = payroll_decoded(gw, clear, "JW-RT41-D", masked)
    finally:
        gw.sql("UPDATE datasets SET object_name = 'dibao_recipients' WHERE id = :i", i=DIBAO)
    assert not decoded, (
        f"{len(decoded)} of finance's {len(payroll)} masked ID numbers read in clear "
        "through civil's grant, the granted entry's row edited by an insider"
    )


def test_a_deleted_copy_still_refuses_the_grant(deployment: DemoGateway) -> None:
    gw = deployment
    _copy_hashed(gw, DELETED_COPY)

    def delete() -> None:  # an insider's statements, behind the gateway
        gw.sql("DELETE FROM fields WHERE dataset_id = :i", i=DELETED_COPY)
        gw.sql("DELETE FROM datasets WHERE id = :i", i=DELETED_COPY)

    refused_or_nothing_decoded(gw, DELETED_COPY, "JW-RT41-E",
                               "the copy's tokens read before the grant, the copy deleted "
                               "by an insider", delete)  # fmt: skip
