"""Red team 63, as an administrator saving a user's attributes in the console (the
user's display name set with spaces around it, through the API or ``sluice users``),
against the user store's own data.

Rule (red team 62): an input left as the page showed it is no change — the user form
sends the whole user, and a name nobody touched is saved as it was.

Attack: the user form's display name was stripped before the "left as shown" check, so
root, raising alice's clearance and nothing else, rewrote her display name
``  Alice (county office)  `` into ``Alice (county office)`` — on record as root's
change of a name nobody touched (the entry title's sibling,
``test_redteam63_steward_purpose_with_a_comma_saved_back``).

Expected: the name saved as it was. On the embedded default and on PostgreSQL.
"""

from __future__ import annotations

import html
import re

from tests.attacks.console_sign_in import console_sign_in
from tests.gateway.demo_app import DemoGateway

NAME = "  Alice (county office)  "


def test_saving_the_user_form_keeps_a_display_name_with_spaces(
    deployment: DemoGateway,
) -> None:
    admin = deployment.headers("root")
    body = {"display_name": NAME, "department": None, "clearance": "L3",
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
    listed = deployment.client.get("/api/v1/admin/users", headers=admin).json()
    alice = next(u for u in listed if u["subject"] == "alice")
    assert alice["clearance"] == "L2", alice
    assert alice["display_name"] == NAME, alice["display_name"]
