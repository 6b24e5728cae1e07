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

from tests.attacks.test_redteam62_admin_escaped_display_name_saved_back import (
    alice_saved_as_shown,
)
from tests.gateway.demo_app import DemoGateway

NAME = "  Alice (county office)  "


def test_saving_the_user_form_keeps_a_display_name_with_spaces(
    deployment: DemoGateway,
) -> None:
    alice = alice_saved_as_shown(deployment, NAME)
    assert alice["display_name"] == NAME, alice["display_name"]
