"""Red team 45, as an analyst: a grant's codebook through an entry over a *view* of the
granted table.

Rule (red team 41): what a grant releases is known through every entry reading the same
data — the copy's tokens decode nothing (field-scoped outside the grant's case), and a
comparison keyed on the copy's numbers with finance's masked ones is refused (403).
"The same data" was told by the object an entry reads (``objects.reading_the_same``:
the same table, file or endpoint), and a department's database serves one table's rows
under other names too: red team 41's "narrower view for another team" is, in a
database, a ``CREATE VIEW`` — which introspection lists (``kind: view``) and a steward
publishes like a table.

Attack: civil's database administrator adds ``dibao_view`` (``SELECT * FROM
dibao_recipients``) and carl publishes it, its ``id_number`` masked with ``hash`` as on
the roll; finance masks the payroll's with ``hash`` too. Civil grants dora the roll's
``id_number`` for one case. Under another case she reads the view (the numbers as that
case's tokens beside the roll's clear fields) and the roll in clear under the grant's
case: row by row the view's tokens are decoded, and with them finance's payroll tokens
under that case. Then a comparison of the payroll with the view on the ID numbers.

Expected: as for a copy over the same table — nothing decoded, the comparison refused
(403) or naming nothing. On the embedded default and on PostgreSQL (the departments'
data are the demo's SQLite files on both).
"""

from __future__ import annotations

import sqlite3

from sqlalchemy.engine import make_url

from catalog.models import Source
from tests.attacks.test_redteam37_analyst_date_shift_codebook import _ok, grant_of_civil
from tests.attacks.test_redteam38_analyst_grant_across_cases import ROW, _rows
from tests.attacks.test_redteam41_analyst_copy_entry_codebook import (
    _nothing_decoded,
    compared_names_nothing,
    refused_or_nothing_decoded,
)
from tests.attacks.test_stop34_analyst_grant_token_codebook import hash_both, hash_ids
from tests.gateway.demo_app import DemoGateway


def _view_published(gw: DemoGateway, view: str) -> str:
    """``publish_view``, the view's, the roll's and the payroll's ID numbers masked with
    ``hash``."""
    entry = publish_view(gw, view)
    hash_both(gw)
    hash_ids(gw, "carl", entry)
    return entry


def publish_view(gw: DemoGateway, view: str) -> str:
    """``draft_view``, published by carl."""
    entry = draft_view(gw, view)
    _ok(gw.client.post(f"/api/v1/datasets/{entry}/publish", headers=gw.headers("carl")))
    return entry


def civil_database(gw: DemoGateway) -> str:
    """The file of civil's SQLite database (the demo's, on both deployments)."""
    with gw.services.sessions() as session:
        source = session.get(Source, "civil-db")
        assert source is not None
        database = make_url(str(source.settings["url"])).database
    assert database is not None
    return database


def draft_view(gw: DemoGateway, view: str, sql: str = "SELECT * FROM dibao_recipients") -> str:
    """civil's administrator creates ``view`` (``sql``, the roll's table whole by
    default) in civil's database; carl drafts it as an entry ``civil.<view>`` (with its
    region field)."""
    with sqlite3.connect(civil_database(gw)) as db:
        db.execute(f"CREATE VIEW IF NOT EXISTS {view} AS {sql}")
    entry, headers = f"civil.{view}", gw.headers("carl")
    _ok(gw.client.post("/api/v1/datasets", headers=headers, json={
        "source_id": "civil-db", "object_name": view, "dataset_id": entry,
        "title_en": "dibao for another team", "allowed_purposes": ["supervision", "audit"],
    }))  # fmt: skip
    _ok(gw.client.patch(f"/api/v1/datasets/{entry}", headers=headers,
                        json={"region_field": "region_code"}))  # fmt: skip
    return entry


def test_a_view_of_the_granted_table_is_no_codebook(deployment: DemoGateway) -> None:
    gw = deployment
    view = _view_published(gw, "dibao_rt45_read")
    grant_of_civil(gw, "dora", "id_number", "JW-RT45-A-GRANT")
    masked = _rows(gw, "dora", view, [*ROW, "id_number"], "JW-RT45-A", "supervision")
    assert masked and all(r["id_number"].startswith("tk_") for r in masked)
    _nothing_decoded(gw, "dora", masked, "JW-RT45-A", "a view of the roll read under another case")


def test_a_view_read_before_a_grant_is_not_decoded_by_it(deployment: DemoGateway) -> None:
    """alice reads the view's tokens, then asks for the roll's numbers: the approval is
    refused (409) or the roll in clear decodes nothing."""
    view = _view_published(deployment, "dibao_rt45_before")
    refused_or_nothing_decoded(deployment, view, "JW-RT45-B", "the view's tokens read first")


def test_a_view_compared_after_a_grant_gives_nothing_away(deployment: DemoGateway) -> None:
    gw = deployment
    view = _view_published(gw, "dibao_rt45_compared")
    grant_of_civil(gw, "dora", "id_number", "JW-RT45-C-GRANT")
    compared_names_nothing(gw, view, "JW-RT45-C")
