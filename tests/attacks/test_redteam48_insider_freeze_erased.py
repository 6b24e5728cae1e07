"""Red team 48, as a database insider (with the analyst a freeze is meant to stop): a
freeze's hold on the other entries over the frozen data is read from catalog rows the
insider can write.

Rule (red teams 10 and 45): a freeze stops the data, whichever entry reads it — an
entry over the frozen table (a copy for another team) or over a view of it, published
before the freeze, is refused (423) while the freeze stands. The frozen entry's own
row is sealed (``frozen_at`` and ``frozen_by`` included): an edit of it stops that
entry. But which objects are frozen, and with which personal fields, was read from the
``datasets`` and ``fields`` rows as they stand (``objects.frozen_objects``), not from
the verified entry.

Attack: carl publishes a copy of the roll's table and an entry over a view of it; sam
freezes ``civil.dibao_recipients``; dora's queries of both are refused. The insider
then (1) clears the roll's ``frozen_at``, or (2) sets every field of the roll to no PI
category and no mask (what the view rule reads as "personal"). The roll itself stops
(its seal fails); dora queries the copy and the view again.

Expected: still refused (423) while the freeze stands — an entry that no longer
verifies cannot say it is not frozen. On the embedded default and on PostgreSQL.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from sqlalchemy import text

from tests.attacks.frozen_roll import freeze_roll_with_copy_and_view, roll_frozen_at
from tests.attacks.test_redteam10_steward_frozen_entry_copy import DIBAO, QUERY, WHY, _post
from tests.gateway.demo_app import DemoGateway

EDITS = {
    "frozen_at cleared": "UPDATE datasets SET frozen_at = NULL WHERE id = :i",
    "nothing personal": "UPDATE fields SET pi_category = 'none', mask_override = NULL "
    "WHERE dataset_id = :i",
}


@pytest.fixture(params=sorted(EDITS))
def frozen(
    deployment: DemoGateway, request: pytest.FixtureRequest
) -> Iterator[tuple[DemoGateway, str, str, str]]:
    """A copy and a view of the roll published; the roll frozen by sam; both refused.
    Afterwards the roll's rows are put back as they were and the freeze lifted."""
    gw, edit = deployment, str(request.param)
    suffix = edit.split()[0]
    copy, view = freeze_roll_with_copy_and_view(gw, f"rt48_{suffix}")
    frozen_at = roll_frozen_at(gw)
    with gw.services.engine.connect() as conn:
        fields = conn.execute(text("SELECT id, pi_category, mask_override FROM fields "
                                   "WHERE dataset_id = :i"), {"i": DIBAO}).all()  # fmt: skip
    yield gw, edit, copy, view
    gw.sql("UPDATE datasets SET frozen_at = :f WHERE id = :i", f=frozen_at, i=DIBAO)
    for field, category, override in fields:
        gw.sql("UPDATE fields SET pi_category = :c, mask_override = :m WHERE id = :i",
               c=category, m=override, i=field)  # fmt: skip
    assert _post(gw, "root", f"/datasets/{DIBAO}/unfreeze", WHY).status_code == 200


def test_an_insiders_edit_of_the_frozen_entry_does_not_lift_its_hold(
    frozen: tuple[DemoGateway, str, str, str],
) -> None:
    gw, edit, copy, view = frozen
    gw.sql(EDITS[edit], i=DIBAO)
    assert gw.query("dora", DIBAO, QUERY).status_code == 423  # the roll itself: unsealed
    served = {e: gw.query("dora", e, QUERY) for e in (copy, view)}
    read = {e: r.status_code for e, r in served.items() if r.status_code != 423}
    assert not read, f"the frozen roll served again after '{edit}': {read}"


def test_a_frozen_entry_deleted_behind_the_gateway_holds_its_department(
    deployment: DemoGateway,
) -> None:
    """(3) The insider deletes the frozen roll's rows outright (its fields go with it):
    the copy and the view stay refused. Last in the module: nothing is put back."""
    gw = deployment
    copy, view = freeze_roll_with_copy_and_view(gw, "rt48_deleted")
    gw.sql("DELETE FROM fields WHERE dataset_id = :i", i=DIBAO)
    gw.sql("DELETE FROM datasets WHERE id = :i", i=DIBAO)
    served = {e: gw.query("dora", e, QUERY).status_code for e in (copy, view)}
    read = {e: status for e, status in served.items() if status != 423}
    assert not read, f"the frozen roll served again after its rows were deleted: {read}"
    payroll = {"purpose": "audit", "case_ref": "JW-2026-001", "fields": ["employer"], "limit": 1}
    assert gw.query("dora", "finance.payroll", payroll).status_code == 200  # not civil's
