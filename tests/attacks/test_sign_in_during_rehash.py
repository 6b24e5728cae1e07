"""As a user: a right sign-in while another sign-in's rehash is in flight.

After an operator changes the console's argon2 cost, the next right sign-in re-makes the
hash: it records the new row's digest on the trail, then writes the row. A sign-in that
read the row in between found the trail naming another row and was refused as tampered
(401, ``auth.sign_in_failed`` with ``tampered``: an insider's work, on record) — stop
27's clean-clone run caught it once in red team 18's three-at-once test. It now waits for
the rehash to land (``catalog.row_bindings.settle``), as reads of catalog rows do.
"""

from __future__ import annotations

import threading
from typing import Any

import pytest

from gateway.web.console.passwords import PasswordTrail
from tests.attacks.console_sign_in import accounts_at_old_cost, post_sign_in
from tests.attacks.test_redteam18_user_concurrent_rehash import PASSWORD
from tests.gateway.demo_app import DemoGateway


def test_a_sign_in_during_another_ones_rehash_is_not_refused_as_tampered(
    deployment: DemoGateway, monkeypatch: pytest.MonkeyPatch
) -> None:
    gw = deployment
    before = accounts_at_old_cost(gw)
    before.set_password(subject="alice", password=PASSWORD, set_by="demo")
    original = PasswordTrail.record
    reached, release = threading.Event(), threading.Event()

    def held_record(self: PasswordTrail, **kwargs: Any) -> None:
        original(self, **kwargs)
        if kwargs.get("how") == "rehashed" and not reached.is_set():
            reached.set()  # the digest is on the trail; the row is not written yet
            release.wait(30)

    monkeypatch.setattr(PasswordTrail, "record", held_record)
    first: list[int] = []
    thread = threading.Thread(
        target=lambda: first.append(post_sign_in(gw, "alice", PASSWORD)[0].status_code)
    )
    thread.start()
    try:
        assert reached.wait(30), "the first sign-in never rehashed"
        threading.Timer(0.3, release.set).start()  # the rehash lands while the second waits
        second = post_sign_in(gw, "alice", PASSWORD)[0].status_code
    finally:
        release.set()
        thread.join(30)
    assert (first, second) == ([303], 303)
    assert post_sign_in(gw, "alice", PASSWORD)[0].status_code == 303
