"""Red team 64, as a partner department's database insider shaping a table's column
names, against the steward classifying its fields in the console (and every analyst the
classification masks for).

Rule (red team 62, 63): a console form posted as the page showed it is no change, and
an edit the page made is the edit saved.

Attack: the console shows every value with its invisible characters escaped
(``rendering.shown``, since this session also the zero-width space, the direction marks,
the tag characters…), and the entry page named each field's level and category inputs
by that display: ``level__<name as shown>``. A column named ``note`` + U+200B is posted
as ``level__note\\u200b`` — the field's own input was never read (a steward raising its
level saved nothing, answered as saved) — and a second column named, in plain
backslash text, ``note\\u200b`` read the first one's inputs as its own: carl saving the
page unchanged set the ID-number column (L3, ``id_number``) to the harmless column's
``L1``/``none``, in clear to every analyst, on record as his change.

Expected: the page's form saved unchanged changes nothing; a level changed on the
zero-width field is saved on that field. On the embedded default and on PostgreSQL.
"""

from __future__ import annotations

import html
import re
from typing import Any
from urllib.parse import urlencode

from catalog.models import Dataset
from tests.attacks.civil_tables import civil_table
from tests.attacks.console_sign_in import console_sign_in
from tests.gateway.demo_app import DemoGateway

HIDDEN = "note\u200b"  # a zero-width space at the end
LOOKALIKE = "note\\u200b"  # the same as shown: a backslash, 'u200b'
_SELECT = re.compile(r'<select id="([^"]*)" name="([^"]*)">(.*?)</select>', re.S)
_SELECTED = re.compile(r'<option value="([^"]*)" selected>')


def _table(gw: DemoGateway, table: str) -> None:
    civil_table(gw, table, f'SELECT region_code, region_code AS "{HIDDEN}", '
                           f'id_number AS "{LOOKALIKE}" FROM dibao_recipients')  # fmt: skip


def _fields(gw: DemoGateway, entry: str) -> dict[str, dict[str, Any]]:
    """The entry's fields as the catalog holds them (a draft: no catalog route shows it)."""
    with gw.services.sessions() as session:
        dataset = session.get(Dataset, entry)
        assert dataset is not None
        return {f.name: {"level": f.level, "pi_category": f.pi_category} for f in dataset.fields}


def _drafted(gw: DemoGateway, table: str) -> str:
    entry = f"civil.{table}"
    body = {"source_id": "civil-db", "object_name": table, "dataset_id": entry,
            "title_zh": "备注", "allowed_purposes": ["supervision"]}  # fmt: skip
    resp = gw.client.post("/api/v1/datasets", headers=gw.headers("carl"), json=body)
    assert resp.status_code == 201, resp.text
    patch = {"fields": {HIDDEN: {"level": "L1", "pi_category": "none"}}}
    resp = gw.client.patch(f"/api/v1/datasets/{entry}", headers=gw.headers("carl"), json=patch)
    assert resp.status_code == 200, resp.text
    fields = _fields(gw, entry)
    assert (fields[LOOKALIKE]["level"], fields[LOOKALIKE]["pi_category"]) == ("L3", "id_number")
    return entry


def _form_as_shown(page: str) -> list[tuple[str, str, str]]:
    """What a browser posts for the page's selects left as they are (document order):
    each select's id (what the steward picks it by), name and value."""
    form = []
    for ident, name, options in _SELECT.findall(page):
        chosen = _SELECTED.search(options)
        value = html.unescape(chosen.group(1) if chosen else "")
        form.append((html.unescape(ident), html.unescape(name), value))
    return form


def _signed_in_form(gw: DemoGateway, entry: str) -> tuple[Any, str, list[tuple[str, str, str]]]:
    """carl signed in on ``entry``'s page: his client, its CSRF token and the page's form."""
    client, csrf = console_sign_in(gw, "carl")
    page = client.get(f"/console/sources/entries/{entry}")
    assert page.status_code == 200, page.text[:300]
    return client, csrf, _form_as_shown(page.text)


def _save(client: Any, csrf: str, entry: str, form: list[tuple[str, str, str]]) -> None:
    body = urlencode([("csrf_token", csrf), *((name, value) for _, name, value in form)])
    saved = client.post(
        f"/console/sources/entries/{entry}/classify",
        content=body,
        headers={"content-type": "application/x-www-form-urlencoded"},
    )
    assert saved.status_code in (200, 303), saved.text[:300]


def test_saving_the_entry_page_unchanged_keeps_each_fields_classification(
    deployment: DemoGateway,
) -> None:
    gw = deployment
    _table(gw, "rt64_notes_a")
    entry = _drafted(gw, "rt64_notes_a")
    before = _fields(gw, entry)
    client, csrf, form = _signed_in_form(gw, entry)
    _save(client, csrf, entry, form)
    after = _fields(gw, entry)
    assert {n: (f["level"], f["pi_category"]) for n, f in after.items()} == {
        n: (f["level"], f["pi_category"]) for n, f in before.items()
    }


def test_a_level_changed_on_a_field_with_a_hidden_character_is_saved(
    deployment: DemoGateway,
) -> None:
    gw = deployment
    _table(gw, "rt64_notes_b")
    entry = _drafted(gw, "rt64_notes_b")
    client, csrf, form = _signed_in_form(gw, entry)
    level_inputs = [i for i, (ident, _, _) in enumerate(form) if ident.startswith("level__")]
    assert len(level_inputs) == 3, form
    hidden_level = level_inputs[1]  # the fields in the table's order
    form[hidden_level] = (*form[hidden_level][:2], "L3")
    _save(client, csrf, entry, form)
    after = _fields(gw, entry)
    assert after[HIDDEN]["level"] == "L3", after[HIDDEN]
    assert (after[LOOKALIKE]["level"], after[LOOKALIKE]["pi_category"]) == ("L3", "id_number")
