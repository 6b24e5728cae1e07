"""As a database insider: the newest binding of a row deleted from the trail, then the
row written back as it was before the change that binding named.

Red team 17 (open until now): a role line revoked through the gateway is bound on the
trail as ``removed`` (``catalog.row_bound``); writing the line back with its old seal
grants nothing while that binding is the newest the trail names for it. Deleting the
binding's event (below the newest checkpoint, where no witness holds it) made the
binding from when the role was given the newest again, and the role line governed in
every process that read the trail after the deletion (a replica, a restart: carl was
an admin again; the process that had read the newer binding kept refusing), and the
monitor, which compares witnessed checkpoints only, never sealed (this test failed
there, 2 of 2). The monitor now walks the chain between checkpoints (``audit.sweep``): the
missing event seals the trail, and nothing is served on a trail with a hole in it.
"""

from __future__ import annotations

import time

from tests.attacks.revoked_role import revoked_admin_line
from tests.attacks.test_insider_row_replay import USERS
from tests.audit.helpers import tamper
from tests.gateway.demo_app import DemoGateway

DEADLINE_S = 20


def test_a_deleted_binding_does_not_bring_a_revoked_role_back(deployment: DemoGateway) -> None:
    """The last test of its gateway (module): it leaves the trail sealed, by design."""
    gw = deployment
    carl = gw.headers("carl")
    saved = revoked_admin_line(gw)
    for n in range(30):  # the binding is well below the head, past a checkpoint
        gw.client.get(f"/api/v1/catalog?page={n % 3 + 1}", headers=carl)
    # a step of the walk on each monitor tick (production: at most 2% of a core, a step
    # every few seconds on this trail): the wait below ends on the tick that sees the hole
    gw.services.audit.monitor.sweep.duty = 0.5
    url = gw.settings.resolved_database_url
    tamper(url, "DELETE FROM audit_events WHERE seq = (SELECT max(seq) FROM audit_events "
                "WHERE type = 'catalog.row_bound')")  # fmt: skip
    gw.sql("INSERT INTO casbin_rule (id, ptype, v0, v1, v2, v3, v4, v5, seal) VALUES "
           "(:id, :ptype, :v0, :v1, :v2, :v3, :v4, :v5, :seal)", **saved)  # fmt: skip
    gw.sql("UPDATE casbin_revision SET revision = revision + 1 WHERE id = 1")
    deadline = time.monotonic() + DEADLINE_S
    while True:
        answer = gw.client.get(USERS, headers=carl)
        assert answer.status_code != 200, "the revoked role governs again"
        if answer.status_code == 503:
            break
        assert time.monotonic() < deadline, "the trail with a hole in it was never sealed"
        time.sleep(0.1)
    assert "gap" in (gw.services.audit.seal.reason or "")
