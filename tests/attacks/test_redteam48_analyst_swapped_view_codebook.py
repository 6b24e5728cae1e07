"""Red team 48, as an analyst with civil's steward: a nested view of the granted table
whose columns swap names.

Rule (red team 45): an entry over a view of the granted table in the same system, its
fields all among the table's, counts for the grant: the grant's field is masked there
with tokens of its own outside the grant's case. The grant names a field, and the rule
matches fields by name.

Attack: ``SELECT name AS id_number, id_number AS name, household_size, …`` — the view's
field names are the roll's (it is seen as a view of the roll), but its ``name`` holds
the ID numbers. carl masks it with ``hash``, as the payroll's ``id_number`` is. Civil
grants dora the roll's ``id_number`` for one case; under another she reads the view's
``name`` (the case's tokens of the ID numbers) beside its clear fields and decodes them
through the roll read in clear under the grant's case, and finance's payroll tokens
with them.

Expected: nothing decoded. On the embedded default and on PostgreSQL.
"""

from __future__ import annotations

import sqlite3

from tests.attacks.test_redteam37_analyst_date_shift_codebook import _ok, grant_of_civil
from tests.attacks.test_redteam38_analyst_grant_across_cases import ROW, _rows
from tests.attacks.test_redteam41_analyst_copy_entry_codebook import _nothing_decoded
from tests.attacks.test_redteam45_analyst_view_codebook import civil_database
from tests.attacks.test_stop34_analyst_grant_token_codebook import hash_both
from tests.gateway.demo_app import DemoGateway

SWAPPED = (
    "SELECT name AS id_number, id_number AS name, household_size, monthly_amount, "
    "start_date, status, region_code, last_paid FROM dibao_recipients"
)


def test_a_view_swapping_names_is_no_codebook(deployment: DemoGateway) -> None:
    gw = deployment
    with sqlite3.connect(civil_database(gw)) as db:
        db.execute(f"CREATE VIEW IF NOT EXISTS dibao_rt48_swapped AS {SWAPPED}")
    view, headers = "civil.dibao_rt48_swapped", gw.headers("carl")
    _ok(gw.client.post("/api/v1/datasets", headers=headers, json={
        "source_id": "civil-db", "object_name": "dibao_rt48_swapped", "dataset_id": view,
        "title_en": "dibao for another team", "allowed_purposes": ["supervision", "audit"],
    }))  # fmt: skip
    _ok(gw.client.patch(f"/api/v1/datasets/{view}", headers=headers,
                        json={"region_field": "region_code",
                              "fields": {"name": {"mask_override": "hash"}}}))  # fmt: skip
    _ok(gw.client.post(f"/api/v1/datasets/{view}/publish", headers=headers))
    hash_both(gw)
    grant_of_civil(gw, "dora", "id_number", "JW-RT48-S-GRANT")
    masked = _rows(gw, "dora", view, [*ROW, "name"], "JW-RT48-S", "supervision")
    assert masked and all(r["name"].startswith("tk_") for r in masked)
    as_numbers = [{**r, "id_number": r["name"]} for r in masked]
    _nothing_decoded(gw, "dora", as_numbers, "JW-RT48-S", "a view swapping names")
