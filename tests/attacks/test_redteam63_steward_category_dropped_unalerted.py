"""Red team 63, as a steward unmasking a personal field for every analyst, against the
security officers' alert on classifications below the classifier's evidence.

Rule: a steward who publishes a field below the level the classifier suggested from
evidence (a personal-information category found in its name or values), or lowers it so
on a published entry, raises ``below_suggested_level`` (medium) for the officers.

Attack: what masks a field is its personal-information category, not its level alone
(docs/policies.md, rules 4 and 5: a field at the analyst's clearance with no category
is ``allow``). carl keeps the ID-number field at the suggested level and sets its
category to ``none`` — before publishing, or on the published entry — and every L3
analyst reads the ID numbers in clear (dora: 200, eighteen-character numbers). The rule
compared levels only: no alert, either way.

Expected: both raise ``below_suggested_level`` naming the field. On the embedded default
and on PostgreSQL.
"""

from __future__ import annotations

from typing import Any

from tests.attacks.civil_tables import civil_table
from tests.gateway.demo_app import DemoGateway

TABLE = "rt63_people"


def _table(gw: DemoGateway) -> None:
    """civil's database gets a table of ID numbers (the partner's own)."""
    civil_table(gw, TABLE, "SELECT id_number, region_code FROM dibao_recipients")


def _drafted(gw: DemoGateway, entry: str) -> None:
    body = {"source_id": "civil-db", "object_name": TABLE, "dataset_id": entry,
            "title_zh": "人", "allowed_purposes": ["supervision"]}  # fmt: skip
    resp = gw.client.post("/api/v1/datasets", headers=gw.headers("carl"), json=body)
    assert resp.status_code == 201, resp.text
    field = {f["name"]: f for f in resp.json()["fields"]}["id_number"]
    assert field["suggested_pi_category"] == "id_number", field
    assert field["level"] == field["suggested_level"] == "L3", field


def _edit(gw: DemoGateway, entry: str, patch: dict[str, Any]) -> None:
    resp = gw.client.patch(f"/api/v1/datasets/{entry}", headers=gw.headers("carl"), json=patch)
    assert resp.status_code == 200, resp.text


def _publish(gw: DemoGateway, entry: str) -> None:
    resp = gw.client.post(f"/api/v1/datasets/{entry}/publish", headers=gw.headers("carl"))
    assert resp.status_code == 200, resp.text


def _alerted(gw: DemoGateway, entry: str) -> list[dict[str, Any]]:
    resp = gw.client.get("/api/v1/audit/alerts", headers=gw.headers("sam"))
    assert resp.status_code == 200, resp.text
    return [a for a in resp.json()["alerts"] if a.get("rule") == "below_suggested_level"
            and a.get("subject") == f"dataset:{entry}"]  # fmt: skip


def _clear_to_dora(gw: DemoGateway, entry: str) -> None:
    body = {"purpose": "supervision", "case_ref": "JW-63", "fields": ["id_number"], "limit": 3}
    resp = gw.query("dora", entry, body)
    assert resp.status_code == 200, resp.text[:300]
    numbers = [row["id_number"] for row in resp.json()["rows"]]
    assert numbers and all("*" not in n and len(n) == 18 for n in numbers), numbers


def test_publishing_an_id_number_field_with_no_category_is_alerted(
    deployment: DemoGateway,
) -> None:
    gw, entry = deployment, "civil.rt63_people_a"
    _table(gw)
    _drafted(gw, entry)
    _edit(gw, entry, {"fields": {"id_number": {"pi_category": "none"}}})
    _publish(gw, entry)
    _clear_to_dora(gw, entry)
    found = _alerted(gw, entry)
    assert found and "id_number" in found[0]["summary"], found


def test_dropping_a_published_fields_category_is_alerted(deployment: DemoGateway) -> None:
    gw, entry = deployment, "civil.rt63_people_b"
    _table(gw)
    _drafted(gw, entry)
    _publish(gw, entry)
    assert not _alerted(gw, entry)
    _edit(gw, entry, {"fields": {"id_number": {"pi_category": "none"}}})
    _clear_to_dora(gw, entry)
    found = _alerted(gw, entry)
    assert found and "id_number" in found[0]["summary"], found
