"""Red team 53, as a database insider with the catalog owner's rights and civil's
steward (the steward may be the insider): a frozen entry deleted, then drafted again
under its own id.

Rule (red team 10, 48): an officer's freeze stops the data, whichever entry reads it,
until an admin who did not impose it lifts it. Red team 47/48: an insider who deletes
the frozen entry's rows does not free its copies — the trail names the freeze
(``freezes_on_record``), and a frozen entry gone from the catalog holds every entry of
the department its freeze recorded.

Attack: the trail's word is set aside for an entry "whose row verifies and says it is
not frozen" (taken for lifted). After the insider's ``DELETE``, civil's steward drafts
a new entry *under the frozen entry's id* (``dataset_id`` is the steward's to choose,
and the id is free again): a fresh row, sealed and bound by the gateway, not frozen.
The freeze on record is then read as lifted, with no ``dataset.unfrozen`` on the trail
and nobody but the steward acting: the copy published before the freeze serves the
frozen roll again, and the redrafted entry itself publishes and serves it.

Expected: a freeze on record with no genuine lift is not lifted by a new row; the copy
and the redrafted entry stay refused (423), or the draft under a frozen id is refused.
Held when red team 53 tried it (kept as a guard): the trail's newest binding of the
id is still the frozen row's state (a new entry is not bound at its creation), so the
redraft is not current — the frozen set takes it for an unverified frozen entry and
holds its system and department, and its publication is refused (409, "changed by
another request … or behind the gateway"). On the embedded default and on PostgreSQL.
"""

from __future__ import annotations

from tests.attacks.dibao_copy import publish_dibao_copy
from tests.attacks.test_redteam47_insider_deleted_frozen_entry import _delete_behind
from tests.gateway.demo_app import DemoGateway

DIBAO = "civil.dibao_recipients"
COPY = "civil.dibao_rt53_copy"
QUERY = {"purpose": "supervision", "case_ref": "JW-RT53-REDRAFT", "fields": ["region_code"],
         "limit": 1}  # fmt: skip
WHY = {"reason": "incident IR-53: the roll is being pulled"}


def _freeze_and_delete(gw: DemoGateway) -> None:
    publish_dibao_copy(gw, COPY)
    frozen = gw.client.post(f"/api/v1/datasets/{DIBAO}/freeze", json=WHY,
                            headers=gw.headers("sam"))  # fmt: skip
    assert frozen.status_code == 200, frozen.text
    assert gw.query("dora", COPY, QUERY).status_code == 423
    _delete_behind(gw, DIBAO)
    assert gw.query("dora", COPY, QUERY).status_code == 423  # red team 47's fix holds


def _redraft(gw: DemoGateway) -> int:
    """carl drafts the roll again under its own id; the draft's status code."""
    draft = gw.client.post("/api/v1/datasets", headers=gw.headers("carl"), json={
        "source_id": "civil-db", "object_name": "dibao_recipients", "dataset_id": DIBAO,
        "title_en": "dibao", "allowed_purposes": ["supervision"]})  # fmt: skip
    return draft.status_code


def test_a_redrafted_frozen_id_does_not_lift_the_freeze(deployment: DemoGateway) -> None:
    gw = deployment
    _freeze_and_delete(gw)
    drafted = _redraft(gw)
    if drafted != 201:
        assert drafted in (409, 423), drafted  # refused: the freeze holds
        return
    copy = gw.query("dora", COPY, QUERY)
    headers = gw.headers("carl")
    gw.client.patch(f"/api/v1/datasets/{DIBAO}", headers=headers,
                    json={"region_field": "region_code"})  # fmt: skip
    published = gw.client.post(f"/api/v1/datasets/{DIBAO}/publish", headers=headers)
    read = gw.query("dora", DIBAO, QUERY)
    assert (copy.status_code, published.status_code, read.status_code) != (200, 200, 200)
    assert copy.status_code == 423, copy.text[:300]
    assert published.status_code == 409 or read.status_code == 423, read.text[:300]
