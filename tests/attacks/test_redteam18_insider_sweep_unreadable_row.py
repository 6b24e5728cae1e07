"""As a database insider: one event's body made unreadable, its hash recomputed.

The monitor's walk of the chain between checkpoints (``audit.sweep``) seals on a row
deleted or edited below the head. An event's ``hash`` is SHA-256 over the previous hash
and the body, keyed by nothing, so whoever can write the audit store can recompute it
for a body of their own; the event's MAC (keyed) then fails, and verification says so.
But the walk parsed the body before it checked the MAC: a body that is not JSON raised
out of the walk instead of being named, which ended the monitor's thread (no seal, then
or ever: the insider's later deletions went unseen), made the officer's
``GET /api/v1/audit/verify`` and ``GET /api/v1/audit/events`` a 500, and failed every
evaluation of the live alerts, the seal's own alert included. Red team 18.
"""

from __future__ import annotations

import hashlib
import time

from audit.alert_state import alert_states, sealed_alert
from tests.audit.helpers import tamper
from tests.gateway.demo_app import DemoGateway

DEADLINE_S = 20
SEQ = 5  # well below the head, between checkpoints
DIBAO = "civil.dibao_recipients"
QUERY = {"purpose": "supervision", "case_ref": "JW-2026-001", "fields": ["region_code"]}


def test_an_unreadable_event_seals_and_verification_names_it(deployment: DemoGateway) -> None:
    """The last test of its gateway (module): it leaves the trail sealed, by design."""
    gw = deployment
    sam = gw.headers("sam")
    for _ in range(8):  # two events each: the one tampered with and more above it
        assert gw.query("arthur", DIBAO, QUERY).status_code == 200
    store = gw.services.audit.store
    conn = store.connect(reader=True)
    try:
        sql = f"SELECT prev_hash FROM audit_events WHERE seq = {store.p}"
        prev = store.fetch_all(conn, sql, (SEQ,))[0][0]
    finally:
        conn.close()
    body = "not json {"
    digest = hashlib.sha256(bytes.fromhex(prev) + body.encode()).hexdigest()
    edit = f"UPDATE audit_events SET body = '{body}', hash = '{digest}' WHERE seq = {SEQ}"
    tamper(gw.settings.resolved_database_url, edit)

    verified = gw.client.get("/api/v1/audit/verify", headers=sam)
    assert verified.status_code == 200, verified.text
    assert verified.json()["ok"] is False and verified.json()["first_bad_seq"] == SEQ
    listed = gw.client.get("/api/v1/audit/events?order=asc&limit=20", headers=sam)
    assert listed.status_code == 200, listed.text  # the officer still reads the rest
    alerts = gw.client.get("/api/v1/audit/alerts", headers=sam)
    assert alerts.status_code == 200, alerts.text  # and the alerts over that day
    deadline = time.monotonic() + DEADLINE_S
    while not gw.services.audit.seal.sealed:
        assert time.monotonic() < deadline, "the unreadable event never sealed the trail"
        time.sleep(0.1)
        gw.services.audit.seal.refresh()
    assert gw.query("arthur", DIBAO, QUERY).status_code == 503
    for fmt in ("jsonl", "csv"):  # the evidence export, in either format
        export = gw.client.get(f"/api/v1/audit/export?format={fmt}", headers=sam)
        assert export.status_code == 200 and b"not json {" in export.content, fmt
    sealed = sealed_alert(gw.services.audit)
    assert sealed is not None
    states = alert_states(gw.settings.home)
    while sealed["id"] not in states.opened():  # the seal's alert is opened (and pushed)
        assert time.monotonic() < deadline, "the seal's alert was never opened"
        time.sleep(0.1)
