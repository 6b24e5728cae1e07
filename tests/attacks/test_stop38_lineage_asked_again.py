"""Stop 38: what an entry's object reads is asked of its source again where a freeze
decides, not taken from its draft or last refresh.

Rule (stop 37): a freeze holds every entry of the frozen entry's system whose object
reads a table in common with it (``datasets.reads``, ``adapters.sql_lineage``). Those
reads were asked only at a draft and at a steward's refresh, and a view is redefined at
the source with no word to the gateway.

Attacks, as civil's database administrator with its steward (carl) and an analyst
(dora):
- a view published over the death register (a column ``team`` of its own: by names it
  is no part of the roll) is redefined over the roll after the freeze — or before it,
  since its last refresh — and dora reads the frozen rows through it (200);
- a draft redefined so, published during the freeze (200);
- the frozen entry's own reads are stale (red team 50: the roll's table moved under a
  view of its name): the freeze records what it reads now, under the entry's seal.

Expected: 423 and 409; the roll's row verifies through its freeze and lift. And while
nothing is frozen on a system, no query of it asks its source anything more.
On the embedded default and on PostgreSQL (civil's data are the demo's SQLite file).
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy import text

from tests.attacks.dibao_copy import payroll_model
from tests.attacks.frozen_roll import roll_frozen
from tests.attacks.test_redteam10_steward_frozen_entry_copy import DIBAO, QUERY, _post
from tests.attacks.test_redteam45_analyst_view_codebook import civil_database, draft_view
from tests.attacks.test_redteam50_steward_frozen_table_moved import (
    KEPT,
    RESHAPED,
    roll_moved,
)
from tests.gateway.comparison_env import start
from tests.gateway.demo_app import DemoGateway


def _over(table: str) -> str:
    """A view's text: three of the roll's column names and one of its own, so that by
    names it is no part of the roll (``objects.shows_part_of``)."""
    return f"SELECT id_number, name, region_code, 'civil' AS team FROM {table}"


def _redefine(gw: DemoGateway, view: str, table: str) -> None:
    """civil's administrator points ``view`` at ``table``, telling the gateway nothing."""
    with sqlite3.connect(civil_database(gw)) as db:
        db.execute(f"DROP VIEW {view}")
        db.execute(f"CREATE VIEW {view} AS {_over(table)}")


@contextmanager
def _view(gw: DemoGateway, view: str, *, published: bool = True) -> Iterator[str]:
    """``view`` over the death register drafted (and published) by carl; dropped at exit."""
    entry = draft_view(gw, view, _over("death_registrations"))
    try:
        if published:
            assert _post(gw, "carl", f"/datasets/{entry}/publish", {}).status_code == 200
            assert gw.query("dora", entry, QUERY).status_code == 200
        yield entry
    finally:
        with sqlite3.connect(civil_database(gw)) as db:
            db.execute(f"DROP VIEW IF EXISTS {view}")


def _reads(gw: DemoGateway, entry: str) -> str:
    with gw.services.engine.connect() as conn:
        found = conn.execute(text("SELECT CAST(reads AS TEXT) FROM datasets WHERE id = :d"),
                             {"d": entry}).scalar_one()  # fmt: skip
    return str(found)


def test_a_view_redefined_over_the_frozen_table_during_the_freeze_is_refused(
    deployment: DemoGateway,
) -> None:
    gw = deployment
    with _view(gw, "dibao_s38_during") as entry:
        with roll_frozen(gw):
            assert gw.query("dora", entry, QUERY).status_code == 200  # the death register
            _redefine(gw, "dibao_s38_during", "dibao_recipients")
            read = gw.query("dora", entry, QUERY)
        assert gw.query("dora", entry, QUERY).status_code == 200  # lifted
    assert read.status_code == 423, f"the frozen roll read through a view: {read.text[:200]}"
    assert DIBAO in read.json()["message"], read.text


def test_a_view_redefined_before_the_freeze_since_its_refresh_is_refused(
    deployment: DemoGateway,
) -> None:
    gw = deployment
    with _view(gw, "dibao_s38_before") as entry:
        _redefine(gw, "dibao_s38_before", "dibao_recipients")
        assert "death_registrations" in _reads(gw, entry)  # as recorded: stale
        with roll_frozen(gw):
            read = gw.query("dora", entry, QUERY)
    assert read.status_code == 423, f"the frozen roll read through a view: {read.text[:200]}"


