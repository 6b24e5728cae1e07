"""Red team 53, as a database insider with the catalog owner's rights: a freeze made on
a row the insider had unsealed, then written away by putting the row back.

Rule (red team 16, 48, 49): an officer's freeze holds until an admin who did not impose
it lifts it (``dataset.unfrozen`` on record); an insider's edit of the frozen row
unseals it (it serves nothing, and it holds its whole system), and a replay of a sealed
state the trail no longer names is refused (``row_bindings``: the newest binding is
the row's state).

Attack: the insider first edits a sealed value of the dibao roll (its ``level``): the
roll is refused as changed outside the gateway, and sam freezes it, as an officer
would an entry someone tampered with. A write to a row whose loaded values do not
verify is neither sealed nor bound (``row_trail._new_state``: the insider's values must
not become current), so the trail's newest binding of the roll is still its state from
before the edit. The insider then writes the whole row back as it was before the edit —
``frozen_at`` NULL, its old seal: it verifies, it is the newest state the trail names,
and it says "not frozen". The trail's ``dataset.frozen`` with no ``dataset.unfrozen``
is set aside for a row that verifies and says it is not frozen
(``objects.frozen_objects``: "lifted"), so the freeze is gone with no lift on the
trail and nobody but the insider acting: the roll and its copy serve again (200).

Expected: a freeze on record with no genuine lift holds whatever the row says: the roll
and its copy stay refused (423) until the officer freezes it again through the gateway and an admin
other than the freezer lifts it (both on record). On the embedded default and on PostgreSQL.
"""

from __future__ import annotations

from sqlalchemy import text

from tests.attacks.dibao_copy import publish_dibao_copy
from tests.gateway.demo_app import DemoGateway

DIBAO = "civil.dibao_recipients"
COPY = "civil.dibao_rt53_replay"
QUERY = {"purpose": "supervision", "case_ref": "JW-RT53-REPLAY", "fields": ["region_code"],
         "limit": 1}  # fmt: skip
WHY = {"reason": "incident IR-53: the roll was changed behind the gateway"}
_COLUMNS = "level, frozen_at, frozen_by, frozen_reason, CAST(reads AS TEXT), seal"


def _row(gw: DemoGateway) -> dict[str, object]:
    with gw.services.engine.connect() as conn:
        row = conn.execute(text(f"SELECT {_COLUMNS} FROM datasets WHERE id = :id"),
                           {"id": DIBAO}).one()  # fmt: skip
    return dict(zip(("level", "frozen_at", "frozen_by", "frozen_reason", "reads", "seal"),
                    row, strict=True))  # fmt: skip


def _write_back(gw: DemoGateway, before: dict[str, object]) -> None:
    """The whole row as it was, as the owner of the database may write it."""
    json = "CAST(:reads AS JSON)" if gw.services.engine.dialect.name == "postgresql" else ":reads"
    gw.sql("UPDATE datasets SET level = :level, frozen_at = :frozen_at, frozen_by = :frozen_by,"
           f" frozen_reason = :frozen_reason, reads = {json}, seal = :seal WHERE id = :id",
           id=DIBAO, **before)  # fmt: skip


def test_a_freeze_of_an_unsealed_row_is_not_written_away(deployment: DemoGateway) -> None:
    gw = deployment
    publish_dibao_copy(gw, COPY)
    assert gw.query("dora", DIBAO, QUERY).status_code == 200
    before = _row(gw)
    assert before["frozen_at"] is None
    gw.sql("UPDATE datasets SET level = 'L1' WHERE id = :id", id=DIBAO)
    assert gw.query("dora", DIBAO, QUERY).status_code != 200  # unsealed: serves nothing
    frozen = gw.client.post(f"/api/v1/datasets/{DIBAO}/freeze", json=WHY,
                            headers=gw.headers("sam"))  # fmt: skip
    assert frozen.status_code == 200, frozen.text
    assert gw.query("dora", COPY, QUERY).status_code == 423
    _write_back(gw, before)
    roll, copy = gw.query("dora", DIBAO, QUERY), gw.query("dora", COPY, QUERY)
    assert (roll.status_code, copy.status_code) == (423, 423), (roll.text[:200], copy.text[:200])
    # the officer freezes the row again through the gateway; another admin lifts it
    again = gw.client.post(f"/api/v1/datasets/{DIBAO}/freeze", json=WHY,
                           headers=gw.headers("sam"))  # fmt: skip
    assert again.status_code == 200, again.text
    lifted = gw.client.post(f"/api/v1/datasets/{DIBAO}/unfreeze", json={"reason": "IR-53 over"},
                            headers=gw.headers("root"))  # fmt: skip
    assert lifted.status_code == 200, lifted.text
    assert gw.query("dora", DIBAO, QUERY).status_code == 200
    assert gw.query("dora", COPY, QUERY).status_code == 200
