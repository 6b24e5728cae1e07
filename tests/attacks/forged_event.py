"""An audit event rewritten in place as the database insider would: the hash chain is
public arithmetic, so its hash is recomputed over the new body and its link; only its
MAC (keyed by what the gateways hold) cannot be. The writer checks only events above
its own, so a rewrite below the head stands until the monitor's walk reaches it."""

from __future__ import annotations

import hashlib
from typing import Any

import orjson

from audit.canonical import canonical_json
from audit.events import index_of
from audit.store import INDEX_COLUMNS
from tests.audit.helpers import tamper
from tests.gateway.demo_app import DemoGateway


def stored_event(gw: DemoGateway, seq: int) -> tuple[str, dict[str, Any]]:
    """The event stored at ``seq``: its link and its body."""
    store = gw.services.audit.store
    conn = store.connect(reader=True)
    try:
        sql = f"SELECT prev_hash, body FROM audit_events WHERE seq = {store.p}"
        prev, body = store.fetch_all(conn, sql, (seq,))[0]
    finally:
        conn.close()
    return str(prev), orjson.loads(body)


def rewrite_event(gw: DemoGateway, seq: int, body: dict[str, Any]) -> None:
    """Store ``body`` (its seq and time made those of the event it replaces) at ``seq``,
    its hash and indexed columns as a gateway would have written them."""
    prev, old = stored_event(gw, seq)
    data = canonical_json({**body, "seq": seq, "ts": old["ts"]})
    digest = hashlib.sha256(bytes.fromhex(prev) + data).hexdigest()
    columns = dict(zip(INDEX_COLUMNS, index_of(orjson.loads(data)), strict=True))

    def literal(value: Any) -> str:
        if value is None:
            return "NULL"
        if isinstance(value, bool):
            return "TRUE" if value else "FALSE"
        return "'" + str(value).replace("'", "''") + "'"

    assigned = ", ".join(f"{name} = {literal(value)}" for name, value in columns.items())
    text = data.decode().replace("'", "''")
    tamper(gw.settings.resolved_database_url,
           f"UPDATE audit_events SET body = '{text}', hash = '{digest}', {assigned} "
           f"WHERE seq = {seq}")  # fmt: skip
