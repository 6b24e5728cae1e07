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
edited event, which on a long trail takes minutes. A comparison run's completion, which
vouches for its stored hit list, was read the same way. Red team 18.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import text

from audit.search import EventFilter, list_events
from gateway.enforcement.comparison.run_store import ipc_bytes, read_ipc
from gateway.web.console.passwords import set_demo_passwords
from gateway.web.console.runtime import Console
from tests.attacks.console_sign_in import post_sign_in
from tests.attacks.deployments import KINDS, open_deployment
from tests.attacks.forged_event import rewrite_event, stored_event
from tests.attacks.test_insider_row_replay import _rows
from tests.gateway.comparison_env import events, hits, run_to_end
from tests.gateway.demo_app import DemoGateway

MODEL = "demo.payroll_on_dibao"
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

    rewrite_event(gw, target, stored_event(gw, old_event["seq"])[1])
    gw.sql("UPDATE local_passwords SET password_hash = :h, set_by = :b WHERE subject = 'alice'",
           h=old_row["password_hash"], b=old_row["set_by"])  # fmt: skip

    answer, _client = post_sign_in(gw, "alice", old)
    assert answer.status_code != 303, "the old password signed in on a forged digest"


def test_a_forged_completion_does_not_vouch_for_a_doctored_list(
    deployment: DemoGateway,
) -> None:
    """A done run's hits are checked against its ``comparison.completed`` on the trail
    (red team 2: a hit dropped behind the gateway is refused); that completion was taken
    from its body alone too, so a later event rewritten as a copy naming the doctored
    list's SHA-256 served the list without the first person the run found."""
    gw = deployment
    run: dict[str, Any] = run_to_end(gw, "dora", MODEL)
    assert run["status"] == "done" and run["hits"] >= 2, run
    whole = hits(gw, "dora", run["id"])
    assert whole.status_code == 200
    completion = events(gw, run_id=run["id"], types=("comparison.completed",), want=1)[-1]
    for _ in range(3):  # events above the completion: one of them is rewritten
        assert gw.query("arthur", DIBAO, QUERY).status_code == 200

    with gw.services.engine.connect() as conn:
        sql = text("SELECT data FROM comparison_run_results WHERE run_id = :r")
        original = bytes(conn.execute(sql, {"r": run["id"]}).scalar_one())
    doctored = ipc_bytes(read_ipc(original).slice(1))  # the first person found, gone
    sha = hashlib.sha256(doctored).hexdigest()
    gw.sql("UPDATE comparison_run_results SET data = :d, sha256 = :s WHERE run_id = :r",
           d=doctored, s=sha, r=run["id"])  # fmt: skip
    forged = {**stored_event(gw, completion["seq"])[1], "result_sha256": sha}
    rewrite_event(gw, completion["seq"] + 2, forged)

    answer = hits(gw, "dora", run["id"])
    assert answer.status_code != 200, "the doctored hit list was served as the run's"
    assert answer.status_code == 409 and answer.json()["code"] == "hits_tampered"


def test_a_reset_made_not_genuine_does_not_bring_the_old_password_back(
    deployment: DemoGateway,
) -> None:
    """The reset's own event edited (one byte: no longer a gateway's): passed over, the
    digest before it named the old row again."""
    gw = deployment
    console: Console = gw.client.app.state.console
    old = set_demo_passwords(console.accounts, ["fiona"])["fiona"]
    old_row = _rows(gw, "SELECT password_hash, set_by FROM local_passwords "
                        "WHERE subject = 'fiona'")[0]  # fmt: skip
    set_demo_passwords(console.accounts, ["fiona"])
    reset = _password_event(gw, "fiona")["seq"]
    for _ in range(3):  # events above the reset: the writer checks only what it wrote last
        assert gw.query("arthur", DIBAO, QUERY).status_code == 200
    rewrite_event(gw, reset, {**stored_event(gw, reset)[1], "client": "forged"})
    gw.sql("UPDATE local_passwords SET password_hash = :h, set_by = :b WHERE subject = 'fiona'",
           h=old_row["password_hash"], b=old_row["set_by"])  # fmt: skip
    answer, _client = post_sign_in(gw, "fiona", old)
    assert answer.status_code != 303, "the old password signed in past the edited reset"
