"""Red team 30, as a web page an officer's browser visits (DNS rebinding), against the
console on an intranet: the browser's Origin check read the client's Host.

Rule: a state-changing console form (and the sign-in form, which has no session yet)
is accepted only from the console's own pages (``guard.same_origin``: Fetch metadata,
then ``Origin``). Since red team 29 the gateway's own address is ``SLUICE_PUBLIC_URL``
when set, never the client's ``Host``.

Attack: ``evil.example`` rebinds its name to the gateway's intranet address; the
browser then sends the page's requests to the gateway with ``Host: evil.example`` and
``Origin: http://evil.example`` — same-origin for the browser (it reads the sign-in
page's nonce and sets its cookie). ``same_origin`` compared ``Origin`` with
``scheme://Host`` and accepted, so the page posted the sign-in form from inside the
network (a password guesser at the victim's address).

Expected: with ``SLUICE_PUBLIC_URL`` set, ``Origin`` must be its origin: 403.
Without it the address the request reached is all the gateway knows (unchanged).
Since the thirty-fourth pass a Host naming no address of the gateway is refused before
(400, ``gateway.web.allowed_hosts``: ``test_peer_rebound_host_allow_list.py``); the
Origin check is tried here with ``evil.example`` let in as an alias
(``SLUICE_ALLOWED_HOSTS``), the case where only it stands.
"""

from __future__ import annotations

import re

import pytest
from fastapi.testclient import TestClient

from tests.gateway.demo_app import DemoGateway

_FIELD = re.compile(r'name="csrf_token" value="([^"]+)"')
REBOUND = {"Host": "evil.example", "Origin": "http://evil.example",
           "Sec-Fetch-Site": "same-origin"}  # fmt: skip


def _post(gw: DemoGateway, headers: dict[str, str]) -> int:
    client = TestClient(gw.client.app, follow_redirects=False)
    page = client.get("/console/sign-in", headers=headers)
    nonce = _FIELD.search(page.text)
    assert nonce is not None
    # the pre-cookie sent back as the browser would: over https to the proxy (it is
    # Secure under an https SLUICE_PUBLIC_URL, which this client's jar keeps off http)
    pre = "; ".join(c.split(";", 1)[0] for c in page.headers.get_list("set-cookie"))
    client.cookies.clear()
    answer = client.post("/console/sign-in", headers={**headers, "Cookie": pre}, data={
        "csrf_token": nonce.group(1), "username": "alice", "password": "wrong-guess"})  # fmt: skip
    return answer.status_code


def test_a_rebound_host_is_not_the_consoles_origin(
    deployment: DemoGateway, monkeypatch: pytest.MonkeyPatch
) -> None:
    gw = deployment
    monkeypatch.setattr(gw.services.settings, "public_url", "https://sluice.example.gov/")
    client = TestClient(gw.client.app, follow_redirects=False)
    assert client.get("/console/sign-in", headers=REBOUND).status_code == 400
    allowed = [*gw.services.settings.allowed_hosts, "evil.example"]
    monkeypatch.setattr(gw.services.settings, "allowed_hosts", allowed)
    assert _post(gw, REBOUND) == 403  # refused before any password is checked
    own = {"Host": "sluice.example.gov", "Origin": "https://sluice.example.gov"}
    assert _post(gw, own) == 401  # the console's own origin: the password is checked
