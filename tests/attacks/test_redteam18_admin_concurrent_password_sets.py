"""As an admin: alice's console password set three times at once (a double submit of
the console's form, or two admins answering one ticket).

Each set puts the new row's digest on the trail, then replaces the row. When the rows
landed in another order than the digests, the row left matched an older digest and
none of the three passwords signed in (401, on record as ``tampered``, which reads as an
insider's work) until the password was set again; on PostgreSQL one set could also
meet the other's row at its insert (a 500). Red team 18.
"""

from __future__ import annotations

import threading

from fastapi.testclient import TestClient

from tests.attacks.console_sign_in import console_sign_in, post_sign_in
from tests.gateway.demo_app import DemoGateway


def test_passwords_set_at_once_leave_one_that_signs_in(deployment: DemoGateway) -> None:
    gw = deployment
    client, csrf = console_sign_in(gw, "root")
    for round_ in range(3):
        chosen = [f"password-{round_}-{n}-for-alice" for n in range(3)]
        answers = _at_once(client, csrf, chosen)
        assert all(a in (303, 409) for a in answers) and 303 in answers, answers
        signed_in = [post_sign_in(gw, "alice", p)[0].status_code for p in chosen]
        assert signed_in.count(303) == 1, f"alice cannot sign in with any of them: {signed_in}"


def _at_once(client: TestClient, csrf: str, chosen: list[str]) -> list[int]:
    answers: list[int] = []

    def post(password: str) -> None:
        answer = client.post("/console/admin/users/alice/password", data={
            "csrf_token": csrf, "password": password, "confirm": password})  # fmt: skip
        answers.append(answer.status_code)

    threads = [threading.Thread(target=post, args=(p,)) for p in chosen]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return answers
