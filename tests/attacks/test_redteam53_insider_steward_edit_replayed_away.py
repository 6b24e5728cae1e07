"""Red team 53, as a database insider with the catalog owner's rights: a steward's
tightening saved on an entry the insider had unsealed, then written away by putting
the rows back.

Rule (``catalog.entry_seals``, ``row_bindings``): a change a steward saves through the
gateway governs, on record (``dataset.updated``); an entry's row written back as it was
before a change made through the gateway is a replay, refused.

Attack: the sibling of the freeze put back (``test_redteam53_insider_freeze_replayed_away``).
The insider edits a sealed value of the dibao roll's row (its ``level``): the roll is
refused as changed outside the gateway. carl, its steward, raises a field's level
(``household_size`` to L4) — 200, ``dataset.updated`` on the trail. A write to an entry
whose loaded state does not verify is neither sealed nor bound, so the trail's newest
binding is still the roll from before the insider's edit; the insider writes the entry's
and the field's rows back. The roll serves again at the old level, while the trail says
carl raised it.

Expected: either the steward's save is refused while the entry does not verify (nothing
on record that does not govern), or the written-back roll serves nothing. On the
embedded default and on PostgreSQL.
"""

from __future__ import annotations

from tests.attacks.test_insider_entry_replay import ENTRY_ROW, FIELD_ROW, _update_back
from tests.attacks.test_insider_entry_seals import DIBAO, ID_QUERY
from tests.attacks.test_insider_row_replay import _rows
from tests.gateway.demo_app import DemoGateway


def test_a_stewards_save_on_an_unsealed_entry_is_not_written_away(
    deployment: DemoGateway,
) -> None:
    gw = deployment
    assert gw.query("alice", DIBAO, ID_QUERY).status_code == 200
    entry = _rows(gw, ENTRY_ROW, d=DIBAO)[0]
    field = _rows(gw, FIELD_ROW, d=DIBAO, n="household_size")[0]
    gw.sql("UPDATE datasets SET level = 'L1' WHERE id = :d", d=DIBAO)
    assert gw.query("alice", DIBAO, ID_QUERY).status_code != 200  # unsealed: refused
    saved = gw.client.patch(f"/api/v1/datasets/{DIBAO}", headers=gw.headers("carl"),
                            json={"fields": {"household_size": {"level": "L4"}}})  # fmt: skip
    _update_back(gw, "datasets", entry)
    _update_back(gw, "fields", field)
    again = gw.query("alice", DIBAO, ID_QUERY)
    assert saved.status_code != 200 or again.status_code != 200, (
        "the steward's save is on record and the rows from before it serve: " + again.text[:200]
    )
    assert again.status_code == 200 or saved.status_code == 200  # refused save: served as it was
