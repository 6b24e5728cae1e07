"""Red team 49, as an admin (root) with a database insider: lifting one's own freeze.

Rule (two-person rule, ``gateway.stewardship.users.emergency``): lifting a freeze takes
an admin who did not impose it; an admin may also freeze. A freeze stops the data,
whichever entry reads it: a copy of the frozen table, published before, is refused
(423) while it stands — on the rows' word or the trail's (red team 48).

Attack: root freezes ``civil.dibao_recipients``; his own unfreeze is refused (403).
The insider writes one cell, ``UPDATE datasets SET frozen_by = 'sam'`` (the row's seal
now fails; the roll was stopped anyway) and root unfreezes again: the service read the
imposer from the unverified row, lifted the freeze (200) and put a *genuine*
``dataset.unfrozen`` on the trail — so the freeze was no longer on record either, and
the copy served the frozen rows again, on one admin's word.

Expected: the lift refused while the row does not verify (who froze it cannot be told
from it), and the copy still refused. On the embedded default and on PostgreSQL.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.attacks.dibao_copy import publish_dibao_copy
from tests.attacks.test_redteam10_steward_frozen_entry_copy import DIBAO, QUERY, WHY, _post
from tests.attacks.test_redteam46_admin_restore_lifts_suspension import gw as gw
from tests.gateway.demo_app import DemoGateway

COPY = "civil.dibao_rt49_own_freeze_copy"


@pytest.fixture
def frozen(gw: DemoGateway) -> Iterator[DemoGateway]:
    """A copy of the roll published, the roll frozen by root; afterwards its
    ``frozen_by`` put back and the freeze lifted by root2 (if it still stands)."""
    publish_dibao_copy(gw, COPY)
    assert _post(gw, "root", f"/datasets/{DIBAO}/freeze", WHY).status_code == 200
    assert gw.query("dora", COPY, QUERY).status_code == 423
    yield gw
    gw.sql("UPDATE datasets SET frozen_by = 'root' WHERE id = :i AND frozen_at IS NOT NULL",
           i=DIBAO)  # fmt: skip
    _post(gw, "root2", f"/datasets/{DIBAO}/unfreeze", WHY)


def test_an_admin_does_not_lift_his_own_freeze_through_the_row(frozen: DemoGateway) -> None:
    gw = frozen
    assert _post(gw, "root", f"/datasets/{DIBAO}/unfreeze", WHY).status_code == 403
    gw.sql("UPDATE datasets SET frozen_by = 'sam' WHERE id = :i", i=DIBAO)
    lifted = _post(gw, "root", f"/datasets/{DIBAO}/unfreeze", WHY)
    assert lifted.status_code in (403, 409, 423), lifted.text
    assert gw.query("dora", COPY, QUERY).status_code == 423
