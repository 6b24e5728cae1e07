"""An access request for a field its requester already read as a case's tokens is not
approved.

``hash`` tokens and ``id_number_fpe`` pseudonyms are keyed by the case, the same for
every field under it, so that two departments' ID numbers join. A grant releases a field
in clear; had its holder read that field before as a case's tokens, beside fields in
clear that pick out each row, the clear read decodes those tokens — and every other
field's under that case, another department's ID numbers with them (red team 39: dora
read the dibao roll and finance's payroll under one case, was granted the roll's
``id_number`` for another, and read 4 of finance's 1,500 masked numbers in clear).
Reads *after* a grant are masked with tokens of the field's own
(``plan.granted_field_key``); this is the other order, refused at the approval that
would make the grant (409, naming the field; the request stays pending), as
``compared_keys`` refuses it for comparisons.

The trail, as ``compared_keys`` reads it: each ``query.started`` of the requester's on
the entry, or on another entry reading the same data (a copy of the table: the same
values, the same case's tokens), queries and comparison sides alike, names the masks
applied to what it delivered. A requester who held a grant of the field before reads it
with the field's own tokens since, and that earlier grant was the one to refuse. Those
events are read from the verified chain (``trail_facts``), never found by the trail's
index columns, which an insider of the audit database edits without touching a body
(red team 40); a trail that does not verify above what was indexed refuses (503). A
gateway wired with a write-only sink has nothing to read and checks nothing.
"""

from __future__ import annotations

from sqlalchemy import Connection

from audit.log import AuditLog
from audit.sink import AuditSink
from catalog.access_requests import AccessRequest
from catalog.entries import CatalogEntry
from catalog.errors import Conflict
from gateway.enforcement.grants import field_names, granted_fields_anywhere
from gateway.enforcement.sources.objects import reading_the_same
from gateway.stewardship.grants.trail_facts import approval_facts


def refuse_decoding(*, trail: AuditSink, conn: Connection, request: AccessRequest) -> None:
    """``Conflict`` when approving ``request`` would decode case tokens its requester
    read (above); nothing when there is no readable trail."""
    if not isinstance(trail, AuditLog):
        return
    entry = request.dataset_id
    # what the requester surely holds already: an edited granted entry is no copy here
    known = granted_fields_anywhere(conn=conn, subject=request.requester, dataset_ids=[entry],
                                    surely=True)  # fmt: skip
    wanted = set(request.fields or []) - set(known[entry])
    if not wanted:
        return
    with approval_facts(trail) as facts:
        reads = facts.reads_of(request.requester)
    among = {dataset: read.department for dataset, read in reads.items()}
    memo: dict[str, CatalogEntry | None] = {}
    copies = reading_the_same(conn, [entry], among, memo=memo)[entry]
    current = field_names(conn, entry, memo=memo)
    for read in (r.tokens for dataset, r in sorted(reads.items()) if dataset in copies):
        # a field the entry no longer has may be a wanted one under its old name (a
        # column renamed at the source, the entry refreshed): the gateway cannot tell
        # a rename from a new column, so it is taken for each of them (red team 42)
        for name in sorted(wanted if current is None or read - current else wanted & read):
            raise Conflict(  # to the steward: the field, never the case (compared_keys)
                f"{request.requester} read {entry}.{name} earlier as a case's tokens: in "
                "clear, it would decode them, and "
                "every field's masked with that case's tokens (another department's too); "
                "this grant cannot be approved for it: ask for the other fields, or for the "
                "people a comparison found through re-identification, which every source "
                "department approves"
            )
