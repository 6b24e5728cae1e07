"""As a user (or anyone with their password): right sign-ins at once after an operator
changed the console's argon2 cost.

A hash made at another cost is re-made at the next right sign-in, and the new row's
digest goes on the trail first. Three right sign-ins at once each recorded their own
digest and wrote their own row; when the writes landed in another order than the
digests, the row matched an older digest and every later sign-in of the account was
refused as tampered (401; ``auth.sign_in_failed`` with ``tampered``, which reads as an
insider's work), until a password was set again. Red team 18.
"""

from __future__ import annotations

import threading

from tests.attacks.console_sign_in import accounts_at_old_cost, post_sign_in
from tests.gateway.demo_app import DemoGateway

PASSWORD = "the-password-of-alice-1"


def test_right_sign_ins_at_once_after_a_cost_change_keep_the_account(
    deployment: DemoGateway,
) -> None:
    gw = deployment
    # the password as set before the operator changed SLUICE_CONSOLE_ARGON2_*
    before = accounts_at_old_cost(gw)
    for _ in range(2):
        before.set_password(subject="alice", password=PASSWORD, set_by="demo")
        answers = _at_once(gw, 3)
        assert answers == [303, 303, 303], answers
        after = post_sign_in(gw, "alice", PASSWORD)[0].status_code
        assert after == 303, f"alice's account was refused after her own sign-ins ({after})"


def _at_once(gw: DemoGateway, count: int) -> list[int]:
    answers: list[int] = []

    def sign_in() -> None:
        answers.append(post_sign_in(gw, "alice", PASSWORD)[0].status_code)

    threads = [threading.Thread(target=sign_in) for _ in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return answers
