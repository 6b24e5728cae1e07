"""Red team 13, as a steward: a frozen table served again through a registration that
names the database's default schema.

Rule: a freeze stops the data, whichever entry reads it: while
``civil.dibao_recipients`` is frozen, no other entry over the same table of the same
system is published (409), and one published before the freeze is refused (423) — red
team 10's fix, compared in ``enforcement.sources.objects``.

Attack: carl registers civil's database file a second time with ``"schema": "main"``
(SQLite's default schema; ``public`` on PostgreSQL, the database on MySQL) and drafts
``dibao_recipients`` on it. The adapter reads the very same table, but entries were
compared by ``(schema, table)`` as spelled: ``("", "dibao_recipients")`` for the frozen
entry, ``("main", "dibao_recipients")`` for the copy — the copy was published (200) and
served the frozen rows; a copy published before the freeze kept answering (200).

Expected: a table named without a schema is the same object as the table of that name
in any schema of the same system (a source without ``schema`` reads its connection's
default, which the gateway cannot tell apart from an explicit one): 409 and 423.
"""

from __future__ import annotations

from typing import Any

from tests.gateway.demo_app import DemoGateway

DIBAO = "civil.dibao_recipients"
QUERY = {"purpose": "supervision", "case_ref": "JW-2026-013", "fields": ["region_code"],
         "limit": 1}  # fmt: skip
WHY = {"reason": "incident IR-13: bulk pull under investigation"}


def _post(gw: DemoGateway, who: str, path: str, body: dict[str, Any]) -> Any:
    return gw.client.post(f"/api/v1{path}", json=body, headers=gw.headers(who))


def _copy(gw: DemoGateway, suffix: str) -> str:
    """A second registration of civil's database file naming its default schema, and a
    draft of the frozen entry's table on it."""
    resp = gw.client.get("/api/v1/sources/civil-db", headers=gw.headers("carl"))
    assert resp.status_code == 200, resp.text
    source_id = f"civil-db-main-{suffix}"
    registered = _post(gw, "carl", "/sources", {
        "id": source_id, "department": "civil", "kind": resp.json()["kind"],
        "display_name": "civil, main schema",
        "settings": {"url": resp.json()["redacted"], "schema": "main"}})  # fmt: skip
    assert registered.status_code == 201, registered.text
    entry = f"civil.dibao_main_{suffix}"
    draft = _post(gw, "carl", "/datasets", {
        "source_id": source_id, "object_name": "dibao_recipients", "dataset_id": entry,
        "title_en": "copy", "allowed_purposes": ["supervision"]})  # fmt: skip
    assert draft.status_code == 201, draft.text
    return entry


def test_the_default_schema_spelled_out_is_the_same_table(deployment: DemoGateway) -> None:
    gw = deployment
    before = _copy(gw, "a")
    assert _post(gw, "carl", f"/datasets/{before}/publish", {}).status_code == 200
    assert gw.query("dora", before, QUERY).status_code == 200
    after = _copy(gw, "b")
    assert _post(gw, "sam", f"/datasets/{DIBAO}/freeze", WHY).status_code == 200
    try:
        assert gw.query("dora", DIBAO, QUERY).status_code == 423
        published = _post(gw, "carl", f"/datasets/{after}/publish", {})
        assert published.status_code == 409, published.text
        read = gw.query("dora", before, QUERY)
        assert read.status_code == 423, read.text
    finally:
        lifted = _post(gw, "root", f"/datasets/{DIBAO}/unfreeze", WHY)
        assert lifted.status_code == 200, lifted.text
    assert gw.query("dora", before, QUERY).status_code == 200
