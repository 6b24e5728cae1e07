"""An access request that would unmask the requester's own comparisons is not approved.

A comparison matches two keys only when policy releases them alike to its caller, both
in clear or both masked alike (``comparison.access.check_keys_alike``), counting a key
that any grant of theirs releases in clear, in any case, as clear. A grant approved
*after* the comparison escapes that check: the requester keeps the matches they took,
and once one key is clear to them every match spells the other side's masked value
(red team 38: a roll's start date granted after a comparison with disbursements keyed
on shifted payment dates hands over finance's true dates, which no finance steward
released). So the approval that would make a request a grant looks on the trail for the
requester's comparisons (``comparison.started``: ad hoc and model runs alike), and a
side keyed on a field the request releases, matched with another side whose key the
requester holds in clear by no grant, refuses the approval (409) naming the field only.

The trail, not a table of its own: it is what the gateway writes before any comparison
reads a row, and what an insider cannot drop without the chain saying so — read from the
verified chain (``trail_facts``), never found by the index columns, which an insider of
the audit database edits without touching a body (red team 40); a trail that does not
verify above what was indexed refuses (503). A gateway wired with a write-only sink (a
test's stand-in) has nothing to read and checks nothing.
"""

from __future__ import annotations

from sqlalchemy import Connection

from audit.log import AuditLog
from audit.sink import AuditSink
from catalog.access_requests import AccessRequest
from catalog.errors import Conflict
from gateway.enforcement.grants import granted_fields_anywhere
from gateway.enforcement.sources.objects import reading_the_same
from gateway.stewardship.grants.trail_facts import approval_facts


def refuse_unmasking(*, trail: AuditSink, conn: Connection, request: AccessRequest) -> None:
    """``Conflict`` when approving ``request`` would unmask a comparison its requester
    made (above); nothing when there is no readable trail."""
    if not isinstance(trail, AuditLog):
        return
    with approval_facts(trail) as facts:
        compared = facts.compared_by(request.requester)
    # the entry's fields, and the same fields of every entry reading the same data: a
    # comparison keyed on a copy's numbers is unmasked by a grant of the entry's (red
    # team 41); an entry whose catalog row is gone or no longer verifies counts as one
    among = {entry: None for pair in compared for entry, _ in pair}
    copies = reading_the_same(conn, [request.dataset_id], among)[request.dataset_id]
    released = {(entry, name) for entry in copies for name in request.fields or []}
    pairs = [(mine, other) for mine, other in compared if mine in released]
    if not pairs:
        return
    others = {entry for _, (entry, _key) in pairs}
    granted = granted_fields_anywhere(
        conn=conn, subject=request.requester, dataset_ids=others, surely=True
    )  # held in clear: no edited entry's copy
    for (entry, key), (other, other_key) in pairs:
        if (other, other_key) in released or other_key in granted[other]:
            continue
        # the message goes to the approving steward, who reads no trail: it names their
        # own entry's field, never the comparison's case or the other side's entry (where
        # an investigation is going); a security officer finds the comparison on the trail
        raise Conflict(
            f"{request.requester} matched {entry}.{key} in an earlier comparison with a "
            "key masked to them: in clear, each of its matches would show that key's "
            "values, which this grant does not release; grant another field, or the "
            "analyst asks the comparison again on a key both sides release alike"
        )
