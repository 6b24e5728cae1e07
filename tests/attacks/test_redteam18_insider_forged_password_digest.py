"""As a database insider: an old console password brought back with a forged digest.

A console password row is sealed (an HMAC under the console key) and its digest is put
on the audit trail at each set (``user.updated {"password": "set", "digest": …}``): a
row written back as it was before a reset (a leaked password's row, seal and all) does
not match the newest digest and signs nobody in. The digest was read from the trail by
its indexed columns and its body alone, never its MAC (the row bindings read theirs
only from events a gateway wrote at their seq, red team 17; the password digests did
not). So whoever can edit the audit store rewrote an event below the head as a
``user.updated`` naming the old row's digest (the hash chain is public arithmetic), wrote
the old row back, and the old password signed in: until the monitor's walk reached the
edited event, which on a long trail takes minutes. Red team 18.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from typing import Any

import orjson
import pytest

from audit.canonical import canonical_json
from audit.search import EventFilter, list_events
from gateway.web.console.passwords import set_demo_passwords
from gateway.web.console.runtime import Console
from tests.attacks.console_sign_in import post_sign_in
from tests.attacks.deployments import KINDS, open_deployment
from tests.attacks.test_insider_row_replay import _rows
from tests.audit.helpers import tamper
from tests.gateway.demo_app import DemoGateway

DIBAO = "civil.dibao_recipients"
QUERY = {"purpose": "supervision", "case_ref": "JW-2026-001", "fields": ["region_code"]}


@pytest.fixture(scope="module", params=KINDS)
def deployment(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[DemoGateway]:
    """The monitor compares once a minute: its walk does not reach the edit in the test
    (on a long trail it takes minutes to; here the trail is short)."""
    home = tmp_path_factory.mktemp(f"forged-digest-{request.param}")
    with open_deployment(request.param, home, audit_monitor_seconds=60) as gw:
        yield gw


def _password_event(gw: DemoGateway, subject: str) -> dict[str, Any]:
    page = list_events(store=gw.services.audit.store, limit=1, order="desc",
                       filters=EventFilter(resource=f"user:{subject}",
                                           type="user.updated"))  # fmt: skip
    event: dict[str, Any] = page["items"][0]
    assert "digest" in event["details"], event
    return event


def _row(gw: DemoGateway, seq: int) -> tuple[str, str]:
    store = gw.services.audit.store
    conn = store.connect(reader=True)
    try:
        sql = f"SELECT prev_hash, body FROM audit_events WHERE seq = {store.p}"
        prev, body = store.fetch_all(conn, sql, (seq,))[0]
    finally:
        conn.close()
    return str(prev), body if isinstance(body, str) else bytes(body).decode()


def test_a_forged_digest_does_not_bring_an_old_password_back(deployment: DemoGateway) -> None:
    gw = deployment
    console: Console = gw.client.app.state.console
    old = set_demo_passwords(console.accounts, ["alice"])["alice"]
    old_row = _rows(gw, "SELECT password_hash, set_by FROM local_passwords "
                        "WHERE subject = 'alice'")[0]  # fmt: skip
    old_event = _password_event(gw, "alice")
    set_demo_passwords(console.accounts, ["alice"])  # the reset after the leak
    assert post_sign_in(gw, "alice", old)[0].status_code == 401
    for _ in range(3):  # events above the reset: one of them is rewritten
        assert gw.query("arthur", DIBAO, QUERY).status_code == 200
    target = _password_event(gw, "alice")["seq"] + 2

    prev, body = _row(gw, target)
    forged = {**orjson.loads(_row(gw, old_event["seq"])[1]), "seq": target,
              "ts": orjson.loads(body)["ts"]}  # fmt: skip
    data = canonical_json(forged)
    digest = hashlib.sha256(bytes.fromhex(prev) + data).hexdigest()
    columns = (f"body = '{data.decode()}', hash = '{digest}', type = 'user.updated', "
               f"resource = 'user:alice', actor_sub = '{forged['actor']['sub']}', "
               f"actor_dept = NULL, outcome = '{forged['outcome']}', purpose = NULL, "
               "case_ref = NULL, decision_allow = NULL")  # fmt: skip
    tamper(gw.settings.resolved_database_url,
           f"UPDATE audit_events SET {columns} WHERE seq = {target}")  # fmt: skip
    gw.sql("UPDATE local_passwords SET password_hash = :h, set_by = :b WHERE subject = 'alice'",
           h=old_row["password_hash"], b=old_row["set_by"])  # fmt: skip

    answer, _client = post_sign_in(gw, "alice", old)
    assert answer.status_code != 303, "the old password signed in on a forged digest"
