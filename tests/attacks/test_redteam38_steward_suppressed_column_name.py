"""Red team 38, a steward's column named as another of the gateway's own columns.

Stop 33 reserved the names starting with ``__`` (``catalog.drift.RESERVED_PREFIX``) for
the gateway's own columns, after a field named ``__subject_token`` collided with a
comparison side's (red teams 36, 37). An aggregate answer carries a column of the
gateway's own too, ``_suppressed`` (``aggregate.SUPPRESSED``: the aliases withheld in
each group), which that prefix does not cover. Civil's steward publishes a table with
a ``_suppressed`` column (a department's own flag of suppressed records, in clear);
an analyst groups on it.

Before: a 500 (``ArrowInvalid``: two sort keys ``_suppressed`` in the answer). Expected:
a 400 naming the field (a group field may not take the answer's own column's name),
never a 500 from two columns of one name. On the embedded default and PostgreSQL.

Since stop 34 the catalog takes no new field of that name either (``catalog.reserved_names``,
one list of the gateway's own columns): the table is drafted here as before that rule, as
an entry published earlier would be, and a draft now is refused (400 naming it).
"""

from __future__ import annotations

import pytest

from tests.attacks.legacy_entry import civil_draft, civil_table, publish_before_the_rule
from tests.gateway.demo_app import DemoGateway

ENTRY = "civil.rt38_flags"
CASE = {"purpose": "supervision", "case_ref": "JW-RT38-SUPP"}


def _publish(gw: DemoGateway, monkeypatch: pytest.MonkeyPatch) -> None:
    columns = ["region_code", "_suppressed"]
    civil_table(gw, "rt38_flags", columns,
                [("430121", "yes" if i % 3 else "no") for i in range(60)])  # fmt: skip
    draft = civil_draft("rt38_flags", ENTRY, "Flags")
    refused = gw.client.post("/api/v1/datasets", headers=gw.headers("carl"), json=draft)
    assert refused.status_code == 400 and "_suppressed" in refused.json()["message"]
    publish_before_the_rule(gw, monkeypatch, draft, columns)


def test_a_group_field_named_like_the_answers_own_column_is_no_500(
    deployment: DemoGateway, monkeypatch: pytest.MonkeyPatch
) -> None:
    gw = deployment
    _publish(gw, monkeypatch)
    body = {**CASE, "group_by": ["_suppressed"], "aggregates": [{"fn": "count", "as": "n"}]}
    resp = gw.query("dora", ENTRY, body)
    assert resp.status_code == 400, resp.text[:300]
    assert "_suppressed" in resp.json()["message"]
