"""Red team 5, as a database insider (the gateway's runtime role on PostgreSQL, or the
SQLite file): roll a reset password, or an ended session, back.

Rule: a new password is how a leaked one is answered — the old password stops signing
in and the sessions it opened end with it (red team 2,
``test_redteam2_admin_password_reset_sessions.py``); what signs someone in as someone
is bound to gateway keys, so an insider who can write the catalog cannot sign in as
another (THREAT_MODEL, known gaps; ``test_redteam2_insider_local_passwords.py``).

Attack: the seal of a ``local_passwords`` row is an HMAC over subject, who set it and
the hash — nothing that says it is the *current* row. The insider keeps a copy of
root's row while the leaked password is still root's; the operators reset it on the
host (``sluice users passwd``); the insider writes the old row back, and the leaked
password signs in as root again. Likewise a ``console_sessions`` row deleted by the
reset, written back as it was, revives the thief's cookie (its HMAC covers the session
id and subject, which did not change); and a stolen cookie past its maximum age
(``SLUICE_CONSOLE_MAX_SESSION_S``, red team 2) lives again when the insider moves its
row's ``created_at`` forward. All three fixed: a row's digest is on the audit trail
in the password-set event and only the newest one signs in; a session started before
the newest password set is over; the cookie signs the session's start.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import text

from audit.event_types import EventType
from audit.records import Actor, user_admin_event
from gateway.web.console.passwords import set_demo_passwords
from gateway.web.console.runtime import Console
from gateway.web.console.sessions import SessionStore
from gateway.web.console.settings import ConsoleSettings
from tests.attacks.console_sign_in import post_sign_in
from tests.gateway.demo_app import DemoGateway

_FIELD = re.compile(r'name="csrf_token" value="([^"]+)"')
SESSION_COLUMNS = "id_hash, subject, csrf_token, via, created_at, last_seen_at"


def _console(gw: DemoGateway) -> Console:
    console: Console = gw.client.app.state.console
    return console


def _sign_in(gw: DemoGateway, subject: str, password: str) -> tuple[int, TestClient]:
    answer, client = post_sign_in(gw, subject, password)
    return answer.status_code, client


def _rows(gw: DemoGateway, sql: str) -> list[dict[str, Any]]:
    with gw.services.engine.connect() as conn:
        return [dict(r._mapping) for r in conn.execute(text(sql))]


def _restore(gw: DemoGateway, table: str, row: dict[str, Any], key: str) -> None:
    """What the insider does: the saved row written back, as it was."""
    gw.sql(f"DELETE FROM {table} WHERE {key} = :k", k=row[key])
    names = ", ".join(row)
    gw.sql(f"INSERT INTO {table} ({names}) VALUES ({', '.join(':' + n for n in row)})", **row)


def test_an_old_password_row_written_back_signs_nobody_in(deployment: DemoGateway) -> None:
    gw = deployment
    leaked = set_demo_passwords(_console(gw).accounts, ["root"])["root"]
    saved = _rows(gw, "SELECT * FROM local_passwords WHERE subject = 'root'")[0]
    set_demo_passwords(_console(gw).accounts, ["root"])  # the reset, on the host
    assert _sign_in(gw, "root", leaked)[0] != 303  # the reset works
    _restore(gw, "local_passwords", saved, "subject")
    status, _ = _sign_in(gw, "root", leaked)
    assert status != 303, "the leaked password signs in as root again after a rollback"


def test_a_session_ended_by_a_reset_stays_ended(deployment: DemoGateway) -> None:
    gw = deployment
    leaked = set_demo_passwords(_console(gw).accounts, ["arthur"])["arthur"]
    status, thief = _sign_in(gw, "arthur", leaked)
    assert status == 303 and thief.get("/console").status_code == 200
    saved = _rows(gw, f"SELECT {SESSION_COLUMNS} FROM console_sessions "
                      "WHERE subject = 'arthur'")  # fmt: skip
    assert saved
    set_demo_passwords(_console(gw).accounts, ["arthur"])  # the answer to the leak
    assert thief.get("/console").status_code == 303  # the thief's session ended
    for row in saved:
        _restore(gw, "console_sessions", row, "id_hash")
    assert thief.get("/console").status_code == 303, (
        "the thief's session, written back by the insider, is alive again"
    )


def test_a_session_past_its_age_stays_ended_whatever_its_row_says(
    deployment: DemoGateway,
) -> None:
    gw = deployment
    now = [datetime.now(UTC)]
    store = SessionStore(engine=gw.services.engine, signer=_console(gw).signer,
                         idle_timeout_s=1800, max_age_s=ConsoleSettings().max_session_s,
                         clock=lambda: now[0])  # fmt: skip
    cookie, _session = store.create(subject="alice", via="password")
    end = now[0] + timedelta(seconds=ConsoleSettings().max_session_s)
    while now[0] + timedelta(minutes=10) < end:  # the thief keeps it busy
        assert store.find(cookie) is not None
        now[0] += timedelta(minutes=10)
    gw.sql(
        "UPDATE console_sessions SET created_at = :t WHERE subject = 'alice'", t=now[0]
    )  # fmt: skip  (the insider's edit, just before the end)
    alive = []
    for _ in range(3):  # still kept busy, past the end
        now[0] += timedelta(minutes=10)
        alive.append(store.find(cookie) is not None)
    assert now[0] > end and not alive[-1], "the stolen cookie outlives its maximum age"


def test_a_password_set_without_its_digest_signs_nobody_in(deployment: DemoGateway) -> None:
    """A setter that puts ``{"password": "set"}`` on the trail without the row's digest
    (after one that did) leaves no way to tell the current row: fail closed."""
    gw = deployment
    password = set_demo_passwords(_console(gw).accounts, ["arthur"])["arthur"]
    assert _sign_in(gw, "arthur", password)[0] == 303
    gw.services.audit.append(user_admin_event(
        type_=EventType.USER_UPDATED, actor=Actor.cli("other"), subject="arthur",
        details={"password": "set"}))  # fmt: skip
    assert _sign_in(gw, "arthur", password)[0] != 303
