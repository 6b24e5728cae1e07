"""As a database insider: the newest binding of a row edited, so that it is no longer a
gateway's event, and the row written back as the binding before it names it.

A row binding is believed only if its event is genuine (red team 17), and the reader
passed over one that is not, to the binding before it: a role line revoked through the
gateway (bound ``removed``) and written back with its seal governed again in every
process that read the trail afterwards (a restart, a replica), until the monitor's walk
reached the edited event, and never below the anchor of an unseal that accepted a hole
(the walk starts above it). An edited or forged binding at seq 1 or more is evidence of
tampering: its row is now refused, not served as the binding before it. Red team 18.
"""

from __future__ import annotations

import time

from gateway.stewardship.row_trail import install_row_bindings
from tests.attacks.revoked_role import revoked_admin_line
from tests.attacks.test_insider_audit import (
    INTERVAL_S,
    _insider,
    _scalar,
    _status,
    _unseal_with_two_people,
    _until,
)
from tests.attacks.test_insider_row_replay import USERS
from tests.attacks.test_redteam18_officer_unseal_after_walk import (  # noqa: F401
    deployment,
)
from tests.gateway.demo_app import DemoGateway


def test_an_edited_binding_does_not_bring_a_revoked_role_back(
    deployment: DemoGateway,  # noqa: F811 (the fixture imported above)
) -> None:
    gw = deployment
    carl = gw.headers("carl")
    saved = revoked_admin_line(gw)
    removed = int(_scalar(gw, "SELECT max(seq) FROM audit_events "
                              "WHERE type = 'catalog.row_bound'"))  # fmt: skip

    # a hole the two people accept, so the walk starts above the binding
    _insider(gw, "DELETE FROM audit_events WHERE seq = 3")
    _until(lambda: bool(_status(gw)["sealed"]), "the walk seals on the hole")
    _unseal_with_two_people(gw, int(_scalar(gw, "SELECT max(seq) FROM audit_events")))

    _insider(gw, "UPDATE audit_events SET body = replace(body, '\"removed\":true', "
                 f"'\"removed\":1') WHERE seq = {removed}")  # fmt: skip
    gw.sql("INSERT INTO casbin_rule (id, ptype, v0, v1, v2, v3, v4, v5, seal) VALUES "
           "(:id, :ptype, :v0, :v1, :v2, :v3, :v4, :v5, :seal)", **saved)  # fmt: skip
    gw.sql("UPDATE casbin_revision SET revision = revision + 1 WHERE id = 1")
    install_row_bindings(gw.settings.resolved_database_url, gw.services.audit)  # a restart
    time.sleep(4 * INTERVAL_S)  # a few steps of the walk
    answer = gw.client.get(USERS, headers=carl)
    assert answer.status_code != 200, "the revoked role governs again"
