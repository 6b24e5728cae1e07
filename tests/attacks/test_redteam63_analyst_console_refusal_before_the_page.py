"""Red team 63, as a signed-in analyst probing the console, against the officer reading
the trail.

Rule (README): every authenticated request that fails leaves a ``request.refused``
event; the console's pages record their own refusals (``console.guard``), naming the
signed-in caller.

Attack: the application-wide guard (``text_guard.refuse_unstorable_text``: NUL and lone
surrogates in a parameter, the body read under the console's 256 KiB bound) runs before
a page's own dependencies, so before the page knows its caller (``console_caller`` sets
``request.state.user``). A refusal raised there — a form body over the console's bound
(413), a NUL in a page's query string (400) — reached the console's error page with no
caller, and the page recorded nothing: alice's probes were answered and off the record
(the same refusals through the API, or a console form under 256 KiB, are on it).

Expected: each refusal on record as alice's, with its status. On the embedded default
and on PostgreSQL.
"""

from __future__ import annotations

from typing import Any

from tests.attacks.console_sign_in import console_sign_in
from tests.gateway.demo_app import DemoGateway

FORM = {"content-type": "application/x-www-form-urlencoded"}


def _refusals(gw: DemoGateway) -> list[dict[str, Any]]:
    params = {"actor": "alice", "type": "request.refused", "limit": 100}
    resp = gw.client.get("/api/v1/audit/events", headers=gw.headers("sam"), params=params)
    assert resp.status_code == 200, resp.text
    return list(resp.json()["items"])


def test_a_console_refusal_before_the_page_is_on_record(deployment: DemoGateway) -> None:
    client, csrf = console_sign_in(deployment, "alice")
    before = {e["seq"] for e in _refusals(deployment)}
    big = b"csrf_token=" + csrf.encode() + b"&justification=" + b"x" * 300_000
    resp = client.post("/console/requests", content=big, headers=FORM)
    assert resp.status_code == 413, resp.text[:200]
    resp = client.get("/console/query/civil.dibao_recipients", params={"purpose": "a\x00b"})
    assert resp.status_code == 400, resp.text[:200]
    new = [e for e in _refusals(deployment) if e["seq"] not in before]
    statuses = sorted(e["details"]["status"] for e in new)
    assert statuses == [400, 413], new
    assert all(e["details"].get("console") is True for e in new), new
    assert {(e["actor"]["sub"], tuple(e["actor"]["roles"])) for e in new} == {
        ("alice", ("analyst",))
    }, new
