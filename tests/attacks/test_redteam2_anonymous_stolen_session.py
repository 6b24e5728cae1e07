"""Red team 2, as an anonymous holder of a stolen console cookie: a session for ever.

The idle timeout restarts with every use, and nothing else ended a session: a cookie
copied once (a shared machine, a proxy log, a backup of a browser profile) and used
every few minutes stayed signed in for weeks. A session now also ends a fixed time
after its sign-in (``SLUICE_CONSOLE_MAX_SESSION_S``, 12 hours by default), however busy.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from gateway.web.console.runtime import Console
from gateway.web.console.sessions import SessionStore
from gateway.web.console.settings import ConsoleSettings
from tests.gateway.demo_app import DemoGateway


def test_a_busy_session_still_ends(deployment: DemoGateway) -> None:
    console: Console = deployment.client.app.state.console
    now = [datetime.now(UTC)]
    store = SessionStore(engine=deployment.services.engine, signer=console.signer,
                         idle_timeout_s=1800, max_age_s=ConsoleSettings().max_session_s,
                         clock=lambda: now[0])  # fmt: skip
    cookie, _session = store.create(subject="alice", via="password")
    for _ in range(12 * 6):  # used every ten minutes for twelve hours
        assert store.find(cookie) is not None
        now[0] += timedelta(minutes=10)
    assert store.find(cookie) is None, "a stolen cookie kept busy never ends"
    assert store.find(cookie) is None  # and it is gone
