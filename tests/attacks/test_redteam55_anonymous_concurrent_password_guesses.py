"""Red team 55, anonymous: password guesses sent at once pass the console's lockout.

``LocalAccounts.check`` read the account's lock, then verified the password (argon2:
tens of milliseconds by default), and only then counted a wrong one. Every attempt that
arrived while the first ``SLUICE_CONSOLE_MAX_FAILURES`` were being verified found the
account unlocked, so its password was verified too, and a right one signed in — and
cleared the lock the wrong ones had just set. The bound "``max_failures`` guesses per
``lockout_s``" held only for guesses sent one after the other; sent together (from
one address, up to ``SLUICE_CONSOLE_SIGN_IN_ATTEMPTS_PER_MINUTE``; from several, up to
what the gateway verifies at once) it was as many as were in flight.

Here the verifications are held (not timed: tests do not assert on wall-clock time)
until ``max_failures`` wrong guesses for carl are all being verified; then the right
password arrives. Expected: it is refused as locked (403), never verified, nobody
signed in: an attempt takes its place in the count before its password is looked at.
"""

from __future__ import annotations

import threading
import time
from typing import Any

import pytest

from tests.attacks.console_sign_in import accounts_with_password, post_sign_in
from tests.gateway.demo_app import DemoGateway

HELD_S = 10.0


def _until(condition: Any, within: float) -> bool:
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.01)
    return bool(condition())


def test_guesses_sent_at_once_stop_at_the_lockout(
    deployment: DemoGateway, monkeypatch: pytest.MonkeyPatch
) -> None:
    gw = deployment
    accounts, right = accounts_with_password(gw, "carl")
    limit = accounts._max_failures
    real = accounts._matches
    verified: list[str] = []  # passwords verified against carl's own hash
    release = threading.Event()
    guard = threading.Lock()

    def held(stored: str, password: str) -> bool:
        if stored != accounts._dummy:  # the dummy hash's work (``_burn``) is not a guess
            with guard:
                verified.append(password)
            release.wait(HELD_S)
        return real(stored, password)

    monkeypatch.setattr(accounts, "_matches", held)
    answers: dict[str, int] = {}

    def attempt(password: str) -> None:
        answer, _client = post_sign_in(gw, "carl", password)
        answers[password] = answer.status_code

    wrong = [threading.Thread(target=attempt, args=(f"wrong-guess-{i}",)) for i in range(limit)]
    for thread in wrong:
        thread.start()
    try:
        assert _until(lambda: len(verified) == limit, HELD_S), verified
        last = threading.Thread(target=attempt, args=(right,))
        last.start()
        # it either ends (refused before any verification) or is verified, held too
        _until(lambda: not last.is_alive() or len(verified) > limit, 3.0)
    finally:
        release.set()
        for thread in [*wrong]:
            thread.join(HELD_S)
    last.join(HELD_S)
    assert right not in verified, f"the right password was verified after {limit} wrong ones"
    assert answers[right] == 403, answers
    assert sorted(answers.values()) == sorted([401] * (limit - 1) + [403, 403]), answers
