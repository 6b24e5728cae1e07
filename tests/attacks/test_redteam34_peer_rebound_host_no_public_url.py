"""Red team 34, as a web page an officer's (or a demo user's) browser visits (DNS
rebinding), against a console served without ``SLUICE_PUBLIC_URL`` — ``make demo``, a
gateway reached on the intranet by its address.

Rule: a state-changing console form, and the sign-in form (no session yet), is
accepted only from the console's own pages (``guard.same_origin``). Red team 30 made
``SLUICE_PUBLIC_URL`` the console's origin when set, and left the other case: without
it, ``Origin`` was compared with ``scheme://Host`` — whatever name the request used.

Attack: ``evil.example`` rebinds its name to the gateway's address (``127.0.0.1`` for
``make demo`` on a laptop); the page's requests then reach the gateway with ``Host:
evil.example:8000`` and ``Origin: http://evil.example:8000`` — same-origin to the
browser, which lets the page read the sign-in page's nonce and keeps its cookie — and
it posts ``POST /console/sign-in`` with a name and a guess: a password guesser
at the victim's address, inside the network.

Expected: without ``SLUICE_PUBLIC_URL`` a name the gateway was not told it answers to
is refused before any route (400: the Host allow-list, ``gateway.web.allowed_hosts``,
landed beside this red team's own fix, which it replaces): neither the sign-in page's
nonce nor a password check is reached. A name the operator listed in
``SLUICE_ALLOWED_HOSTS`` is the console's own (the password checked: 401). On the
embedded default and on PostgreSQL.
"""

from __future__ import annotations

import re
import uuid

import pytest
from fastapi.testclient import TestClient

from tests.gateway.demo_app import DemoGateway

_FIELD = re.compile(r'name="csrf_token" value="([^"]+)"')


def _sign_in(gw: DemoGateway, host: str) -> int:
    """The sign-in page's status, else the guessed sign-in's."""
    headers = {"Host": host, "Origin": f"http://{host}", "Sec-Fetch-Site": "same-origin"}
    client = TestClient(gw.client.app, follow_redirects=False)
    page = client.get("/console/sign-in", headers=headers)
    nonce = _FIELD.search(page.text)
    if page.status_code != 200 or nonce is None:
        return page.status_code
    name = f"guess{uuid.uuid4().hex[:8]}"  # a name of its own: no lock is reached
    form = {"csrf_token": nonce.group(1), "username": name, "password": "wrong-guess"}
    answer = client.post("/console/sign-in", headers=headers, data=form)
    return answer.status_code


@pytest.mark.parametrize("host", ["evil.example", "evil.example:8000", "127.0.0.1.nip.io:8000"])
def test_a_rebound_name_is_not_the_consoles_origin(deployment: DemoGateway, host: str) -> None:
    assert not deployment.services.settings.public_url
    assert _sign_in(deployment, host) == 400  # refused before any page or password


@pytest.mark.parametrize("host", ["testserver", "intra.example:8000"])
def test_a_name_the_operator_listed_signs_in(
    deployment: DemoGateway, host: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings = deployment.services.settings
    monkeypatch.setattr(settings, "allowed_hosts", [*settings.allowed_hosts, "intra.example"])
    assert _sign_in(deployment, host) == 401  # the console's own origin: the password checked
