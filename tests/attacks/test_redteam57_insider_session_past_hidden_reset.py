"""Red team 57, insider of the catalog and audit databases (the append-only triggers
off) holding a copy of carl's session cookie: the reset meant to end it, hidden.

Rule: "a new password is how a leaked one is answered: the sessions it opened end with
it"; a session row written back behind the gateway revives nothing, because a session
started no later than the subject's newest password set *on the audit trail* is over
(red team 5: ``SessionStore._ended``, ``PasswordTrail.reset_at``).

Attack: ``PasswordTrail`` finds the password events by a search of the trail's index
columns (``resource``, ``type``), the class red team 40 closed for the approval checks
only: the insider writes carl's old session row back and moves the reset's ``resource``
column to another name (no body, hash or MAC touched; the monitor's sweep is elsewhere
on a long trail). The search no longer finds the reset, the newest password set it
finds is older than the session, and the copied cookie opens the console again (200).
The new password itself is refused as tampered meanwhile (the digest the search finds
is the old row's), which is how the owner would notice — after the session was used.

Expected: the reset is read from the verified trail (``audit.follow``), whatever its
columns say. Fixed: ``PasswordTrail`` reads the password events through a follower
(``gateway.web.console.password_events.PasswordEvents``). On the embedded default and
on PostgreSQL.
"""

from __future__ import annotations

from sqlalchemy import insert

from gateway.web.console.store import console_sessions
from tests.attacks.console_sign_in import console_sign_in, session_rows
from tests.attacks.test_insider_audit import _insider
from tests.gateway.demo_app import DemoGateway


def _reset_seq(gw: DemoGateway, subject: str) -> int:
    with gw.services.audit.store.reading() as conn:
        rows = gw.services.audit.store.fetch_all(
            conn, "SELECT max(seq) FROM audit_events WHERE type = 'user.updated' AND "
            f"resource = 'user:{subject}'", ())  # fmt: skip
    return int(rows[0][0])


def test_a_hidden_reset_does_not_revive_a_copied_session(deployment: DemoGateway) -> None:
    gw = deployment
    client, _csrf = console_sign_in(gw, "carl")
    assert client.get("/console").status_code == 200
    kept = session_rows(gw, "carl")
    console = gw.client.app.state.console  # type: ignore[attr-defined]
    console.accounts.set_password(subject="carl", password="a-new-password-57-long",
                                  set_by="cli:operator")  # fmt: skip
    assert client.get("/console").status_code != 200, "the reset did not end the session"
    monitor = gw.services.audit.monitor
    monitor.stop()
    try:
        with gw.services.engine.begin() as conn:
            conn.execute(insert(console_sessions), kept)
        _insider(gw, "UPDATE audit_events SET resource = 'user:c0rl' "
                     f"WHERE seq = {_reset_seq(gw, 'carl')}")  # fmt: skip
        page = client.get("/console")
    finally:
        monitor._stop.clear()
        monitor.start()
    assert page.status_code != 200, "the copied session lives past the hidden reset"
    # ended by the reset read from the verified chain (a column edit breaks nothing there)
    assert page.status_code == 303 and "expired" in page.headers.get("location", "")
