"""Red team 29, as a steward in the console: connection tests off the record.

Rule (ATTACKS.md, "unaudited paths"): every action a person makes the gateway take is
on the audit trail — a console action too. The console's "test connection" makes the
gateway connect, from its own network position, to the system a steward names, with the
credentials the steward types (``registration.check_and_connect``, the checks a
registration runs); red team 10 called the same form "a password oracle" and closed it
for other departments' systems. A registration through the API is on record either way
(``source.registered``, or ``request.refused`` when it fails).

Attack: carl tests connection after connection — a database file of his department,
then a file that is not there — as a password guesser would against an unregistered
server on the allowed networks: the answers come back ("ok", or the driver's failure),
and the trail holds nothing of any of them.

Expected: each test is on record as ``source.tested`` — by whom, which source id, the
target as redacted, and whether it connected — before the answer is shown.

On the embedded SQLite default and on PostgreSQL (``deployment``).
"""

from __future__ import annotations

from typing import Any

from audit.search import EventFilter, list_events
from tests.attacks.console_sign_in import console_sign_in
from tests.attacks.test_insider_replay_sources_models import _civil_copy
from tests.gateway.demo_app import DemoGateway


def _tested(gw: DemoGateway) -> list[dict[str, Any]]:
    page = list_events(store=gw.services.audit.store,
                       filters=EventFilter(type="source.tested", actor="carl"),
                       limit=100, order="asc")  # fmt: skip
    return list(page["items"])


def test_each_connection_test_is_on_record(deployment: DemoGateway) -> None:
    gw = deployment
    client, csrf = console_sign_in(gw, "carl")
    copy = _civil_copy(gw, "rt29test")[1].removeprefix("sqlite:///")
    form = {"csrf_token": csrf, "kind": "sqlite", "display_name": "probe", "id": "civil-rt29"}
    before = len(_tested(gw))
    works = client.post("/console/sources/test", data={**form, "path": copy})
    assert works.status_code == 200, works.text[:300]
    fails = client.post("/console/sources/test", data={**form, "path": copy + ".missing"})
    assert fails.status_code == 200, fails.text[:300]
    found = _tested(gw)[before:]
    assert [e["outcome"] for e in found] == ["ok", "error"], found
    assert all(e["resource"] == "source:civil-rt29" for e in found), found
    assert found[0]["details"]["connected"] is True and found[1]["details"]["connected"] is False
