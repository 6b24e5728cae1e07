"""Red team 62, as an administrator saving a user's attributes in the console (the
user's display name holding a control character, given through the API or ``sluice
users``, as red team 24's names were), against the user store's own data.

Rule: the console shows every printed value's controls as ``\\uXXXX`` (red team 61's
left row) — a display rule: the records are unchanged.

Attack: the user page's form prints the display name into its input's ``value`` escaped,
and the save sends the whole user (``PUT``): root, raising alice's clearance and nothing
else, rewrote her display name ``Alice\\u202e`` (one character, U+202E) into the text of
its escape — on record as root's change of a name nobody touched.

Expected: a display name left as the page showed it is saved as it was. On the embedded
default and on PostgreSQL.
"""

from __future__ import annotations

import html
import re
from typing import Any

from tests.attacks.console_sign_in import console_sign_in
from tests.gateway.demo_app import DemoGateway

NAME = "Alice \u202e(analyst)\u2028"


def alice_saved_as_shown(deployment: DemoGateway, name: str) -> dict[str, Any]:
    """root gives alice the display name ``name`` through the API, then saves her user
    page in the console with the name input left as the page showed it and only her
    clearance changed (L3 to L2): alice as the API then lists her."""
    admin = deployment.headers("root")
    body = {"display_name": name, "department": None, "clearance": "L3",
            "jurisdiction": ["430121"]}  # fmt: skip
    resp = deployment.client.put("/api/v1/admin/users/alice", headers=admin, json=body)
    assert resp.status_code == 200, resp.text
    client, csrf = console_sign_in(deployment, "root")
    page = client.get("/console/admin/users/alice")
    assert page.status_code == 200, page.text[:300]
    shown = re.search(r'name="display_name" required maxlength="200" value="([^"]*)"', page.text)
    assert shown is not None, page.text[:2000]
    form = {"csrf_token": csrf, "display_name": html.unescape(shown.group(1)), "department": "",
            "clearance": "L2", "status": "", "jurisdiction": "430121"}  # fmt: skip
    saved = client.post("/console/admin/users/alice", data=form)
    assert saved.status_code in (200, 303), saved.text[:300]
    resp = deployment.client.get("/api/v1/admin/users", headers=admin)
    assert resp.status_code == 200, resp.text
    alice: dict[str, Any] = next(u for u in resp.json() if u["subject"] == "alice")
    assert alice["clearance"] == "L2", alice
    return alice


def test_saving_the_user_form_keeps_a_display_name_that_holds_a_control(
    deployment: DemoGateway,
) -> None:
    alice = alice_saved_as_shown(deployment, NAME)
    assert alice["display_name"] == NAME, alice["display_name"]
