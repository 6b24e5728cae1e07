"""The thirty-fourth pass (hosts34), as a web page a user's browser visits (DNS
rebinding), against a gateway without ``SLUICE_PUBLIC_URL``: any Host was answered.

Rule: the gateway answers only a ``Host`` that names it: ``SLUICE_PUBLIC_URL``'s host
(behind a proxy, the one it forwards), ``SLUICE_ALLOWED_HOSTS``, the IP address the
request reached, and on a loopback socket ``localhost`` / ``127.0.0.1`` / ``[::1]``.

Attack: ``attacker.example`` rebinds its name to the gateway's address (127.0.0.1 on an
officer's machine running ``sluice serve``). The browser then sends the page's requests
to the gateway with ``Host: attacker.example`` and ``Origin: http://attacker.example``,
same-origin for it: it read the API's answers (the catalog, anything an ambient
credential opens) and the console's sign-in page, and the console's Origin check
(``guard.same_origin``, compared with ``scheme://Host`` when ``SLUICE_PUBLIC_URL`` is
unset: red team 30's left half) passed its ``POST /console/sign-in``.

Expected: 400 with a message (JSON under the API, the console's error page under
``/console``) before any route runs; the gateway's own names work. A real uvicorn
socket on 127.0.0.1, on the embedded default and on PostgreSQL.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

import httpx
import pytest
from fastapi.testclient import TestClient
from starlette.applications import Starlette
from starlette.responses import PlainTextResponse
from starlette.routing import Route

from gateway.core.settings import load_settings
from tests.attacks.live_gateway import Live, serve
from tests.gateway.demo_app import DemoGateway

_FIELD = re.compile(r'name="csrf_token" value="([^"]+)"')
ATTACKER = "attacker.example"
REBOUND = {"Host": ATTACKER, "Origin": f"http://{ATTACKER}", "Sec-Fetch-Site": "same-origin"}


@pytest.fixture(scope="module")
def live(deployment: DemoGateway) -> Iterator[Live]:
    with serve(deployment) as running:
        yield running


def _refused_json(answer: httpx.Response) -> None:
    assert answer.status_code == 400, answer.text[:300]
    body = answer.json()
    assert body["code"] == "bad_request" and "Host" in body["message"], body


def test_the_api_refuses_a_rebound_host(live: Live) -> None:
    with httpx.Client(base_url=live.base, timeout=30) as http:
        for path in ("/api/v1/catalog.jsonld", "/api/v1/me", "/healthz"):
            _refused_json(http.get(path, headers={"Host": ATTACKER}))
            _refused_json(http.get(path, headers={"Host": f"{ATTACKER}:{live.port}"}))
        bearer = {"Authorization": f"Bearer {live.gw.token('alice')}"}
        _refused_json(http.get("/api/v1/me", headers={**bearer, "Host": ATTACKER}))
        for own in ("127.0.0.1", "localhost", f"localhost:{live.port}", "LOCALHOST."):
            answer = http.get("/api/v1/me", headers={**bearer, "Host": own})
            assert answer.status_code == 200, (own, answer.text[:300])


def test_the_console_refuses_a_rebound_page(live: Live) -> None:
    with httpx.Client(base_url=live.base, timeout=30, follow_redirects=False) as http:
        page = http.get("/console/sign-in", headers=REBOUND)
        assert page.status_code == 400 and "text/html" in page.headers["content-type"]
        assert "Host" in page.text and 'name="csrf_token"' not in page.text, page.text[:500]
        # the nonce from the gateway's own name, posted by the rebound page
        nonce = _FIELD.search(http.get("/console/sign-in").text)
        assert nonce is not None
        form = {"csrf_token": nonce.group(1), "username": "alice", "password": "wrong-guess"}
        posted = http.post("/console/sign-in", headers=REBOUND, data=form)
        assert posted.status_code == 400 and "Host" in posted.text, posted.text[:500]
        own = {"Origin": live.base, "Sec-Fetch-Site": "same-origin"}
        assert http.post("/console/sign-in", headers=own, data=form).status_code == 401
        assert http.get("/console/static/console.css", headers=REBOUND).status_code == 400


def test_behind_a_proxy_the_public_url_host_is_answered(
    deployment: DemoGateway, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(deployment.services.settings, "public_url", "https://sluice.example.gov/")
    client = TestClient(deployment.client.app, follow_redirects=False)
    assert client.get("/healthz", headers={"Host": "sluice.example.gov"}).status_code == 200
    _refused_json(client.get("/healthz", headers={"Host": ATTACKER}))


def _bare(settings_home: str) -> TestClient:
    async def ok(_request: object) -> PlainTextResponse:
        return PlainTextResponse("ok")

    from gateway.web.allowed_hosts import HostAllowList

    app = Starlette(routes=[Route("/", ok)])
    settings = load_settings(home=settings_home)
    return TestClient(HostAllowList(app, settings))  # type: ignore[arg-type]


def test_no_test_name_is_allowed_by_default(
    tmp_path: object, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("SLUICE_ALLOWED_HOSTS", raising=False)
    assert _bare(str(tmp_path)).get("/").status_code == 400  # TestClient's "testserver"
    monkeypatch.setenv("SLUICE_ALLOWED_HOSTS", "testserver, gw.internal")
    assert _bare(str(tmp_path)).get("/").status_code == 200


@pytest.mark.parametrize("value", [
    "*", "*.example.gov", "https://gw.internal", "gw.internal:8000", "gw.internal/x",
    "user@gw.internal", "gw.internal!", "gw..internal", "-gw.internal",
])  # fmt: skip
def test_an_allowed_host_that_is_no_name_stops_the_start(value: str) -> None:
    with pytest.raises(ValueError, match="SLUICE_ALLOWED_HOSTS"):
        load_settings(allowed_hosts=value)


def test_allowed_hosts_are_names_or_addresses() -> None:
    assert load_settings(allowed_hosts="GW.internal., 10.0.1.21, [::1], fe80::1").allowed_hosts == [
        "gw.internal", "10.0.1.21", "::1", "fe80::1"
    ]  # fmt: skip
