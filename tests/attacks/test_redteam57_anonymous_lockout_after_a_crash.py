"""Red team 57's left row (2), anonymous against an account: the sign-in lockout outlives
the attempts that set it.

Rule (red team 55): an attempt takes its place in the count of failures before its
password is verified, and the last place locks the account for ``lockout_s``.

Attack: ``max_failures`` guesses are in verification when their process dies (or the
verification raises): none reaches ``_failed``, so the count stays at its maximum with no
``locked_until`` — and every later attempt, the right password included, is refused as
locked for ever, until an admin resets the password (an anonymous client who can make a
worker die, or an operator's restart at the wrong moment, locks the owner out).

Expected: the lock the last place takes ends after ``lockout_s`` like any other. On the
embedded default and PostgreSQL.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from gateway.web.console.passwords import LocalAccounts, PasswordTrail
from gateway.web.console.sessions import console_key
from tests.attacks.console_sign_in import accounts_with_password
from tests.gateway.demo_app import DemoGateway


def test_a_lock_left_by_attempts_that_never_ended_ends(
    deployment: DemoGateway, monkeypatch: pytest.MonkeyPatch
) -> None:
    gw = deployment
    accounts, right = accounts_with_password(gw, "carl")
    limit = accounts._max_failures

    def dies(stored: str, password: str) -> bool:
        raise RuntimeError("the worker died in argon2")

    with monkeypatch.context() as patch:
        patch.setattr(accounts, "_matches", dies)
        for i in range(limit):
            with pytest.raises(RuntimeError):
                accounts.check(subject="carl", password=f"guess-{i}")
    assert accounts.check(subject="carl", password=right).outcome == "locked"  # meanwhile
    later = LocalAccounts(engine=gw.services.engine, key=console_key(gw.settings.home),
                          max_failures=limit, trail=PasswordTrail(gw.services.audit),
                          clock=lambda: datetime.now(UTC) + accounts._lockout
                          + timedelta(seconds=1))  # fmt: skip
    assert later.check(subject="carl", password=right).outcome == "ok"
