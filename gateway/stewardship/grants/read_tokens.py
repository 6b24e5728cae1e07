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
with the field's own tokens since, and that earlier grant was the one to refuse. A
gateway wired with a write-only sink has nothing to read and checks nothing.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection

from audit.event_types import EventType
from audit.log import AuditLog
from audit.search import EventFilter, iter_bodies
from audit.sink import AuditSink
from catalog.access_requests import AccessRequest
from catalog.entries import CatalogEntry
from catalog.errors import Conflict
from gateway.enforcement.grants import field_names, granted_fields_anywhere
from gateway.enforcement.grants_on_trail import dataset_of, department_of
from gateway.enforcement.query.plan import case_keyed
from gateway.enforcement.sources.objects import reading_the_same


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
    reads = _reads(trail, request.requester)
    among = {dataset: department for dataset, department, _ in reads}
    memo: dict[str, CatalogEntry | None] = {}
    copies = reading_the_same(conn, [entry], among, memo=memo)[entry]
    current = field_names(conn, entry, memo=memo)
    for _, _, event in (r for r in reads if r[0] in copies):
        read = _tokens_read(event)
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


def _reads(trail: AuditLog, requester: str) -> list[tuple[str, str | None, dict[str, Any]]]:
    """The requester's ``query.started`` events, each with its entry and that entry's
    department as the event recorded it: those on the granted entry and on every other
    of its department reading the same data count (red team 41: a copy's tokens of the
    same values are decoded by the grant as well) — and, fail closed, those on an entry
    whose catalog row is gone or no longer verifies (``objects.reading_the_same``)."""
    filters = EventFilter(actor=requester, type=str(EventType.QUERY_STARTED))
    reads = []
    for event in iter_bodies(store=trail.store, filters=filters):
        entry = dataset_of(event)
        if entry is not None:
            reads.append((entry, department_of(event), event))
    return reads


def _tokens_read(event: dict[str, Any]) -> set[str]:
    """The fields a ``query.started`` delivered as a case's tokens or pseudonyms."""
    masks = (event.get("details") or {}).get("masks")
    if not isinstance(masks, dict):
        return set()
    return {str(name) for name, spec in masks.items()
            if isinstance(spec, str) and case_keyed(spec)}  # fmt: skip
