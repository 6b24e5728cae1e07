"""The console entry page's form, as a steward's browser sends it back unchanged: red
teams 62 and 63 patch an entry through the API, then save its page as shown and compare
what the catalog holds before and after."""

from __future__ import annotations

import html
import re
from typing import Any

from tests.attacks.console_sign_in import console_sign_in
from tests.gateway.demo_app import DemoGateway

_INPUTS = re.compile(r'<input id="(title_zh|title_en|allowed_purposes|tags)" name="\1" '
                     r'value="([^"]*)"')  # fmt: skip


def entry_as_listed(gw: DemoGateway, entry: str) -> dict[str, Any]:
    """The catalog's view of ``entry``, as carl reads it."""
    resp = gw.client.get(f"/api/v1/catalog/{entry}", headers=gw.headers("carl"))
    assert resp.status_code == 200, resp.text
    return dict(resp.json())


def entry_inputs(page: str) -> dict[str, str]:
    """The entry page's text inputs as the browser would send them back unchanged."""
    return {name: html.unescape(value) for name, value in _INPUTS.findall(page)}


def patched_then_saved_as_shown(
    gw: DemoGateway, entry: str, patch: dict[str, Any]
) -> dict[str, Any]:
    """carl patches ``entry`` through the API, then saves its console page unchanged:
    the catalog's view of it afterwards (every patched text input was posted back)."""
    resp = gw.client.patch(f"/api/v1/datasets/{entry}", headers=gw.headers("carl"), json=patch)
    assert resp.status_code == 200, resp.text
    client, csrf = console_sign_in(gw, "carl")
    page = client.get(f"/console/sources/entries/{entry}")
    assert page.status_code == 200, page.text[:300]
    form = {"csrf_token": csrf, **entry_inputs(page.text)}
    assert set(form) >= set(patch), form
    saved = client.post(f"/console/sources/entries/{entry}/classify", data=form)
    assert saved.status_code in (200, 303), saved.text[:300]
    return entry_as_listed(gw, entry)
