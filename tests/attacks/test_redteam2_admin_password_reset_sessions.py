"""Red team 2, as an admin responding to a stolen password: the thief's session stays.

An admin who learns that a user's password leaked sets a new one (console or
``sluice users passwd``). The sessions already signed in with the old one — the thief's
among them — went on working (the idle timeout is renewed by every use, so forever).
Setting a password now ends every console session of the account, in the same
transaction as the new hash.
"""

from __future__ import annotations

from gateway.web.console.passwords import set_demo_passwords
from gateway.web.console.runtime import Console
from tests.attacks.console_sign_in import console_sign_in
from tests.gateway.demo_app import DemoGateway

NEW = "a-fresh-password-for-arthur"


def test_a_new_password_ends_the_sessions_of_the_old_one(deployment: DemoGateway) -> None:
    console: Console = deployment.client.app.state.console
    old = set_demo_passwords(console.accounts, ["root", "arthur"])
    thief, _ = console_sign_in(deployment, "arthur", old["arthur"])
    assert thief.get("/console").status_code == 200
    root, csrf = console_sign_in(deployment, "root", old["root"])
    done = root.post("/console/admin/users/arthur/password",
                     data={"csrf_token": csrf, "password": NEW, "confirm": NEW})  # fmt: skip
    assert done.status_code == 303, done.text[:300]
    after = thief.get("/console")
    assert after.status_code == 303 and "/console/sign-in" in after.headers["location"], (
        "the session signed in with the old password survived the new one"
    )
    console_sign_in(deployment, "arthur", NEW)  # the new password works
