"""Whether a stored row is an event a gateway wrote at its seq, judged one row at a time.

Readers that take a decision from a few events found by their indexed columns (a row
binding, a console password's digest) do not walk the chain: the hash chain is public
arithmetic, so whoever can write the audit store can make or rewrite a row that chains
at its place. Such a reader believes a row only if its seq is 1 or more, its hash is
that of its link and body, the body names that seq, and its MAC (``audit.signing.
EventMac``, keyed by what only the gateways hold) is valid, as ``audit.chain``
judges the chain (red team 17 for the bindings, red team 18 for the password digests).
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Iterable
from typing import Any

import orjson

from audit.search import EventFilter, list_events
from audit.signing import EventMac
from audit.store import AuditStore

ROW_SELECT = "SELECT seq, prev_hash, hash, body, mac FROM audit_events"


def genuine_event(mac: EventMac | None, row: tuple[Any, ...]) -> dict[str, Any] | None:
    """The event of a row ``(seq, prev_hash, hash, body, mac)`` a gateway wrote at its
    seq, else None."""
    seq, prev, stored, body, tag = row
    try:
        data = body.encode() if isinstance(body, str) else bytes(body)
        chained = hashlib.sha256(bytes.fromhex(prev) + data)
        event = orjson.loads(data)
    except (TypeError, ValueError):  # orjson.JSONDecodeError is a ValueError
        return None
    if not (isinstance(seq, int) and seq >= 1 and chained.hexdigest() == stored):
        return None
    if not isinstance(event, dict) or event.get("seq") != seq:
        return None
    if mac is not None:
        if not isinstance(tag, str) or not tag.isascii():
            return None
        if not hmac.compare_digest(mac.tag(seq, chained.digest()), tag):
            return None
    return event


def genuine_seqs(store: AuditStore, seqs: Iterable[int]) -> set[int]:
    """Which of ``seqs`` hold an event a gateway wrote there (``genuine_event``)."""
    wanted = sorted({int(s) for s in seqs})
    if not wanted:
        return set()
    marks = ",".join([store.p] * len(wanted))
    with store.reading() as conn:
        rows = store.fetch_all(conn, f"{ROW_SELECT} WHERE seq IN ({marks})", wanted)
    return {int(row[0]) for row in rows if genuine_event(store.event_mac, tuple(row))}


def newest_on_record(store: AuditStore, filters: EventFilter) -> tuple[dict[str, Any], bool] | None:
    """The newest event a search finds, and whether it is believed: a gateway wrote it
    at its seq (``genuine_seqs``) and its hashed body says what the index columns were
    searched for (``EventFilter.said_by_body``: someone else's genuine event, re-indexed
    by an insider, is not this one: red team 47). None when the search finds nothing."""
    items = list_events(store=store, filters=filters, limit=1, order="desc")["items"]
    if not items:
        return None
    event, seq = items[0], int(items[0]["seq"])
    return event, filters.said_by_body(event) and seq in genuine_seqs(store, [seq])
