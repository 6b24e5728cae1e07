"""Red team 35, as someone on the network path between a client and the gateway's TLS
proxy (and as any client choosing the ``Host`` port), against the links the gateway
builds about itself.

Rule (red team 29, ``gateway.web.public_origin``): a URL the gateway hands out is built
from ``SLUICE_PUBLIC_URL``, never from the request's ``Host``; behind a TLS proxy the
gateway is reached over https only.

Attack: the router's trailing-slash redirect is Starlette's own: it builds an absolute
``Location`` from the request's scheme and ``Host``. Behind a proxy that terminates TLS
and is not in ``SLUICE_TRUSTED_PROXIES`` (red team 34's cookie case: ``sluice doctor``
does not object), ``GET https://sluice.example.gov/api/v1/datasets/?q=…`` was answered
``307`` to ``http://sluice.example.gov/api/v1/datasets?q=…``: the client's next request,
its query (and, with ``curl -L``, its bearer token — curl keeps it for the same host)
in clear. Without the setting, the ``Host``'s port is not checked by the allow-list,
and ``Host: 127.0.0.1:6666`` sent the client to port 6666 of the machine, where any
local user may listen.

Expected: the redirect names no scheme, host or port the gateway did not choose — a
path, which the client resolves against the URL it used. On the embedded default and on
PostgreSQL.
"""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from tests.gateway.demo_app import DemoGateway


def _location(client: TestClient, host: str, path: str, token: str) -> str:
    answer = client.get(path, headers={"Host": host, "Authorization": f"Bearer {token}"})
    assert answer.status_code in (307, 308), (path, answer.status_code, answer.text[:300])
    return answer.headers["location"]


def test_a_slash_redirect_keeps_the_clients_scheme_and_host(
    deployment: DemoGateway, monkeypatch: pytest.MonkeyPatch
) -> None:
    token = deployment.token("alice")
    client = TestClient(deployment.client.app, follow_redirects=False)
    assert _location(client, "testserver:6666", "/api/v1/datasets/", token) == "/api/v1/datasets"
    monkeypatch.setattr(deployment.services.settings, "public_url", "https://sluice.example.gov/")
    location = _location(client, "sluice.example.gov", "/api/v1/datasets/?q=civil", token)
    assert location == "/api/v1/datasets?q=civil", location
    # a path the client cannot read as another host's (``//evil.example``): not redirected
    answer = client.get("//evil.example/", headers={"Host": "sluice.example.gov"})
    assert "evil.example" not in answer.headers.get("location", ""), answer.headers
