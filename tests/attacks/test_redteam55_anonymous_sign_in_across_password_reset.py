"""Red team 55, anonymous (holding a leaked password): a sign-in in flight while the
password is reset opens a session that outlives the reset.

Rule: "a new password is how a leaked one is answered: the sessions it opened end with
it" (``LocalAccounts.set_password`` deletes the account's sessions; a session started no
later than the newest password set on the trail is over: ``SessionStore._ended``).

Attack: whoever holds carl's leaked password signs in again and again. The sign-in reads
carl's row, verifies the password against it (argon2: tens of milliseconds) and then
creates the session. An operator resets carl's password (``sluice users passwd``, here
``LocalAccounts.set_password`` as that command calls it) while one such verification
runs: the reset deletes the sessions there are and records its moment; the sign-in,
verified against the old row, then creates its session *after* both — alive, 303, and
the console is the attacker's under the reset meant to shut them out.

Here the verification of the old password is held until the reset is done (not timed:
tests do not assert on wall-clock time). Expected: no session opened by the old
password lives once the reset is done. On the embedded default and on PostgreSQL.
"""

from __future__ import annotations

import threading
import time
from typing import Any

import pytest

from tests.attacks.console_sign_in import accounts_with_password, post_sign_in
from tests.gateway.demo_app import DemoGateway

HELD_S = 10.0


def test_a_sign_in_verified_before_a_reset_opens_no_session_after_it(
    monkeypatch: pytest.MonkeyPatch, deployment: DemoGateway
) -> None:
    verifying, reset_done = threading.Event(), threading.Event()
    accounts, leaked = accounts_with_password(deployment, "carl")
    real = accounts._matches

    def held(stored: str, password: str) -> bool:
        if password == leaked and not verifying.is_set():  # the attacker's sign-in only
            verifying.set()
            reset_done.wait(HELD_S)
        return real(stored, password)

    monkeypatch.setattr(accounts, "_matches", held)
    outcome: dict[str, Any] = {}

    def sign_in() -> None:
        outcome["answer"], outcome["client"] = post_sign_in(deployment, "carl", leaked)

    attacker = threading.Thread(target=sign_in)
    attacker.start()
    try:
        assert verifying.wait(HELD_S), "the sign-in never verified the password"
        accounts.set_password(subject="carl", password="a-new-password-55-long",
                              set_by="cli:operator")  # fmt: skip
        time.sleep(0.01)  # the reset's moment is behind us, to the millisecond
    finally:
        reset_done.set()
        attacker.join(HELD_S)
    answer, client = outcome["answer"], outcome["client"]
    page = client.get("/console")
    assert page.status_code != 200, (
        f"the old password's sign-in ({answer.status_code}) opened a session that "
        "outlived the reset"
    )
    assert answer.status_code != 303 or page.headers.get("location", "").startswith(
        "/console/sign-in"
    ), page.headers
