"""Red team 13, as a steward: a frozen HTTP endpoint served again when the API's base
URL has no path.

Rule: a security officer's freeze stops the data, whichever entry reads it (red team
10): no other entry over the same endpoint is published while the freeze stands (409),
and one published before it is refused (423) — until an admin lifts the freeze.

Attack: civil's API is registered at its origin (``http://host:port``, no base path, as
most APIs are). Its endpoint ``/people`` is published as ``civil.api_people`` and
frozen. Carl names the same endpoint ``people`` (no leading slash) under another
object name: the adapter requests ``http://host:port/people`` for both
(``HttpSettings.url_for`` strips the slashes), but the frozen objects were compared as
``urlsplit("//people")`` — a network location, not a path — so the frozen endpoint read
as the empty path and the copy as ``people``: the copy was published (200) and dora read
the frozen records through it; one published before the freeze kept answering (200).

Expected: both spellings are the one endpoint: the publication is refused (409) and the
earlier copy is refused (423).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from tests.gateway.demo_app import DemoGateway
from tests.gateway.stewardship.test_sources_end_to_end import JsonApi, serve_json_api

WHY = {"reason": "incident IR-13: bulk pull under investigation"}
QUERY = {"purpose": "supervision", "case_ref": "JW-2026-013", "fields": ["region_code"],
         "limit": 1}  # fmt: skip


def _post(gw: DemoGateway, who: str, path: str, body: dict[str, Any]) -> Any:
    return gw.client.post(f"/api/v1{path}", json=body, headers=gw.headers(who))


def _draft(gw: DemoGateway, source_id: str, obj: str, entry: str) -> None:
    draft = _post(gw, "carl", "/datasets", {
        "source_id": source_id, "object_name": obj, "dataset_id": entry, "title_en": obj,
        "allowed_purposes": ["supervision"]})  # fmt: skip
    assert draft.status_code == 201, draft.text


@pytest.fixture()
def api(deployment: DemoGateway) -> Iterator[JsonApi]:
    with serve_json_api() as served:
        served.records["people"] = [{"id": 1, "region_code": "430121"}]
        if "127.0.0.1" not in deployment.settings.source_allow_hosts:
            deployment.settings.source_allow_hosts.append("127.0.0.1")
        yield served


def _register(gw: DemoGateway, api: JsonApi, source_id: str) -> None:
    settings = {"base_url": api.base_url, "auth": "none", "objects": [
        {"name": "people", "path": "/people", "records": "data.items"},
        {"name": "persons", "path": "people", "records": "data.items"},
        {"name": "folk", "path": "./people", "records": "data.items"},
    ]}  # fmt: skip
    registered = _post(gw, "carl", "/sources", {
        "id": source_id, "department": "civil", "kind": "http",
        "display_name": "civil API at its origin", "settings": settings})  # fmt: skip
    assert registered.status_code == 201, registered.text


def test_a_copy_spelled_without_the_slash_is_not_published(
    deployment: DemoGateway, api: JsonApi
) -> None:
    gw = deployment
    _register(gw, api, "civil-api-root-a")
    _draft(gw, "civil-api-root-a", "people", "civil.root_people_a")
    _draft(gw, "civil-api-root-a", "persons", "civil.root_persons_a")
    assert _post(gw, "carl", "/datasets/civil.root_people_a/publish", {}).status_code == 200
    assert _post(gw, "sam", "/datasets/civil.root_people_a/freeze", WHY).status_code == 200
    try:
        published = _post(gw, "carl", "/datasets/civil.root_persons_a/publish", {})
        assert published.status_code == 409, published.text
        assert gw.query("dora", "civil.root_persons_a", QUERY).status_code in (404, 423)
    finally:
        assert _post(gw, "root", "/datasets/civil.root_people_a/unfreeze", WHY).status_code == 200


def test_a_copy_published_before_the_freeze_is_refused(
    deployment: DemoGateway, api: JsonApi
) -> None:
    gw = deployment
    _register(gw, api, "civil-api-root-b")
    for obj in ("people", "persons", "folk"):
        _draft(gw, "civil-api-root-b", obj, f"civil.root_{obj}_b")
        assert _post(gw, "carl", f"/datasets/civil.root_{obj}_b/publish", {}).status_code == 200
    assert gw.query("dora", "civil.root_persons_b", QUERY).status_code == 200
    assert _post(gw, "sam", "/datasets/civil.root_people_b/freeze", WHY).status_code == 200
    try:
        for copy in ("civil.root_persons_b", "civil.root_folk_b"):
            read = gw.query("dora", copy, QUERY)
            assert read.status_code == 423, (copy, read.status_code, read.text)
    finally:
        assert _post(gw, "root", "/datasets/civil.root_people_b/unfreeze", WHY).status_code == 200
