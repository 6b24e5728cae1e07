"""Red team 40, as a database insider (the audit database) with an analyst: an event's
index column edited hides it from the approval checks.

Rule (red team 39, ``gateway.stewardship.grants.read_tokens``): a grant is not approved
for a field its requester already read as a case's tokens — the approval reads the
requester's ``query.started`` events on the entry from the trail, "which an insider
cannot drop unnoticed". ``audit.search`` filters on the trail's index columns
(``actor_sub``, ``resource``, ``type``) and returns the hashed body; its own docstring
says "an edited column can hide an event from a search until the next verify".

Attack: both departments mask ID numbers with ``hash``; dora reads the dibao roll under
a case (its numbers as that case's tokens, beside the roll's clear fields). An insider
who can write the audit database (the append-only triggers off) sets ``actor_sub`` of
her ``query.started`` events to another name — the body, its hash and MAC untouched,
so the chain still verifies as far as the body goes, and the column can be put back
after. civil approves dora's request for the roll's ``id_number`` (another case): the
check finds no read of hers, and her earlier tokens — and finance's payroll tokens
under that case — are decoded.

Expected: the approval check is not blinded by an edited index column (409, or the
earlier tokens decode nothing). Left (xfail, strict): the checks search the trail by its
columns, as every reviewer's search does; closing it needs a search the insider cannot
steer (the bodies under their MAC, or the columns verified with them) on every approval.
On the embedded default and PostgreSQL.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import pytest

from tests.attacks.test_insider_audit import _insider
from tests.attacks.test_redteam37_analyst_date_shift_codebook import DIBAO
from tests.attacks.test_redteam38_analyst_grant_across_cases import ROW, _rows
from tests.attacks.test_redteam39_analyst_tokens_before_grant import tokens_read_then_asked
from tests.attacks.test_stop34_analyst_grant_token_codebook import payroll_decoded
from tests.gateway.demo_app import DemoGateway

EARLIER_CASE = "JW-RT40-HIDDEN"
GRANT_CASE = "JW-RT40-GRANT"


@pytest.mark.xfail(
    strict=True,
    reason="red team 40 (left, medium, insider of the audit database): the approval checks "
    "search the trail by its index columns, which an insider can edit without touching "
    "a hashed body (until the next full verify)",
)
def test_an_edited_actor_column_does_not_blind_the_approval(deployment: DemoGateway) -> None:
    gw = deployment
    masked, asked = tokens_read_then_asked(gw, EARLIER_CASE, GRANT_CASE)
    with _hidden(gw):
        approved = gw.client.post(f"/api/v1/access-requests/{asked['id']}/approve",
                                  headers=gw.headers("carl"), json={})  # fmt: skip
    if approved.status_code == 409:
        return
    assert approved.status_code == 200, approved.text
    clear = _rows(gw, "dora", DIBAO, [*ROW, "id_number"], GRANT_CASE, "supervision")
    decoded, payroll = payroll_decoded(gw, clear, EARLIER_CASE, masked)
    assert not decoded, (
        f"{len(decoded)} of finance's {len(payroll)} masked ID numbers read in clear: the "
        "approval check did not see the read an insider hid"
    )


@contextmanager
def _hidden(gw: DemoGateway) -> Iterator[None]:
    """dora's ``query.started`` events under another name in their index column, for as
    long as the approval takes, then put back: no body is touched, and the chain
    verifies again after. The monitor's sweep is held meanwhile, as on a trail long
    enough that its window is elsewhere (it walks the chain window by window, once
    round in many ticks)."""
    monitor = gw.services.audit.monitor
    monitor.stop()
    _insider(gw, "UPDATE audit_events SET actor_sub = 'd0ra' "
                 "WHERE actor_sub = 'dora' AND type = 'query.started'")  # fmt: skip
    try:
        yield
    finally:
        _insider(gw, "UPDATE audit_events SET actor_sub = 'dora' "
                     "WHERE actor_sub = 'd0ra' AND type = 'query.started'")  # fmt: skip
        monitor._stop.clear()
        monitor.start()
