"""The read model the broker caches: one entry with its fields and source, by name."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine, text

from catalog import service
from catalog.db import make_engine, make_session_factory, migrate
from catalog.drift import Column
from catalog.entries import load_entry
from catalog.models import DatasetStatus, Department, Source
from catalog.schemas import DatasetPatch
from catalog.vocabulary import Level, PICategory
from tests.migrated import copy_migrated_sqlite
from tests.row_seals import register_test_seals

ID = "fin.people"


@pytest.fixture
def engine(tmp_path: Path) -> Iterator[Engine]:
    url = f"sqlite:///{tmp_path / 'catalog.db'}"
    copy_migrated_sqlite(tmp_path / "catalog.db")  # the migrations once per process
    migrate(url)
    register_test_seals(url)  # entries and fields are sealed as they are written
    engine = make_engine(url)
    with make_session_factory(engine)() as session:
        session.add(Department(code="fin", name_zh="财政局", name_en="Finance"))
        session.flush()
        session.add(Source(id="fin-db", department="fin", kind="sqlite", display_name="f",
                           settings={"url": "sqlite:///x.db"}))  # fmt: skip
        session.flush()
        columns = [Column("id_card", "string", Level.L3, PICategory.ID_NUMBER),
                   Column("amount", "float64", Level.L2, PICategory.NONE)]  # fmt: skip
        service.create_draft(session=session, source_id="fin-db", object_name="people",
                             dataset_id=ID, columns=columns, title_en="People")  # fmt: skip
        session.commit()
    yield engine
    engine.dispose()


def test_an_entry_in_one_read(engine: Engine) -> None:
    with engine.connect() as conn:
        entry = load_entry(conn, ID)
        assert load_entry(conn, "fin.nothing") is None
    assert entry is not None
    assert (entry.id, entry.department, entry.object_name, entry.level) == (
        ID, "fin", "people", "L3")  # fmt: skip
    assert entry.status is DatasetStatus.DRAFT and not entry.published and not entry.frozen
    assert entry.sealed  # written through the ORM: the entry and its fields verify
    assert [(f.name, f.type, f.level, f.pi_category, f.mask_override) for f in entry.fields] == [
        ("id_card", "string", "L3", "id_number", None), ("amount", "float64", "L2", "none", None),
    ]  # fmt: skip
    assert (entry.source.id, entry.source.kind) == ("fin-db", "sqlite")
    assert entry.source.settings == {"url": "sqlite:///x.db"}


def test_status_freeze_and_source_changes_are_read(engine: Engine) -> None:
    with engine.connect() as conn:
        before = load_entry(conn, ID)
        conn.execute(text("UPDATE datasets SET status = 'published', frozen_at = '2026-01-01'"))
        conn.execute(text('UPDATE sources SET settings = \'{"url": "sqlite:///y.db"}\''))
        after = load_entry(conn, ID)
        # a hand-edited value that is no status is never served
        conn.execute(text("UPDATE datasets SET status = 'archived'"))
        odd = load_entry(conn, ID)
    assert before is not None and after is not None and odd is not None
    assert after.published and after.frozen
    # hand-edited: read as it is, and not sealed (catalog.entry_seals: the broker refuses it)
    assert before.sealed and not after.sealed and not odd.sealed
    assert after.source.fingerprint != before.source.fingerprint
    assert odd.status is DatasetStatus.DRAFT and not odd.published


def _publish(engine: Engine) -> None:
    with make_session_factory(engine)() as session:
        service.publish_dataset(session=session, dataset_id=ID)
        session.commit()


def test_publication_and_deregistration_keep_an_entry_sealed(engine: Engine) -> None:
    """Both write the status with a Core UPDATE (catalog.service): each seals what it
    writes, from the entry's values as read."""
    _publish(engine)
    with engine.connect() as conn:
        published = load_entry(conn, ID)
    assert published is not None and published.published and published.sealed
    with make_session_factory(engine)() as session:
        service.deregister_source(session=session, source_id="fin-db", by="carl", at="now")
        session.commit()
    with engine.connect() as conn:
        withdrawn = load_entry(conn, ID)
    assert withdrawn is not None and not withdrawn.published and withdrawn.sealed


def test_publishing_a_draft_edited_by_hand_does_not_seal_it(engine: Engine) -> None:
    with engine.begin() as conn:
        conn.execute(text("UPDATE fields SET level = 'L1', pi_category = 'none' "
                          "WHERE name = 'id_card'"))  # fmt: skip
    _publish(engine)
    with engine.connect() as conn:
        entry = load_entry(conn, ID)
    assert entry is not None and entry.published and not entry.sealed
    with engine.begin() as conn:  # the field written back: the entry verifies again
        conn.execute(text("UPDATE fields SET level = 'L3', pi_category = 'id_number' "
                          "WHERE name = 'id_card'"))  # fmt: skip
        assert (found := load_entry(conn, ID)) is not None and found.sealed


def test_a_steward_edit_of_an_entry_edited_by_hand_does_not_seal_it(engine: Engine) -> None:
    with engine.begin() as conn:
        conn.execute(text("UPDATE datasets SET allowed_purposes = '[\"curiosity\"]'"))
    with make_session_factory(engine)() as session:
        patch = DatasetPatch(title_en="People (checked)")
        service.update_dataset(session=session, dataset_id=ID, patch=patch)
        session.commit()
    with engine.connect() as conn:
        entry = load_entry(conn, ID)
    assert entry is not None and entry.allowed_purposes == ["curiosity"] and not entry.sealed
