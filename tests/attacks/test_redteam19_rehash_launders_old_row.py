"""Red team 19, database insider: a rehash that lost its compare-and-set no longer puts
whatever row it then finds on the trail.

Since 6c463e8 a right sign-in whose rehash lost the compare-and-set on the row it read
records the digest of the row found afterwards, as if another sign-in had won. The
insider made it lose: alice's row from before her password was changed (sealed by a
gateway then, her old, perhaps leaked, password) written back while her sign-in after
an argon2 cost change re-made her hash. Her sign-in then put the old row's digest on the
trail, and the old password signed in (303) until the password was set again.
"""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import text

from gateway.web.console.passwords import PasswordTrail
from tests.attacks.console_sign_in import accounts_at_old_cost, post_sign_in
from tests.gateway.demo_app import DemoGateway

OLD, NEW = "alice-old-leaked-password-1", "alice-new-password-after-leak-2"
ROW = "SELECT password_hash FROM local_passwords WHERE subject = 'alice'"
WRITE = "UPDATE local_passwords SET password_hash = :h WHERE subject = 'alice'"


def test_a_rehash_that_lost_does_not_bind_an_old_row(
    deployment: DemoGateway, monkeypatch: pytest.MonkeyPatch
) -> None:
    gw = deployment
    before = accounts_at_old_cost(gw)
    before.set_password(subject="alice", password=OLD, set_by="demo")
    with gw.services.engine.connect() as conn:
        old_row = conn.execute(text(ROW)).scalar_one()
    before.set_password(subject="alice", password=NEW, set_by="demo")

    record = PasswordTrail.record

    def insider_lands_during_the_rehash(self: PasswordTrail, **kw: Any) -> None:
        record(self, **kw)
        if kw.get("how") == "rehashed":  # after its digest, before its compare-and-set
            with gw.services.engine.begin() as conn:
                conn.execute(text(WRITE), {"h": old_row})

    monkeypatch.setattr(PasswordTrail, "record", insider_lands_during_the_rehash)
    assert post_sign_in(gw, "alice", NEW)[0].status_code == 303
    monkeypatch.undo()
    assert post_sign_in(gw, "alice", OLD)[0].status_code != 303, "the old password signed in"
