"""Red team 56, as an admin: lift the suspension of an account whose password you chose.

Rule: an officer's suspension is lifted by an admin who did not impose it, never by the
suspended user (``emergency.unsuspend``: two people). THREAT_MODEL's known gap: an admin
who sets a local account's console password can sign in as that account — its conduct
may be the admin's own.

Attack: root makes ``mal56b`` an analyst and sets her console password in the console;
sam (officer) suspends her (say, on the alert her conduct raised). Root — who did not
impose the suspension and is not ``mal56b`` — lifts it (200): the account root can act
as is back in service on root's word alone, the officer overruled by the one person the
suspension was, in effect, about.

Expected: 403 to root (separation of duties, as for the suspender); another admin, who
chose nothing for her, lifts it. Both deployments.
"""

from __future__ import annotations

from gateway.web.console.passwords import set_demo_passwords
from gateway.web.console.runtime import Console
from tests.attacks.console_sign_in import console_sign_in
from tests.attacks.made_users import analyst_made_by_root
from tests.gateway.demo_app import DemoGateway

CHOSEN = "another-password-root-chose-56"
WHY = {"reason": "her conduct: alert on repeated denials"}


def _second_admin(gw: DemoGateway, subject: str) -> None:
    root = gw.headers("root")
    made = gw.client.put(f"/api/v1/admin/users/{subject}", headers=root,
                         json={"display_name": "Second admin", "clearance": "L4"})  # fmt: skip
    assert made.status_code == 200, made.text
    given = gw.client.post(f"/api/v1/admin/users/{subject}/roles", headers=root,
                           json={"role": "admin", "domain": "*"})  # fmt: skip
    assert given.status_code == 200, given.text


def test_an_admin_does_not_lift_the_suspension_of_an_account_whose_password_they_chose(
    deployment: DemoGateway,
) -> None:
    gw = deployment
    analyst_made_by_root(gw, "mal56b")
    _second_admin(gw, "root56")
    console: Console = gw.client.app.state.console
    root, csrf = console_sign_in(gw, "root", set_demo_passwords(console.accounts, ["root"])["root"])
    form = {"csrf_token": csrf, "password": CHOSEN, "confirm": CHOSEN}
    assert root.post("/console/admin/users/mal56b/password", data=form).status_code == 303

    suspended = gw.client.post("/api/v1/users/mal56b/suspend", json=WHY,
                               headers=gw.headers("sam"))  # fmt: skip
    assert suspended.status_code == 200, suspended.text
    lifted = gw.client.post("/api/v1/users/mal56b/unsuspend", json={"reason": "my call"},
                            headers=gw.headers("root"))  # fmt: skip
    assert lifted.status_code == 403, lifted.text
    still = gw.query(
        "mal56b",
        "civil.dibao_recipients",
        {"purpose": "supervision", "case_ref": "JW-RT56", "fields": ["region_code"], "limit": 1},
    )
    assert still.status_code == 403 and still.json()["code"] == "account_disabled", still.text
    other = gw.client.post("/api/v1/users/mal56b/unsuspend", json={"reason": "reviewed"},
                           headers=gw.headers("root56"))  # fmt: skip
    assert other.status_code == 200, other.text
