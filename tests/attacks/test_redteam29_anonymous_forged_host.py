"""Red team 29's left row, as anyone who can reach the gateway: links built from Host.

Rule: what the gateway publishes about itself — the DCAT catalog's IRIs (entries, the
query service, publishers) and the redirect URI it sends the identity provider — names
the gateway, never whatever the client wrote in ``Host`` (any client can send any
``Host``). The links come from ``SLUICE_PUBLIC_URL`` when set, otherwise from the
address the request reached (the listening socket's own address).

Attack: an anonymous ``GET /api/v1/catalog.jsonld`` with ``Host: evil.example`` (behind
a cache keyed without the host, every harvester is served links to the attacker's
site), and ``GET /console/oidc/start`` with the same Host (the provider is told to send
the code to the attacker; held only by its list of registered redirect URIs).

Expected: no link names ``evil.example``; with ``SLUICE_PUBLIC_URL`` set, every link
starts with it. Since the thirty-fourth pass such a Host is refused at the door (400,
``gateway.web.allowed_hosts``); the links are checked here with ``evil.example`` let in
as an alias (``SLUICE_ALLOWED_HOSTS``), a name the gateway answers to yet never names.

The catalog on the embedded SQLite default and on PostgreSQL (``deployment``); the
console's sign-in against a real OIDC provider process, on the embedded default (the
redirect URI is built by the same function on both).
"""

from __future__ import annotations

from collections.abc import Iterator
from urllib.parse import parse_qs, urlparse

import pytest

from gateway.core.settings import load_settings
from tests.gateway.demo_app import DemoGateway
from tests.gateway.web.console.test_oidc import oidc_demo_gateway

FORGED = {"Host": "evil.example"}
PUBLIC = "https://sluice.example.gov/gateway/"


def _iris(document: object) -> list[str]:
    """Every ``@id`` and URL-valued string of the DCAT document."""
    found: list[str] = []
    if isinstance(document, dict):
        for value in document.values():
            found += _iris(value)
    elif isinstance(document, list):
        for value in document:
            found += _iris(value)
    elif isinstance(document, str) and document.startswith(("http://", "https://")):
        found.append(document)
    return found


def _own(iris: list[str]) -> list[str]:
    """The IRIs the gateway minted (not vocabularies such as w3.org's)."""
    return [i for i in iris if "/api/v1/" in i]


def _alias(gw: DemoGateway, monkeypatch: pytest.MonkeyPatch) -> None:
    """``evil.example`` let through the Host allow-list, as an operator's alias would be."""
    allowed = [*gw.services.settings.allowed_hosts, "evil.example"]
    monkeypatch.setattr(gw.services.settings, "allowed_hosts", allowed)


def test_a_forged_host_is_refused(deployment: DemoGateway) -> None:
    answer = deployment.client.get("/api/v1/catalog.jsonld", headers=FORGED)
    assert answer.status_code == 400 and "Host" in answer.json()["message"], answer.text


def test_a_forged_host_names_nothing_in_the_catalog(
    deployment: DemoGateway, monkeypatch: pytest.MonkeyPatch
) -> None:
    gw = deployment
    _alias(gw, monkeypatch)
    answer = gw.client.get("/api/v1/catalog.jsonld", headers=FORGED)
    assert answer.status_code == 200, answer.text[:300]
    assert "evil.example" not in answer.text
    minted = _own(_iris(answer.json()))
    assert minted and all(i.startswith("http://testserver/") for i in minted), minted[:5]
    dept = gw.client.get("/api/v1/departments/civil", headers=FORGED)
    assert dept.status_code == 200 and "evil.example" not in dept.text, dept.text[:300]


def test_the_public_url_names_the_catalog(
    deployment: DemoGateway, monkeypatch: pytest.MonkeyPatch
) -> None:
    gw = deployment
    monkeypatch.setattr(gw.services.settings, "public_url", PUBLIC)
    _alias(gw, monkeypatch)
    answer = gw.client.get("/api/v1/catalog.jsonld", headers=FORGED)
    assert answer.status_code == 200 and "evil.example" not in answer.text
    minted = _own(_iris(answer.json()))
    assert minted and all(i.startswith(PUBLIC + "api/v1/") for i in minted), minted[:5]


@pytest.fixture(scope="module")
def oidc_gateway(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DemoGateway]:
    with oidc_demo_gateway(tmp_path_factory.mktemp("oidc-host")) as gw:
        yield gw


def _redirect_uri(gw: DemoGateway) -> str:
    answer = gw.client.get("/console/oidc/start", headers=FORGED, follow_redirects=False)
    assert answer.status_code == 303, answer.text[:300]
    return parse_qs(urlparse(answer.headers["location"]).query)["redirect_uri"][0]


def test_a_forged_host_is_not_the_redirect_uri(
    oidc_gateway: DemoGateway, monkeypatch: pytest.MonkeyPatch
) -> None:
    _alias(oidc_gateway, monkeypatch)
    assert _redirect_uri(oidc_gateway) == "http://testserver/console/oidc/callback"


def test_the_public_url_is_the_redirect_uri(
    oidc_gateway: DemoGateway, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(oidc_gateway.services.settings, "public_url", PUBLIC)
    _alias(oidc_gateway, monkeypatch)
    assert _redirect_uri(oidc_gateway) == PUBLIC + "console/oidc/callback"


@pytest.mark.parametrize("value", [
    "sluice.example.gov", "ftp://sluice.example.gov/", "https://u:pw@sluice.example.gov/",
    "https://sluice.example.gov/?next=x", "https://sluice.example.gov/#x",
    "https://sluice.example.gov:99999/", "https://sluice.example.gov/a b",
])  # fmt: skip
def test_a_public_url_that_is_no_base_stops_the_start(value: str) -> None:
    with pytest.raises(ValueError, match="SLUICE_PUBLIC_URL") as refused:
        load_settings(public_url=value)
    assert "pw" not in str(refused.value)


def test_a_public_url_is_one_base() -> None:
    assert load_settings(public_url="HTTPS://Sluice.example.gov:8443/gw").public_url == (
        "https://sluice.example.gov:8443/gw/"
    )
