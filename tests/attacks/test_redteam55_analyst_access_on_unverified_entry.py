"""Red team 55's left row (3), as an analyst: the effective access of an entry whose
catalog record no longer verifies.

An insider of the catalog database edits a published entry's row by hand (here its
level, L2 -> L1, so fewer of its fields would be masked). Queries refuse the entry (its
row is not sealed), and the console's entry page shows no access for it; but
``GET /api/v1/catalog/{id}`` with a bearer token still evaluated the caller's effective
access over the edited values and answered it — allow where the true classification
masks — a decision made on what an insider wrote. It is now omitted (``access: null``)
for an entry whose ``sealed`` is false, as on the console; a sealed entry still answers it.

On the embedded SQLite default and on PostgreSQL (``deployment``).
"""

from __future__ import annotations

from tests.gateway.demo_app import DemoGateway

ENTRY = "civil.dibao_recipients"


def _entry(gw: DemoGateway) -> dict[str, object]:
    got = gw.client.get(f"/api/v1/catalog/{ENTRY}", headers=gw.headers("alice"),
                        params={"purpose": "supervision"})  # fmt: skip
    assert got.status_code == 200, got.text
    return dict(got.json())


def test_no_access_is_decided_over_an_edited_entry(deployment: DemoGateway) -> None:
    gw = deployment
    before = _entry(gw)
    assert before["sealed"] is True and before["access"], before
    gw.sql("UPDATE datasets SET level = 'L1' WHERE id = :id", id=ENTRY)
    after = _entry(gw)
    assert after["sealed"] is False, after
    assert after["access"] is None, after["access"]
