"""Red team 53, as a database insider with the catalog owner's rights: an officer's
emergency revocation made on a grant row the insider had unsealed, then written away by
putting the row back.

Rule (red team 5, ``emergency.revoke_grants``; the row replays of
``test_insider_row_replay``): a grant an officer revoked grants nothing again; a replay
of a sealed state the trail no longer names is refused (``row_bindings``).

Attack: the sibling of the freeze and the suspension put back
(``test_redteam53_insider_freeze_replayed_away``). alice holds an approved grant of
the phone numbers; the insider edits a sealed value of its row (``days``): the grant is
refused as changed outside the gateway, and sam revokes alice's grants. A write to a
row whose loaded values do not verify is neither sealed nor bound, so the trail's newest
binding of the grant is still its approved state; the insider writes that row back.

Expected: the phone numbers stay masked to alice. On the embedded default and on
PostgreSQL.
"""

from __future__ import annotations

from tests.attacks.test_insider_grant_seals import CLEAR, MASKED, _phone
from tests.attacks.test_insider_row_replay import _approved, _write_back, grants
from tests.gateway.demo_app import DemoGateway

__all__ = ["grants"]  # the fixture, from the replay tests


def test_an_emergency_revocation_of_an_unsealed_grant_is_not_written_away(
    grants: DemoGateway,
) -> None:
    gw = grants
    request_id, saved = _approved(gw)
    assert _phone(gw) == CLEAR
    gw.sql("UPDATE access_requests SET days = days + 1 WHERE id = :i", i=request_id)
    assert _phone(gw) == MASKED  # unsealed: grants nothing
    why = {"reason": "IR-53: alice's grant was changed behind the gateway"}
    revoked = gw.client.post("/api/v1/users/alice/revoke-grants", headers=gw.headers("sam"),
                             json=why)  # fmt: skip
    assert revoked.status_code == 200, revoked.text
    _write_back(gw, "access_requests", saved, "id")
    assert _phone(gw) == MASKED, "the revoked grant unmasks again"
