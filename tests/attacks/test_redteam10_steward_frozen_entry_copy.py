"""Red team 10, as a steward: serve a frozen entry's data again under another entry.

Rule: a security officer's freeze stops every query and comparison on the entry's data
until an admin who did not impose it lifts it (two people, both on record:
``gateway/stewardship/users/emergency.py``).

Attack: the freeze is on the catalog entry, not on what it reads. While
``civil.dibao_recipients`` is frozen, carl (civil's steward, alone) drafts a second
entry over the same object of the same source — or of a second registration of the same
database file — publishes it, and dora's next query of it returns the frozen rows (200):
one steward lifted the officer's freeze without an admin.

Expected: while an entry is frozen, no other entry over the same object of the same
system is published (409, on record as a refusal); the freeze's lift stays the admin's.
"""

from __future__ import annotations

from typing import Any

import pytest

from tests.gateway.demo_app import DemoGateway
from tests.gateway.stewardship.test_sources_end_to_end import serve_json_api

DIBAO = "civil.dibao_recipients"
QUERY = {"purpose": "supervision", "case_ref": "JW-2026-001", "fields": ["region_code"],
         "limit": 1}  # fmt: skip
WHY = {"reason": "incident IR-10: bulk pull under investigation"}


def _post(gw: DemoGateway, who: str, path: str, body: dict[str, Any]) -> Any:
    return gw.client.post(f"/api/v1{path}", json=body, headers=gw.headers(who))


def _source_settings(gw: DemoGateway, source_id: str) -> tuple[str, dict[str, Any]]:
    resp = gw.client.get(f"/api/v1/sources/{source_id}", headers=gw.headers("carl"))
    assert resp.status_code == 200, resp.text
    return resp.json()["kind"], {"url": resp.json()["redacted"]}  # a file: no secret


def _copy_published(gw: DemoGateway, source_id: str, copy_id: str) -> Any:
    draft = _post(gw, "carl", "/datasets", {"source_id": source_id,
                                            "object_name": "dibao_recipients",
                                            "dataset_id": copy_id, "title_en": "copy",
                                            "allowed_purposes": ["supervision"]})  # fmt: skip
    if draft.status_code != 201:
        return draft
    return _post(gw, "carl", f"/datasets/{copy_id}/publish", {})


@pytest.mark.parametrize("second_source", [False, True], ids=["same-source", "same-file"])
def test_a_frozen_entrys_object_is_not_published_again(
    deployment: DemoGateway, second_source: bool
) -> None:
    gw = deployment
    suffix = "b" if second_source else "a"
    source_id = "civil-db"
    if second_source:
        kind, settings = _source_settings(gw, "civil-db")
        source_id = f"civil-db-{suffix}"
        registered = _post(gw, "carl", "/sources", {
            "id": source_id, "department": "civil", "kind": kind,
            "display_name": "civil replica", "settings": settings,
        })  # fmt: skip
        assert registered.status_code == 201, registered.text
    frozen = _post(gw, "sam", f"/datasets/{DIBAO}/freeze", WHY)
    assert frozen.status_code == 200, frozen.text
    copy_id = f"civil.dibao_copy_{suffix}"
    try:
        assert gw.query("dora", DIBAO, QUERY).status_code == 423
        published = _copy_published(gw, source_id, copy_id)
        assert published.status_code == 409, published.text
        assert "frozen" in published.json()["message"], published.text
        read = gw.query("dora", copy_id, QUERY)
        assert read.status_code in (404, 423), read.text
    finally:
        lifted = _post(gw, "root", f"/datasets/{DIBAO}/unfreeze", WHY)
        assert lifted.status_code == 200, lifted.text
    # once an admin lifted the freeze, the second entry may be published
    published = _post(gw, "carl", f"/datasets/{copy_id}/publish", {})
    assert published.status_code == 200, published.text
    assert gw.query("dora", copy_id, QUERY).status_code == 200