def test_a_model_over_a_view_redefined_over_the_frozen_table_is_refused(
    deployment: DemoGateway,
) -> None:
    """The comparison checks compare as the broker does (a side is prepared by it)."""
    gw = deployment
    with _view(gw, "dibao_s38_model") as entry:
        model = payroll_model("test.s38_before", entry, ["p.name", "d.region_code"])
        assert _post(gw, "dora", "/comparison-models", model).status_code == 201
        _redefine(gw, "dibao_s38_model", "dibao_recipients")
        with roll_frozen(gw):
            stored = _post(gw, "dora", "/comparison-models",
                           {**model, "id": "test.s38_during"})  # fmt: skip
            run = start(gw, "dora", "test.s38_before")
    assert stored.status_code == 423, stored.text
    assert run.status_code == 423, run.text


def test_a_draft_redefined_over_the_frozen_table_is_not_published(
    deployment: DemoGateway,
) -> None:
    gw = deployment
    with _view(gw, "dibao_s38_draft", published=False) as entry:
        _redefine(gw, "dibao_s38_draft", "dibao_recipients")
        with roll_frozen(gw):
            published = _post(gw, "carl", f"/datasets/{entry}/publish", {})
        assert published.status_code == 409, f"published during the freeze: {published.text}"
        # lifted: published, recorded as reading what it reads now, and its row verifies
        assert _post(gw, "carl", f"/datasets/{entry}/publish", {}).status_code == 200
        assert "dibao_recipients" in _reads(gw, entry), _reads(gw, entry)
        assert "death_registrations" not in _reads(gw, entry)
        assert gw.query("dora", entry, QUERY).status_code == 200


def test_the_freeze_records_what_the_frozen_entry_reads_now_under_its_seal(
    deployment: DemoGateway,
) -> None:
    """Red team 50's move, with its reshaped view published before the freeze: held
    by what the roll reads now, which the freeze records (the roll's row verifies)."""
    gw = deployment
    with roll_moved(gw):
        view = draft_view(gw, "dibao_s38_moved", RESHAPED)
        try:
            assert _post(gw, "carl", f"/datasets/{view}/publish", {}).status_code == 200
            with roll_frozen(gw):
                recorded = _reads(gw, DIBAO)
                refused = gw.query("dora", DIBAO, QUERY)
                read = gw.query("dora", view, QUERY)
            assert gw.query("dora", DIBAO, QUERY).status_code == 200  # lifted, still sealed
        finally:
            with sqlite3.connect(civil_database(gw)) as db:
                db.execute("DROP VIEW IF EXISTS dibao_s38_moved")
    assert KEPT in recorded and "main.dibao_recipients" in recorded, recorded
    assert (refused.status_code, refused.json()["code"]) == (423, "dataset_frozen")
    assert read.status_code == 423, f"the frozen roll read through a view: {read.text[:200]}"
    assert gw.query("dora", DIBAO, QUERY).status_code == 200


def test_the_frozen_table_moved_after_the_freeze_is_held_where_it_went(
    deployment: DemoGateway,
) -> None:
    """Red team 50's move made after the freeze: the roll's recorded reads (asked at the
    freeze) name the view its table went under; the frozen entries of the system are
    asked again too, wherever a check asks the entry's own."""
    gw = deployment
    with _view(gw, "dibao_s38_after_move") as entry, roll_frozen(gw), roll_moved(gw):
        _redefine(gw, "dibao_s38_after_move", KEPT)
        read = gw.query("dora", entry, QUERY)
        drafted = draft_view(gw, "dibao_s38_new_side", RESHAPED)  # over the moved table
        try:
            published = _post(gw, "carl", f"/datasets/{drafted}/publish", {})
        finally:
            with sqlite3.connect(civil_database(gw)) as db:
                db.execute("DROP VIEW IF EXISTS dibao_s38_new_side")
    assert read.status_code == 423, f"the frozen roll read through a view: {read.text[:200]}"
    assert published.status_code == 409, f"published during the freeze: {published.text[:200]}"


def test_with_no_freeze_on_its_system_a_query_asks_the_source_nothing_more(
    deployment: DemoGateway,
) -> None:
    gw = deployment
    metrics = gw.client.app.state.broker.metrics
    with _view(gw, "dibao_s38_cost") as entry:
        asked = metrics.lineage_asked
        assert gw.query("dora", entry, QUERY).status_code == 200
        assert metrics.lineage_asked == asked  # nothing frozen: the cached path only
        with roll_frozen(gw):
            assert gw.query("dora", "finance.payroll", QUERY).status_code == 200
            assert metrics.lineage_asked == asked  # another system's freeze
            assert gw.query("dora", entry, QUERY).status_code == 200
            assert metrics.lineage_asked > asked  # civil's: asked before serving
