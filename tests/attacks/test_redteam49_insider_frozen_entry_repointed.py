"""Red team 49, as a database insider (the catalog database), with the analyst a freeze
is meant to stop: the frozen entry's row re-pointed at another department's source.

Rule (red teams 10, 45, 48): a freeze stops the data, whichever entry reads it — a copy
of the frozen table and an entry over a view of it, published before the freeze, are
refused (423) while it stands. A frozen entry whose row no longer verifies cannot say
what it reads: it holds every entry of its system (``objects.FrozenObject.whole``).
But "its system" was read from the source its unverified row names.

Attack: carl publishes a copy of the roll's table and an entry over a view of it; sam
freezes ``civil.dibao_recipients``; dora's queries of both are refused. The insider
then writes one cell: ``UPDATE datasets SET source_id = 'finance-db'`` on the frozen
roll (finance's source row, sealed, untouched). The roll stops (its seal fails; it was
frozen anyway) and the hold moves to finance's system; dora queries the copy and the
view again.

Expected: still refused (423) while the freeze stands. On the embedded default and on
PostgreSQL.
"""

from __future__ import annotations

from sqlalchemy import text

from tests.attacks.frozen_roll import freeze_roll_with_copy_and_view
from tests.attacks.test_redteam10_steward_frozen_entry_copy import DIBAO, QUERY, WHY, _post
from tests.gateway.demo_app import DemoGateway


def test_a_frozen_entry_repointed_at_another_source_keeps_its_hold(
    deployment: DemoGateway,
) -> None:
    gw = deployment
    copy, view = freeze_roll_with_copy_and_view(gw, "rt49_repointed")
    with gw.services.engine.connect() as conn:
        finance = conn.execute(text("SELECT source_id FROM datasets WHERE id = :i"),
                               {"i": "finance.payroll"}).scalar_one()  # fmt: skip
    gw.sql("UPDATE datasets SET source_id = :s WHERE id = :i", s=finance, i=DIBAO)
    try:
        assert gw.query("dora", DIBAO, QUERY).status_code == 423  # the roll: unsealed
        served = {e: gw.query("dora", e, QUERY).status_code for e in (copy, view)}
        read = {e: status for e, status in served.items() if status != 423}
        assert not read, f"the frozen roll served again after its row was re-pointed: {read}"
    finally:
        gw.sql("UPDATE datasets SET source_id = 'civil-db' WHERE id = :i", i=DIBAO)
        assert _post(gw, "root", f"/datasets/{DIBAO}/unfreeze", WHY).status_code == 200
