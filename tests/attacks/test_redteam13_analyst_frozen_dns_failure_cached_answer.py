"""Red team 13, as an analyst (with a network insider who makes one host name fail to
resolve for a moment): a copy of a frozen entry keeps answering after the name resolves
again.

Red team 12 made ``SourceView.system`` keep only a resolution that told something, so a
name that failed to resolve is asked again at the next comparison. But the broker also
keeps, per catalog generation, *which frozen entry each queried entry reads*
(``Broker.frozen_with``): the answer computed while the frozen source's name did not
resolve — "none" — was kept for that entry until the next catalog write, so the very
entry queried during the outage stayed readable (200) after it, while its object was
frozen.

Expected: an answer reached while a system could not be told is not kept; once the name
resolves, the copy over the frozen endpoint is refused (423).
"""

from __future__ import annotations

import socket
from collections.abc import Iterator
from typing import Any

import pytest

from tests.gateway.demo_app import DemoGateway
from tests.gateway.stewardship.test_sources_end_to_end import JsonApi, serve_json_api

HOST = "api.civil13.test"
WHY = {"reason": "incident IR-13: bulk pull under investigation"}
QUERY = {"purpose": "supervision", "case_ref": "JW-2026-013", "fields": ["region_code"],
         "limit": 1}  # fmt: skip


@pytest.fixture()
def dns_down(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[bool]]:
    """``HOST`` is 127.0.0.1, except while the flag is set (a resolver that fails)."""
    real = socket.getaddrinfo
    down = [False]

    def getaddrinfo(host: Any, *args: Any, **kwargs: Any) -> Any:
        if host == HOST:
            if down[0]:
                raise socket.gaierror(socket.EAI_AGAIN, "temporary failure in name resolution")
            host = "127.0.0.1"
        return real(host, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)
    yield down


@pytest.fixture()
def api(deployment: DemoGateway) -> Iterator[JsonApi]:
    with serve_json_api() as served:
        served.records["civil13/people"] = [{"id": 1, "region_code": "430121"}]
        for allowed in ("127.0.0.1", HOST):
            if allowed not in deployment.settings.source_allow_hosts:
                deployment.settings.source_allow_hosts.append(allowed)
        yield served


def _post(gw: DemoGateway, who: str, path: str, body: dict[str, Any]) -> Any:
    return gw.client.post(f"/api/v1{path}", json=body, headers=gw.headers(who))


def _published(gw: DemoGateway, source_id: str, base_url: str, entry: str) -> None:
    settings = {"base_url": base_url, "auth": "none", "objects": [
        {"name": "people", "path": "/people", "records": "data.items"}]}  # fmt: skip
    registered = _post(gw, "carl", "/sources", {
        "id": source_id, "department": "civil", "kind": "http",
        "display_name": source_id, "settings": settings})  # fmt: skip
    assert registered.status_code == 201, registered.text
    draft = _post(gw, "carl", "/datasets", {
        "source_id": source_id, "object_name": "people", "dataset_id": entry,
        "title_en": entry, "allowed_purposes": ["supervision"]})  # fmt: skip
    assert draft.status_code == 201, draft.text
    assert _post(gw, "carl", f"/datasets/{entry}/publish", {}).status_code == 200


def test_an_answer_reached_during_an_outage_is_not_kept(
    deployment: DemoGateway, api: JsonApi, dns_down: list[bool]
) -> None:
    gw = deployment
    port = api.base_url.rsplit(":", 1)[1]
    _published(gw, "civil13-by-name", f"http://{HOST}:{port}/civil13", "civil.c13_people")
    _published(gw, "civil13-by-address", f"{api.base_url}/civil13", "civil.c13_copy")
    assert gw.query("dora", "civil.c13_copy", QUERY).status_code == 200
    assert _post(gw, "sam", "/datasets/civil.c13_people/freeze", WHY).status_code == 200
    try:
        dns_down[0] = True  # the frozen source's name cannot be told for a moment
        gw.query("dora", "civil.c13_copy", QUERY)  # fails open by design while it lasts
        dns_down[0] = False
        read = gw.query("dora", "civil.c13_copy", QUERY)
        assert read.status_code == 423, read.text
    finally:
        dns_down[0] = False
        lifted = _post(gw, "root", "/datasets/civil.c13_people/unfreeze", WHY)
        assert lifted.status_code == 200, lifted.text
