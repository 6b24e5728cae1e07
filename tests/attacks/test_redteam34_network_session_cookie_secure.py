"""Red team 34, as someone on the network path between a user's browser and the
console's TLS proxy, against the console's session cookie.

Rule: the console is published at ``SLUICE_PUBLIC_URL``; when that address is https,
its session cookie must never travel in clear (``Secure``).

Attack: the gateway marked its cookies ``Secure`` only when the request's own scheme
was https — which, behind a proxy that terminates TLS, it is only if the proxy is in
``SLUICE_TRUSTED_PROXIES`` and sends ``X-Forwarded-Proto``. With ``SLUICE_PUBLIC_URL``
set to ``https://…`` and the proxy not listed (``sluice doctor`` does not object), the
session cookie came without ``Secure``: one ``http://`` request the attacker makes the
browser send to the same name (an image on any page) carries it in clear.

Expected: with an https ``SLUICE_PUBLIC_URL`` every console cookie is ``Secure``,
whatever scheme the request reached the gateway with. On the embedded default and on
PostgreSQL.
"""

from __future__ import annotations

import re

import pytest
from fastapi.testclient import TestClient

from gateway.web.console.passwords import set_demo_passwords
from tests.gateway.demo_app import DemoGateway

PUBLIC = "https://sluice.example.gov/"
# the proxy forwards plain http; the browser's side of it is https
OWN = {"Host": "sluice.example.gov", "Origin": "https://sluice.example.gov"}
_FIELD = re.compile(r'name="csrf_token" value="([^"]+)"')


def _cookies(response: object) -> list[str]:
    return list(response.headers.get_list("set-cookie"))  # type: ignore[attr-defined]


def test_the_session_cookie_is_secure_under_an_https_public_url(
    deployment: DemoGateway, monkeypatch: pytest.MonkeyPatch
) -> None:
    gw = deployment
    monkeypatch.setattr(gw.services.settings, "public_url", PUBLIC)
    password = set_demo_passwords(gw.client.app.state.console.accounts, ["alice"])["alice"]
    client = TestClient(gw.client.app, follow_redirects=False)
    page = client.get("/console/sign-in", headers=OWN)
    nonce = _FIELD.search(page.text)
    assert nonce is not None
    pre = [c.split(";", 1)[0] for c in _cookies(page)]  # sent back as the browser would
    client.cookies.clear()
    form = {"csrf_token": nonce.group(1), "username": "alice", "password": password}
    answer = client.post("/console/sign-in", data=form, headers={**OWN, "Cookie": "; ".join(pre)})
    assert answer.status_code == 303, answer.text[:300]
    issued = [c for c in _cookies(page) + _cookies(answer) if "max-age=0" not in c.lower()]
    assert issued, "no cookie set"
    for cookie in issued:
        assert "secure" in cookie.lower(), f"sent in clear on http: {cookie.split('=')[0]}"
