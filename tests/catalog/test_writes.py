"""The catalog's write API on its own (no gateway, no adapter): a draft from introspected
columns, a steward's corrections, publishing, and following the source's columns."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy.orm import Session

from catalog import service
from catalog.db import make_engine, make_session_factory, migrate
from catalog.drift import Column, Retyped
from catalog.errors import BadRequest, Conflict, NotFound
from catalog.models import DatasetStatus, Department, Source
from catalog.schemas import DatasetPatch, FieldPatch
from catalog.vocabulary import Level, MaskMethod, PICategory
from tests.migrated import copy_migrated_sqlite
from tests.row_seals import register_test_seals

ID = "fin.people"


def _column(name: str, type_: str = "string", level: str = "L2", pi: str = "none") -> Column:
    return Column(name, type_, Level(level), PICategory(pi))


COLUMNS = [_column("id_card", level="L3", pi="id_number"), _column("amount", "float64"),
           _column("region")]  # fmt: skip


@pytest.fixture
def session(tmp_path: Path) -> Iterator[Session]:
    url = f"sqlite:///{tmp_path / 'catalog.db'}"
    copy_migrated_sqlite(tmp_path / "catalog.db")  # the migrations once per process
    migrate(url)
    register_test_seals(url)  # entries and fields are sealed as they are written
    engine = make_engine(url)
    with make_session_factory(engine)() as session:
        session.add(Department(code="fin", name_zh="财政局", name_en="Finance"))
        session.flush()
        session.add(Source(id="fin-db", department="fin", kind="sqlite", display_name="f"))
        session.flush()
        yield session
    engine.dispose()


def _draft(session: Session) -> None:
    service.create_draft(session=session, source_id="fin-db", object_name="people",
                         dataset_id=ID, columns=COLUMNS, title_en="People")  # fmt: skip
    session.commit()


def test_a_draft_starts_at_the_suggestions(session: Session) -> None:
    _draft(session)
    ds = service.get_dataset(session=session, dataset_id=ID, include_drafts=True)
    assert (ds.status, ds.level, ds.schema_version, ds.department) == ("draft", "L3", 1, "fin")
    assert [(f.name, f.level, f.pi_category, f.suggested_level) for f in ds.fields] == [
        ("id_card", "L3", "id_number", "L3"), ("amount", "L2", "none", "L2"),
        ("region", "L2", "none", "L2"),
    ]  # fmt: skip
    with pytest.raises(NotFound):
        service.get_dataset(session=session, dataset_id=ID)
    with pytest.raises(Conflict):
        service.create_draft(session=session, source_id="fin-db", object_name="people",
                             dataset_id=ID, columns=COLUMNS)  # fmt: skip
    with pytest.raises(NotFound):
        service.create_draft(session=session, source_id="nope", object_name="people",
                             dataset_id="x.y", columns=COLUMNS)  # fmt: skip


def test_corrections_keep_the_entry_at_least_as_sensitive_as_its_fields(session: Session) -> None:
    _draft(session)
    patch = DatasetPatch(
        tags=["t"], region_field="region",
        fields={"amount": FieldPatch(level=Level.L4, mask_override=MaskMethod.REDACT)},
    )  # fmt: skip
    edited = service.update_dataset(session=session, dataset_id=ID, patch=patch)
    assert edited.changed == ("fields.amount.level", "fields.amount.mask_override", "tags",
                              "region_field", "level")  # fmt: skip
    assert (edited.dataset.level, edited.dataset.schema_version) == ("L4", 2)
    assert service.update_dataset(session=session, dataset_id=ID, patch=patch).changed == ()
    with pytest.raises(BadRequest, match="below its most sensitive"):
        service.update_dataset(session=session, dataset_id=ID, patch=DatasetPatch(level=Level.L2))
    with pytest.raises(BadRequest, match="no field"):
        service.update_dataset(session=session, dataset_id=ID,
                               patch=DatasetPatch(fields={"nope": FieldPatch()}))  # fmt: skip
    with pytest.raises(BadRequest, match="region_field"):
        service.update_dataset(session=session, dataset_id=ID,
                               patch=DatasetPatch(region_field="nope"))  # fmt: skip
    cleared = service.update_dataset(session=session, dataset_id=ID,
                                     patch=DatasetPatch(region_field=None))  # fmt: skip
    assert cleared.changed == ("region_field",) and cleared.dataset.region_field is None


def test_publishing_needs_fields_and_a_title(session: Session) -> None:
    service.create_draft(session=session, source_id="fin-db", object_name="people",
                         dataset_id=ID, columns=COLUMNS)  # fmt: skip
    with pytest.raises(BadRequest, match="needs a title"):
        service.publish_dataset(session=session, dataset_id=ID)
    service.update_dataset(session=session, dataset_id=ID, patch=DatasetPatch(title_zh="人员"))
    assert service.publish_dataset(session=session, dataset_id=ID).status == "published"
    session.commit()
    assert service.get_dataset(session=session, dataset_id=ID).status is not DatasetStatus.DRAFT
    assert service.unpublish_dataset(session=session, dataset_id=ID).status == "draft"


def test_following_the_columns(session: Session) -> None:
    _draft(session)
    service.update_dataset(session=session, dataset_id=ID,
                           patch=DatasetPatch(region_field="region"))  # fmt: skip
    now = [_column("name", level="L3", pi="name"), _column("amount", "decimal"),
           _column("id_card", level="L3", pi="id_number")]  # fmt: skip
    drift = service.refresh_fields(session=session, dataset_id=ID, columns=now)
    assert drift.added == ("name",) and drift.removed == ("region",)
    assert drift.retyped == (Retyped("amount", "float64", "decimal"),)
    session.commit()
    ds = service.get_dataset(session=session, dataset_id=ID, include_drafts=True)
    fields = sorted(ds.fields, key=lambda f: f.position)  # the session keeps append order
    assert [(f.name, f.type, f.position) for f in fields] == [
        ("name", "string", 0), ("amount", "decimal", 1), ("id_card", "string", 2)
    ]  # fmt: skip
    assert (ds.schema_version, ds.region_field, ds.level) == (2, None, "L3")
    unchanged = service.refresh_fields(session=session, dataset_id=ID, columns=now)
    assert not unchanged.changed and ds.schema_version == 2


def test_source_rows(session: Session) -> None:
    with pytest.raises(BadRequest, match="unknown department"):
        service.require_new_source(session=session, source_id="x", department="tax")
    with pytest.raises(Conflict):
        service.require_new_source(session=session, source_id="fin-db", department="fin")
    added = service.add_source(
        session=session, source_id="fin-api", department="fin", kind="http_json",
        display_name="API", settings={"url": "https://x"}, redacted="https://x",
        created_by="sam", sealed_secret=(b"sealed", "k1"),
    )  # fmt: skip
    assert (added.secret_ciphertext, added.secret_key_id) == (b"sealed", "k1")
    session.commit()
    edited = service.edit_source(session=session, source_id="fin-api",
                                 settings={"url": "https://y"}, redacted="https://y")  # fmt: skip
    assert (edited.display_name, edited.settings, edited.secret_key_id) == (
        "API", {"url": "https://y"}, "k1")  # fmt: skip
    with pytest.raises(NotFound):
        service.edit_source(session=session, source_id="nope", settings={}, redacted="")