def test_an_http_endpoint_under_another_object_name_is_the_same_object(
    deployment: DemoGateway,
) -> None:
    """An HTTP source's object names are the steward's own words for its endpoints:
    ``persons`` at ``/people`` is the frozen ``people`` under another name."""
    gw = deployment
    with serve_json_api() as api:
        api.records["civil/people"] = [{"id": 1, "region_code": "430121"}]
        gw.settings.source_allow_hosts.append("127.0.0.1")
        settings = {"base_url": api.base_url + "/civil", "auth": "none", "objects": [
            {"name": "people", "path": "/people", "records": "data.items"},
            {"name": "persons", "path": "/./people/", "records": "data.items"},
        ]}  # fmt: skip
        registered = _post(gw, "carl", "/sources", {
            "id": "civil-api", "department": "civil", "kind": "http",
            "display_name": "civil API", "settings": settings})  # fmt: skip
        assert registered.status_code == 201, registered.text
        for obj, entry in (("people", "civil.api_people"), ("persons", "civil.api_persons")):
            draft = _post(gw, "carl", "/datasets", {
                "source_id": "civil-api", "object_name": obj, "dataset_id": entry,
                "title_en": obj, "allowed_purposes": ["supervision"]})  # fmt: skip
            assert draft.status_code == 201, draft.text
        assert _post(gw, "carl", "/datasets/civil.api_people/publish", {}).status_code == 200
        assert _post(gw, "sam", "/datasets/civil.api_people/freeze", WHY).status_code == 200
        try:
            published = _post(gw, "carl", "/datasets/civil.api_persons/publish", {})
            assert published.status_code == 409, published.text
        finally:
            lifted = _post(gw, "root", "/datasets/civil.api_people/unfreeze", WHY)
            assert lifted.status_code == 200, lifted.text


def test_a_file_reached_from_another_root_is_the_same_object(deployment: DemoGateway) -> None:
    """A file source names its objects relative to its root: ``sub/people.csv`` of one
    root is ``people.csv`` of a root one directory down."""
    gw = deployment
    top = gw.settings.demo_data_dir.resolve() / "civil_csv"
    (top / "sub").mkdir(parents=True, exist_ok=True)
    (top / "sub" / "people.csv").write_text("id,region_code\n1,430121\n2,430121\n")
    for source_id, root, obj, entry in (
        ("civil-csv", top, "sub/people.csv", "civil.csv_people"),
        ("civil-csv-sub", top / "sub", "people.csv", "civil.csv_people_copy"),
    ):
        registered = _post(gw, "carl", "/sources", {
            "id": source_id, "department": "civil", "kind": "csv",
            "display_name": source_id, "settings": {"root": str(root)}})  # fmt: skip
        assert registered.status_code == 201, registered.text
        draft = _post(gw, "carl", "/datasets", {
            "source_id": source_id, "object_name": obj, "dataset_id": entry,
            "title_en": entry, "allowed_purposes": ["supervision"]})  # fmt: skip
        assert draft.status_code == 201, draft.text
    assert _post(gw, "carl", "/datasets/civil.csv_people/publish", {}).status_code == 200
    assert _post(gw, "sam", "/datasets/civil.csv_people/freeze", WHY).status_code == 200
    try:
        published = _post(gw, "carl", "/datasets/civil.csv_people_copy/publish", {})
        assert published.status_code == 409, published.text
    finally:
        lifted = _post(gw, "root", "/datasets/civil.csv_people/unfreeze", WHY)
        assert lifted.status_code == 200, lifted.text


