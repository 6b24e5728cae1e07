"""Red team 16, as a steward: text longer than the catalog's columns.

Rule: hostile input is a 4xx, never a 500 (``tests/gateway/web/test_schemathesis.py``),
on SQLite and on PostgreSQL alike, whatever door it comes through.

Attack: an entry's ``title_zh`` / ``title_en`` are ``VARCHAR(300)`` and its
``update_frequency`` ``VARCHAR(32)``, a source's ``display_name`` ``VARCHAR(200)``, but
``DraftIn`` and ``DatasetPatch`` set no bound on the titles or the frequency and the
console's source form none on the name: on a PostgreSQL deployment carl's draft with a
400-character title, his ``PATCH`` of the entry's English title or frequency, and the
console's draft and source forms were a 500 (``value too long``) — after the
``dataset.updated`` / ``source.registered`` event was on record; SQLite stored them
longer than the column says.

Expected: 400 on both databases, naming the bound; nothing changed.
"""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient

from catalog.models import Dataset, Source
from tests.attacks.console_sign_in import console_sign_in
from tests.gateway.demo_app import DemoGateway

DIBAO = "civil.dibao_recipients"
API: list[tuple[str, str, dict[str, Any]]] = [
    ("POST", "/api/v1/datasets", {"source_id": "civil-db", "object_name": "dibao_recipients",
                                  "dataset_id": "civil.long_title", "title_zh": "长" * 301}),
    ("PATCH", f"/api/v1/datasets/{DIBAO}", {"title_en": "x" * 301}),
    ("PATCH", f"/api/v1/datasets/{DIBAO}", {"title_zh": "长" * 301}),
    ("PATCH", f"/api/v1/datasets/{DIBAO}", {"update_frequency": "x" * 33}),
]  # fmt: skip


def _entry(gw: DemoGateway, dataset_id: str) -> tuple[str, str, str] | None:
    with gw.services.sessions() as session:
        row = session.get(Dataset, dataset_id)
        return None if row is None else (row.title_zh, row.title_en, row.update_frequency)


@pytest.mark.parametrize(("method", "path", "body"), API, ids=["draft", "title_en", "title_zh",
                                                               "frequency"])  # fmt: skip
def test_the_api_bounds_an_entrys_text(
    deployment: DemoGateway, method: str, path: str, body: dict[str, Any]
) -> None:
    gw = deployment
    before = _entry(gw, DIBAO)
    client = TestClient(gw.client.app, raise_server_exceptions=False)
    resp = client.request(method, path, json=body, headers=gw.headers("carl"))
    assert resp.status_code == 400, resp.text[:300]
    assert _entry(gw, DIBAO) == before
    assert _entry(gw, "civil.long_title") is None


def test_the_console_bounds_a_draft_title_and_a_source_name(deployment: DemoGateway) -> None:
    gw = deployment
    console, csrf = console_sign_in(gw, "carl")
    console = TestClient(gw.client.app, raise_server_exceptions=False, follow_redirects=False,
                         cookies=console.cookies)  # fmt: skip
    drafted = console.post("/console/sources/civil-db/draft", data={
        "csrf_token": csrf, "object_name": "dibao_recipients", "dataset_id": "civil.long_title",
        "title_zh": "长" * 301})  # fmt: skip
    assert drafted.status_code == 400, drafted.text[:300]
    assert _entry(gw, "civil.long_title") is None
    path = gw.settings.demo_data_dir / "red16-long-name.db"
    path.write_bytes(b"")
    named = console.post("/console/sources", data={
        "csrf_token": csrf, "kind": "sqlite", "id": "civil-long-name", "path": str(path),
        "display_name": "名" * 201})  # fmt: skip
    assert named.status_code == 400, named.text[:300]
    with gw.services.sessions() as session:
        assert session.get(Source, "civil-long-name") is None
