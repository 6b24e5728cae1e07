"""Red team 16: a signed-in console user's refusals that no console page answers.

Rule: every refusal of an authenticated request is on record (``request.refused``):
the API's by ``gateway.web.refusals``, the console pages' by ``console.guard``.

Attack: the API records a 404 or 405 for a caller whose token validated, but
``gateway.web.refusals`` left every ``/console`` path to the console's own routes, and a
path or method no console page takes never reaches one: alice, signed in, could probe
``/console/…`` paths and methods (``DELETE /console/admin``, ``OPTIONS``, an unknown
page) with nothing on the trail, where the same probing of ``/api/v1/…`` is recorded.

Expected: such a refusal names the session's subject on the trail (``console: true``);
one without a live session is not recorded (anyone can send it), as for the API.
"""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from audit.search import EventFilter, list_events
from tests.attacks.console_sign_in import console_sign_in
from tests.gateway.demo_app import DemoGateway

PROBES = [("GET", "/console/nowhere", 404), ("DELETE", "/console/admin", 405),
          ("OPTIONS", "/console/requests", 405), ("PUT", "/console/audit", 405)]  # fmt: skip


def _newest(gw: DemoGateway) -> dict[str, object]:
    page = list_events(store=gw.services.audit.store, filters=EventFilter(), limit=1,
                       order="desc")  # fmt: skip
    return dict(page["items"][0]) if page["items"] else {"seq": 0}  # run alone: none yet


@pytest.mark.parametrize(("method", "path", "status"), PROBES)
def test_a_signed_in_probe_of_the_console_is_on_record(
    deployment: DemoGateway, method: str, path: str, status: int
) -> None:
    client, _csrf = console_sign_in(deployment, "alice")
    resp = client.request(method, path)
    assert resp.status_code == status, resp.text[:200]
    event = _newest(deployment)
    assert event["type"] == "request.refused", event
    assert event["actor"]["sub"] == "alice"  # type: ignore[index]
    details = event["details"]
    assert details["status"] == status and details["path"] == path  # type: ignore[index]
    assert details["console"] is True  # type: ignore[index]


def test_a_probe_without_a_session_is_not_recorded(deployment: DemoGateway) -> None:
    before = _newest(deployment)["seq"]
    anonymous = TestClient(deployment.client.app, follow_redirects=False)
    assert anonymous.request("DELETE", "/console/admin").status_code == 405
    anonymous.cookies.set("sluice_console", "forged")
    assert anonymous.get("/console/nowhere").status_code == 404
    assert _newest(deployment)["seq"] == before
