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

Expected: the approval check is not blinded by an edited index column (409 naming the
field, or the earlier tokens decode nothing). Closed: the approval checks read an index
of the verified chain (``audit.follow``, ``gateway.stewardship.grants.trail_facts``):
every body whose link, hash and MAC verified, in seq order, whatever its columns say.
The attacks on that index itself are in ``test_redteam40_verified_index``. On the
embedded default and PostgreSQL.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from tests.attacks.test_insider_audit import _insider
from tests.attacks.test_redteam37_analyst_date_shift_codebook import DIBAO
from tests.attacks.test_redteam38_analyst_grant_across_cases import ROW, _rows
from tests.attacks.test_redteam39_analyst_tokens_before_grant import tokens_read_then_asked
from tests.attacks.test_stop34_analyst_grant_token_codebook import payroll_decoded
from tests.gateway.demo_app import DemoGateway

EARLIER_CASE = "JW-RT40-HIDDEN"
GRANT_CASE = "JW-RT40-GRANT"


def test_an_edited_actor_column_does_not_blind_the_approval(deployment: DemoGateway) -> None:
    gw = deployment
    masked, asked = tokens_read_then_asked(gw, EARLIER_CASE, GRANT_CASE)
    with _hidden(gw):
        approved = gw.client.post(f"/api/v1/access-requests/{asked['id']}/approve",
                                  headers=gw.headers("carl"), json={})  # fmt: skip
    if approved.status_code == 409:
        assert "id_number" in approved.json()["message"], approved.text
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
    """dora's ``query.started`` events under another name in their index column."""
    with _hidden_as(gw, "dora", ["query.started"]):
        yield


@contextmanager
def _hidden_as(gw: DemoGateway, actor: str, kinds: list[str]) -> Iterator[None]:
    """``actor``'s events of these ``kinds`` under another name in their index column, for as
    long as the block runs, then put back: no body is touched, and the chain verifies
    again after. The monitor's sweep is held meanwhile, as on a trail long enough that
    its window is elsewhere (it walks the chain window by window, once round in many
    ticks)."""
    hidden = actor[0] + "0" + actor[2:]
    types = ",".join(f"'{kind}'" for kind in kinds)
    monitor = gw.services.audit.monitor
    monitor.stop()
    _insider(gw, f"UPDATE audit_events SET actor_sub = '{hidden}' "
                 f"WHERE actor_sub = '{actor}' AND type IN ({types})")  # fmt: skip
    try:
        yield
    finally:
        _insider(gw, f"UPDATE audit_events SET actor_sub = '{actor}' "
                     f"WHERE actor_sub = '{hidden}' AND type IN ({types})")  # fmt: skip
        monitor._stop.clear()
        monitor.start()
