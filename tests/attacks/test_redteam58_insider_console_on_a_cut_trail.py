"""Red team 58, as an insider of the audit database: the console shut for good by a cut
trail, once the gateway restarts.

Rule (red team 24, kept by red team 57's fix): a trail that does not verify refuses the
decisions that must read every event of it (the approvals), but the console stays open:
the officers investigate the seal there. ``PasswordTrail`` reads the password events
through the trail's follower and, when the follower refuses (``TrailBroken``), falls
back to what it verified below the failure and a search above it.

Attack: the console's password events are snapshotted (``audit.follow_snapshot``: each
follower writes one every 50,000 events, or at a warm start). The insider erases the
trail's tail down to the snapshot's watermark. In the running process the follower sees
its watermark gone (``TrailBroken``) and the console stays open, as designed; after the
next restart the follower's first read loads the snapshot, which refuses with
``TrailCut`` — an ``Unavailable`` that is no ``TrailBroken`` — and ``PasswordTrail``
let it through: every session check and every sign-in answered 503, the officers shut
out of the console until an unseal.

Expected: the console answers a signed-in officer after the restart as it does before
it (200). (A sign-in is refused there still, by the writer: it cannot record it on a
trail whose head went back, and seals.) On the embedded default and PostgreSQL
(one gateway per test: the trail stays cut).
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from audit.event_types import EventType
from audit.records import Actor, user_admin_event
from gateway.web.console.password_events import PasswordEvents
from tests.attacks.console_sign_in import console_sign_in
from tests.attacks.deployments import KINDS, open_deployment
from tests.attacks.test_insider_audit import _insider
from tests.gateway.demo_app import DemoGateway


@pytest.fixture(params=KINDS)
def fresh(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
          ) -> Iterator[DemoGateway]:  # fmt: skip
    with open_deployment(
        request.param,
        tmp_path_factory.mktemp(f"rt58-{request.param}"),
        db_prefix="sluice_rt58_cut",
        audit_monitor_seconds=60,
    ) as gw:
        yield gw


def _newest_seq(gw: DemoGateway) -> int:
    with gw.services.audit.store.reading() as conn:
        rows = gw.services.audit.store.fetch_all(conn, "SELECT max(seq) FROM audit_events", ())
    return int(rows[0][0])


def _cut_below_the_snapshot(gw: DemoGateway) -> None:
    """Events appended, the password index snapshotted past them, the tail erased."""
    for n in range(3):
        gw.services.audit.append(user_admin_event(
            type_=EventType.USER_UPDATED, actor=Actor.cli("operator"), subject="sam",
            details={"roles": ["analyst"], "n": n}))  # fmt: skip
    gw.services.audit.followers.of(PasswordEvents).persist()
    newest = _newest_seq(gw)
    _insider(gw, f"DELETE FROM audit_events WHERE seq >= {newest - 1}")


def test_a_cut_trail_leaves_the_console_open_after_a_restart(fresh: DemoGateway) -> None:
    gw = fresh
    client, _csrf = console_sign_in(gw, "carl")
    assert client.get("/console").status_code == 200
    _cut_below_the_snapshot(gw)
    running = client.get("/console")  # this process: TrailBroken, the fallback
    assert running.status_code == 200, running.text[:300]
    gw.services.audit.followers.forget()  # a gateway process started since
    page = client.get("/console")
    assert page.status_code == 200, page.text[:300]
