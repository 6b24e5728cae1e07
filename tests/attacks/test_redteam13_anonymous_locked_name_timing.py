"""Red team 13, anonymous: once locked, the console's sign-in tells a name an account
holds from one none holds by how long it takes.

Red team 10's fix (f2c8e7b) made an unknown name lock as an account does, so the status
and the page are the same. But the work behind them was not: a locked account is
refused before its password is looked at (``LocalAccounts.check``: no argon2), while a
name no account holds still pays one argon2 verification on every attempt
(``_burn``, meant to make unknown names as slow as real ones) — after the lockout the
real account answers in a millisecond and the unknown name in tens of them (the
default argon2 parameters), an oracle anyone can time from outside, for
``SLUICE_CONSOLE_LOCKOUT_S`` at a time.

Expected: every sign-in attempt costs one password verification, locked or not, known
name or not (counted here rather than timed: tests do not assert on wall-clock time).
"""

from __future__ import annotations

import re
from typing import Any

import pytest

from gateway.web.console.passwords import set_demo_passwords
from gateway.web.console.runtime import Console
from tests.gateway.demo_app import DemoGateway

_PRE = re.compile(r'name="csrf_token" value="([^"]+)"')


def _try(gw: DemoGateway, subject: str) -> Any:
    page = gw.client.get("/console/sign-in")
    token = _PRE.search(page.text)
    assert token is not None, page.text[:300]
    return gw.client.post("/console/sign-in", follow_redirects=False, data={
        "csrf_token": token.group(1), "username": subject,
        "password": "wrong-password-13"})  # fmt: skip


def test_a_locked_name_costs_what_an_unknown_one_does(
    deployment: DemoGateway, monkeypatch: pytest.MonkeyPatch
) -> None:
    gw = deployment
    console: Console = gw.client.app.state.console  # type: ignore[attr-defined]
    set_demo_passwords(console.accounts, ["carl"])
    verified: list[str] = []
    real = console.accounts._matches

    def counting(stored: str, password: str) -> bool:
        verified.append(password)
        return real(stored, password)

    monkeypatch.setattr(console.accounts, "_matches", counting)
    limit = console.settings.max_failures
    cost: dict[str, list[tuple[int, int]]] = {}
    for name in ("carl", "nobody-by-this-name"):
        cost[name] = []
        for _ in range(limit + 2):
            verified.clear()
            resp = _try(gw, name)
            cost[name].append((resp.status_code, len(verified)))
    assert cost["carl"] == cost["nobody-by-this-name"], cost
    assert cost["carl"][-1] == (403, 1), cost
