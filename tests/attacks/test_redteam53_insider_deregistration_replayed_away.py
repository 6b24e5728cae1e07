"""Red team 53, as a database insider with the catalog owner's rights: a source's
withdrawal made on rows the insider had unsealed, then written away by putting the
rows back.

Rule (red team 21, ``test_insider_replay_sources_models``): a source its steward
withdrew (``DELETE /api/v1/sources/{id}``: entries unpublished, secret deleted, a
tombstone bound on the trail) reads nothing again; its live row written back is no
current state.

Attack: the sibling of the freeze, suspension, revocation and schedule deletion put back
(``test_redteam53_insider_freeze_replayed_away``). carl has a second civil source with an
entry over the dibao roll, which dora reads. The insider edits a sealed value of the
source's row (``server_identity``) and of the entry's (``level``): both are refused as
changed outside the gateway, and carl withdraws the source (200) — what a steward does
with a registration someone tampered with. A write to a row whose loaded state does
not verify is neither sealed nor bound, so the trail's newest bindings are still the
live source and the published entry; the insider writes both rows back.

Expected: the entry of the withdrawn source serves nothing (not 200). On the embedded
default and on PostgreSQL.
"""

from __future__ import annotations

from tests.attacks.dibao_copy import publish_dibao_copy
from tests.attacks.test_insider_replay_sources_models import SOURCE_ROW, _civil_copy, _update_back
from tests.attacks.test_insider_row_replay import _rows
from tests.gateway.demo_app import DemoGateway

SOURCE = "civil-rt53-gone"
ENTRY = "civil.dibao_rt53_gone"
ENTRY_ROW = "SELECT * FROM datasets WHERE id = :i"
QUERY = {"purpose": "supervision", "case_ref": "JW-RT53-GONE", "fields": ["region_code"],
         "limit": 1}  # fmt: skip


def test_a_withdrawal_of_an_unsealed_source_is_not_written_away(deployment: DemoGateway) -> None:
    gw = deployment
    body = {"id": SOURCE, "department": "civil", "kind": "sqlite", "display_name": "rt53",
            "settings": {"url": _civil_copy(gw, "rt53")[1]}}  # fmt: skip
    made = gw.client.post("/api/v1/sources", json=body, headers=gw.headers("carl"))
    assert made.status_code == 201, made.text
    publish_dibao_copy(gw, ENTRY, source=SOURCE)
    assert gw.query("dora", ENTRY, QUERY).status_code == 200
    source, entry = _rows(gw, SOURCE_ROW, i=SOURCE)[0], _rows(gw, ENTRY_ROW, i=ENTRY)[0]
    gw.sql("UPDATE sources SET server_identity = 'rt53' WHERE id = :i", i=SOURCE)
    gw.sql("UPDATE datasets SET level = 'L1' WHERE id = :i", i=ENTRY)
    assert gw.query("dora", ENTRY, QUERY).status_code != 200  # unsealed: refused
    gone = gw.client.delete(f"/api/v1/sources/{SOURCE}", headers=gw.headers("carl"))
    assert gone.status_code == 200, gone.text
    _update_back(gw, "sources", source)
    _update_back(gw, "datasets", entry)
    again = gw.query("dora", ENTRY, QUERY)
    assert again.status_code != 200, f"the withdrawn source serves again: {again.text[:200]}"
