"""Red team 45, as a security officer (and the analyst a freeze is meant to stop): a
freeze of the dibao roll does not stop an entry over a view of its table.

Rule (red team 10 and the officer's freeze test): a freeze stops the data, whichever
entry reads it — an entry over the frozen entry's object, published before the freeze
or after, is refused (423, ``query.denied`` on record naming the frozen entry) while
the freeze stands. The entries were compared by the object they read
(``FrozenObject.held_by``), and civil's database serves the roll's rows under another
name too: ``CREATE VIEW dibao_view AS SELECT * FROM dibao_recipients``, listed by
introspection and published like a table.

Attack: carl publishes ``civil.dibao_rt45_frozen`` over such a view; sam freezes
``civil.dibao_recipients`` in an emergency; dora queries the view's entry, and runs a
comparison on it.

Expected: refused (423) while the freeze stands, answered again once it is lifted; and
no entry over such a view published while it stands (409), as for one over the table.
On the embedded default and on PostgreSQL.
"""

from __future__ import annotations

from tests.attacks.frozen_roll import roll_frozen
from tests.attacks.test_redteam10_steward_frozen_entry_copy import DIBAO, QUERY, _post
from tests.attacks.test_redteam45_analyst_view_codebook import draft_view, publish_view
from tests.gateway.demo_app import DemoGateway


def test_a_freeze_stops_an_entry_over_a_view_of_the_frozen_table(
    deployment: DemoGateway,
) -> None:
    gw = deployment
    view = publish_view(gw, "dibao_rt45_frozen")
    assert gw.query("dora", view, QUERY).status_code == 200
    with roll_frozen(gw):
        read = gw.query("dora", view, QUERY)
        compared = gw.compare("dora", {
            "left": {"dataset": "finance.payroll", "key": "id_number", "fields": ["id_number"]},
            "right": {"dataset": view, "key": "id_number", "fields": ["region_code"]},
            "purpose": "audit", "case_ref": "JW-RT45-FROZEN", "limit": 10})  # fmt: skip
    assert read.status_code == 423, f"the frozen roll read through a view: {read.text[:200]}"
    assert DIBAO in read.json()["message"], read.text
    assert compared.status_code == 423, compared.text[:200]
    assert gw.query("dora", view, QUERY).status_code == 200


def test_no_entry_over_a_view_of_the_frozen_table_is_published_during_the_freeze(
    deployment: DemoGateway,
) -> None:
    gw = deployment
    view = draft_view(gw, "dibao_rt45_during")
    with roll_frozen(gw):
        published = _post(gw, "carl", f"/datasets/{view}/publish", {})
    assert published.status_code == 409, f"published during the freeze: {published.text[:200]}"
    assert DIBAO in published.json()["message"], published.text
