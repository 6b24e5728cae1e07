"""Red team 62, as a steward saving an entry's corrections in the console (and a source's
or another steward's title holding a control character: a line separator pasted from a
word processor, a bidi mark), against the catalog's own data.

Rule: the console shows every printed value's controls as ``\\uXXXX`` (red team 61's
left row, ``rendering.shown``) — a display rule: the records are unchanged.

Attack: the entry page's form prints the entry's titles, purposes and tags into its
inputs' ``value`` through the same ``finalize``: a title ``Dibao\\u2028recipients`` (one
character, U+2028) arrives in the input as the six characters ``\\u2028``, and the
classify action saves every input that differs from the entry. carl, changing only one
field's level, rewrote the title into the escaped text (and a purpose holding a control
into another purpose: queries naming the real one were refused) — the display rule
wrote itself into the catalog, a change nobody asked for, on record as carl's.

Expected: saving the form unchanged leaves the titles, the purposes and the tags as
they were. On the embedded default and on PostgreSQL.
"""

from __future__ import annotations

import html
import re
from typing import Any

from tests.attacks.console_sign_in import console_sign_in
from tests.gateway.demo_app import DemoGateway

ENTRY = "civil.dibao_recipients"
TITLE = "Dibao\u2028recipients \u202eyllaer"
PURPOSE = "case\u0085review"


def entry_as_listed(gw: DemoGateway, entry: str = ENTRY) -> dict[str, Any]:
    """The catalog's view of ``entry``, as carl reads it."""
    resp = gw.client.get(f"/api/v1/catalog/{entry}", headers=gw.headers("carl"))
    assert resp.status_code == 200, resp.text
    return dict(resp.json())


def entry_inputs(page: str) -> dict[str, str]:
    """The entry page's text inputs as the browser would send them back unchanged."""
    found = re.findall(r'<input id="(title_zh|title_en|allowed_purposes|tags)" name="\1" '
                       r'value="([^"]*)"', page)  # fmt: skip
    return {name: html.unescape(value) for name, value in found}


def test_saving_the_form_unchanged_keeps_a_title_that_holds_a_control(
    deployment: DemoGateway,
) -> None:
    before = entry_as_listed(deployment)
    purposes = [*before["allowed_purposes"], PURPOSE]
    resp = deployment.client.patch(
        f"/api/v1/datasets/{ENTRY}", headers=deployment.headers("carl"),
        json={"title_en": TITLE, "allowed_purposes": purposes},
    )  # fmt: skip
    assert resp.status_code == 200, resp.text
    client, csrf = console_sign_in(deployment, "carl")
    page = client.get(f"/console/sources/entries/{ENTRY}")
    assert page.status_code == 200, page.text[:300]
    form = {"csrf_token": csrf, **entry_inputs(page.text)}
    assert set(form) >= {"title_en", "allowed_purposes"}, form
    saved = client.post(f"/console/sources/entries/{ENTRY}/classify", data=form)
    assert saved.status_code in (200, 303), saved.text[:300]
    after = entry_as_listed(deployment)
    assert after["title_en"] == TITLE, after["title_en"]
    assert after["allowed_purposes"] == purposes, after["allowed_purposes"]
