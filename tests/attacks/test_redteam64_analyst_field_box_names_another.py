"""Red team 64, as a partner department's database insider shaping column names, against
an analyst querying in the console (and the trail that records which fields were read).

Rule: the field an analyst ticks on the query page is the field asked for.

Attack: the page prints each field's box with its name as the value, through
``rendering.shown``, which writes an invisible character as ``\\uXXXX`` text. A column
named ``note`` + U+200B came back as ``note\\u200b``: alone, it named no field and the
console could never ask for it (400); beside a column named, in plain backslash text,
``note\\u200b`` (ID numbers), ticking the first box asked for the second — alice read,
and the trail recorded, a field she never ticked.

Expected: the box ticked as shown asks for its own field; where two fields show alike,
the console refuses to guess (400) rather than read the other. On the embedded default
and on PostgreSQL.
"""

from __future__ import annotations

import html
import re
from urllib.parse import urlencode

from sqlalchemy import select

from catalog.access_requests import AccessRequest
from tests.attacks.civil_tables import civil_table
from tests.attacks.console_sign_in import console_sign_in
from tests.gateway.demo_app import DemoGateway

HIDDEN = "note\u200b"
LOOKALIKE = "note\\u200b"
FORM = {"content-type": "application/x-www-form-urlencoded"}


def _published(gw: DemoGateway, table: str, columns: str) -> str:
    civil_table(gw, table, f"SELECT region_code, {columns} FROM dibao_recipients")
    entry = f"civil.{table}"
    body = {"source_id": "civil-db", "object_name": table, "dataset_id": entry,
            "title_zh": "备注", "allowed_purposes": ["supervision"]}  # fmt: skip
    resp = gw.client.post("/api/v1/datasets", headers=gw.headers("carl"), json=body)
    assert resp.status_code == 201, resp.text
    patch = {
        "region_field": "region_code",
        "fields": {HIDDEN: {"level": "L1", "pi_category": "none"}},
    }
    resp = gw.client.patch(f"/api/v1/datasets/{entry}", headers=gw.headers("carl"), json=patch)
    assert resp.status_code == 200, resp.text
    resp = gw.client.post(f"/api/v1/datasets/{entry}/publish", headers=gw.headers("carl"))
    assert resp.status_code == 200, resp.text
    return entry


def _box(page: str, index: int) -> str:
    """The value of the page's field box number ``index`` (in the entry's order)."""
    found = re.search(rf'id="field-{index}" name="fields" value="([^"]*)"', page)
    assert found is not None, page[:500]
    return html.unescape(found.group(1))


def _preview(gw: DemoGateway, entry: str) -> tuple[int, str]:
    client, csrf = console_sign_in(gw, "alice")
    page = client.get(f"/console/query/{entry}")
    assert page.status_code == 200, page.text[:300]
    body = urlencode({"csrf_token": csrf, "fields": _box(page.text, 2), "purpose": "supervision",
                      "case_ref": "JW-64", "page_size": "20", "page": "1"})  # fmt: skip
    answer = client.post(f"/console/query/{entry}/preview", content=body, headers=FORM)
    return answer.status_code, answer.text


def test_a_field_with_an_invisible_character_is_asked_for_by_its_box(
    deployment: DemoGateway,
) -> None:
    entry = _published(deployment, "rt64_box_a", f'region_code AS "{HIDDEN}"')
    status, page = _preview(deployment, entry)
    assert status == 200, page[:500]
    assert "note\\u200b</th>" in page, page[:2000]  # the column, as the page shows it


def test_a_box_never_asks_for_a_look_alike_field(deployment: DemoGateway) -> None:
    entry = _published(deployment, "rt64_box_b",
                       f'region_code AS "{HIDDEN}", id_number AS "{LOOKALIKE}"')  # fmt: skip
    status, page = _preview(deployment, entry)
    assert status == 400, page[:500]
    events = deployment.client.get("/api/v1/audit/events", headers=deployment.headers("sam"),
                                   params={"actor": "alice", "dataset": entry})  # fmt: skip
    assert events.status_code == 200, events.text
    read = [e for e in events.json()["items"] if e["type"].startswith("query.")]
    assert not read, read


def _asked(gw: DemoGateway, entry: str) -> tuple[int, list[list[str]]]:
    """alice asks for field box number 2 of the request page, as the page printed it."""
    client, csrf = console_sign_in(gw, "alice")
    page = client.get("/console/requests/new", params={"dataset": entry})
    assert page.status_code == 200, page.text[:300]
    found = re.search(r'id="rf-2" name="fields" value="([^"]*)"', page.text)
    assert found is not None, page.text[:500]
    body = urlencode({"csrf_token": csrf, "dataset": entry, "fields": html.unescape(found.group(1)),
                      "purpose": "supervision", "case_ref": "JW-64", "days": "7",
                      "justification": "a note to read"})  # fmt: skip
    answer = client.post("/console/requests", content=body, headers=FORM)
    with gw.services.sessions() as session:
        asked = session.scalars(select(AccessRequest).where(AccessRequest.dataset_id == entry))
        return answer.status_code, [list(a.fields) for a in asked]


def test_an_access_request_box_asks_for_its_own_field(deployment: DemoGateway) -> None:
    entry = _published(deployment, "rt64_box_c", f'region_code AS "{HIDDEN}"')
    status, asked = _asked(deployment, entry)
    assert status == 303 and asked == [[HIDDEN]], (status, asked)


def test_an_access_request_box_never_asks_for_a_look_alike(deployment: DemoGateway) -> None:
    entry = _published(deployment, "rt64_box_d",
                       f'region_code AS "{HIDDEN}", id_number AS "{LOOKALIKE}"')  # fmt: skip
    status, asked = _asked(deployment, entry)
    assert status == 400 and asked == [], (status, asked)
