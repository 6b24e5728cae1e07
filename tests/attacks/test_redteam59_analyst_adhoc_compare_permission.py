"""Red team 59's left row (2), as a user whose roles give ``dataset:query`` but not
``compare:run``: an ad hoc comparison.

Model runs, schedules and re-identification asks need ``compare:run``; ``POST
/api/v1/comparisons`` asked only ``dataset:query`` of each side, so a deployment whose
policy gives a role queries but not comparisons (a reader of entries who must not
match departments' people) let that role compare all the same. With the default roles
only analysts hold either, so nobody gained; the rule is now the same on every
comparison path: 403 without ``compare:run``, before either side is read.

The deployment's policy is stood in for by the authorizer refusing ``compare:run`` to
dora (as a policy line denying it would); on the embedded SQLite default and on
PostgreSQL (``deployment``).
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from audit.search import EventFilter, list_events
from catalog.errors import Forbidden
from tests.attacks.test_insider_source_seals import COMPARISON
from tests.gateway.demo_app import DemoGateway


@pytest.fixture
def no_compare_run(deployment: DemoGateway) -> Iterator[DemoGateway]:
    authorizer = deployment.services.authorizer
    check = authorizer.check

    def refusing(*, subject: str, domain: str, action: str) -> None:
        if subject == "dora" and action == "compare:run":
            raise Forbidden(f"{subject} may not {action}")
        check(subject=subject, domain=domain, action=action)

    authorizer.check = refusing  # type: ignore[method-assign]
    try:
        yield deployment
    finally:
        del authorizer.check


def test_an_adhoc_comparison_needs_compare_run(no_compare_run: DemoGateway) -> None:
    gw = no_compare_run
    assert (
        gw.query(
            "dora",
            "finance.payroll",
            {
                "fields": ["region_code"],
                "limit": 1,
                "purpose": "supervision",
                "case_ref": "JW-RT59-CMP",
            },
        ).status_code
        == 200
    )
    resp = gw.compare("dora", COMPARISON)
    assert resp.status_code == 403, resp.text[:300]
    assert "compare:run" in resp.text
    refused = list_events(store=gw.services.audit.store,
                          filters=EventFilter(actor="dora", type="request.refused"),
                          limit=1)["items"]  # fmt: skip
    assert refused and refused[0]["resource"] == "/api/v1/comparisons", refused
