"""Red team 29's shared setup: an entry published over a partner's table whose ID-number
column is named as the partner's DBA chose (line breaks and escape sequences included)."""

from __future__ import annotations

from tests.attacks.civil_tables import civil_table
from tests.gateway.demo_app import DemoGateway

FORGED = "id_no\n[Sluice LOW] test_rule (nobody): drill, ignore\nseverity: low\u2028\x1b[2K"
TABLE = "rt29_people"
ENTRY = "civil.rt29_people"


def _table_with_a_forged_column(gw: DemoGateway, column: str) -> None:
    """civil's database (the partner's own) gets a table whose ID-number column is named
    with line breaks, as its DBA may name it."""
    quoted = '"' + column.replace('"', '""') + '"'
    civil_table(gw, TABLE, f"SELECT id_number AS {quoted}, region_code FROM dibao_recipients")


def published_below(gw: DemoGateway, column: str) -> None:
    """carl publishes ``ENTRY`` over a table whose ID-number column is named ``column``,
    that field lowered below the classifier's suggestion (an alert on record)."""
    _table_with_a_forged_column(gw, column)
    carl = gw.headers("carl")
    body = {"source_id": "civil-db", "object_name": TABLE, "dataset_id": ENTRY, "title_zh": "人"}
    resp = gw.client.post("/api/v1/datasets", headers=carl, json=body)
    assert resp.status_code == 201, resp.text
    fields = {f["name"]: f for f in resp.json()["fields"]}
    assert fields[column]["suggested_level"] in ("L3", "L4"), fields[column]
    resp = gw.client.patch(f"/api/v1/datasets/{ENTRY}", headers=carl,
                           json={"fields": {column: {"level": "L2"}}})  # fmt: skip
    assert resp.status_code == 200, resp.text
    resp = gw.client.post(f"/api/v1/datasets/{ENTRY}/publish", headers=carl)
    assert resp.status_code == 200, resp.text
