"""Red team 58, insider of the catalog database holding a copy of carl's console cookie:
the reset meant to end the session forgotten once carl's next sign-in re-made his hash.

Rule (red team 5): a session started no later than the subject's newest password set on
the audit trail is over (``SessionStore._ended``, ``PasswordTrail.reset_at``), so the
row a reset deleted, written back behind the gateway, revives nothing.

Attack: ``PasswordTrail`` keeps (now in the follower's index, ``PasswordEvents``; the
search before it did the same) only the events up to the newest one carrying a row
digest: older ones "decide nothing" about which row is current. But ``reset_at`` looks
for the newest ``set`` in that list, and a right sign-in after a change of the console's
argon2 parameters records ``rehashed`` with a digest: the reset drops out of the list,
``reset_at`` answers "never reset", and carl's old session row, written back by the
insider (the catalog database only: no audit row touched), opens the console again with
the copied cookie (200) — the leaked password's session outliving the reset that
answered the leak.

Expected: the copied session stays over (303 to the sign-in page). On the embedded
default and PostgreSQL.
"""

from __future__ import annotations

from sqlalchemy import insert

from gateway.web.console.store import console_sessions
from tests.attacks.console_sign_in import (
    accounts_at_old_cost,
    console_sign_in,
    post_sign_in,
    session_rows,
)
from tests.gateway.demo_app import DemoGateway


def test_a_rehash_after_a_reset_does_not_revive_a_copied_session(
    deployment: DemoGateway,
) -> None:
    gw = deployment
    copied, _csrf = console_sign_in(gw, "carl")
    assert copied.get("/console").status_code == 200
    kept = session_rows(gw, "carl")
    # the reset answering the leak, hashed as before the operator raised the cost
    accounts_at_old_cost(gw).set_password(subject="carl", password="a-new-password-58-long",
                                          set_by="cli:operator")  # fmt: skip
    assert copied.get("/console").status_code != 200, "the reset did not end the session"
    answer, _own = post_sign_in(gw, "carl", "a-new-password-58-long")  # re-made: rehashed
    assert answer.status_code == 303 and "sign-in" not in answer.headers.get("location", "")
    with gw.services.engine.begin() as conn:
        conn.execute(insert(console_sessions), kept)
    page = copied.get("/console")
    assert page.status_code != 200, "the copied session lives past the reset"
    assert page.status_code == 303 and "expired" in page.headers.get("location", "")
