"""The sign-in page does not tell a name an account holds from one none holds.

Red team 10 (anonymous, left open): after ``max_failures`` wrong passwords an existing
account answered "locked" (403) while an unknown name kept answering "failed" (401), so
trying a name ``max_failures`` times told whether the gateway has such a user. Unknown
names are now counted as accounts are and answer "locked" alike; the trail still says
what happened (``unknown_account``).
"""

from __future__ import annotations

from audit.search import EventFilter, list_events
from tests.gateway.web.console.conftest import LiveConsole
from tests.gateway.web.console.test_sign_in import _try


def test_an_unknown_name_locks_as_an_account_does(live: LiveConsole) -> None:
    limit = live.console.settings.max_failures
    answers: dict[str, list[tuple[int, bool]]] = {}
    with live.client() as client:
        for name in ("carl", "no-such-user"):
            answers[name] = []
            for _ in range(limit + 1):
                resp = _try(client, name, "wrong-password-123")
                answers[name].append((resp.status_code, "锁定" in resp.text))
    assert answers["carl"] == answers["no-such-user"], answers
    assert answers["carl"][-1] == (403, True)
    failed = list_events(
        store=live.gw.services.audit.store,
        filters=EventFilter(type="auth.sign_in_failed"),
        limit=100,
    )["items"]
    reasons = {e["details"]["reason"] for e in failed
               if e["details"].get("claimed") == "no-such-user"}  # fmt: skip
    assert reasons == {"unknown_account"}, reasons  # the trail says what it was