def test_a_frozen_entrys_source_withdrawn_and_registered_again(deployment: DemoGateway) -> None:
    """Withdrawing the frozen entry's source leaves it a frozen draft, and the tombstone
    keeps the system but not the source's objects: a new registration of the same API
    must still not publish the frozen endpoint."""
    gw = deployment
    with serve_json_api() as api:
        api.records["civil2/people"] = [{"id": 1, "region_code": "430121"}]
        if "127.0.0.1" not in gw.settings.source_allow_hosts:
            gw.settings.source_allow_hosts.append("127.0.0.1")
        settings = {"base_url": api.base_url + "/civil2", "auth": "none", "objects": [
            {"name": "people", "path": "/people", "records": "data.items"}]}  # fmt: skip
        for n in ("1", "2"):
            source_id, entry = f"civil-api-w{n}", f"civil.api_w{n}"
            registered = _post(gw, "carl", "/sources", {
                "id": source_id, "department": "civil", "kind": "http",
                "display_name": "civil API", "settings": settings})  # fmt: skip
            assert registered.status_code == 201, registered.text
            draft = _post(gw, "carl", "/datasets", {
                "source_id": source_id, "object_name": "people", "dataset_id": entry,
                "title_en": entry, "allowed_purposes": ["supervision"]})  # fmt: skip
            assert draft.status_code == 201, draft.text
            if n == "1":
                assert _post(gw, "carl", f"/datasets/{entry}/publish", {}).status_code == 200
                assert _post(gw, "sam", f"/datasets/{entry}/freeze", WHY).status_code == 200
                gone = gw.client.delete(f"/api/v1/sources/{source_id}",
                                        headers=gw.headers("carl"))  # fmt: skip
                assert gone.status_code == 200, gone.text
        try:
            published = _post(gw, "carl", "/datasets/civil.api_w2/publish", {})
            assert published.status_code == 409, published.text
        finally:
            lifted = _post(gw, "root", "/datasets/civil.api_w1/unfreeze", WHY)
            assert lifted.status_code == 200, lifted.text
        assert _post(gw, "carl", "/datasets/civil.api_w2/publish", {}).status_code == 200


def test_a_published_entry_is_not_repointed_at_a_frozen_object(deployment: DemoGateway) -> None:
    """No new publication needed: a published entry's source re-pointed (an HTTP
    object's path changed) so that it reads the frozen endpoint."""
    gw = deployment
    with serve_json_api() as api:
        api.records["civil3/people"] = [{"id": 1, "region_code": "430121"}]
        api.records["civil3/other"] = [{"id": 9, "region_code": "430121"}]
        api.records["civil3/people-moved"] = [{"id": 5, "region_code": "430121"}]
        if "127.0.0.1" not in gw.settings.source_allow_hosts:
            gw.settings.source_allow_hosts.append("127.0.0.1")

        def settings(other_path: str) -> dict[str, Any]:
            return {"base_url": api.base_url + "/civil3", "auth": "none", "objects": [
                {"name": "people", "path": "/people", "records": "data.items"},
                {"name": "other", "path": other_path, "records": "data.items"}]}  # fmt: skip

        registered = _post(gw, "carl", "/sources", {
            "id": "civil-api-p", "department": "civil", "kind": "http",
            "display_name": "civil API", "settings": settings("/other")})  # fmt: skip
        assert registered.status_code == 201, registered.text
        for obj in ("people", "other"):
            entry = f"civil.api_p_{obj}"
            draft = _post(gw, "carl", "/datasets", {
                "source_id": "civil-api-p", "object_name": obj, "dataset_id": entry,
                "title_en": entry, "allowed_purposes": ["supervision"]})  # fmt: skip
            assert draft.status_code == 201, draft.text
            assert _post(gw, "carl", f"/datasets/{entry}/publish", {}).status_code == 200
        assert _post(gw, "sam", "/datasets/civil.api_p_people/freeze", WHY).status_code == 200
        try:
            moved = gw.client.patch("/api/v1/sources/civil-api-p", headers=gw.headers("carl"),
                                    json={"settings": settings("/people")})  # fmt: skip
            assert moved.status_code == 409, moved.text
            # nor is the frozen entry moved off its object, which a new entry could then take
            away = settings("/other")
            away["objects"][0]["path"] = "/people-moved"
            moved = gw.client.patch("/api/v1/sources/civil-api-p", headers=gw.headers("carl"),
                                    json={"settings": away})  # fmt: skip
            assert moved.status_code == 409, moved.text
            read = gw.query("dora", "civil.api_p_other", {**QUERY, "fields": ["id"]})
            assert read.status_code == 200 and [r["id"] for r in read.json()["rows"]] == [9]
        finally:
            lifted = _post(gw, "root", "/datasets/civil.api_p_people/unfreeze", WHY)
            assert lifted.status_code == 200, lifted.text
