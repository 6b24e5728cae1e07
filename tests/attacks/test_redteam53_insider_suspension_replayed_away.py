"""Red team 53, as a database insider with the catalog owner's rights: a suspension
made on a row the insider had unsealed, then written away by putting the row back.

Rule (red teams 7, 46, 47): a suspension holds until an admin who did not impose it
lifts it (``user.unsuspended`` on record); an insider's edit of a user's row unseals it
(the account is refused), and a replay of a sealed state the trail no longer names is
refused (``row_bindings``).

Attack: the sibling of the freeze put back (``test_redteam53_insider_freeze_replayed_away``).
The insider edits a sealed value of dora's row (her clearance): dora is refused, and
sam suspends her. A write to a row whose loaded values do not verify is neither sealed
nor bound (``row_trail._new_state``), so the trail's newest binding of dora is still her
state from before the edit; the insider writes that state back (``status`` active, the
old seal). If the identity directory reads only the row, dora is served again: a
suspension gone with no ``user.unsuspended`` and nobody but the insider acting.

Expected: dora stays refused; another admin lifts the suspension on record and an
admin's whole save restores her row. On the embedded
default and on PostgreSQL.
"""

from __future__ import annotations

from sqlalchemy import text

from tests.gateway.demo_app import DemoGateway

DIBAO = "civil.dibao_recipients"
QUERY = {"purpose": "supervision", "case_ref": "JW-RT53-SUSPEND", "fields": ["region_code"],
         "limit": 1}  # fmt: skip
WHY = {"reason": "incident IR-53: dora's account was changed behind the gateway"}
_NAMES = ("clearance", "status", "suspended_by", "suspended_reason", "suspended_at", "seal")


def _row(gw: DemoGateway) -> dict[str, object]:
    with gw.services.engine.connect() as conn:
        row = conn.execute(text(f"SELECT {', '.join(_NAMES)} FROM users WHERE subject = 'dora'"))
        return dict(zip(_NAMES, row.one(), strict=True))


def test_a_suspension_of_an_unsealed_row_is_not_written_away(deployment: DemoGateway) -> None:
    gw = deployment
    assert gw.query("dora", DIBAO, QUERY).status_code == 200
    before, listed = _row(gw), gw.listed_user("dora")
    gw.sql("UPDATE users SET clearance = 'L4' WHERE subject = 'dora'")
    assert gw.query("dora", DIBAO, QUERY).status_code != 200  # unsealed: refused
    suspended = gw.client.post("/api/v1/users/dora/suspend", json=WHY, headers=gw.headers("sam"))
    assert suspended.status_code == 200, suspended.text
    gw.sql("UPDATE users SET " + ", ".join(f"{n} = :{n}" for n in _NAMES)
           + " WHERE subject = 'dora'", **before)  # fmt: skip
    again = gw.query("dora", DIBAO, QUERY)
    assert again.status_code in (401, 403), again.text[:300]
    # recovery as for any row changed behind the gateway: another admin (root; sam
    # suspended) lifts it on record, then an admin's whole save restores the row
    lifted = gw.client.post("/api/v1/users/dora/unsuspend", json={"reason": "IR-53 over"},
                            headers=gw.headers("root"))  # fmt: skip
    assert lifted.status_code == 200, lifted.text
    body = {k: listed[k] for k in ("display_name", "department", "clearance", "jurisdiction")}
    saved = gw.client.put("/api/v1/admin/users/dora", headers=gw.headers("root"),
                          json={**body, "status": "active"})  # fmt: skip
    assert saved.status_code == 200, saved.text
    assert gw.query("dora", DIBAO, QUERY).status_code == 200
