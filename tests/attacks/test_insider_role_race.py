"""As a database insider, after a role assignment that casbin refused at its last check.

``assign_role`` puts the line's new state on the trail (``catalog.row_bound``: the
digest of the seal the line will carry) before casbin writes it, and casbin checks
separation of duties once more under its lock. When another admin's assignment lands in
between (fiona is made an analyst while root makes her a security officer), casbin
refuses and the line is never written, but its binding stayed the newest state the
trail named. A line fiona held before (saved by the insider when it was removed) carries
exactly that seal: written back, it governed, and fiona read the audit trail as an
officer. The refused assignment now binds the line as removed again.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from tests.attacks.test_insider_row_replay import USERS, _rows
from tests.gateway.demo_app import DemoGateway

LINE = "SELECT * FROM casbin_rule WHERE v0 = 'fiona' AND v1 = 'role:security_officer'"
OFFICERS_ONLY = "/api/v1/audit/events"


@pytest.fixture
def gw(deployment: DemoGateway) -> Iterator[DemoGateway]:
    yield deployment
    for role, domain in (("security_officer", "*"), ("analyst", "*")):
        deployment.client.delete(f"{USERS}/fiona/roles/{role}/{domain}",
                                 headers=deployment.headers("root"))  # fmt: skip


def _give(gw: DemoGateway, role: str) -> Any:
    return gw.client.post(f"{USERS}/fiona/roles", headers=gw.headers("root"),
                          json={"role": role, "domain": "*"})  # fmt: skip


def test_a_role_casbin_refused_at_the_last_check_is_not_bound_present(
    gw: DemoGateway, monkeypatch: pytest.MonkeyPatch
) -> None:
    fiona = gw.headers("fiona")
    assert _give(gw, "security_officer").status_code == 200
    saved = _rows(gw, LINE)[0]
    resp = gw.client.delete(f"{USERS}/fiona/roles/security_officer/*", headers=gw.headers("root"))
    assert resp.status_code == 200, resp.text
    assert gw.client.get(OFFICERS_ONLY, headers=fiona).status_code == 403

    authorizer = gw.services.authorizer
    real = authorizer.assign

    def raced(*, subject: str, role: str, domain: str) -> None:
        if role == "security_officer":  # another admin's assignment lands first
            real(subject=subject, role="analyst", domain="*")
        real(subject=subject, role=role, domain=domain)

    monkeypatch.setattr(authorizer, "assign", raced)
    resp = _give(gw, "security_officer")
    assert resp.status_code == 409, resp.text  # separation of duties, at casbin's check
    monkeypatch.undo()
    resp = gw.client.delete(f"{USERS}/fiona/roles/analyst/*", headers=gw.headers("root"))
    assert resp.status_code == 200, resp.text

    gw.sql("INSERT INTO casbin_rule (id, ptype, v0, v1, v2, v3, v4, v5, seal) VALUES "
           "(:id, :ptype, :v0, :v1, :v2, :v3, :v4, :v5, :seal)", **saved)  # fmt: skip
    gw.sql("UPDATE casbin_revision SET revision = revision + 1 WHERE id = 1")
    answer = gw.client.get(OFFICERS_ONLY, headers=fiona)
    assert answer.status_code == 403, "the line casbin refused governs once written back"
