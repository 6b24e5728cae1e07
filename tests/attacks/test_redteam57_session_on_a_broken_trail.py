"""Red team 57's fix on a trail that does not verify: ``PasswordTrail`` reads the
password events through the trail's follower (``audit.follow``), which refuses a trail
that does not verify above what it read. The console stays open then (the officers
investigate the seal such a trail causes there, red team 24), so the session check
falls back to what the follower verified below the failure and, above it, to the
search of the index columns, believing only events a gateway wrote at their seq. An
insider of both databases who breaks the trail (an event's body rewritten above what
the follower read) and writes back carl's session row after his reset does not get the
copied cookie through: the reset above the break is found (genuine), and a reset made
not genuine ends every session of his. Never a 500. On the embedded default and on
PostgreSQL (one gateway per test: the trail stays broken)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import insert, select

from audit.event_types import EventType
from audit.records import Actor, user_admin_event
from gateway.web.console.runtime import Console
from gateway.web.console.store import console_sessions
from tests.attacks.console_sign_in import console_sign_in
from tests.attacks.deployments import KINDS, open_deployment
from tests.attacks.forged_event import rewrite_event, stored_event
from tests.attacks.test_insider_audit import _insider
from tests.gateway.demo_app import DemoGateway


@pytest.fixture(params=KINDS)
def fresh(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
          ) -> Iterator[DemoGateway]:  # fmt: skip
    with open_deployment(request.param, tmp_path_factory.mktemp(f"rt57-{request.param}"),
                         db_prefix="sluice_rt57_broken",
                         audit_monitor_seconds=60) as gw:  # fmt: skip
        yield gw


def _newest_seq(gw: DemoGateway) -> int:
    with gw.services.audit.store.reading() as conn:
        rows = gw.services.audit.store.fetch_all(conn, "SELECT max(seq) FROM audit_events", ())
    return int(rows[0][0])


def _copied_session_after_a_broken_reset(gw: DemoGateway, forge_reset: bool) -> TestClient:
    client, _csrf = console_sign_in(gw, "carl")
    assert client.get("/console").status_code == 200
    with gw.services.engine.connect() as conn:
        kept: list[dict[str, Any]] = [dict(r._mapping) for r in conn.execute(
            select(console_sessions).where(console_sessions.c.subject == "carl"))]  # fmt: skip
    # an event the follower has not read yet, its body rewritten: the trail breaks there
    gw.services.audit.append(user_admin_event(type_=EventType.USER_UPDATED,
                                              actor=Actor.cli("operator"), subject="sam",
                                              details={"roles": ["analyst"]}))  # fmt: skip
    broken = _newest_seq(gw)
    _insider(gw, f"UPDATE audit_events SET body = replace(body, '{{', '{{ ') WHERE seq = {broken}")
    console: Console = gw.client.app.state.console  # type: ignore[attr-defined]
    console.accounts.set_password(subject="carl", password="a-new-password-57-long",
                                  set_by="cli:operator")  # fmt: skip
    reset = _newest_seq(gw)
    assert reset > broken
    if forge_reset:  # no longer a gateway's event (its MAC): nothing verifies
        rewrite_event(gw, reset, {**stored_event(gw, reset)[1], "client": "forged"})
    with gw.services.engine.begin() as conn:
        conn.execute(insert(console_sessions), kept)
    return client


@pytest.mark.parametrize("forge_reset", [False, True])
def test_a_broken_trail_does_not_revive_a_copied_session(
    fresh: DemoGateway, forge_reset: bool
) -> None:
    client = _copied_session_after_a_broken_reset(fresh, forge_reset)
    page = client.get("/console")
    assert page.status_code == 303, page.text[:300]
    assert "/console/sign-in" in page.headers.get("location", "")
    missing = client.get("/console/no-such-page")  # the API's refusal path: never a 500
    assert missing.status_code in (404, 503), missing.text[:300]
