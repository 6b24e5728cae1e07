"""A field named like the Spark engine's own county column, in an entry published
before the catalog reserved the gateway's column names (red team 40's left row, low).

A Spark side carries ``__county`` beside the source's columns (the county each row's
region code names: the per-county bound and the trail's counties). An entry published
before the ``__`` rule could hold a field of that very name; on a Spark side the two
collided (the run failed, or the engine's column stood in for the steward's). The read
paths refused only ``__subject_token*`` for such entries.

Expected: an entry with a field named like any column the gateway puts beside a
source's (``catalog.reserved_names.read_time_refused``) is read by no query and no
comparison side, whichever engine (422, before any source read), on the embedded
default and PostgreSQL.
"""

from __future__ import annotations

import pytest

from tests.attacks.legacy_entry import civil_draft, civil_table, publish_before_the_rule
from tests.gateway.demo_app import DemoGateway

ENTRY = "civil.stop35_counties"
CASE = {"purpose": "supervision", "case_ref": "JW-S35-COUNTY"}


def test_a_field_named_like_the_spark_county_column_is_read_by_nothing(
    deployment: DemoGateway, monkeypatch: pytest.MonkeyPatch
) -> None:
    gw = deployment
    columns = ["region_code", "__county", "note"]
    civil_table(gw, "stop35_counties", columns,
                [("430121", "430199", "n1"), ("430102", "430199", "n2")])  # fmt: skip
    publish_before_the_rule(gw, monkeypatch, civil_draft("stop35_counties", ENTRY, "Counties"),
                            columns)  # fmt: skip
    asked = gw.query("dora", ENTRY, {"fields": ["region_code", "note"], **CASE})
    assert asked.status_code == 422, asked.text[:300]
    assert "__county" in asked.json()["message"]
    side = {"dataset": ENTRY, "key": "region_code", "fields": ["note"]}
    compared = gw.compare("dora", {"left": side, "right": side, **CASE})
    assert compared.status_code == 422, compared.text[:300]
