"""Lead's own, stop 37: what closed red team 48's view rows, attacked where it is held.

Rule: an entry records the tables its object reads as the source's planner tells them
at its draft and at each refresh (``datasets.reads``, ``adapters.sql_lineage``), under
the entry's seal; entries of one system that read a table in common are one data to the
grants (``objects.reads_alike``) and to a freeze (``FrozenObject.held_by``), whatever
their columns are called.

Attacks:
- an officer's freeze of the roll and a view that drops one of its columns and adds one
  (nested neither way by names: red team 48's reshaped view): published before the
  freeze it served the frozen rows; drafted during it, it was published;
- the database insider clears the view's ``reads`` (or points it at another table) so
  the grant and the freeze no longer link it: the entry no longer verifies and serves
  nothing (423 ``entry_unsealed``) until the sealed value is written back.

On the embedded default and on PostgreSQL.
"""

from __future__ import annotations

import sqlite3

import pytest
from sqlalchemy import text

from tests.attacks.frozen_roll import roll_frozen
from tests.attacks.test_redteam10_steward_frozen_entry_copy import DIBAO, QUERY, _post
from tests.attacks.test_redteam45_analyst_view_codebook import civil_database, draft_view
from tests.attacks.test_redteam48_analyst_reshaped_view_codebook import RESHAPED
from tests.gateway.demo_app import DemoGateway


def _published(gw: DemoGateway, view: str) -> str:
    entry = draft_view(gw, view, RESHAPED)
    assert _post(gw, "carl", f"/datasets/{entry}/publish", {}).status_code == 200
    return entry


def test_a_freeze_stops_a_reshaped_view_of_the_frozen_table(deployment: DemoGateway) -> None:
    gw = deployment
    view = _published(gw, "dibao_s37_frozen")
    assert gw.query("dora", view, QUERY).status_code == 200
    with roll_frozen(gw):
        read = gw.query("dora", view, QUERY)
    assert read.status_code == 423, f"the frozen roll read through a view: {read.text[:200]}"
    assert DIBAO in read.json()["message"], read.text
    assert gw.query("dora", view, QUERY).status_code == 200


def test_no_reshaped_view_of_the_frozen_table_is_published_during_the_freeze(
    deployment: DemoGateway,
) -> None:
    gw = deployment
    view = draft_view(gw, "dibao_s37_during", RESHAPED)
    with roll_frozen(gw):
        published = _post(gw, "carl", f"/datasets/{view}/publish", {})
    assert published.status_code == 409, f"published during the freeze: {published.text[:200]}"


@pytest.mark.parametrize("written", [None, '["main.death_registrations"]', '"main.x"'])
def test_an_insider_rewriting_what_a_view_reads_unseals_it(
    deployment: DemoGateway, written: str | None
) -> None:
    gw = deployment
    view = _published(gw, f"dibao_s37_reads_{0 if written is None else len(written)}")
    with gw.services.engine.connect() as conn:
        before = conn.execute(text("SELECT CAST(reads AS TEXT) FROM datasets WHERE id = :d"),
                              {"d": view}).scalar_one()  # fmt: skip
    assert before is not None and "dibao_recipients" in before
    gw.sql("UPDATE datasets SET reads = :v WHERE id = :d", v=written, d=view)
    try:
        refused = gw.query("dora", view, QUERY)
        assert (refused.status_code, refused.json()["code"]) == (423, "entry_unsealed")
    finally:
        gw.sql("UPDATE datasets SET reads = :v WHERE id = :d", v=before, d=view)
    assert gw.query("dora", view, QUERY).status_code == 200


def _reads(gw: DemoGateway, entry: str) -> str:
    with gw.services.engine.connect() as conn:
        found = conn.execute(text("SELECT CAST(reads AS TEXT) FROM datasets WHERE id = :d"),
                             {"d": entry}).scalar_one()  # fmt: skip
    return str(found)


def test_a_refresh_follows_a_view_redefined_at_the_source(deployment: DemoGateway) -> None:
    """civil's administrator points a published view of the death register at the roll
    (same columns); carl's refresh records what it reads now, under the entry's seal."""
    gw = deployment
    columns = "id_number, name, region_code"
    view = draft_view(gw, "dibao_s37_moved", f"SELECT {columns} FROM death_registrations")
    assert _post(gw, "carl", f"/datasets/{view}/publish", {}).status_code == 200
    assert "death_registrations" in _reads(gw, view) and "dibao" not in _reads(gw, view)
    with sqlite3.connect(civil_database(gw)) as db:
        db.execute("DROP VIEW dibao_s37_moved")
        db.execute(f"CREATE VIEW dibao_s37_moved AS SELECT {columns} FROM dibao_recipients")
    assert _post(gw, "carl", f"/datasets/{view}/refresh", {}).status_code == 200
    assert "dibao_recipients" in _reads(gw, view) and "death" not in _reads(gw, view)
    assert gw.query("dora", view, QUERY).status_code == 200  # sealed as it is now
