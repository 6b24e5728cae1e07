"""Red team 20, analyst beside an admin: alice's requests while root saves her account.

An admin's change of a user binds the row's new state on the trail before its commit
(``catalog.row_bindings``; bound back if the change fails: a lost compare-and-set, the
last-admin check at the flush). A request of alice's that read her row in that window —
with any other catalog write landing meanwhile, so the directory read the trail again —
found the trail naming a state her row did not carry yet: 403 ``account_unsealed``
("changed outside the gateway; an administrator must save it again"), on record as an
insider's work, and the console ended every session of hers. Once root's change rolled
back, she stayed refused (the verdict cached for the catalog generation) until the next
catalog write anywhere. Her requests now wait for the change to end and are served.
"""

from __future__ import annotations

import threading
import time

import pytest

from catalog.models import User
from gateway.stewardship.row_trail import bind_until_commit
from tests.attacks.console_sign_in import console_sign_in
from tests.gateway.demo_app import DemoGateway

QUERY = {"fields": ["region_code"], "purpose": "supervision", "case_ref": "JW-RT20", "limit": 1}
DIBAO = "civil.dibao_recipients"


def _bump(gw: DemoGateway) -> None:
    resp = gw.client.patch("/api/v1/datasets/finance.payroll", headers=gw.headers("fiona"),
                           json={"tags": [f"rt20-{time.monotonic_ns()}"]})  # fmt: skip
    assert resp.status_code == 200, resp.text


@pytest.mark.parametrize("end", ["rollback", "commit"])
def test_alices_requests_while_root_saves_her_account_are_served(
    deployment: DemoGateway, end: str
) -> None:
    gw = deployment
    console, _csrf = console_sign_in(gw, "alice")
    assert gw.query("alice", DIBAO, QUERY).status_code == 200
    session = gw.services.sessions()
    alice = session.get(User, "alice")
    assert alice is not None
    alice.display_name = alice.display_name  # root's save: the row restated as it is
    alice.jurisdiction = list(alice.jurisdiction)
    alice.clearance = "L2" if alice.clearance == "L3" else "L3"
    bind_until_commit(gw.services.audit, session)
    timer = threading.Timer(0.4, lambda: getattr(session, end)())
    timer.start()
    try:
        _bump(gw)
        resp = gw.query("alice", DIBAO, QUERY)
        assert resp.status_code == 200, resp.text
    finally:
        timer.join()
        session.close()
    assert gw.query("alice", DIBAO, QUERY).status_code == 200
    page = console.get("/console")
    assert page.status_code == 200, page.status_code  # her console session lives on
    if end == "commit":  # put her clearance back through the gateway
        listed = gw.listed_user("alice")
        gw.restore_user({**listed, "clearance": "L3"})
