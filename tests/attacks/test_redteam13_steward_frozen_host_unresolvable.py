"""Red team 13, as a steward who runs his department's DNS: lift an officer's freeze by
making the frozen source's host name stop resolving.

Rule: a freeze stops the data, whichever entry reads it, until an admin who did not
impose it lifts it (red team 10): a copy published before the freeze is refused (423),
a new one is not published (409).

Attack: civil's API is registered by its host name (``api.civil…``, a name civil's own
DNS serves) and its endpoint published and frozen; carl had also registered the API by
its address, with a copy of the endpoint published before the freeze. Frozen objects
were compared only when both sources' systems could be told, "a system that cannot be
told is not assumed to be another's" (red team 12 left it so for an outage): carl makes
the name stop resolving — for as long as he likes — and the copy answers dora again
(200), and a new copy is published (200).

Expected: while a freeze stands, an object whose system cannot be told now is held by
its location (the same endpoint path, table or file of a source of the same kind): 423
and 409. A steward can make a name fail; he cannot make it answer for another system.
"""

from __future__ import annotations

import socket
from collections.abc import Iterator
from typing import Any

import pytest

from gateway.enforcement.sources.objects import FrozenObject, SourceView
from tests.gateway.demo_app import DemoGateway
from tests.gateway.stewardship.test_sources_end_to_end import JsonApi, serve_json_api

HOST = "api.civil-dns13.test"
WHY = {"reason": "incident IR-13: bulk pull under investigation"}
QUERY = {"purpose": "supervision", "case_ref": "JW-2026-013", "fields": ["region_code"],
         "limit": 1}  # fmt: skip


@pytest.fixture()
def dns_down(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[bool]]:
    """``HOST`` is 127.0.0.1, except while the flag is set (civil's DNS stops answering)."""
    real = socket.getaddrinfo
    down = [False]

    def getaddrinfo(host: Any, *args: Any, **kwargs: Any) -> Any:
        if host == HOST:
            if down[0]:
                raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")
            host = "127.0.0.1"
        return real(host, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)
    yield down


@pytest.fixture()
def api(deployment: DemoGateway) -> Iterator[JsonApi]:
    with serve_json_api() as served:
        served.records["civil-dns/people"] = [{"id": 1, "region_code": "430121"}]
        for allowed in ("127.0.0.1", HOST):
            if allowed not in deployment.settings.source_allow_hosts:
                deployment.settings.source_allow_hosts.append(allowed)
        yield served


def _post(gw: DemoGateway, who: str, path: str, body: dict[str, Any]) -> Any:
    return gw.client.post(f"/api/v1{path}", json=body, headers=gw.headers(who))


def _source(gw: DemoGateway, source_id: str, base_url: str) -> None:
    settings = {"base_url": base_url, "auth": "none", "objects": [
        {"name": "people", "path": "/people", "records": "data.items"}]}  # fmt: skip
    registered = _post(gw, "carl", "/sources", {
        "id": source_id, "department": "civil", "kind": "http",
        "display_name": source_id, "settings": settings})  # fmt: skip
    assert registered.status_code == 201, registered.text


def _draft(gw: DemoGateway, source_id: str, entry: str) -> None:
    draft = _post(gw, "carl", "/datasets", {
        "source_id": source_id, "object_name": "people", "dataset_id": entry,
        "title_en": entry, "allowed_purposes": ["supervision"]})  # fmt: skip
    assert draft.status_code == 201, draft.text


def test_a_name_made_to_fail_does_not_lift_the_freeze(
    deployment: DemoGateway, api: JsonApi, dns_down: list[bool]
) -> None:
    gw = deployment
    port = api.base_url.rsplit(":", 1)[1]
    _source(gw, "civil-dns-name", f"http://{HOST}:{port}/civil-dns")
    _source(gw, "civil-dns-addr", f"{api.base_url}/civil-dns")
    _draft(gw, "civil-dns-name", "civil.dns_people")
    _draft(gw, "civil-dns-addr", "civil.dns_copy")
    _draft(gw, "civil-dns-addr", "civil.dns_copy_after")
    for entry in ("civil.dns_people", "civil.dns_copy"):
        assert _post(gw, "carl", f"/datasets/{entry}/publish", {}).status_code == 200
    assert _post(gw, "sam", "/datasets/civil.dns_people/freeze", WHY).status_code == 200
    try:
        assert gw.query("dora", "civil.dns_copy", QUERY).status_code == 423
        dns_down[0] = True  # carl's DNS no longer answers for the frozen source's name
        read = gw.query("dora", "civil.dns_copy", QUERY)
        assert read.status_code == 423, read.text
        published = _post(gw, "carl", "/datasets/civil.dns_copy_after/publish", {})
        assert published.status_code == 409, published.text
        touched = gw.client.patch("/api/v1/datasets/civil.dns_copy", headers=gw.headers("carl"),
                                  json={"description_en": "a catalog write"})  # fmt: skip
        assert touched.status_code == 200, touched.text  # a new catalog generation
        read = gw.query("dora", "civil.dns_copy", QUERY)
        assert read.status_code == 423, read.text
        # an entry over another object of the same kind is not held
        assert gw.query("dora", "civil.dibao_recipients", QUERY).status_code == 200
    finally:
        dns_down[0] = False
        lifted = _post(gw, "root", "/datasets/civil.dns_people/unfreeze", WHY)
        assert lifted.status_code == 200, lifted.text
    assert gw.query("dora", "civil.dns_copy", QUERY).status_code == 200


def test_only_the_frozen_entrys_department_is_held_by_location(dns_down: list[bool]) -> None:
    """The hold by location is the frozen entry's department's: only its stewards
    register its systems, and another department's same-named endpoint must not be
    refused because a name of civil's does not resolve."""

    def view(source_id: str, host: str, department: str) -> SourceView:
        settings = {"base_url": f"http://{host}:8080/api",
                    "objects": [{"name": "people", "path": "/people"}]}  # fmt: skip
        return SourceView(source_id, "http", settings, None, department)

    dns_down[0] = True
    frozen = FrozenObject("civil.api_people", "people", view("civil-api", HOST, "civil"))
    assert frozen.held_by(view("civil-by-address", "127.0.0.1", "civil"), "people")
    assert not frozen.held_by(view("finance-api", "127.0.0.2", "finance"), "people")
